using System.Collections.Concurrent;
using System.Text;

namespace Nnl.Engine.Tokenizers;

/// <summary>
/// The BPE model: a vocabulary and ranked merges. A piece starts as one symbol per code point
/// (per byte character for byte-level vocabularies); the adjacent pair with the lowest merge rank
/// is merged, leftmost first, until no pair has a merge. This is what GPT-2's encoder.py and
/// Hugging Face's BPE model compute; the priority queue keeps it O(n log n), which matters for
/// SentencePiece-style models whose pieces are whole paragraphs.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedPieceLength = 256;
    private const int MaxCacheEntries = 100_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int[] _byteFallbackIds;
    private readonly int[] _charIds; // id of each one-character token, -1 when absent // id of "<0xNN>" for each byte, -1 when absent
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cacheCount;

    public BpeModel(
        Dictionary<string, int> vocab,
        IReadOnlyList<(string Left, string Right)> merges,
        string? unkToken,
        bool byteFallback,
        bool fuseUnk,
        bool ignoreMerges,
        string sourceFile)
    {
        _vocab = vocab;
        _merges = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int a) || !vocab.TryGetValue(right, out int b)
                || !vocab.TryGetValue(left + right, out int merged))
                throw new NnlTokenizerFormatException(sourceFile,
                    $"merge {rank} (\"{left} {right}\") names a token that is not in the vocabulary.");
            _merges[Key(a, b)] = (rank, merged); // a repeated pair keeps its last rank, as the references do
        }

        if (unkToken is not null)
        {
            if (!vocab.TryGetValue(unkToken, out int unk))
                throw new NnlTokenizerFormatException(sourceFile, $"unk_token \"{unkToken}\" is not in the vocabulary.");
            UnkId = unk;
        }

        // Single-character tokens by character, so the first step of each piece needs no string lookups.
        int maxChar = 0;
        foreach (var token in vocab.Keys) if (token.Length == 1) maxChar = Math.Max(maxChar, token[0]);
        _charIds = new int[maxChar + 1];
        Array.Fill(_charIds, -1);
        foreach (var (token, id) in vocab) if (token.Length == 1 && !char.IsSurrogate(token[0])) _charIds[token[0]] = id;

        _byteFallbackIds = new int[256];
        for (int b = 0; b < 256; b++)
            _byteFallbackIds[b] = byteFallback && vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        ByteFallback = byteFallback;
        FuseUnk = fuseUnk;
        IgnoreMerges = ignoreMerges;
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;
    public int? UnkId { get; }
    public bool ByteFallback { get; }
    public bool FuseUnk { get; }
    public bool IgnoreMerges { get; }
    public int MergeCount => _merges.Count;

    public void Encode(string piece, List<int> output)
    {
        if (piece.Length == 0) return;
        if (IgnoreMerges && _vocab.TryGetValue(piece, out int whole)) { output.Add(whole); return; }
        bool cacheable = piece.Length <= MaxCachedPieceLength;
        if (cacheable && _cache.TryGetValue(piece, out var cached)) { output.AddRange(cached); return; }

        var ids = Merge(InitialSymbols(piece));
        if (cacheable)
        {
            // ConcurrentDictionary.Count takes every lock (up to 1024), so keep our own rough count.
            if (Interlocked.Increment(ref _cacheCount) > MaxCacheEntries)
            {
                _cache.Clear();
                Interlocked.Exchange(ref _cacheCount, 0);
            }
            _cache.TryAdd(piece, ids);
        }
        output.AddRange(ids);
    }

    /// <summary>One symbol per code point; unknown ones become byte tokens (byte_fallback) or unk.</summary>
    private List<int> InitialSymbols(string piece)
    {
        var symbols = new List<int>(piece.Length);
        bool lastWasUnk = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < piece.Length;)
        {
            int len = char.IsSurrogatePair(piece, i) ? 2 : 1;
            if (len == 1 && piece[i] < _charIds.Length && _charIds[piece[i]] >= 0)
            {
                symbols.Add(_charIds[piece[i++]]);
                lastWasUnk = false;
                continue;
            }
            string unit = piece.Substring(i, len);
            i += len;
            if (_vocab.TryGetValue(unit, out int id)) { symbols.Add(id); lastWasUnk = false; continue; }

            if (ByteFallback)
            {
                int n = Encoding.UTF8.GetBytes(unit, utf8);
                bool all = true;
                for (int k = 0; k < n; k++) all &= _byteFallbackIds[utf8[k]] >= 0;
                if (all)
                {
                    for (int k = 0; k < n; k++) symbols.Add(_byteFallbackIds[utf8[k]]);
                    lastWasUnk = false;
                    continue;
                }
            }
            // Without an unk token the code point is dropped, as Hugging Face's BPE does.
            if (UnkId is int unk && !(FuseUnk && lastWasUnk)) symbols.Add(unk);
            lastWasUnk = UnkId is not null;
        }
        return symbols;
    }

    private int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n <= 1) return symbols.ToArray();
        var ids = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }

        // Priority: rank first, then position, so equal ranks merge left to right.
        var queue = new PriorityQueue<int, long>();
        for (int i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m)) queue.Enqueue(i, Priority(m.Rank, i));

        while (queue.TryDequeue(out int pos, out long priority))
        {
            int rank = (int)(priority >> 32);
            int right = next[pos];
            if (ids[pos] < 0 || right < 0) continue;
            // Stale entries: the symbol at pos changed since this pair was queued.
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out var merge) || merge.Rank != rank) continue;

            ids[pos] = merge.NewId;
            ids[right] = -1;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var before))
                queue.Enqueue(prev[pos], Priority(before.Rank, prev[pos]));
            if (next[pos] >= 0 && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var after))
                queue.Enqueue(pos, Priority(after.Rank, pos));
        }

        var result = new List<int>();
        for (int i = 0; i >= 0; i = next[i]) result.Add(ids[i]);
        return result.ToArray();
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>long's own hash is high ^ low, which puts GPT-2's 50,000 id pairs into some 16,000
    /// buckets; a multiplicative mix spreads them.</summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }
    private static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;
}
