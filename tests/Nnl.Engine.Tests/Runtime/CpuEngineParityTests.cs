using Nnl.Engine.Generation;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Runtime;

/// <summary>
/// The CPU engine against the float64 reference on random-weight models the tests write: logits of
/// every prompt position (one prefill pass) and of 16 greedy decode steps through the KV cache.
/// </summary>
public sealed class CpuEngineParityTests
{
    private const double Tolerance = 1e-4;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> Models => new()
    {
        "gpt2-tied", "gpt2-untied-noprefix", "llama-gqa", "llama-mha-tied-headdim", "llama31-scaling-v5",
        "qwen2-bias", "mistral-mqa", "mistral-sliding-window", "llama-attention-bias",
    };

    internal static TestModel Write(string name, string directory, int seed, TensorDType dtype = TensorDType.F32) => name switch
    {
        "gpt2-tied" => TestModelWriter.WriteGpt2(directory, new Gpt2Shape(), seed, dtype),
        "gpt2-untied-noprefix" => TestModelWriter.WriteGpt2(directory,
            new Gpt2Shape(Hidden: 48, Layers: 3, Heads: 3, Vocab: 131, Positions: 40, Inner: 100, Tied: false, TransformerPrefix: false), seed, dtype),
        "llama-gqa" => TestModelWriter.WriteLlama(directory, new LlamaShape(), seed, dtype),
        "llama-mha-tied-headdim" => TestModelWriter.WriteLlama(directory,
            new LlamaShape(Hidden: 32, Heads: 4, KvHeads: 4, HeadDim: 12, Intermediate: 40, Tied: true, Layers: 3), seed, dtype),
        "llama31-scaling-v5" => TestModelWriter.WriteLlama(directory,
            new LlamaShape(Heads: 2, KvHeads: 1, HeadDim: 32, Hidden: 48, Theta: 500000, Llama3Scaling: true, Transformers5RopeParameters: true), seed, dtype),
        "qwen2-bias" => TestModelWriter.WriteLlama(directory, new LlamaShape(Architecture: "Qwen2ForCausalLM", Heads: 6, KvHeads: 2, Hidden: 48), seed, dtype),
        "mistral-mqa" => TestModelWriter.WriteLlama(directory, new LlamaShape(Architecture: "MistralForCausalLM", KvHeads: 1, Theta: 1e6), seed, dtype),
        "mistral-sliding-window" => TestModelWriter.WriteLlama(directory, new LlamaShape(Architecture: "MistralForCausalLM", SlidingWindow: 5), seed, dtype),
        "llama-attention-bias" => TestModelWriter.WriteLlama(directory, new LlamaShape(AttentionBias: true, Vocab: 64), seed, dtype),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void PrefillAndDecodeMatchTheFloat64Reference(string name)
    {
        using var dir = new TempDirectory();
        var seed = name.Aggregate(17, (h, c) => h * 31 + c) & 0xFFFF;
        var model = Write(name, dir.Path, seed);
        using var loaded = LoadedModel.LoadCpu(dir.Path, cancellation: Ct);
        var prompt = RandomTokens(new Random(seed + 1), 7, loaded.Config.VocabSize);

        var (tokens, logits) = RunGreedy(loaded, prompt, steps: 16);
        var reference = ReferenceTransformer.Logits(model, tokens);
        Assert.Equal(prompt.Length + 16, logits.Count);
        for (var t = 0; t < logits.Count; t++)
        {
            var error = ReferenceTransformer.RelativeError(logits[t], reference[t]);
            Assert.True(error <= Tolerance, $"{name}: position {t} relative error {error:E2} > {Tolerance:E0}");
        }
    }

    [Theory]
    [InlineData("gpt2-tied", TensorDType.F16)]
    [InlineData("llama-gqa", TensorDType.BF16)]
    [InlineData("qwen2-bias", TensorDType.F16)]
    public void HalfPrecisionWeightsAreWidenedExactly(string name, TensorDType dtype)
    {
        using var dir = new TempDirectory();
        var model = Write(name, dir.Path, 77, dtype);
        using var loaded = LoadedModel.LoadCpu(dir.Path, cancellation: Ct);
        Assert.Equal(dtype.SafetensorsName(), loaded.ToRecord("Cpu").DType);
        var prompt = RandomTokens(new Random(5), 9, loaded.Config.VocabSize);
        var (tokens, logits) = RunGreedy(loaded, prompt, steps: 4);
        var reference = ReferenceTransformer.Logits(model, tokens);
        for (var t = 0; t < logits.Count; t++)
            Assert.True(ReferenceTransformer.RelativeError(logits[t], reference[t]) <= Tolerance, $"position {t}");
    }

    [Theory]
    [InlineData("gpt2-tied")]
    [InlineData("llama-gqa")]
    public void RaggedBatchOfPromptsEqualsEachPromptAlone(string name)
    {
        using var dir = new TempDirectory();
        Write(name, dir.Path, 11);
        using var loaded = LoadedModel.LoadCpu(dir.Path, cancellation: Ct);
        var rng = new Random(3);
        var prompts = new[] { 5, 1, 9 }.Select(n => RandomTokens(rng, n, loaded.Config.VocabSize)).ToArray();

        // All three in one pass, rows of different lengths, every row's logits.
        var ids = prompts.SelectMany(p => p).ToArray();
        var positions = prompts.SelectMany(p => Enumerable.Range(0, p.Length)).ToArray();
        var slots = prompts.SelectMany((p, i) => Enumerable.Repeat(i, p.Length)).ToArray();
        var batch = new TokenBatch(ids, positions, slots, Enumerable.Range(0, ids.Length).ToArray());
        using var cache = loaded.Runner.CreateKvCache(3, 16);
        var batched = loaded.Runner.Forward(batch, cache, Ct);

        var vocab = loaded.Config.VocabSize;
        var row = 0;
        for (var i = 0; i < prompts.Length; i++)
        {
            using var alone = loaded.Runner.CreateKvCache(1, 16);
            var single = loaded.Runner.Forward(TokenBatch.Single(prompts[i], allLogits: true), alone, Ct);
            for (var t = 0; t < prompts[i].Length; t++, row++)
                for (var v = 0; v < vocab; v++)
                    Assert.Equal(single[t * vocab + v], batched[row * vocab + v], 5e-5f);
        }
    }

    /// <summary>Prefill with every position's logits, then greedy steps through the KV cache, one token at a time.</summary>
    internal static (List<int> Tokens, List<float[]> Logits) RunGreedy(LoadedModel model, int[] prompt, int steps)
    {
        var vocab = model.Config.VocabSize;
        var tokens = prompt.ToList();
        var logits = new List<float[]>();
        using var cache = model.Runner.CreateKvCache(1, prompt.Length + steps + 1);
        var all = model.Runner.Forward(TokenBatch.Single(prompt, allLogits: true), cache, Ct);
        for (var t = 0; t < prompt.Length; t++) logits.Add(all.AsSpan(t * vocab, vocab).ToArray());
        for (var s = 0; s < steps; s++)
        {
            var next = ArgMax(logits[^1]);
            tokens.Add(next);
            logits.Add(model.Runner.Forward(TokenBatch.Single(new[] { next }, startPosition: tokens.Count - 1), cache, Ct));
        }
        return (tokens, logits);
    }

    internal static int[] RandomTokens(Random rng, int count, int vocab) => Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();

    private static int ArgMax(float[] v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
