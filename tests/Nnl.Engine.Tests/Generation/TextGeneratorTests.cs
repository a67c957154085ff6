using Nnl.Engine.Generation;
using Nnl.Engine.Tests.Models;
using Nnl.Engine.Tests.Runtime;

namespace Nnl.Engine.Tests.Generation;

/// <summary>A tokenizer where id i is the letter 'a' + i % 26 (so text is predictable); prompts are letters.</summary>
internal sealed class LetterTokenizer : IGenerationTokenizer
{
    public string Name => "Letters";
    public IReadOnlyList<int> Encode(string text) => text.Select(c => c - 'a').ToArray();
    public IGenerationDecoder CreateDecoder() => new Decoder();

    private sealed class Decoder : IGenerationDecoder
    {
        public string Push(int id) => ((char)('a' + id % 26)).ToString();
        public string Flush() => "";
    }
}

public sealed class TextGeneratorTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestModel _model;
    private readonly LoadedModel _loaded;

    public TextGeneratorTests()
    {
        _model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(Vocab: 26 * 3), seed: 21);
        // No end-of-sequence id: every generation runs until the test's own stop condition.
        _model.Config.Remove("eos_token_id");
        _model.SaveConfig();
        _loaded = LoadedModel.LoadCpu(_dir.Path, new LetterTokenizer(), cancellation: Ct);
    }

    public void Dispose()
    {
        _loaded.Dispose();
        _dir.Dispose();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IReadOnlyList<NnlGenerationResult> Generate(GenerationOptions options, params int[][] prompts) =>
        new TextGenerator(_loaded).Generate(prompts.Select(p => new GenerationPrompt("", p)).ToArray(), options, null, Ct);

    private static GenerationOptions Greedy(int n) => new() { MaxNewTokens = n, StopTokenIds = Array.Empty<int>() };

    [Fact]
    public void GreedyGenerationFollowsTheFloat64Reference()
    {
        var prompt = new[] { 5, 9, 30, 41, 7 };
        var result = Generate(Greedy(12), prompt).Single();

        // Each generated token is the reference's arg-max given everything before it.
        var sequence = prompt.ToList();
        foreach (var id in result.TokenIds)
        {
            var logits = ReferenceTransformer.Logits(_model, sequence)[^1];
            Assert.Equal(Array.IndexOf(logits, logits.Max()), id);
            sequence.Add(id);
        }
        Assert.Equal(prompt.Length, result.PromptTokens);
        Assert.Equal(result.TokenIds.Count, result.GeneratedTokens);
        Assert.Equal(string.Concat(result.TokenIds.Select(i => (char)('a' + i % 26))), result.Text);
        Assert.Equal(StopReason.MaxNewTokens, result.StopReason);
        Assert.Equal(12, result.GeneratedTokens);
        Assert.True(result.TimeToFirstTokenMilliseconds > 0);
        Assert.True(result.TotalMilliseconds >= result.TimeToFirstTokenMilliseconds);
        Assert.Equal("Cpu", result.Device);
        Assert.Null(result.StreamedBytesPerToken);
    }

    [Fact]
    public void AStopTokenEndsTheSequence()
    {
        var prompt = new[] { 11, 12, 13 };
        var free = Generate(Greedy(10), prompt).Single();
        var stopAt = free.TokenIds[3];
        var stopped = Generate(Greedy(10) with { StopTokenIds = new[] { stopAt } }, prompt).Single();
        Assert.Equal(StopReason.StopToken, stopped.StopReason);
        var first = free.TokenIds.ToList().IndexOf(stopAt);
        Assert.Equal(free.TokenIds.Take(first + 1), stopped.TokenIds);
    }

    [Fact]
    public void TheModelsEndOfSequenceIdStopsWithoutBeingShown()
    {
        var prompt = new[] { 11, 12, 13 };
        var free = Generate(Greedy(10), prompt).Single();
        var eos = free.TokenIds[4];
        _model.Config["eos_token_id"] = eos;
        _model.SaveConfig();
        using var withEos = LoadedModel.LoadCpu(_dir.Path, new LetterTokenizer(), cancellation: Ct);
        var stopped = new TextGenerator(withEos).Generate(new[] { new GenerationPrompt("", prompt) }, Greedy(10), null, Ct).Single();
        Assert.Equal(StopReason.StopToken, stopped.StopReason);
        var first = free.TokenIds.ToList().IndexOf(eos);
        Assert.Equal(free.TokenIds.Take(first + 1), stopped.TokenIds);
        Assert.Equal(free.Text[..first], stopped.Text); // the EOS token itself is not text
    }

    [Fact]
    public void StopStringsCutTheText()
    {
        var prompt = new[] { 3, 4, 5, 6 };
        var free = Generate(Greedy(16), prompt).Single();
        Assert.True(free.Text.Length >= 6, free.Text);
        var stop = free.Text.Substring(3, 2);
        var cut = Generate(Greedy(16) with { StopStrings = new[] { stop } }, prompt).Single();
        Assert.Equal(StopReason.StopString, cut.StopReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
    }

    [Fact]
    public void SameSeedSameTokensAndSamplingDiffersFromGreedy()
    {
        var prompt = new[] { 20, 21 };
        var options = new GenerationOptions { MaxNewTokens = 20, Temperature = 1.3, Seed = 42, StopTokenIds = Array.Empty<int>() };
        var a = Generate(options, prompt).Single();
        var b = Generate(options, prompt).Single();
        Assert.Equal(a.TokenIds, b.TokenIds);
        Assert.Equal(42, a.Seed);
        var others = Enumerable.Range(43, 4).Select(s => Generate(options with { Seed = s }, prompt).Single().TokenIds).ToArray();
        Assert.Contains(others, o => !o.SequenceEqual(a.TokenIds));
    }

    [Fact]
    public void ABatchOfPromptsGivesWhatEachGivesAlone()
    {
        var prompts = new[] { new[] { 1, 5, 9, 13, 17, 21 }, new[] { 40 }, new[] { 60, 61, 62 } };
        var together = Generate(Greedy(8), prompts);
        Assert.Equal(3, together.Count);
        for (var i = 0; i < prompts.Length; i++)
        {
            var alone = Generate(Greedy(8), prompts[i]).Single();
            Assert.Equal(i, together[i].PromptIndex);
            Assert.Equal(alone.TokenIds, together[i].TokenIds);
            Assert.Equal(alone.Text, together[i].Text);
        }
    }

    [Fact]
    public void StreamedTokensArriveInOrderAndSpellTheText()
    {
        var streamed = new List<NnlGeneratedToken>();
        var result = new TextGenerator(_loaded).Generate(new[] { new GenerationPrompt("", new[] { 8, 9 }) }, Greedy(10), streamed.Add, Ct).Single();
        Assert.Equal(result.GeneratedTokens, streamed.Count);
        Assert.Equal(Enumerable.Range(0, streamed.Count), streamed.Select(t => t.Index));
        Assert.Equal(result.TokenIds, streamed.Select(t => t.Id));
        Assert.Equal(result.Text, string.Concat(streamed.Select(t => t.Text)));
        Assert.True(streamed.Zip(streamed.Skip(1)).All(p => p.First.ElapsedMilliseconds <= p.Second.ElapsedMilliseconds));
    }

    [Fact]
    public void CancellationStopsWithinOneToken()
    {
        using var cts = new CancellationTokenSource();
        var streamed = new List<NnlGeneratedToken>();
        Assert.ThrowsAny<OperationCanceledException>(() => new TextGenerator(_loaded).Generate(
            new[] { new GenerationPrompt("", new[] { 1, 2, 3 }) }, Greedy(50),
            t => { streamed.Add(t); if (t.Index == 2) cts.Cancel(); }, cts.Token));
        Assert.Equal(3, streamed.Count);
        // The model is usable afterwards.
        Assert.Equal(4, Generate(Greedy(4), new[] { 70 }).Single().GeneratedTokens);
    }

    [Fact]
    public void OutOfVocabularyPromptIsRefused()
    {
        var e = Assert.Throws<NnlArgumentException>(() => Generate(Greedy(2), new[] { 1, 26 * 3 }));
        Assert.Contains("outside the vocabulary", e.Message);
    }

    [Fact]
    public void ContextFullStopsAGpt2ModelAtItsPositionTable()
    {
        using var dir = new TempDirectory();
        var model = TestModelWriter.WriteGpt2(dir.Path, new Gpt2Shape(Positions: 12), seed: 2);
        model.Config.Remove("eos_token_id");
        model.SaveConfig();
        using var gpt2 = LoadedModel.LoadCpu(dir.Path, cancellation: Ct);
        var result = new TextGenerator(gpt2).Generate(new[] { new GenerationPrompt("", new[] { 1, 2, 3, 4, 5 }) },
            new GenerationOptions { MaxNewTokens = 100, StopTokenIds = Array.Empty<int>() }, null, Ct).Single();
        Assert.Equal(StopReason.ContextFull, result.StopReason);
        Assert.Equal(12 - 5, result.GeneratedTokens);
    }
}
