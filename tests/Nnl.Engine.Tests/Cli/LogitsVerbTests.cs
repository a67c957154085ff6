using Nnl.Cli;
using Nnl.Engine.Generation;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Cli;

public class LogitsVerbTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nnl-logits-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void WritesEveryPositionsLogitsAsTheEngineComputesThem()
    {
        var model = TestModelWriter.WriteLlama(_dir, new LlamaShape(Vocab: 89), seed: 5);
        string file = Path.Combine(_dir, "logits.bin");
        int[] ids = [7, 3, 88, 0, 41];
        var output = new StringWriter();
        int rc = CliApp.Run(["logits", _dir, "--ids", string.Join(",", ids), "--out", file, "--json"], output, new StringWriter());
        Assert.Equal(0, rc);
        var bytes = File.ReadAllBytes(file);
        Assert.Equal(ids.Length * 89 * 4, bytes.Length);

        using var loaded = LoadedModel.LoadCpu(_dir);
        using var cache = loaded.Runner.CreateKvCache(1, ids.Length);
        var expected = loaded.Runner.Forward(TokenBatch.Single(ids, allLogits: true), cache);
        var written = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        Assert.Equal(expected, written);
        Assert.Contains("\"Positions\":5", output.ToString());
    }

    [Fact]
    public void AnIdOutsideTheVocabularyIsNamed()
    {
        TestModelWriter.WriteLlama(_dir, new LlamaShape(Vocab: 89), seed: 5);
        var error = new StringWriter();
        int rc = CliApp.Run(["logits", _dir, "--ids", "1,89", "--out", Path.Combine(_dir, "x.bin")], new StringWriter(), error);
        Assert.Equal(2, rc);
        Assert.Contains("89", error.ToString());
    }
}
