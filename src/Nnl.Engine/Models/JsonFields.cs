using System.Text.Json;

namespace Nnl.Engine.Models;

/// <summary>Typed reads of a config-style JSON object, failing with the file and the key.</summary>
internal readonly struct JsonFields
{
    private readonly JsonElement _root;

    public JsonFields(string path, JsonElement root)
    {
        Path = path;
        _root = root;
    }

    public string Path { get; }
    public JsonElement Root => _root;

    public bool Has(string key) => _root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    public NnlModelFormatException Error(string message) => new(Path, message);

    public int Int(string key) => OptionalInt(key) ?? throw Error($"\"{key}\" is missing");

    public int? OptionalInt(string key)
    {
        if (!_root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)) return i;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
        throw Error($"\"{key}\" is {v.GetRawText()}, not an integer");
    }

    public int PositiveInt(string key, int? fallback = null)
    {
        var v = OptionalInt(key) ?? fallback ?? throw Error($"\"{key}\" is missing");
        if (v <= 0) throw Error($"\"{key}\" is {v}; it must be positive");
        return v;
    }

    public double? OptionalDouble(string key)
    {
        if (!_root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
        throw Error($"\"{key}\" is {v.GetRawText()}, not a number");
    }

    public bool? OptionalBool(string key)
    {
        if (!_root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"\"{key}\" is {v.GetRawText()}, not true or false"),
        };
    }

    public string? OptionalString(string key)
    {
        if (!_root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        throw Error($"\"{key}\" is {v.GetRawText()}, not a string");
    }

    /// <summary>An id or a list of ids (eos_token_id takes both forms).</summary>
    public int[] IntOrIntList(string key)
    {
        if (!_root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return Array.Empty<int>();
        if (v.ValueKind == JsonValueKind.Number) return new[] { Int(key) };
        if (v.ValueKind == JsonValueKind.Array)
        {
            var list = new List<int>();
            foreach (var e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var i)) throw Error($"\"{key}\" holds {e.GetRawText()}, not an integer");
                list.Add(i);
            }
            return list.ToArray();
        }
        throw Error($"\"{key}\" is {v.GetRawText()}, not an integer or a list of integers");
    }

    public JsonFields? Object(string key)
    {
        if (!_root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Object) throw Error($"\"{key}\" is not an object");
        return new JsonFields(Path, v);
    }

    /// <summary>Parses a JSON file into an object, or fails with its path and byte position.</summary>
    public static (JsonDocument Document, JsonFields Fields) ReadFile(string path)
    {
        if (!File.Exists(path)) throw new NnlModelFormatException(path, "the file does not exist");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new NnlModelFormatException(path, $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}): {e.Message}", inner: e);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new NnlModelFormatException(path, "the JSON is not an object");
        }
        return (doc, new JsonFields(path, doc.RootElement));
    }
}
