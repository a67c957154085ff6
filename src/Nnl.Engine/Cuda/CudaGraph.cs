using System.Runtime.InteropServices;

namespace Nnl.Engine.Cuda;

/// <summary>A node of a <see cref="CudaGraph"/> (valid while the graph lives).</summary>
public readonly struct CudaGraphNode
{
    internal CudaGraphNode(IntPtr handle) => Handle = handle;
    internal IntPtr Handle { get; }
}

/// <summary>
/// A CUDA graph built node by node (no stream capture). Nnl builds chains of kernel nodes: each
/// node depends on the one before, the order a stream would have run them in. Keep the graph alive
/// while an executable made from it is updated: node handles belong to it.
/// </summary>
public sealed unsafe class CudaGraph : IDisposable
{
    public CudaGraph(CudaContext context)
    {
        Context = context;
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuGraphCreate(out IntPtr handle, 0));
        Handle = handle;
    }

    public CudaContext Context { get; }
    internal IntPtr Handle { get; private set; }

    /// <summary>Kernel nodes added so far.</summary>
    public int NodeCount { get; private set; }

    /// <summary>Adds a kernel node that runs after <paramref name="after"/> (or first when null).</summary>
    public CudaGraphNode AddKernelNode(CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes,
        CudaGraphNode? after, params ReadOnlySpan<KernelArg> args) =>
        AddKernelNode(kernel, grid, block, sharedBytes, MemoryMarshal.Cast<KernelArg, ulong>(args), after, programmatic: false);

    /// <summary>
    /// Adds a kernel node after <paramref name="after"/>; with <paramref name="programmatic"/> the
    /// edge is a programmatic dependency: the node may start once every block of
    /// <paramref name="after"/> has called griddepcontrol.launch_dependents, and waits inside
    /// (griddepcontrol.wait) for the rest. Only for kernels that wait before touching memory — every
    /// kernel of the sm90 set does (<see cref="KernelLibrary.UsesGridDependency"/>).
    /// </summary>
    internal CudaGraphNode AddKernelNode(CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes,
        ReadOnlySpan<ulong> slots, CudaGraphNode? after, bool programmatic)
    {
        var node = AddKernelNode(kernel, grid, block, sharedBytes, slots, programmatic ? null : after);
        if (programmatic && after is { } upstream)
        {
            IntPtr from = upstream.Handle, to = node.Handle;
            var edge = CudaGraphEdgeData.Programmatic;
            Context.MakeCurrent();
            int rc = CudaApi.cuGraphAddDependencies_v2(Handle, &from, &to, &edge, 1);
            if (rc != 0) throw CudaCheck.Exception(rc, "cuGraphAddDependencies_v2", $"programmatic edge into {KernelNodeParameters.Describe(kernel, grid, block, sharedBytes)}");
        }
        return node;
    }

    private CudaGraphNode AddKernelNode(CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes,
        ReadOnlySpan<ulong> slots, CudaGraphNode? after)
    {
        ObjectDisposedException.ThrowIf(Handle == IntPtr.Zero, this);
        CudaKernelNodeParams p;
        void** pointers = stackalloc void*[CudaKernel.MaxArgs];
        IntPtr node;
        int rc;
        fixed (ulong* s = slots)
        {
            KernelNodeParameters.Fill(&p, kernel, grid, block, sharedBytes, s, slots.Length, pointers);
            Context.MakeCurrent();
            IntPtr dependency = after?.Handle ?? IntPtr.Zero;
            rc = CudaApi.cuGraphAddKernelNode(out node, Handle, after is null ? null : &dependency, after is null ? 0u : 1u, &p);
        }
        if (rc != 0) throw CudaCheck.Exception(rc, "cuGraphAddKernelNode", KernelNodeParameters.Describe(kernel, grid, block, sharedBytes));
        NodeCount++;
        return new CudaGraphNode(node);
    }

    /// <summary>An executable copy of the graph as it is now.</summary>
    public CudaGraphExec Instantiate()
    {
        ObjectDisposedException.ThrowIf(Handle == IntPtr.Zero, this);
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuGraphInstantiateWithFlags(out IntPtr exec, Handle, 0));
        return new CudaGraphExec(Context, exec);
    }

    public void Dispose()
    {
        if (Handle == IntPtr.Zero) return;
        Context.MakeCurrent();
        CudaApi.cuGraphDestroy(Handle); // nothing useful to do if destroy fails during cleanup
        Handle = IntPtr.Zero;
    }
}

