using System.Runtime.InteropServices;
using System.Text;

namespace Nnl.Engine.Cuda;

/// <summary>A module loaded from PTX in memory; the driver JIT-compiles it for the device at hand.</summary>
public sealed unsafe class CudaModule : IDisposable
{
    private readonly Dictionary<string, CudaKernel> _kernels = new();

    public CudaModule(CudaContext context, string ptx, string name)
    {
        Context = context;
        Name = name;
        context.MakeCurrent();
        const int logBytes = 8192;
        byte* errorLog = stackalloc byte[logBytes];
        int* options = stackalloc int[2] { CudaFlags.JitErrorLogBuffer, CudaFlags.JitErrorLogBufferSizeBytes };
        void** values = stackalloc void*[2] { errorLog, (void*)(nint)logBytes };
        byte[] image = Encoding.UTF8.GetBytes(ptx + "\0");
        int rc;
        IntPtr handle;
        fixed (byte* p = image) rc = CudaApi.cuModuleLoadDataEx(out handle, p, 2, options, values);
        if (rc != 0) throw CudaCheck.Exception(rc, "cuModuleLoadDataEx", $"{name}: {Marshal.PtrToStringUTF8((IntPtr)errorLog)}");
        Handle = handle;
    }

    public CudaContext Context { get; }
    public string Name { get; }
    internal IntPtr Handle { get; private set; }

    public CudaKernel Kernel(string entry)
    {
        lock (_kernels)
        {
            if (_kernels.TryGetValue(entry, out var k)) return k;
            Context.MakeCurrent();
            IntPtr f;
            byte[] utf8 = Encoding.UTF8.GetBytes(entry + "\0");
            int rc;
            fixed (byte* n = utf8) rc = CudaApi.cuModuleGetFunction(out f, Handle, n);
            if (rc != 0) throw CudaCheck.Exception(rc, "cuModuleGetFunction", $"kernel '{entry}' in module {Name}");
            k = new CudaKernel(this, entry, f);
            _kernels[entry] = k;
            return k;
        }
    }

    public void Dispose()
    {
        if (Handle == IntPtr.Zero) return;
        Context.MakeCurrent();
        CudaApi.cuModuleUnload(Handle);
        Handle = IntPtr.Zero;
    }
}

/// <summary>One kernel argument, stored in an 8-byte slot (pointers, 64-bit sizes, ints and floats).</summary>
public readonly struct KernelArg
{
    internal readonly ulong Bits;
    private KernelArg(ulong bits) => Bits = bits;

    public static implicit operator KernelArg(ulong v) => new(v);
    public static implicit operator KernelArg(long v) => new((ulong)v);
    public static implicit operator KernelArg(int v) => new((uint)v);
    public static implicit operator KernelArg(uint v) => new(v);
    public static implicit operator KernelArg(float v) => new(BitConverter.SingleToUInt32Bits(v));
}

/// <summary>A kernel entry point. Launches are asynchronous on the given stream.</summary>
public sealed unsafe class CudaKernel
{
    internal CudaKernel(CudaModule module, string name, IntPtr handle)
    {
        Module = module;
        Name = name;
        Handle = handle;
    }

    public CudaModule Module { get; }
    public string Name { get; }
    internal IntPtr Handle { get; }

    /// <summary>Allows more than 48 KB of dynamic shared memory per block.</summary>
    public void SetMaxDynamicSharedMemory(int bytes)
    {
        Module.Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuFuncSetAttribute(Handle, CudaFlags.FuncAttributeMaxDynamicSharedMemory, bytes));
    }

    /// <summary>Blocks of <paramref name="threads"/> threads and <paramref name="sharedBytes"/> of dynamic shared memory that one SM holds at once.</summary>
    public int MaxActiveBlocksPerMultiprocessor(int threads, int sharedBytes)
    {
        Module.Context.MakeCurrent();
        int rc = CudaApi.cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, Handle, threads, (nuint)sharedBytes);
        if (rc != 0) throw CudaCheck.Exception(rc, "cuOccupancyMaxActiveBlocksPerMultiprocessor", $"kernel {Name} block {threads} shared {sharedBytes}");
        return blocks;
    }

    /// <summary>Most parameters a kernel takes through <see cref="Launch(CudaStream, (uint X, uint Y, uint Z), (uint X, uint Y, uint Z), uint, ReadOnlySpan{KernelArg})"/>.</summary>
    public const int MaxArgs = 32;

    /// <summary>
    /// Queues the kernel. Decode runs about a thousand launches per token, so this path allocates
    /// nothing: the arguments arrive as a span (the compiler builds it on the caller's stack) and
    /// are copied into stack slots; the context check is the thread's cached one.
    /// </summary>
    public void Launch(CudaStream stream, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        if (args.Length > MaxArgs) throw new NnlArgumentException(nameof(args), $"kernel {Name}: {args.Length} arguments, at most {MaxArgs}");
        // Each parameter pointer points at its 8-byte slot; 4-byte parameters read the low half (little-endian).
        ulong* slots = stackalloc ulong[MaxArgs];
        void** pointers = stackalloc void*[MaxArgs];
        for (int i = 0; i < args.Length; i++)
        {
            slots[i] = args[i].Bits;
            pointers[i] = &slots[i];
        }
        stream.Context.MakeCurrent();
        int rc = CudaApi.cuLaunchKernel(Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, stream.Handle, pointers, null);
        if (rc != 0) throw CudaCheck.Exception(rc, "cuLaunchKernel", $"kernel {Name} grid ({grid.X},{grid.Y},{grid.Z}) block ({block.X},{block.Y},{block.Z}) shared {sharedBytes}");
    }

    public void Launch(CudaStream stream, uint gridX, uint blockX, uint sharedBytes, params ReadOnlySpan<KernelArg> args) =>
        Launch(stream, (gridX, 1, 1), (blockX, 1, 1), sharedBytes, args);
}
