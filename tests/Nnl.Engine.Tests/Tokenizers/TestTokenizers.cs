using System.Text;
using System.Text.Json.Nodes;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Tokenizers;

/// <summary>
/// Small tokenizer.json files built in code, shaped like the ones Llama 2 and Llama 3 ship, plus a
/// tiny BPE trainer and a naive reference merger (written for clarity, not speed) for the tests.
/// </summary>
internal static class TestTokenizers
{
    public const string Llama2Prefix = "▁";

    /// <summary>Llama 2: &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, &lt;0x00&gt;..&lt;0xFF&gt; 3..258, then <paramref name="pieces"/>.
    /// <paramref name="metaspace"/>: the newer layout (Metaspace pre-tokenizer, prepend_scheme "first")
    /// instead of the legacy Prepend + Replace normalizer.</summary>
    public static string Llama2Json(IEnumerable<string> pieces, IEnumerable<(string, string)> merges,
        bool byteFallback = true, bool mergesAsArrays = false, bool metaspace = false)
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        foreach (var p in pieces) if (!vocab.ContainsKey(p)) vocab[p] = vocab.Count;

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(Added(0, "<unk>"), Added(1, "<s>"), Added(2, "</s>")),
            ["normalizer"] = metaspace ? null : new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
            },
            ["pre_tokenizer"] = metaspace
                ? new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false }
                : null,
            ["post_processor"] = Template("<s>", 1),
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Fuse" },
                    new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true,
                ["byte_fallback"] = byteFallback,
                ["vocab"] = vocab,
                ["merges"] = Merges(merges, mergesAsArrays),
            },
        };
        return root.ToJsonString();
    }

    public const int Llama3Bos = 1000, Llama3Eos = 1001, Llama3Eot = 1002;

    /// <summary>Llama 3: the 256 byte characters as ids 0..255 in byte order, then <paramref name="pieces"/>
    /// (in byte-level characters); added tokens &lt;|begin_of_text|&gt; 1000, &lt;|end_of_text|&gt; 1001, &lt;|eot_id|&gt; 1002.</summary>
    public static string Llama3Json(IEnumerable<string> pieces, IEnumerable<(string, string)> merges, bool ignoreMerges = true)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.Encode((byte)b).ToString()] = b;
        foreach (var p in pieces) if (!vocab.ContainsKey(p)) vocab[p] = vocab.Count;
        if (vocab.Count > Llama3Bos) throw new ArgumentException("too many pieces for the test layout");
        // Added tokens follow the vocabulary without a gap, as in Llama 3 (Hugging Face renumbers them otherwise).
        for (int i = 0; vocab.Count < Llama3Bos; i++) vocab[$"<|unused_{i}|>"] = vocab.Count;

        var root = new JsonObject
        {
            ["added_tokens"] = new JsonArray(Added(Llama3Bos, "<|begin_of_text|>"), Added(Llama3Eos, "<|end_of_text|>"), Added(Llama3Eot, "<|eot_id|>")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = SplitPattern.Llama3Source("{1,3}") },
                        ["behavior"] = "Isolated",
                        ["invert"] = false,
                    },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["processors"] = new JsonArray(
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                    Template("<|begin_of_text|>", Llama3Bos)),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = ignoreMerges,
                ["vocab"] = vocab,
                ["merges"] = Merges(merges, asArrays: true),
            },
        };
        return root.ToJsonString();
    }

    private static JsonObject Added(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
        ["normalized"] = false, ["special"] = true,
    };

    private static JsonObject Template(string bos, int bosId) => new()
    {
        ["type"] = "TemplateProcessing",
        ["single"] = new JsonArray(
            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
        ["pair"] = new JsonArray(),
        ["special_tokens"] = new JsonObject
        {
            [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(bosId), ["tokens"] = new JsonArray(bos) },
        },
    };

    private static JsonArray Merges(IEnumerable<(string, string)> merges, bool asArrays)
    {
        var array = new JsonArray();
        foreach (var (a, b) in merges) array.Add(asArrays ? new JsonArray(a, b) : (JsonNode)$"{a} {b}");
        return array;
    }

    /// <summary>Classic BPE training: merge the most frequent adjacent pair (ties: ordinal order), again and again.</summary>
    public static (List<string> Pieces, List<(string, string)> Merges) Train(IEnumerable<List<string>> words, int mergeCount)
    {
        var corpus = words.Select(w => w.ToList()).ToList();
        var pieces = corpus.SelectMany(w => w).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToList();
        var merges = new List<(string, string)>();
        for (int m = 0; m < mergeCount; m++)
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (var w in corpus)
                for (int i = 0; i + 1 < w.Count; i++)
                    counts[(w[i], w[i + 1])] = counts.GetValueOrDefault((w[i], w[i + 1])) + 1;
            if (counts.Count == 0) break;
            var best = counts.OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal).First().Key;
            merges.Add(best);
            pieces.Add(best.Item1 + best.Item2);
            foreach (var w in corpus)
                for (int i = 0; i + 1 < w.Count; i++)
                    if (w[i] == best.Item1 && w[i + 1] == best.Item2) { w[i] += w[i + 1]; w.RemoveAt(i + 1); }
        }
        return (pieces, merges);
    }

    /// <summary>The textbook merge loop: find the lowest-ranked adjacent pair (leftmost on ties), merge it, repeat.</summary>
    public static List<string> NaiveMerge(List<string> symbols, IReadOnlyList<(string, string)> merges)
    {
        var rank = new Dictionary<(string, string), int>();
        for (int r = 0; r < merges.Count; r++) rank[merges[r]] = r;
        var word = symbols.ToList();
        while (true)
        {
            int bestAt = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < word.Count; i++)
                if (rank.TryGetValue((word[i], word[i + 1]), out int r) && r < bestRank) { bestRank = r; bestAt = i; }
            if (bestAt < 0) return word;
            word[bestAt] += word[bestAt + 1];
            word.RemoveAt(bestAt + 1);
        }
    }

    /// <summary>English-ish training text with some accents, digits and punctuation.</summary>
    public const string TrainingText =
        "The quick brown fox jumps over the lazy dog. Tokenizers split text into pieces; the pieces " +
        "that appear together most often are merged first, then the merged pieces merge again. " +
        "Streaming weights over PCIe lets a model run on a GPU whose memory is smaller than the model. " +
        "Café au lait, naïve résumé, über straße. In 2026 the engine streamed 1.05 GB per token at 55 GB/s. " +
        "She said: \"it's the weights' bandwidth that bounds the decode step, isn't it?\" and we'll see. " +
        "A computation table lists every node: the embedding, each transformer block, the final norm and the head. " +
        "For each node the engine computes, copies the next weights, allocates outputs and releases what is dead. " +
        "Pinned host buffers give one large transfer per node instead of hundreds of small pageable copies. " +
        "Grouped-query attention shares keys and values between heads; rotary embeddings rotate pairs of dimensions. " +
        "Ελληνικά, русский, 日本語のテキスト, 中文文本 and emoji 😀👍🏽 appear rarely, so they mostly stay bytes.";

    /// <summary>A random string of valid code points: ASCII, Latin-1, Greek, CJK, emoji and beyond.</summary>
    public static string RandomUnicode(Random random, int codePoints)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < codePoints; i++)
        {
            int cp = random.Next(6) switch
            {
                0 => random.Next(0x20, 0x7F),
                1 => random.Next(0xA0, 0x250),
                2 => random.Next(0x370, 0x400),
                3 => random.Next(0x4E00, 0x9FFF),
                4 => random.Next(0x1F300, 0x1FAFF),
                _ => random.Next(2) == 0 ? " \t\n"[random.Next(3)] : random.Next(0x20, 0x10FFFF),
            };
            if (cp is >= 0xD800 and <= 0xDFFF) cp = 'x';
            sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }
}