/// <summary>
/// An instantiated graph: one <see cref="Launch"/> queues all its nodes on a stream for about the
/// host cost of one kernel launch. Kernel nodes may be given new grids and arguments in place;
/// launches already queued keep the values they were queued with.
/// </summary>
public sealed unsafe class CudaGraphExec : IDisposable
{
    internal CudaGraphExec(CudaContext context, IntPtr handle)
    {
        Context = context;
        Handle = handle;
    }

    public CudaContext Context { get; }
    internal IntPtr Handle { get; private set; }

    /// <summary>
    /// New launch parameters for a kernel node of the graph this was instantiated from. The kernel
    /// must be the node's own (Nnl rebuilds the graph when a kernel changes).
    /// </summary>
    public void SetKernelNodeParams(CudaGraphNode node, CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes,
        params ReadOnlySpan<KernelArg> args) =>
        SetKernelNodeParams(node, kernel, grid, block, sharedBytes, MemoryMarshal.Cast<KernelArg, ulong>(args));

    internal void SetKernelNodeParams(CudaGraphNode node, CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes,
        ReadOnlySpan<ulong> slots)
    {
        ObjectDisposedException.ThrowIf(Handle == IntPtr.Zero, this);
        CudaKernelNodeParams p;
        void** pointers = stackalloc void*[CudaKernel.MaxArgs];
        int rc;
        fixed (ulong* s = slots)
        {
            KernelNodeParameters.Fill(&p, kernel, grid, block, sharedBytes, s, slots.Length, pointers);
            Context.MakeCurrent();
            rc = CudaApi.cuGraphExecKernelNodeSetParams(Handle, node.Handle, &p);
        }
        if (rc != 0) throw CudaCheck.Exception(rc, "cuGraphExecKernelNodeSetParams", KernelNodeParameters.Describe(kernel, grid, block, sharedBytes));
    }

    /// <summary>Queues every node on <paramref name="stream"/>, after the work already there.</summary>
    public void Launch(CudaStream stream)
    {
        ObjectDisposedException.ThrowIf(Handle == IntPtr.Zero, this);
        stream.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuGraphLaunch(Handle, stream.Handle));
    }

    /// <summary>Safe while a launch is in flight: the driver frees the graph when it completes.</summary>
    public void Dispose()
    {
        if (Handle == IntPtr.Zero) return;
        Context.MakeCurrent();
        CudaApi.cuGraphExecDestroy(Handle);
        Handle = IntPtr.Zero;
    }
}

/// <summary>Kernel arguments as the driver takes them for a node: one pointer per 8-byte slot, as <see cref="CudaKernel.Launch(CudaStream, (uint X, uint Y, uint Z), (uint X, uint Y, uint Z), uint, ReadOnlySpan{KernelArg})"/> passes them.</summary>
internal static unsafe class KernelNodeParameters
{
    /// <summary>Fills <paramref name="p"/>; <paramref name="slots"/> and <paramref name="pointers"/> must stay put until the driver call returns (it copies the values).</summary>
    public static void Fill(CudaKernelNodeParams* p, CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes,
        ulong* slots, int count, void** pointers)
    {
        if (count > CudaKernel.MaxArgs) throw new NnlArgumentException("args", $"kernel {kernel.Name}: {count} arguments, at most {CudaKernel.MaxArgs}");
        for (int i = 0; i < count; i++) pointers[i] = &slots[i]; // 4-byte parameters read the low half (little-endian)
        *p = new CudaKernelNodeParams
        {
            Function = kernel.Handle,
            GridX = grid.X, GridY = grid.Y, GridZ = grid.Z,
            BlockX = block.X, BlockY = block.Y, BlockZ = block.Z,
            SharedMemoryBytes = sharedBytes,
            KernelParams = pointers,
            Extra = null,
        };
    }

    public static string Describe(CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes) =>
        $"kernel {kernel.Name} grid ({grid.X},{grid.Y},{grid.Z}) block ({block.X},{block.Y},{block.Z}) shared {sharedBytes}";
}
