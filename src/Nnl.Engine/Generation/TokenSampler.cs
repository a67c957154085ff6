namespace Nnl.Engine.Generation;

/// <summary>
/// Picks the next token from one row of logits, as transformers' logits processors do:
/// repetition penalty, then temperature, top-k, top-p, then a draw from the softmax
/// (or arg-max when greedy). One sampler per sequence: it owns that sequence's random stream
/// and the buffers it reuses from token to token.
/// </summary>
/// <remarks>
/// A token costs time linear in the vocabulary: the scores go into a buffer kept between calls,
/// a draw from the whole softmax walks the vocabulary in id order (the order of a walk does not
/// change what it draws), top-k takes its candidates best first from a heap built in linear time,
/// and top-p finds its nucleus by partitioning (quickselect on probability mass). Sorting the whole
/// vocabulary for every token (the first version) took 12-15 ms a token for GPT-2's 50,257 ids,
/// several times what a GPU takes to decode one.
/// </remarks>
public sealed class TokenSampler
{
    private readonly GenerationOptions _options;
    private readonly Random _random;
    private double[] _scores = [];
    private double[] _weights = [];     // e^(score - max) of each candidate, by id
    private int[] _heap = [];           // top-k's candidates, best on top
    private int _heapCount;
    private int[] _order = [];          // the candidates: top-k's best first (score down, id up), else by id; the nucleus first
    private int[] _seen = [];           // _seen[id] == _stamp: id already penalised for this token
    private int _stamp;

    public TokenSampler(GenerationOptions options, int seed)
    {
        _options = options;
        _random = new Random(seed);
    }

    /// <summary>The next token given <paramref name="logits"/> (vocab) and the sequence so far (prompt + generated).</summary>
    public int Next(ReadOnlySpan<float> logits, IReadOnlyCollection<int> sequence)
    {
        int n = logits.Length;
        if (_scores.Length != n) Allocate(n);
        var scores = _scores;
        for (var i = 0; i < n; i++) scores[i] = logits[i];

        if (_options.RepetitionPenalty != 1.0)
        {
            // Each distinct id once, however often it occurs (a stamp instead of a set per token).
            if (++_stamp == int.MaxValue) { Array.Clear(_seen); _stamp = 1; }
            foreach (var id in sequence)
            {
                if ((uint)id >= (uint)n || _seen[id] == _stamp) continue;
                _seen[id] = _stamp;
                scores[id] = scores[id] < 0 ? scores[id] * _options.RepetitionPenalty : scores[id] / _options.RepetitionPenalty;
            }
        }

        return _options.IsGreedy ? ArgMax(scores) : Sample(scores);
    }

    /// <summary>Temperature, top-k, top-p, then a draw: the sampling half of <see cref="Next"/>.</summary>
    private int Sample(double[] scores)
    {
        int n = scores.Length;
        for (var i = 0; i < n; i++) scores[i] /= _options.Temperature;
        double max = double.NegativeInfinity;
        for (var i = 0; i < n; i++) if (scores[i] > max) max = scores[i];
        if (double.IsNegativeInfinity(max)) return 0;   // every token masked: nothing to weigh

        // The candidates in _order[0..keep) with their weights e^(score - max) in _weights (by id):
        // top-k's best first, off a heap (only as many ordered as it keeps); otherwise every id, in id
        // order (the order of a draw's walk does not change what it draws), listed in _order only
        // when top-p will partition them.
        int keep;
        double sum = 0;
        bool topP = _options.TopP < 1.0, listed = true;
        if (_options.TopK > 0 && _options.TopK < n)
        {
            BuildHeap(scores);
            keep = 0;
            double kth = double.NaN;
            while (_heapCount > 0)
            {
                int next = _heap[0];
                if (keep >= _options.TopK && !(scores[next] >= kth)) break;   // transformers keeps the k-th score's ties
                Pop(scores);
                _order[keep] = next;
                sum += Weigh(scores, next, max);
                if (++keep == _options.TopK) kth = scores[next];
            }
        }
        else
        {
            for (var i = 0; i < n; i++) sum += Weigh(scores, i, max);
            if (topP) for (var i = 0; i < n; i++) _order[i] = i;
            listed = topP;
            keep = n;
        }

        if (topP)
        {
            // The smallest best-first prefix whose probability reaches p (at least one), found by
            // partitioning: a flat distribution's thousands of candidates are never sorted.
            keep = Nucleus(scores, keep, _options.TopP * sum);
            sum = 0;
            for (var i = 0; i < keep; i++) sum += _weights[_order[i]];
        }

        var target = _random.NextDouble() * sum;
        double acc = 0;
        int last = listed ? _order[0] : 0;
        for (var i = 0; i < keep; i++)
        {
            int id = listed ? _order[i] : i;
            if (_weights[id] == 0) continue;
            acc += _weights[id];
            last = id;
            if (target < acc) return id;
        }
        return last;   // rounding left the target at the very end
    }

