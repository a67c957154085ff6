using Nnl.Engine.Generation;

namespace Nnl.Engine.Tests.Generation;

public sealed class TokenSamplerTests
{
    private static float[] RandomLogits(int seed, int n = 50)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
    }

    private static int ArgMax(float[] v) => Array.IndexOf(v, v.Max());

    [Fact]
    public void GreedyTakesTheArgMax()
    {
        var logits = RandomLogits(1);
        var sampler = new TokenSampler(new GenerationOptions(), seed: 5);
        Assert.Equal(ArgMax(logits), sampler.Next(logits, Array.Empty<int>()));
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeScores()
    {
        // Token 0 leads at 2.0; token 1 at 1.5. Penalising 0 by 2 leaves it at 1.0: token 1 wins.
        var logits = new[] { 2.0f, 1.5f, -1.0f, -0.9f };
        var options = new GenerationOptions { RepetitionPenalty = 2.0 };
        Assert.Equal(1, new TokenSampler(options, 1).Next(logits, new[] { 0, 0 }));
        // A negative score gets more negative: -0.9 → -1.8 falls below -1.0; with 0 and 1 masked the best is 2.
        var allNegative = new[] { -5.0f, -5.0f, -1.0f, -0.9f };
        Assert.Equal(2, new TokenSampler(options, 1).Next(allNegative, new[] { 3 }));
        Assert.Equal(3, new TokenSampler(new GenerationOptions(), 1).Next(allNegative, new[] { 3 }));
    }

    [Fact]
    public void SameSeedSameDrawsDifferentSeedDifferentDraws()
    {
        var options = new GenerationOptions { Temperature = 1.5 };
        var logits = RandomLogits(2);
        int[] Draw(int seed)
        {
            var s = new TokenSampler(options, seed);
            return Enumerable.Range(0, 40).Select(_ => s.Next(logits, Array.Empty<int>())).ToArray();
        }
        Assert.Equal(Draw(17), Draw(17));
        Assert.NotEqual(Draw(17), Draw(18));
    }

    [Fact]
    public void SamplingFollowsTheSoftmaxOfTheScaledLogits()
    {
        var logits = new[] { 1.0f, 0.0f, -0.5f, 2.0f };
        const double temperature = 0.8;
        var sampler = new TokenSampler(new GenerationOptions { Temperature = temperature }, seed: 3);
        var counts = new int[4];
        const int draws = 40000;
        for (var i = 0; i < draws; i++) counts[sampler.Next(logits, Array.Empty<int>())]++;
        var exp = logits.Select(l => Math.Exp(l / temperature)).ToArray();
        for (var i = 0; i < 4; i++)
        {
            var p = exp[i] / exp.Sum();
            var sd = Math.Sqrt(p * (1 - p) / draws);
            Assert.InRange(counts[i] / (double)draws, p - 5 * sd, p + 5 * sd);
        }
    }

    [Fact]
    public void TopKDrawsOnlyFromTheKBest()
    {
        var logits = RandomLogits(4);
        var best = logits.Select((v, i) => (v, i)).OrderByDescending(x => x.v).Take(3).Select(x => x.i).ToHashSet();
        var sampler = new TokenSampler(new GenerationOptions { Temperature = 5, TopK = 3 }, seed: 9);
        var seen = Enumerable.Range(0, 3000).Select(_ => sampler.Next(logits, Array.Empty<int>())).ToHashSet();
        Assert.Equal(best, seen);
    }

    [Fact]
    public void TopPDrawsOnlyFromTheNucleus()
    {
        // Probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps the first two (0.5 < 0.75 ≤ 0.8).
        var p = new[] { 0.5, 0.3, 0.15, 0.05 };
        var logits = p.Select(x => (float)Math.Log(x)).ToArray();
        var sampler = new TokenSampler(new GenerationOptions { Temperature = 1, TopP = 0.75 }, seed: 2);
        var counts = new int[4];
        for (var i = 0; i < 20000; i++) counts[sampler.Next(logits, Array.Empty<int>())]++;
        Assert.Equal(0, counts[2] + counts[3]);
        Assert.InRange(counts[0] / 20000.0, 0.5 / 0.8 - 0.02, 0.5 / 0.8 + 0.02);
    }

    [Fact]
    public void TinyTopPIsGreedy()
    {
        var logits = RandomLogits(6);
        var sampler = new TokenSampler(new GenerationOptions { Temperature = 3, TopP = 1e-6 }, seed: 2);
        for (var i = 0; i < 100; i++) Assert.Equal(ArgMax(logits), sampler.Next(logits, Array.Empty<int>()));
    }

    [Theory]
    [InlineData(-1.0, 0, 1.0, 1.0)]
    [InlineData(double.NaN, 0, 1.0, 1.0)]
    [InlineData(1.0, -2, 1.0, 1.0)]
    [InlineData(1.0, 0, 0.0, 1.0)]
    [InlineData(1.0, 0, 1.5, 1.0)]
    [InlineData(1.0, 0, 1.0, 0.0)]
    public void BadOptionsAreRefusedByName(double temperature, int topK, double topP, double penalty)
    {
        var options = new GenerationOptions { Temperature = temperature, TopK = topK, TopP = topP, RepetitionPenalty = penalty };
        var e = Assert.Throws<NnlArgumentException>(options.Validate);
        Assert.Equal("InvalidArgument", e.ErrorId);
    }
}
