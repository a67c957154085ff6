using System.Reflection;

namespace Nnl.Engine.Tests;

public class KernelBuildTests
{
    [Fact]
    public void EveryKernelSourceIsEmbeddedAsPtx()
    {
        var engine = typeof(Nnl.Engine.NnlException).Assembly;
        var resources = engine.GetManifestResourceNames().Where(n => n.StartsWith("Nnl.Kernels.")).ToArray();
        string kernels = Path.Combine(RepoPaths.Root, "kernels");
        var sources = Directory.GetFiles(kernels, "*.cu").Select(f => $"Nnl.Kernels.{Path.GetFileNameWithoutExtension(f)}.ptx");
        Assert.Equal(sources.OrderBy(s => s), resources.OrderBy(s => s));
        using var stream = engine.GetManifestResourceStream(resources[0])!;
        string ptx = new StreamReader(stream).ReadToEnd();
        Assert.Contains(".target sm_80", ptx);
        Assert.Contains(".entry", ptx);
    }
}
