using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Nnl.Engine.Tokenizers;

/// <summary>
/// Reads a model's tokenizer as Hugging Face snapshots ship it: tokenizer.json (tokenizers' own
/// format), or GPT-2's vocab.json + merges.txt; tokenizer_config.json beside either names BOS/EOS
/// and says whether BOS/EOS are added. Anything unreadable or unsupported is an
/// <see cref="NnlTokenizerFormatException"/> naming the file and the JSON path.
/// </summary>
public static class TokenizerLoader
{
    public const string TokenizerJson = "tokenizer.json";
    public const string VocabJson = "vocab.json";
    public const string MergesTxt = "merges.txt";
    public const string TokenizerConfigJson = "tokenizer_config.json";

    /// <summary>Loads from a model directory, or from a tokenizer.json / vocab.json file.</summary>
    public static BpeTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path))
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            return Path.GetFileName(path).Equals(VocabJson, StringComparison.OrdinalIgnoreCase)
                ? LoadVocabAndMerges(path, Path.Combine(dir, MergesTxt), ReadConfig(dir))
                : LoadTokenizerJson(path, ReadConfig(dir));
        }
        if (!Directory.Exists(path))
            throw new NnlArgumentException("Path", $"'{path}' is neither a model directory nor a tokenizer file.");

        var config = ReadConfig(path);
        var tokenizerJson = Path.Combine(path, TokenizerJson);
        if (File.Exists(tokenizerJson)) return LoadTokenizerJson(tokenizerJson, config);
        var vocab = Path.Combine(path, VocabJson);
        if (File.Exists(vocab)) return LoadVocabAndMerges(vocab, Path.Combine(path, MergesTxt), config);
        throw new NnlTokenizerFormatException(Path.GetFullPath(path),
            $"the directory has neither {TokenizerJson} nor {VocabJson} + {MergesTxt}.");
    }

    /// <summary>Loads tokenizer.json text (for tests and embedded tokenizers); <paramref name="sourceName"/> names it in errors.</summary>
    public static BpeTokenizer FromTokenizerJson(string json, string sourceName = TokenizerJson, string? configJson = null)
    {
        var config = configJson is null ? null : TokenizerConfig.Parse(ParseJson(configJson, TokenizerConfigJson), TokenizerConfigJson);
        return Build(ParseJson(json, sourceName), sourceName, config);
    }

    private static BpeTokenizer LoadTokenizerJson(string file, TokenizerConfig? config) =>
        Build(ParseJson(ReadText(file), file), file, config);

    private static TokenizerConfig? ReadConfig(string directory)
    {
        var file = Path.Combine(directory, TokenizerConfigJson);
        return File.Exists(file) ? TokenizerConfig.Parse(ParseJson(ReadText(file), file), file) : null;
    }

    private static string ReadText(string file)
    {
        try { return File.ReadAllText(file, Encoding.UTF8); }
        catch (IOException e) { throw new NnlTokenizerFormatException(file, "cannot be read: " + e.Message, e); }
        catch (UnauthorizedAccessException e) { throw new NnlTokenizerFormatException(file, "cannot be read: " + e.Message, e); }
    }

    private static JsonElement ParseJson(string text, string file)
    {
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256 });
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new NnlTokenizerFormatException(file,
                $"invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
    }

    // ---- tokenizer.json ----------------------------------------------------------------------

    private static BpeTokenizer Build(JsonElement root, string file, TokenizerConfig? config)
    {
        var j = new JsonReader(file);
        j.Expect(root, JsonValueKind.Object, "the document");

        var model = j.Object(root, "model");
        var type = j.OptionalString(model, "type", "model.type") ?? "BPE";
        if (type != "BPE")
            throw new NnlTokenizerFormatException(file, $"model.type \"{type}\" is not supported (only BPE).");
        foreach (var unsupported in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.TryGetProperty(unsupported, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
                throw new NnlTokenizerFormatException(file, $"model.{unsupported} is not supported.");

        var vocab = ReadVocab(j, j.Object(model, "vocab", "model.vocab"), "model.vocab");
        var merges = ReadMerges(j, model);
        var addedTokens = ReadAddedTokens(j, root);

        var bpe = new BpeModel(
            vocab, merges,
            unkToken: j.OptionalString(model, "unk_token", "model.unk_token"),
            byteFallback: j.OptionalBool(model, "byte_fallback") ?? false,
            fuseUnk: j.OptionalBool(model, "fuse_unk") ?? false,
            ignoreMerges: j.OptionalBool(model, "ignore_merges") ?? false,
            sourceFile: file);

        var normalizer = ReadNormalizer(j, root.TryGetProperty("normalizer", out var n) ? n : default, "normalizer");
        var preTokenizer = ReadPreTokenizer(j, root.TryGetProperty("pre_tokenizer", out var p) ? p : default, "pre_tokenizer");
        var decoding = ReadDecoder(j, root.TryGetProperty("decoder", out var d) ? d : default);

        var prefix = new List<int>();
        var suffix = new List<int>();
        if (root.TryGetProperty("post_processor", out var post))
            ReadPostProcessor(j, post, "post_processor", prefix, suffix);

        string kind = decoding.ByteLevel ? "ByteLevelBpe" : "SentencePieceBpe";
        return Assemble(kind, bpe, normalizer, preTokenizer, decoding, addedTokens, prefix, suffix, config);
    }

    private static BpeTokenizer Assemble(
        string kind, BpeModel bpe, Normalizer? normalizer, PreTokenizer? preTokenizer, TokenDecoding decoding,
        List<AddedToken> addedTokens, List<int> prefix, List<int> suffix, TokenizerConfig? config)
    {
        // Tokens named in tokenizer_config.json are special even where the files forget to say so
        // (GPT-2's vocab.json snapshots list "<|endoftext|>" only in the vocabulary).
        var named = new[] { config?.BosToken, config?.EosToken, config?.UnkToken, config?.PadToken };
        foreach (var name in named.Concat(config?.AddedTokens.Select(t => t.Content) ?? []))
        {
            if (name is null || addedTokens.Any(t => t.Content == name)) continue;
            var fromConfig = config?.AddedTokens.FirstOrDefault(t => t.Content == name);
            if (fromConfig is not null) addedTokens.Add(fromConfig);
            else if (bpe.Vocab.TryGetValue(name, out int id)) addedTokens.Add(new AddedToken(id, name, Special: true));
        }

        string? bos = config?.BosToken;
        string? eos = config?.EosToken;
        int? IdOf(string? token) =>
            token is null ? null
            : addedTokens.FirstOrDefault(t => t.Content == token) is { } a ? a.Id
            : bpe.Vocab.TryGetValue(token, out int id) ? id : null;

        // LlamaTokenizerFast rebuilds its post-processor from these flags, so they win when present.
        if (config?.AddBosToken is bool addBos)
        {
            prefix.Clear();
            if (addBos && IdOf(bos) is int b) prefix.Add(b);
        }
        if (config?.AddEosToken is bool addEos)
        {
            suffix.Clear();
            if (addEos && IdOf(eos) is int e) suffix.Add(e);
        }

        // Without a config, the conventional names of the families Nnl runs.
        var byContent = addedTokens.Select(t => t.Content).ToHashSet(StringComparer.Ordinal);
        bos ??= prefix.Count > 0 ? addedTokens.FirstOrDefault(t => t.Id == prefix[0])?.Content : null;
        bos ??= new[] { "<|begin_of_text|>", "<s>", "<|endoftext|>" }.FirstOrDefault(byContent.Contains);
        eos ??= new[] { "<|end_of_text|>", "</s>", "<|endoftext|>" }.FirstOrDefault(byContent.Contains);
        return new BpeTokenizer(kind, bpe, normalizer, preTokenizer, decoding, addedTokens, prefix, suffix, bos, eos);
    }

    private static Dictionary<string, int> ReadVocab(JsonReader j, JsonElement vocab, string where)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw j.Error($"{where}[\"{entry.Name}\"] is not a non-negative integer id.");
            result[entry.Name] = id;
        }
        if (result.Count == 0) throw j.Error($"{where} is empty.");
        return result;
    }

    private static List<(string, string)> ReadMerges(JsonReader j, JsonElement model)
    {
        var merges = new List<(string, string)>();
        if (!model.TryGetProperty("merges", out var array) || array.ValueKind == JsonValueKind.Null) return merges;
        j.Expect(array, JsonValueKind.Array, "model.merges");
        int i = 0;
        foreach (var merge in array.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String)
            {
                var parts = merge.GetString()!.Split(' ');
                if (parts.Length != 2) throw j.Error($"model.merges[{i}] \"{merge.GetString()}\" is not two tokens separated by one space.");
                merges.Add((parts[0], parts[1]));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
                merges.Add((merge[0].GetString()!, merge[1].GetString()!));
            else
                throw j.Error($"model.merges[{i}] is neither \"a b\" nor [\"a\", \"b\"].");
            i++;
        }
        return merges;
    }

    private static List<AddedToken> ReadAddedTokens(JsonReader j, JsonElement root)
    {
        var tokens = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var array) || array.ValueKind == JsonValueKind.Null) return tokens;
        j.Expect(array, JsonValueKind.Array, "added_tokens");
        int i = 0;
        foreach (var t in array.EnumerateArray())
        {
            var where = $"added_tokens[{i++}]";
            j.Expect(t, JsonValueKind.Object, where);
            tokens.Add(new AddedToken(
                j.Int(t, "id", where + ".id"),
                j.String(t, "content", where + ".content"),
                j.OptionalBool(t, "special") ?? false,
                j.OptionalBool(t, "lstrip") ?? false,
                j.OptionalBool(t, "rstrip") ?? false));
        }
        return tokens;
    }

    private static Normalizer? ReadNormalizer(JsonReader j, JsonElement e, string where)
    {
        if (e.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return null;
        j.Expect(e, JsonValueKind.Object, where);
        var type = j.String(e, "type", where + ".type");
        switch (type)
        {
            case "Sequence":
                var steps = j.Array(e, "normalizers", where + ".normalizers").EnumerateArray()
                    .Select((s, i) => ReadNormalizer(j, s, $"{where}.normalizers[{i}]")).OfType<Normalizer>().ToList();
                return new SequenceNormalizer(steps);
            case "Prepend":
                return new PrependNormalizer(j.String(e, "prepend", where + ".prepend"));
            case "Replace":
                var (literal, regex) = ReadPattern(j, e, where);
                return new ReplaceNormalizer(literal, regex is null ? null : ToRegex(j, regex, where), j.String(e, "content", where + ".content"));
            case "NFC": return new UnicodeNormalizer(NormalizationForm.FormC);
            case "NFD": return new UnicodeNormalizer(NormalizationForm.FormD);
            case "NFKC": return new UnicodeNormalizer(NormalizationForm.FormKC);
            case "NFKD": return new UnicodeNormalizer(NormalizationForm.FormKD);
            case "Lowercase": return new LowercaseNormalizer();
            default: throw j.Error($"{where}.type \"{type}\" is not supported.");
        }
    }

    private static PreTokenizer? ReadPreTokenizer(JsonReader j, JsonElement e, string where)
    {
        if (e.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return null;
        j.Expect(e, JsonValueKind.Object, where);
        var type = j.String(e, "type", where + ".type");
        switch (type)
        {
            case "Sequence":
                var steps = j.Array(e, "pretokenizers", where + ".pretokenizers").EnumerateArray()
                    .Select((s, i) => ReadPreTokenizer(j, s, $"{where}.pretokenizers[{i}]")).OfType<PreTokenizer>().ToList();
                return new SequencePreTokenizer(steps);
            case "ByteLevel":
                return new ByteLevelPreTokenizer(
                    j.OptionalBool(e, "add_prefix_space") ?? true, j.OptionalBool(e, "use_regex") ?? true);
            case "Split":
                var behavior = j.OptionalString(e, "behavior", where + ".behavior") ?? "Isolated";
                if (behavior != "Isolated" || (j.OptionalBool(e, "invert") ?? false))
                    throw j.Error($"{where}: Split with behavior \"{behavior}\" and invert is not supported (only Isolated).");
                var (literal, regex) = ReadPattern(j, e, where);
                return new SplitPreTokenizer(ToSplitPattern(j, literal, regex, where));
            case "Metaspace":
                var replacement = j.OptionalString(e, "replacement", where + ".replacement") ?? "▁";
                if (replacement.Length != 1) throw j.Error($"{where}.replacement must be one character.");
                return new MetaspacePreTokenizer(replacement[0], ReadPrependScheme(j, e, where), j.OptionalBool(e, "split") ?? true);
            default:
                throw j.Error($"{where}.type \"{type}\" is not supported.");
        }
    }

    private static MetaspacePrepend ReadPrependScheme(JsonReader j, JsonElement e, string where)
    {
        var scheme = j.OptionalString(e, "prepend_scheme", where + ".prepend_scheme");
        if (scheme is null) return (j.OptionalBool(e, "add_prefix_space") ?? true) ? MetaspacePrepend.Always : MetaspacePrepend.Never;
        return scheme switch
        {
            "always" => MetaspacePrepend.Always,
            "first" => MetaspacePrepend.First,
            "never" => MetaspacePrepend.Never,
            _ => throw j.Error($"{where}.prepend_scheme \"{scheme}\" is not one of always, first, never."),
        };
    }

    /// <summary>{"pattern": {"String": "x"}} or {"pattern": {"Regex": "..."}}: the literal or the regex source.</summary>
    private static (string? Literal, string? Regex) ReadPattern(JsonReader j, JsonElement e, string where)
    {
        var pattern = j.Object(e, "pattern", where + ".pattern");
        if (pattern.TryGetProperty("String", out var s) && s.ValueKind == JsonValueKind.String) return (s.GetString()!, null);
        if (pattern.TryGetProperty("Regex", out var r) && r.ValueKind == JsonValueKind.String) return (null, r.GetString()!);
        throw j.Error($"{where}.pattern has neither String nor Regex.");
    }

    private static SplitPattern ToSplitPattern(JsonReader j, string? literal, string? regex, string where) =>
        literal is not null ? new LiteralPattern(literal)
        : SplitPattern.FromRegex(regex!) ?? throw j.Error($"{where}.pattern.Regex \"{regex}\" is not a regular expression .NET can run.");

    private static Regex ToRegex(JsonReader j, string source, string where)
    {
        try { return new Regex(source, RegexOptions.CultureInvariant); }
        catch (ArgumentException) { throw j.Error($"{where}.pattern.Regex \"{source}\" is not a regular expression .NET can run."); }
    }

    private static TokenDecoding ReadDecoder(JsonReader j, JsonElement e)
    {
        if (e.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return new TokenDecoding();
        bool byteLevel = false, byteFallback = false;
        int strip = 0;
        var replacements = new List<(string, string)>();
        void Visit(JsonElement d, string where)
        {
            j.Expect(d, JsonValueKind.Object, where);
            var type = j.String(d, "type", where + ".type");
            switch (type)
            {
                case "Sequence":
                    int i = 0;
                    foreach (var s in j.Array(d, "decoders", where + ".decoders").EnumerateArray()) Visit(s, $"{where}.decoders[{i++}]");
                    break;
                case "ByteLevel": byteLevel = true; break;
                case "ByteFallback": byteFallback = true; break;
                case "Fuse": break; // decoding concatenates anyway
                case "Replace":
                    var (literal, _) = ReadPattern(j, d, where);
                    if (literal is null) throw j.Error($"{where}: a Replace decoder with a Regex pattern is not supported.");
                    replacements.Add((literal, j.String(d, "content", where + ".content")));
                    break;
                case "Strip":
                    if (j.OptionalString(d, "content", where + ".content") is { } content && content != " ")
                        throw j.Error($"{where}: Strip of \"{content}\" is not supported (only spaces).");
                    if ((j.OptionalInt(d, "stop") ?? 0) != 0) throw j.Error($"{where}: Strip with stop > 0 is not supported.");
                    strip += j.OptionalInt(d, "start") ?? 0;
                    break;
                case "Metaspace":
                    var replacement = j.OptionalString(d, "replacement", where + ".replacement") ?? "▁";
                    replacements.Add((replacement, " "));
                    if (ReadPrependScheme(j, d, where) != MetaspacePrepend.Never) strip += 1;
                    break;
                default:
                    throw j.Error($"{where}.type \"{type}\" is not supported.");
            }
        }
        Visit(e, "decoder");
        return new TokenDecoding { ByteLevel = byteLevel, ByteFallback = byteFallback, Replacements = replacements, LeadingSpacesToStrip = strip };
    }

    private static void ReadPostProcessor(JsonReader j, JsonElement e, string where, List<int> prefix, List<int> suffix)
    {
        if (e.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return;
        j.Expect(e, JsonValueKind.Object, where);
        var type = j.String(e, "type", where + ".type");
        switch (type)
        {
            case "Sequence":
                int i = 0;
                foreach (var p in j.Array(e, "processors", where + ".processors").EnumerateArray())
                    ReadPostProcessor(j, p, $"{where}.processors[{i++}]", prefix, suffix);
                break;
            case "ByteLevel": break; // offsets only
            case "TemplateProcessing":
                var specials = j.Object(e, "special_tokens", where + ".special_tokens");
                bool seenSequence = false;
                int k = 0;
                foreach (var piece in j.Array(e, "single", where + ".single").EnumerateArray())
                {
                    var at = $"{where}.single[{k++}]";
                    if (piece.TryGetProperty("Sequence", out _)) { seenSequence = true; continue; }
                    if (!piece.TryGetProperty("SpecialToken", out var special))
                        throw j.Error($"{at} is neither Sequence nor SpecialToken.");
                    var name = j.String(special, "id", at + ".SpecialToken.id");
                    if (!specials.TryGetProperty(name, out var entry))
                        throw j.Error($"{at} names \"{name}\", which {where}.special_tokens does not define.");
                    foreach (var id in j.Array(entry, "ids", $"{where}.special_tokens[\"{name}\"].ids").EnumerateArray())
                        (seenSequence ? suffix : prefix).Add(id.TryGetInt32(out int v) ? v
                            : throw j.Error($"{where}.special_tokens[\"{name}\"].ids has a non-integer id."));
                }
                break;
            case "RobertaProcessing":
            case "BertProcessing":
                prefix.Add(PairId(j, e, "cls", where));
                suffix.Add(PairId(j, e, "sep", where));
                break;
            default:
                throw j.Error($"{where}.type \"{type}\" is not supported.");
        }
    }

    private static int PairId(JsonReader j, JsonElement e, string name, string where)
    {
        var pair = j.Array(e, name, $"{where}.{name}");
        if (pair.GetArrayLength() != 2 || !pair[1].TryGetInt32(out int id)) throw j.Error($"{where}.{name} is not [token, id].");
        return id;
    }

    // ---- vocab.json + merges.txt ---------------------------------------------------------------

    private static BpeTokenizer LoadVocabAndMerges(string vocabFile, string mergesFile, TokenizerConfig? config)
    {
        var j = new JsonReader(vocabFile);
        var root = ParseJson(ReadText(vocabFile), vocabFile);
        j.Expect(root, JsonValueKind.Object, "the document");
        var vocab = ReadVocab(j, root, "the vocabulary");
        if (!File.Exists(mergesFile))
            throw new NnlTokenizerFormatException(mergesFile, $"is missing; {VocabJson} needs {MergesTxt} beside it.");
        var merges = ReadMergesTxt(mergesFile);

        var bpe = new BpeModel(vocab, merges, unkToken: null, byteFallback: false, fuseUnk: false, ignoreMerges: false, mergesFile);
        var added = new List<AddedToken>();
        // GPT2Tokenizer's defaults: "<|endoftext|>" is BOS, EOS and unk, and never split.
        if (config is null && vocab.TryGetValue("<|endoftext|>", out int eot)) added.Add(new AddedToken(eot, "<|endoftext|>", Special: true));
        return Assemble("ByteLevelBpe", bpe, null,
            new ByteLevelPreTokenizer(config?.AddPrefixSpace ?? false, useRegex: true),
            new TokenDecoding { ByteLevel = true }, added, [], [], config);
    }

    private static List<(string, string)> ReadMergesTxt(string file)
    {
        var merges = new List<(string, string)>();
        var lines = ReadText(file).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new NnlTokenizerFormatException(file, $"line {i + 1} \"{line}\" is not two tokens separated by a space.");
            merges.Add((parts[0], parts[1]));
        }
        return merges;
    }
}
