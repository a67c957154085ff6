using System.Text.Json;

namespace Nnl.Engine.Tokenizers;

/// <summary>What Nnl takes from tokenizer_config.json: the special tokens' names, whether BOS/EOS are
/// added to each sequence, GPT-2's add_prefix_space, and added_tokens_decoder entries.</summary>
internal sealed record TokenizerConfig(
    string? BosToken,
    string? EosToken,
    string? UnkToken,
    string? PadToken,
    bool? AddBosToken,
    bool? AddEosToken,
    bool? AddPrefixSpace,
    IReadOnlyList<AddedToken> AddedTokens)
{
    public static TokenizerConfig Parse(JsonElement root, string file)
    {
        var j = new JsonReader(file);
        j.Expect(root, JsonValueKind.Object, "the document");

        // "bos_token": "<s>" or {"content": "<s>", ...}
        string? Token(string name)
        {
            if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
            if (e.ValueKind == JsonValueKind.String) return e.GetString();
            if (e.ValueKind == JsonValueKind.Object) return j.String(e, "content", name + ".content");
            throw j.Error($"{name} should be a string or an object with \"content\".");
        }

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in decoder.EnumerateObject())
            {
                var where = $"added_tokens_decoder[\"{entry.Name}\"]";
                if (!int.TryParse(entry.Name, out int id) || id < 0) throw j.Error($"{where}: the key is not a token id.");
                j.Expect(entry.Value, JsonValueKind.Object, where);
                added.Add(new AddedToken(id, j.String(entry.Value, "content", where + ".content"),
                    j.OptionalBool(entry.Value, "special") ?? false,
                    j.OptionalBool(entry.Value, "lstrip") ?? false,
                    j.OptionalBool(entry.Value, "rstrip") ?? false));
            }
        }

        return new TokenizerConfig(
            Token("bos_token"), Token("eos_token"), Token("unk_token"), Token("pad_token"),
            j.OptionalBool(root, "add_bos_token"), j.OptionalBool(root, "add_eos_token"),
            j.OptionalBool(root, "add_prefix_space"), added);
    }
}
