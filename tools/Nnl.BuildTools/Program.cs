using Nnl.BuildTools;
using Nnl.BuildTools.Help;
using Nnl.BuildTools.Layout;
using Nnl.BuildTools.Surface;

// Build-time tools: compile kernels with NVRTC, turn docs/*.md into MAML help, check the cmdlet surface.
// Each is a small class with a Run method so the tests can call it without a process.
return args.Length == 0 ? Usage() : args[0] switch
{
    "compile-kernels" => KernelCompiler.Run(args[1..]),
    "build-help" => HelpBuilder.Run(args[1..]),
    "check-surface" => SurfaceCheck.Run(args[1..]),
    "layout" => ModuleLayout.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: Nnl.BuildTools <command> ...
          compile-kernels <kernels-dir> <out-dir>                  kernels/*.cu to PTX with NVRTC
          build-help <docs-dir> <out-file>                         docs/*.md to MAML and about_*.help.txt
          check-surface <dll> <psd1> <docs-dir> [--reference dir]  cmdlets vs manifest, verbs, help
          layout <out-dir> [--configuration C] [--no-build]        assemble the module folder (out/Nnl)
        """);
    return 2;
}
