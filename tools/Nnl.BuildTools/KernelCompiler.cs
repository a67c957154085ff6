using Nnl.Engine;
using Nnl.Engine.Cuda;

namespace Nnl.BuildTools;

/// <summary>
/// Compiles every kernels/*.cu to PTX with NVRTC. The .cuh files in the same folder are handed to
/// NVRTC as in-memory headers, so kernels include nothing from a toolkit installation.
/// </summary>
public static class KernelCompiler
{
    /// <summary>
    /// compute_80 PTX: the oldest architecture with native bf16 conversions. The driver JIT-compiles it
    /// for the GPU at hand (sm_80, sm_89, sm_90, ...), and NVRTC 11.2 through 13 all accept it.
    /// </summary>
    public static readonly IReadOnlyList<string> Options =
        ["--gpu-architecture=compute_80", "--std=c++17", "-default-device", "--fmad=true", "-lineinfo"];

    public static int Run(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: compile-kernels <kernels-dir> <out-dir>");
            return 2;
        }
        try
        {
            var results = CompileAll(args[0], args[1]);
            Console.WriteLine($"compiled {results.Count} kernel file(s) with NVRTC {Nvrtc.Version()} into {args[1]}");
            return 0;
        }
        catch (NnlException e)
        {
            // MSBuild shows "error :" lines as build errors with the text that follows.
            Console.Error.WriteLine($"error NNL0001: {e.Message}");
            return 1;
        }
    }

    /// <summary>Compiles each .cu file; returns the written PTX paths.</summary>
    public static IReadOnlyList<string> CompileAll(string kernelsDir, string outDir)
    {
        Nvrtc.EnsureAvailable();
        var headers = Directory.GetFiles(kernelsDir, "*.cuh")
            .ToDictionary(f => Path.GetFileName(f), File.ReadAllText, StringComparer.Ordinal);
        Directory.CreateDirectory(outDir);
        var written = new List<string>();
        foreach (var cu in Directory.GetFiles(kernelsDir, "*.cu").OrderBy(f => f, StringComparer.Ordinal))
        {
            string ptx = Nvrtc.CompileToPtx(File.ReadAllText(cu), Path.GetFileName(cu), headers, Options);
            string target = Path.Combine(outDir, Path.GetFileNameWithoutExtension(cu) + ".ptx");
            File.WriteAllText(target, ptx);
            written.Add(target);
        }
        return written;
    }
}
