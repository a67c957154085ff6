namespace Nnl.Engine.Generation;

/// <summary>
/// Picks the next token from one row of logits, as transformers' logits processors do:
/// repetition penalty, then temperature, top-k, top-p, then a draw from the softmax
/// (or arg-max when greedy). One sampler per sequence: it owns that sequence's random stream.
/// </summary>
public sealed class TokenSampler
{
    private readonly GenerationOptions _options;
    private readonly Random _random;

    public TokenSampler(GenerationOptions options, int seed)
    {
        _options = options;
        _random = new Random(seed);
    }

    /// <summary>The next token given <paramref name="logits"/> (vocab) and the sequence so far (prompt + generated).</summary>
    public int Next(ReadOnlySpan<float> logits, IReadOnlyCollection<int> sequence)
    {
        var scores = new double[logits.Length];
        for (var i = 0; i < scores.Length; i++) scores[i] = logits[i];

        if (_options.RepetitionPenalty != 1.0)
        {
            foreach (var id in sequence.Distinct())
            {
                if ((uint)id >= (uint)scores.Length) continue;
                scores[id] = scores[id] < 0 ? scores[id] * _options.RepetitionPenalty : scores[id] / _options.RepetitionPenalty;
            }
        }

        if (_options.IsGreedy) return ArgMax(scores);

        for (var i = 0; i < scores.Length; i++) scores[i] /= _options.Temperature;

        // Candidates by descending score (stable: lower id first on ties).
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        var keep = order.Length;
        if (_options.TopK > 0 && _options.TopK < keep)
        {
            // transformers keeps every token scoring at least the k-th score.
            var kth = scores[order[_options.TopK - 1]];
            keep = _options.TopK;
            while (keep < order.Length && scores[order[keep]] >= kth) keep++;
        }

        var max = scores[order[0]];
        var probabilities = new double[keep];
        double sum = 0;
        for (var i = 0; i < keep; i++)
        {
            probabilities[i] = double.IsNegativeInfinity(scores[order[i]]) ? 0 : Math.Exp(scores[order[i]] - max);
            sum += probabilities[i];
        }
        for (var i = 0; i < keep; i++) probabilities[i] /= sum;

        if (_options.TopP < 1.0)
        {
            // Smallest prefix of the sorted candidates whose probability reaches top_p (at least one).
            double cumulative = 0;
            var n = 0;
            while (n < keep)
            {
                cumulative += probabilities[n++];
                if (cumulative >= _options.TopP) break;
            }
            keep = n;
            sum = 0;
            for (var i = 0; i < keep; i++) sum += probabilities[i];
            for (var i = 0; i < keep; i++) probabilities[i] /= sum;
        }

        var draw = _random.NextDouble();
        double acc = 0;
        for (var i = 0; i < keep; i++)
        {
            acc += probabilities[i];
            if (draw < acc) return order[i];
        }
        return order[keep - 1];
    }

    internal static int ArgMax(ReadOnlySpan<double> scores)
    {
        var best = 0;
        for (var i = 1; i < scores.Length; i++)
            if (scores[i] > scores[best]) best = i;
        return best;
    }
}
