namespace Nnl.Engine.Cuda;

/// <summary>
/// The PTX the build embedded (one resource per kernels/*.cu file, "Nnl.Kernels.&lt;file&gt;.ptx"),
/// loaded into each context once, on first use.
/// </summary>
public static class KernelLibrary
{
    private static readonly Dictionary<(int Device, string File), CudaModule> Modules = new();

    public static IReadOnlyList<string> Files { get; } = typeof(KernelLibrary).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("Nnl.Kernels.", StringComparison.Ordinal) && n.EndsWith(".ptx", StringComparison.Ordinal))
        .Select(n => n["Nnl.Kernels.".Length..^".ptx".Length])
        .OrderBy(n => n, StringComparer.Ordinal)
        .ToArray();

    public static string Ptx(string file)
    {
        using var stream = typeof(KernelLibrary).Assembly.GetManifestResourceStream($"Nnl.Kernels.{file}.ptx")
            ?? throw new NnlArgumentException(nameof(file), $"no kernel file '{file}' was built into Nnl.Engine (have: {string.Join(", ", Files)})");
        return new StreamReader(stream).ReadToEnd();
    }

    public static CudaModule Module(CudaContext context, string file)
    {
        lock (Modules)
        {
            if (Modules.TryGetValue((context.Ordinal, file), out var m)) return m;
            m = new CudaModule(context, Ptx(file), file);
            Modules[(context.Ordinal, file)] = m;
            return m;
        }
    }

    public static CudaKernel Kernel(CudaContext context, string file, string entry) => Module(context, file).Kernel(entry);
}