    private void Allocate(int n)
    {
        _scores = new double[n];
        _weights = new double[n];
        _heap = new int[n];
        _order = new int[n];
        _seen = new int[n];
        _stamp = 0;
    }

    /// <summary>Sets and returns id's weight e^(score - max), 0 for a masked (−∞) score.</summary>
    private double Weigh(double[] scores, int id, double max) =>
        _weights[id] = double.IsNegativeInfinity(scores[id]) ? 0 : Math.Exp(scores[id] - max);

    /// <summary>
    /// Reorders _order[0..count) so that its first r ids are the nucleus, and returns r: the fewest
    /// best-first candidates whose weights (_weights, by id) reach <paramref name="need"/>. Each round
    /// partitions the undecided range around a pivot: everything before the pivot either already
    /// reaches the need (look there) or joins the nucleus with the pivot (look after it).
    /// </summary>
    private int Nucleus(double[] scores, int count, double need)
    {
        int lo = 0, hi = count;
        double acc = 0;   // weight of _order[0..lo), all in the nucleus; always below need
        while (hi - lo > 1)
        {
            // Median of three (first, middle, last) as the pivot, moved to the end of the range.
            int mid = lo + (hi - lo) / 2;
            if (Before(scores, _order[mid], _order[lo])) (_order[mid], _order[lo]) = (_order[lo], _order[mid]);
            if (Before(scores, _order[hi - 1], _order[lo])) (_order[hi - 1], _order[lo]) = (_order[lo], _order[hi - 1]);
            if (Before(scores, _order[mid], _order[hi - 1])) (_order[mid], _order[hi - 1]) = (_order[hi - 1], _order[mid]);
            int pivot = _order[hi - 1], store = lo;
            double before = 0;
            for (var i = lo; i < hi - 1; i++)
            {
                if (!Before(scores, _order[i], pivot)) continue;
                (_order[i], _order[store]) = (_order[store], _order[i]);
                before += _weights[_order[store++]];
            }
            (_order[store], _order[hi - 1]) = (_order[hi - 1], _order[store]);
            if (acc + before >= need) { hi = store; continue; }
            acc += before + _weights[pivot];
            if (acc >= need) return store + 1;
            lo = store + 1;
        }
        return Math.Max(hi, 1);
    }

    /// <summary>True when id a comes before id b: a higher score, or the same score and a lower id.</summary>
    private static bool Before(double[] s, int a, int b) => s[a] > s[b] || (s[a] == s[b] && a < b);

    private void BuildHeap(double[] scores)
    {
        _heapCount = scores.Length;
        for (var i = 0; i < _heapCount; i++) _heap[i] = i;
        for (var i = _heapCount / 2 - 1; i >= 0; i--) SiftDown(scores, i);
    }

    private int Pop(double[] scores)
    {
        int top = _heap[0];
        _heap[0] = _heap[--_heapCount];
        if (_heapCount > 0) SiftDown(scores, 0);
        return top;
    }

    private void SiftDown(double[] scores, int i)
    {
        int item = _heap[i];
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _heapCount) break;
            if (child + 1 < _heapCount && Before(scores, _heap[child + 1], _heap[child])) child++;
            if (!Before(scores, _heap[child], item)) break;
            _heap[i] = _heap[child];
            i = child;
        }
        _heap[i] = item;
    }

    internal static int ArgMax(ReadOnlySpan<double> scores)
    {
        var best = 0;
        for (var i = 1; i < scores.Length; i++)
            if (scores[i] > scores[best]) best = i;
        return best;
    }
}
