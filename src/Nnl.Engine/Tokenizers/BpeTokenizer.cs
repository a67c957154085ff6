using System.Text;

namespace Nnl.Engine.Tokenizers;

/// <summary>
/// A BPE tokenizer put together as Hugging Face's tokenizers library does it: added tokens are cut
/// out of the text first; each remaining run is normalised, pre-tokenised into pieces and each piece
/// BPE-encoded; the post-processor's tokens (BOS) go around the result. Byte-level (GPT-2, Llama 3)
/// and SentencePiece-style (Llama 2) tokenizers differ only in the parts plugged in. Built by
/// <see cref="TokenizerLoader"/>; thread-safe for encoding and decoding.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    private readonly BpeModel _model;
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly TokenDecoding _decoding;
    private readonly AddedTokenSplitter _splitter;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly string[] _idToPiece;
    private readonly byte[][] _pieceBytes;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;

    internal BpeTokenizer(
        string kind,
        BpeModel model,
        Normalizer? normalizer,
        PreTokenizer? preTokenizer,
        TokenDecoding decoding,
        IReadOnlyList<AddedToken> addedTokens,
        IReadOnlyList<int> prefixIds,
        IReadOnlyList<int> suffixIds,
        string? bosToken,
        string? eosToken)
    {
        Kind = kind;
        _model = model;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _decoding = decoding;
        AddedTokens = addedTokens;
        _splitter = new AddedTokenSplitter(addedTokens);
        _addedById = new Dictionary<int, AddedToken>();
        _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in addedTokens)
        {
            _addedById[t.Id] = t;
            _addedByContent.TryAdd(t.Content, t.Id);
        }
        _prefixIds = prefixIds.ToArray();
        _suffixIds = suffixIds.ToArray();

        int maxId = -1;
        foreach (var id in model.Vocab.Values) maxId = Math.Max(maxId, id);
        foreach (var t in addedTokens) maxId = Math.Max(maxId, t.Id);
        VocabSize = maxId + 1;
        _idToPiece = new string[VocabSize];
        foreach (var (piece, id) in model.Vocab) _idToPiece[id] = piece;
        foreach (var t in addedTokens) _idToPiece[t.Id] = t.Content;
        _pieceBytes = new byte[VocabSize][];
        for (int id = 0; id < VocabSize; id++)
            _pieceBytes[id] = _idToPiece[id] is { } p ? decoding.PieceBytes(p) : [];

        BosToken = bosToken;
        EosToken = eosToken;
        BosTokenId = bosToken is not null && TryGetId(bosToken, out int bos) ? bos : null;
        EosTokenId = eosToken is not null && TryGetId(eosToken, out int eos) ? eos : null;
    }

    public string Kind { get; }
    public int VocabSize { get; }
    public int? BosTokenId { get; }
    public int? EosTokenId { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }
    public int MergeCount => _model.MergeCount;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(_prefixIds);
        var pieces = new List<string>();
        foreach (var (run, token, start) in _splitter.Split(text))
        {
            if (token is not null) { ids.Add(token.Id); continue; }
            var normalized = _normalizer?.Normalize(run!) ?? run!;
            pieces.Clear();
            pieces.Add(normalized);
            _preTokenizer?.Apply(pieces, startsText: start == 0);
            foreach (var piece in pieces) _model.Encode(piece, ids);
        }
        if (addSpecialTokens) ids.AddRange(_suffixIds);
        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && IsSpecial(id)) continue;
            bytes.AddRange(TokenBytes(id));
        }
        int skip = 0;
        while (skip < _decoding.LeadingSpacesToStrip && skip < bytes.Count && bytes[skip] == (byte)' ') skip++;
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)[skip..]);
    }

    public TokenStreamDecoder CreateStreamDecoder(bool skipSpecialTokens = false, bool continuesText = false) =>
        new(this, skipSpecialTokens, continuesText ? 0 : _decoding.LeadingSpacesToStrip);

    public bool IsSpecial(int id) => _addedById.TryGetValue(id, out var t) && t.Special;

    public string TokenText(int id)
    {
        CheckId(id);
        return _idToPiece[id] ?? "";
    }

    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        CheckId(id);
        return _pieceBytes[id];
    }

    /// <summary>The id of a vocabulary piece or added token, by its text.</summary>
    public bool TryGetId(string piece, out int id)
    {
        return _addedByContent.TryGetValue(piece, out id) || _model.Vocab.TryGetValue(piece, out id);
    }

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new NnlArgumentException("Ids", $"token id {id} is outside the vocabulary (0..{VocabSize - 1}).");
    }
}
