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

    /// <summary>
    /// The distribution each filter should leave, computed the plain way: every token sorted best first
    /// (score down, id up), top-k with the k-th score's ties, the top-p prefix, renormalised.
    /// </summary>
    private static Dictionary<int, double> Expected(float[] logits, int[] sequence, GenerationOptions o)
    {
        var s = logits.Select(x => (double)x).ToArray();
        foreach (var id in sequence.Distinct()) s[id] = s[id] < 0 ? s[id] * o.RepetitionPenalty : s[id] / o.RepetitionPenalty;
        for (var i = 0; i < s.Length; i++) s[i] /= o.Temperature;
        var order = Enumerable.Range(0, s.Length).OrderByDescending(i => s[i]).ThenBy(i => i).ToList();
        if (o.TopK > 0 && o.TopK < order.Count) order = order.Where(i => s[i] >= s[order[o.TopK - 1]]).ToList();
        var w = order.Select(i => Math.Exp(s[i] - s[order[0]])).ToArray();
        var p = w.Select(x => x / w.Sum()).ToArray();
        int keep = order.Count;
        if (o.TopP < 1)
        {
            double c = 0;
            keep = 0;
            while (keep < order.Count) { c += p[keep++]; if (c >= o.TopP) break; }
        }
        var kept = w.Take(keep).Sum();
        return Enumerable.Range(0, keep).ToDictionary(j => order[j], j => w[j] / kept);
    }

    /// <summary>
    /// Every combination of the filters on a vocabulary with tied scores (so top-k keeps ties and the
    /// order among equals matters) and a repeated history: the sampler draws exactly the tokens the
    /// plain computation keeps, each about as often as it says (within five standard deviations).
    /// </summary>
    [Theory]
    [InlineData(1.0, 0, 1.0, 1.0)]
    [InlineData(0.7, 5, 1.0, 1.0)]
    [InlineData(1.3, 0, 0.8, 1.0)]
    [InlineData(0.9, 7, 0.9, 1.0)]
    [InlineData(1.1, 3, 1.0, 1.4)]
    [InlineData(2.0, 0, 0.5, 1.2)]
    [InlineData(0.5, 40, 0.95, 1.0)]
    public void FiltersKeepWhatThePlainComputationKeeps(double temperature, int topK, double topP, double penalty)
    {
        var rng = new Random(HashCode.Combine(temperature, topK, topP, penalty));
        // 30 tokens, scores in steps of 0.25 so that several tie (top-k's k-th score among them).
        var logits = Enumerable.Range(0, 30).Select(_ => (float)(rng.Next(-8, 9) * 0.25)).ToArray();
        int[] history = [3, 3, 17, 29, 3, 0];
        var options = new GenerationOptions { Temperature = temperature, TopK = topK, TopP = topP, RepetitionPenalty = penalty };
        var expected = Expected(logits, history, options);
        var sampler = new TokenSampler(options, seed: 11);
        const int draws = 60000;
        var counts = new Dictionary<int, int>();
        for (var i = 0; i < draws; i++)
        {
            int id = sampler.Next(logits, history);
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }
        Assert.Subset(expected.Keys.ToHashSet(), counts.Keys.ToHashSet());
        foreach (var (id, p) in expected)
        {
            double sd = Math.Sqrt(p * (1 - p) / draws), f = counts.GetValueOrDefault(id) / (double)draws;
            Assert.True(Math.Abs(f - p) <= 5 * sd + 1e-9, $"token {id}: drawn {f:F4}, expected {p:F4}");
        }
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
