using System.Reflection;
using System.Text.RegularExpressions;

namespace Nnl.Engine.Tests;

public class KernelBuildTests
{
    private static readonly Assembly Engine = typeof(Nnl.Engine.NnlException).Assembly;

    private static string Resource(string name)
    {
        using var stream = Engine.GetManifestResourceStream(name) ?? throw new InvalidOperationException($"no resource {name}");
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>Each entry's name and body in a PTX file.</summary>
    private static IEnumerable<(string Name, string Body)> Entries(string ptx)
    {
        foreach (Match m in Regex.Matches(ptx, @"\.entry (\w+)\("))
        {
            int open = ptx.IndexOf('{', m.Index), depth = 0, i = open;
            for (; i < ptx.Length; i++)
            {
                if (ptx[i] == '{') depth++;
                else if (ptx[i] == '}' && --depth == 0) break;
            }
            yield return (m.Groups[1].Value, ptx[open..(i + 1)]);
        }
    }

    [Fact]
    public void EveryKernelSourceIsEmbeddedAsPtxForBothSets()
    {
        var resources = Engine.GetManifestResourceNames().Where(n => n.StartsWith("Nnl.Kernels.")).ToArray();
        string kernels = Path.Combine(RepoPaths.Root, "kernels");
        var files = Directory.GetFiles(kernels, "*.cu").Select(Path.GetFileNameWithoutExtension).ToArray();
        var expected = files.SelectMany(f => new[] { $"Nnl.Kernels.{f}.ptx", $"Nnl.Kernels.{f}.sm90.ptx" });
        Assert.Equal(expected.OrderBy(s => s, StringComparer.Ordinal), resources.OrderBy(s => s, StringComparer.Ordinal));
        Assert.Equal(files.OrderBy(s => s, StringComparer.Ordinal), Nnl.Engine.Cuda.KernelLibrary.Files);
    }

    /// <summary>
    /// The compute_80 set runs on any GPU from Ampere on and holds no sm_90 instruction; the sm90
    /// set is the same entries, each waiting for its predecessors (griddepcontrol.wait) and letting
    /// its successor launch, under a header that allows it. A kernel that skipped nnl_grid_begin()
    /// would race its predecessor under a programmatic graph edge.
    /// </summary>
    [Fact]
    public void TheSm90SetWaitsForPredecessorsInEveryEntryAndTheComputeSet80HasNoSuchInstruction()
    {
        foreach (var file in Nnl.Engine.Cuda.KernelLibrary.Files)
        {
            string basic = Resource($"Nnl.Kernels.{file}.ptx"), sm90 = Resource($"Nnl.Kernels.{file}.sm90.ptx");
            Assert.Contains(".target sm_80", basic);
            Assert.DoesNotContain("griddepcontrol", basic);
            Assert.Contains(".target sm_90", sm90);
            var version = Regex.Match(sm90, @"^\.version (\d+\.\d+)", RegexOptions.Multiline);
            Assert.True(version.Success && Version.Parse(version.Groups[1].Value) >= new Version(7, 8), $"{file}.sm90: PTX {version.Value}");

            var basicEntries = Entries(basic).Select(e => e.Name).ToArray();
            var sm90Entries = Entries(sm90).ToArray();
            Assert.NotEmpty(basicEntries);
            Assert.Equal(basicEntries, sm90Entries.Select(e => e.Name));
            foreach (var (name, body) in sm90Entries)
            {
                Assert.True(body.Contains("griddepcontrol.wait;"), $"{file}.sm90: {name} never waits for the kernels before it");
                Assert.True(body.Contains("griddepcontrol.launch_dependents;"), $"{file}.sm90: {name} never lets the next kernel launch");
            }
        }
    }
}
