namespace Nnl.Engine.Cuda;

/// <summary>
/// The PTX the build embedded, loaded into each context once, on first use. Two sets per
/// kernels/*.cu file: "Nnl.Kernels.&lt;file&gt;.ptx" (compute_80, any GPU from Ampere on) and
/// "Nnl.Kernels.&lt;file&gt;.sm90.ptx", the same kernels waiting for their predecessors with
/// griddepcontrol so that graph edges may let them start early (programmatic dependent launch,
/// kernels/nnl_common.cuh). A context takes the sm90 set on compute capability 9.0 and later
/// unless <see cref="GridDependencyDisabled"/>.
/// </summary>
public static class KernelLibrary
{
    private const string Prefix = "Nnl.Kernels.";
    private const string GridDependencySuffix = ".sm90";

    private static readonly Dictionary<(int Device, string File), CudaModule> Modules = new();
    private static readonly Dictionary<int, bool> ContextUsesGridDependency = new();

    public static IReadOnlyList<string> Files { get; } = typeof(KernelLibrary).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".ptx", StringComparison.Ordinal)
            && !n.EndsWith(GridDependencySuffix + ".ptx", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..^".ptx".Length])
        .OrderBy(n => n, StringComparer.Ordinal)
        .ToArray();

    /// <summary>
    /// Keeps every context on the compute_80 set (no programmatic dependencies anywhere): for
    /// comparing the two in one process, or as a way out should a driver mishandle them. Set it
    /// before a context loads its first kernel; the NNL_NO_GRID_DEPENDENCY environment variable
    /// (any value) sets it at start.
    /// </summary>
    public static bool GridDependencyDisabled { get; set; } = Environment.GetEnvironmentVariable("NNL_NO_GRID_DEPENDENCY") is not null;

    /// <summary>The compute_80 PTX of <paramref name="file"/>, or its sm_90 set.</summary>
    public static string Ptx(string file, bool gridDependency = false)
    {
        string name = $"{Prefix}{file}{(gridDependency ? GridDependencySuffix : "")}.ptx";
        using var stream = typeof(KernelLibrary).Assembly.GetManifestResourceStream(name)
            ?? throw new NnlArgumentException(nameof(file), $"no kernel file '{file}' was built into Nnl.Engine (have: {string.Join(", ", Files)})");
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>
    /// True when <paramref name="context"/>'s kernels come from the sm90 set, so a kernel may be
    /// given a programmatic dependency on the one before it. Decided once per context (its first
    /// module), so all of a context's kernels agree.
    /// </summary>
    public static bool UsesGridDependency(CudaContext context)
    {
        lock (Modules)
        {
            if (ContextUsesGridDependency.TryGetValue(context.Ordinal, out bool uses)) return uses;
            int device = CudaDriver.GetDevice(context.Ordinal);
            // Graph edges that carry the programmatic type came with the CUDA 12.3 driver API.
            uses = !GridDependencyDisabled && CudaDriver.Attribute(device, CudaDeviceAttribute.ComputeCapabilityMajor) >= 9
                && CudaDriver.DriverApiVersion >= new Version(12, 3);
            ContextUsesGridDependency[context.Ordinal] = uses;
            return uses;
        }
    }

    public static CudaModule Module(CudaContext context, string file)
    {
        bool gridDependency = UsesGridDependency(context);
        lock (Modules)
        {
            if (Modules.TryGetValue((context.Ordinal, file), out var m)) return m;
            m = new CudaModule(context, Ptx(file, gridDependency), gridDependency ? file + GridDependencySuffix : file);
            Modules[(context.Ordinal, file)] = m;
            return m;
        }
    }

    public static CudaKernel Kernel(CudaContext context, string file, string entry) => Module(context, file).Kernel(entry);
}
