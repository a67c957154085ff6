using Nnl.Engine.Benchmarks;
using Nnl.Engine.Generation;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tests.Models;

namespace Nnl.Engine.Tests.Generation;

/// <summary>
/// The generation loop and the benchmark over a greedy pipeline (<see cref="IGreedyDecodePipeline"/>, here
/// the host's stand-in for the GPU's) give what they give through Forward: the same tokens, stop reasons
/// and text, steps queued ahead only where no limit can end a sequence, and a step queued ahead of a
/// sequence that then stopped dropped rather than used.
/// </summary>
public sealed class GreedyPipelineLoopTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public GreedyPipelineLoopTests()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(Vocab: 26 * 3, MaxPositions: 40), seed: 23);
        model.Config.Remove("eos_token_id");
        model.SaveConfig();
    }

    public void Dispose() => _dir.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private (IReadOnlyList<NnlGenerationResult> Results, HostGreedyPipelineRunner Runner) Generate(bool pipelined, GenerationOptions options, params int[][] prompts)
    {
        var cpu = LoadedModel.LoadCpu(_dir.Path, new LetterTokenizer(), cancellation: Ct);
        var runner = new HostGreedyPipelineRunner(cpu.Runner, offersPipeline: pipelined);
        using var model = new LoadedModel(_dir.Path, cpu.Config, cpu.GenerationConfig, runner, new LetterTokenizer());
        var results = new TextGenerator(model).Generate(prompts.Select(p => new GenerationPrompt("", p)).ToArray(), options, null, Ct);
        return (results, runner);
    }

    private static void AssertSameResults(IReadOnlyList<NnlGenerationResult> expected, IReadOnlyList<NnlGenerationResult> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].TokenIds, actual[i].TokenIds);
            Assert.Equal(expected[i].StopReason, actual[i].StopReason);
            Assert.Equal(expected[i].Text, actual[i].Text);
        }
    }

    private static readonly int[] PromptA = [5, 9, 30, 41, 7], PromptB = [12, 3, 60];

    [Fact]
    public void GreedyTokensThroughThePipelineAreForwardsAndNoStepIsWasted()
    {
        var options = new GenerationOptions { MaxNewTokens = 9, StopTokenIds = Array.Empty<int>() };
        var (expected, _) = Generate(pipelined: false, options, PromptA, PromptB);
        var (actual, runner) = Generate(pipelined: true, options, PromptA, PromptB);
        AssertSameResults(expected, actual);
        // The prefill went through Forward; the 8 decode steps through the pipeline, the first with
        // the host's ids and each later one with the device's, and none past the last token.
        Assert.Single(runner.ForwardBatches);
        Assert.Equal(8, runner.QueuedSteps.Count);
        Assert.Equal(8, runner.Taken);
        for (int step = 0; step < 8; step++)
        {
            Assert.Equal([PromptA.Length + step, PromptB.Length + step], runner.QueuedSteps[step].Positions);
            Assert.Equal([expected[0].TokenIds[step], expected[1].TokenIds[step]], runner.QueuedSteps[step].Ids);
        }
    }

    [Fact]
    public void ASequenceThatStopsDropsTheStepQueuedAheadAndTheOtherGoesOn()
    {
        var free = new GenerationOptions { MaxNewTokens = 10, StopTokenIds = Array.Empty<int>() };
        var (unstopped, _) = Generate(pipelined: false, free, PromptA, PromptB);
        // A stop id that ends sequence A at its fourth token and does not occur in B's ten.
        int stop = unstopped[0].TokenIds[3];
        Assert.DoesNotContain(stop, unstopped[0].TokenIds.Take(3));
        Assert.DoesNotContain(stop, unstopped[1].TokenIds);
        var options = free with { StopTokenIds = [stop] };

        var (expected, _) = Generate(pipelined: false, options, PromptA, PromptB);
        var (actual, runner) = Generate(pipelined: true, options, PromptA, PromptB);
        AssertSameResults(expected, actual);
        Assert.Equal(StopReason.StopToken, actual[0].StopReason);
        Assert.Equal(StopReason.MaxNewTokens, actual[1].StopReason);
        // 9 decode steps used; one more was queued ahead of A's stop and dropped, after which B went on alone from the host's id.
        Assert.Equal(10, runner.QueuedSteps.Count);
        Assert.Equal(10, runner.Taken);
        var resumed = runner.QueuedSteps.First(s => s.Ids.Length == 1);
        Assert.Equal(expected[1].TokenIds[3], resumed.Ids[0]);
        Assert.Equal(PromptB.Length + 3, resumed.Positions[0]);
    }

    [Fact]
    public void NoStepIsQueuedPastTheContext()
    {
        var options = new GenerationOptions { MaxNewTokens = 100, StopTokenIds = Array.Empty<int>() };
        var prompt = Enumerable.Range(0, 30).Select(i => i * 7 % 78).ToArray();
        var (expected, _) = Generate(pipelined: false, options, prompt);
        var (actual, runner) = Generate(pipelined: true, options, prompt);
        AssertSameResults(expected, actual);
        Assert.Equal(StopReason.ContextFull, actual[0].StopReason);
        Assert.All(runner.QueuedSteps, s => Assert.True(s.Positions[0] < 40, $"position {s.Positions[0]} queued in a context of 40"));
        Assert.Equal(runner.QueuedSteps.Count, runner.Taken);
        Assert.Equal(actual[0].TokenIds.Count - 1, runner.QueuedSteps.Count);
    }

    [Theory]
    [InlineData(0.8, 1.0)]
    [InlineData(0.0, 1.3)]
    public void SamplingOrAPenaltyTakesTheForwardPath(double temperature, double penalty)
    {
        var options = new GenerationOptions { MaxNewTokens = 5, Temperature = temperature, RepetitionPenalty = penalty, Seed = 4, StopTokenIds = Array.Empty<int>() };
        var (_, runner) = Generate(pipelined: true, options, PromptA);
        Assert.Equal(0, runner.PipelinesCreated);
        Assert.Equal(5, runner.ForwardBatches.Count);
        Assert.Empty(runner.QueuedSteps);
    }

    [Fact]
    public void TheBenchmarkFeedsThePipelineTheTokensForwardWouldHaveFed()
    {
        using var cpu = LoadedModel.LoadCpu(_dir.Path, cancellation: Ct);
        var work = new BenchmarkWorkload(BatchSize: 2, PromptLength: 6, Tokens: 7, Warmup: 0, Repetitions: 2, Seed: 5);
        var forward = new HostGreedyPipelineRunner(cpu.Runner, offersPipeline: false);
        var plain = InferenceBenchmark.Run(forward, work, Ct);
        var piped = new HostGreedyPipelineRunner(cpu.Runner);
        var m = InferenceBenchmark.Run(piped, work, Ct);

        Assert.False(plain.Pipelined);
        Assert.True(m.Pipelined);
        Assert.Equal(2 * 6, m.DecodeStepMilliseconds.Count);
        var decodeFed = forward.ForwardBatches.Where(b => b.Ids.Length == 2).ToList();   // the prefills have 12 rows
        Assert.Equal(decodeFed.Count, piped.QueuedSteps.Count);
        for (int i = 0; i < decodeFed.Count; i++)
        {
            Assert.Equal(decodeFed[i].Ids, piped.QueuedSteps[i].Ids);
            Assert.Equal(decodeFed[i].Positions, piped.QueuedSteps[i].Positions);
        }
        Assert.Equal(piped.QueuedSteps.Count, piped.Taken);
    }
}
