using System.Text.Json;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Models.Synthetic;

/// <summary>
/// A byte-level BPE tokenizer of exactly the model's vocabulary size, for generated models: the
/// config's BOS/EOS ids hold special tokens, the other ids hold the 256 bytes and then merges —
/// byte pairs (letters and space first, as in English text), then byte triples — until every id
/// has a token. Every id decodes to text, and tokenizer.json loads in Hugging Face tokenizers
/// (PreTrainedTokenizerFast) and in Nnl's TokenizerLoader alike.
/// </summary>
public sealed class ByteLevelVocabulary
{
    private ByteLevelVocabulary(string[] tokens, IReadOnlyDictionary<int, string> special, List<(string, string)> merges)
    {
        Tokens = tokens;
        Special = special;
        Merges = merges;
    }

    /// <summary>Token text by id (byte-level alphabet characters; special tokens as written).</summary>
    public IReadOnlyList<string> Tokens { get; }

    public IReadOnlyDictionary<int, string> Special { get; }
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    public static ByteLevelVocabulary For(ModelConfig config)
    {
        var vocab = config.VocabSize;
        var specialIds = SyntheticModel.SpecialTokenIds(config);
        var special = new Dictionary<int, string>();
        var bos = config.BosTokenId;
        foreach (var id in specialIds)
        {
            var isBos = id == bos;
            var isEos = config.EosTokenIds.Contains(id);
            special[id] = (isBos, isEos) switch
            {
                (true, true) => "<|endoftext|>",
                (true, false) => vocab > 100_000 ? "<|begin_of_text|>" : "<s>",
                (false, true) when config.EosTokenIds.Count == 1 => vocab > 100_000 ? "<|end_of_text|>" : "</s>",
                _ => $"<|eos_{id}|>",
            };
        }

        var tokens = new string[vocab];
        var merges = new List<(string, string)>();
        using var pieces = Pieces().GetEnumerator();
        for (var id = 0; id < vocab; id++)
        {
            if (special.TryGetValue(id, out var s)) { tokens[id] = s; continue; }
            string text;
            (string, string)? merge;
            do
            {
                pieces.MoveNext();
                (text, merge) = pieces.Current;
            } while (special.ContainsValue(text)); // a triple could spell "<s>"
            tokens[id] = text;
            if (merge is { } m) merges.Add(m);
        }
        return new ByteLevelVocabulary(tokens, special, merges);
    }

    /// <summary>Single bytes, then pairs of bytes, then triples, each with the merge that builds it.</summary>
    private static IEnumerable<(string Text, (string, string)? Merge)> Pieces()
    {
        var order = ByteOrder();
        var chars = order.Select(b => ByteLevelAlphabet.Encode(b).ToString()).ToArray();
        foreach (var c in chars) yield return (c, null);
        // Pairs by the sum of their ranks, so common letters pair first.
        var pairs = new List<(int, int)>(256 * 256);
        for (var i = 0; i < 256; i++)
            for (var j = 0; j < 256; j++) pairs.Add((i, j));
        pairs.Sort((a, b) => (a.Item1 + a.Item2).CompareTo(b.Item1 + b.Item2) is var c && c != 0 ? c : a.Item1.CompareTo(b.Item1));
        foreach (var (i, j) in pairs) yield return (chars[i] + chars[j], (chars[i], chars[j]));
        foreach (var (i, j) in pairs)
            for (var k = 0; k < 256; k++) yield return (chars[i] + chars[j] + chars[k], (chars[i] + chars[j], chars[k]));
    }

    /// <summary>Space and lower-case letters by English frequency first, then the rest of printable ASCII, then every other byte.</summary>
    private static byte[] ByteOrder()
    {
        var first = " etaoinshrdlcumwfgypbvkjxqz" + "ETAOINSHRDLCUMWFGYPBVKJXQZ" + "0123456789" + ".,'\"-!?:;()\n";
        var order = new List<byte>(first.Select(c => (byte)c));
        for (var b = 0; b < 256; b++)
            if (!order.Contains((byte)b)) order.Add((byte)b);
        return order.ToArray();
    }

    /// <summary>Writes tokenizer.json (Hugging Face tokenizers' format, GPT-2's pre-tokenizer and decoder).</summary>
    public void WriteTokenizerJson(Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (var (id, content) in Special.OrderBy(p => p.Key))
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("normalizer");
        void ByteLevel(string name, bool addPrefixSpace, bool trimOffsets)
        {
            w.WriteStartObject(name);
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", addPrefixSpace);
            w.WriteBoolean("trim_offsets", trimOffsets);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
        }
        ByteLevel("pre_tokenizer", false, true);
        ByteLevel("post_processor", true, false);
        ByteLevel("decoder", true, true);
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteString("continuing_subword_prefix", "");
        w.WriteString("end_of_word_suffix", "");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (var id = 0; id < Tokens.Count; id++) w.WriteNumber(Tokens[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (l, r) in Merges) w.WriteStringValue(l + " " + r);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>tokenizer_config.json: which class transformers should build, and the special tokens.</summary>
    public string TokenizerConfigJson(ModelConfig config)
    {
        var o = new Dictionary<string, object?>
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["model_max_length"] = config.MaxPositions,
            ["clean_up_tokenization_spaces"] = false,
            ["add_bos_token"] = false,
            ["add_eos_token"] = false,
        };
        if (config.BosTokenId is { } bos) o["bos_token"] = Tokens[bos];
        if (config.EosTokenIds.Count > 0) o["eos_token"] = Tokens[config.EosTokenIds[0]];
        return JsonSerializer.Serialize(o, new JsonSerializerOptions { WriteIndented = true });
    }
}
