using System.Text.RegularExpressions;
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

    /// <summary>
    /// The second set, for sm_90 and later: the same sources with NNL_GRID_DEPENDENCY defined, so
    /// every entry waits for the kernels before it with <c>griddepcontrol</c> (programmatic dependent
    /// launch, kernels/nnl_common.cuh). NVRTC 11.2 cannot target compute_90, but it passes inline PTX
    /// through unchecked: the set is compiled for compute_80 and its header raised to what
    /// griddepcontrol needs (<see cref="RaiseTarget"/>); the driver's JIT checks it on the GPU.
    /// </summary>
    public static readonly IReadOnlyList<string> GridDependencyOptions = [.. Options, "-DNNL_GRID_DEPENDENCY=1"];

    /// <summary>File name suffix of the sm_90 set (file.sm90.ptx).</summary>
    public const string GridDependencySuffix = ".sm90";

    /// <summary>PTX ISA 7.8 is the first with griddepcontrol, sm_90 the first target that has it.</summary>
    private static readonly Version GridDependencyIsa = new(7, 8);

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
            string source = File.ReadAllText(cu);
            string ptx = Nvrtc.CompileToPtx(source, Path.GetFileName(cu), headers, Options);
            string target = Path.Combine(outDir, Path.GetFileNameWithoutExtension(cu) + ".ptx");
            File.WriteAllText(target, ptx);
            written.Add(target);

            string sm90 = RaiseTarget(Nvrtc.CompileToPtx(source, Path.GetFileName(cu), headers, GridDependencyOptions), cu);
            string sm90Target = Path.Combine(outDir, Path.GetFileNameWithoutExtension(cu) + GridDependencySuffix + ".ptx");
            File.WriteAllText(sm90Target, sm90);
            written.Add(sm90Target);
        }
        return written;
    }

    /// <summary>
    /// Rewrites a compute_80 PTX header to <c>.version</c> ≥ 7.8 and <c>.target sm_90</c>. PTX is
    /// forward compatible, so the body means the same under the newer ISA.
    /// </summary>
    public static string RaiseTarget(string ptx, string name)
    {
        var version = VersionLine.Match(ptx);
        if (!version.Success || !Sm80TargetLine.IsMatch(ptx))
            throw new NnlArgumentException("ptx", $"{name}: the PTX header has no '.version' or no '.target sm_80' line to raise for sm_90");
        var found = new Version(int.Parse(version.Groups[1].Value), int.Parse(version.Groups[2].Value));
        ptx = Sm80TargetLine.Replace(ptx, ".target sm_90", 1);
        return found >= GridDependencyIsa ? ptx : VersionLine.Replace(ptx, $".version {GridDependencyIsa.Major}.{GridDependencyIsa.Minor}", 1);
    }

    private static readonly Regex VersionLine = new(@"^\.version (\d+)\.(\d+)(?=\s*$)", RegexOptions.Multiline);
    private static readonly Regex Sm80TargetLine = new(@"^\.target sm_80(?=\s*$)", RegexOptions.Multiline);
}
