using System.Text.Json;
using Nnl.Engine.Benchmarks;
using Nnl.Engine.Generation;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Presets;

/// <summary>
/// Parity with transformers on a model New-NnlModel wrote: tools/reference/reference_logits.py
/// (on a host with torch and transformers) writes the reference; NNL_REFERENCE_LOGITS names it
/// (several files separated by the path separator). Skipped when the variable is not set. Nnl runs
/// on the CPU and, where there is a GPU, on the offload runner with every block streamed.
/// </summary>
[Collection("Gpu")]
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

        var reference = root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        Assert.Equal(ids.Length, reference.Length);

        using (var cpu = LoadedModel.LoadCpu(dir))
            Check(file, "Cpu", cpu, ids, reference, tolerance: 1e-3, argmaxMismatches: 0);
        if (Gpu.Available)
        {
            using var gpu = ModelLoader.Load(new ModelLoadRequest { Path = dir, Device = "Cuda:0", ResidentLayers = 0, ContextLength = ids.Length + 1 });
            // fp16/bf16 weights with fp32 accumulation in another order: a looser bound, and a near tie may flip one argmax.
            Check(file, "Cuda:0", gpu, ids, reference, tolerance: 5e-3, argmaxMismatches: 1);
        }
    }

    private static void Check(string file, string device, LoadedModel model, int[] ids, float[][] reference, double tolerance, int argmaxMismatches)
    {
        using var cache = model.Runner.CreateKvCache(1, ids.Length);
        var logits = model.Runner.Forward(TokenBatch.Single(ids, allLogits: true), cache);
        var vocab = model.Config.VocabSize;
        double worst = 0, scale = 0;
        var mismatches = 0;
        for (var t = 0; t < ids.Length; t++)
        {
            Assert.Equal(vocab, reference[t].Length);
            var mine = new ReadOnlySpan<float>(logits, t * vocab, vocab);
            for (var v = 0; v < vocab; v++)
            {
                worst = Math.Max(worst, Math.Abs(mine[v] - reference[t][v]));
                scale = Math.Max(scale, Math.Abs(reference[t][v]));
            }
            if (Argmax(reference[t]) != Argmax(mine.ToArray())) mismatches++;
        }
        Assert.True(mismatches <= argmaxMismatches, $"{file} on {device}: {mismatches} positions pick another token than transformers");
        Assert.True(worst <= tolerance * Math.Max(1, scale), $"{file} on {device}: largest difference {worst:G4} for logits up to {scale:G4}");
    }

    private static int Argmax(float[] v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
