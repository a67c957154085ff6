using Nnl.BuildTools;
using Nnl.BuildTools.Help;
using Nnl.BuildTools.Surface;

// Build-time tools: compile kernels with NVRTC, turn docs/*.md into MAML help, check the cmdlet surface.
// Each is a small class with a Run method so the tests can call it without a process.
return args.Length == 0 ? Usage() : args[0] switch
{
    "compile-kernels" => KernelCompiler.Run(args[1..]),
    "build-help" => HelpBuilder.Run(args[1..]),
    "check-surface" => SurfaceCheck.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Nnl.BuildTools compile-kernels <kernels-dir> <out-dir>");
    return 2;
}
