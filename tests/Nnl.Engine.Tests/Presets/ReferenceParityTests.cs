using System.Text.Json;
using Nnl.Engine.Generation;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Presets;

/// <summary>
/// Parity with transformers on a model New-NnlModel wrote: tools/reference/reference_logits.py
/// (on a host with torch and transformers) writes the reference; NNL_REFERENCE_LOGITS names it
/// (several files separated by the path separator). Skipped when the variable is not set.
/// </summary>
public sealed class ReferenceParityTests
{
    [Fact]
    [Trait("Category", "Parity")]
    public void Nnl_matches_transformers_on_the_written_model()
    {
        var files = Environment.GetEnvironmentVariable("NNL_REFERENCE_LOGITS");
        if (string.IsNullOrWhiteSpace(files)) Assert.Skip("NNL_REFERENCE_LOGITS is not set (see tools/reference/reference_logits.py).");
        foreach (var file in files.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            Compare(file);
    }

    private static void Compare(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
        var root = doc.RootElement;
        var dir = root.GetProperty("model").GetString()!;
        var prompt = root.GetProperty("prompt").GetString()!;
        var ids = root.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        // Tokenizer parity first: the same ids from the same tokenizer.json.
        Assert.Equal(ids, TokenizerLoader.Load(dir).Encode(prompt, addSpecialTokens: false));

        using var model = LoadedModel.LoadCpu(dir);
        using var cache = model.Runner.CreateKvCache(1, ids.Length);
        var logits = model.Runner.Forward(TokenBatch.Single(ids, allLogits: true), cache);
        var vocab = model.Config.VocabSize;
        var reference = root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        Assert.Equal(ids.Length, reference.Length);

        double worst = 0, scale = 0;
        for (var t = 0; t < ids.Length; t++)
        {
            Assert.Equal(vocab, reference[t].Length);
            var mine = new ReadOnlySpan<float>(logits, t * vocab, vocab);
            for (var v = 0; v < vocab; v++)
            {
                worst = Math.Max(worst, Math.Abs(mine[v] - reference[t][v]));
                scale = Math.Max(scale, Math.Abs(reference[t][v]));
            }
            Assert.Equal(Argmax(reference[t]), Argmax(mine.ToArray()));
        }
        Assert.True(worst <= 1e-3 * Math.Max(1, scale), $"{file}: largest difference {worst:G4} for logits up to {scale:G4}");
    }

    private static int Argmax(float[] v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
