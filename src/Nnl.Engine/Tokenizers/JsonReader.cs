using System.Text.Json;

namespace Nnl.Engine.Tokenizers;

/// <summary>Typed access to a tokenizer file's JSON that turns every surprise into an error naming the
/// file and the JSON path ("model.merges[12]").</summary>
internal readonly struct JsonReader(string file)
{
    public NnlTokenizerFormatException Error(string problem) => new(file, problem);

    public void Expect(JsonElement e, JsonValueKind kind, string where)
    {
        if (e.ValueKind != kind) throw Error($"{where} should be {Describe(kind)} but is {Describe(e.ValueKind)}.");
    }

    public JsonElement Object(JsonElement parent, string name, string? where = null) => Required(parent, name, JsonValueKind.Object, where);
    public JsonElement Array(JsonElement parent, string name, string? where = null) => Required(parent, name, JsonValueKind.Array, where);

    public string String(JsonElement parent, string name, string where) => Required(parent, name, JsonValueKind.String, where).GetString()!;

    public int Int(JsonElement parent, string name, string where)
    {
        var e = Required(parent, name, JsonValueKind.Number, where);
        return e.TryGetInt32(out int v) && v >= 0 ? v : throw Error($"{where} is not a non-negative 32-bit integer.");
    }

    public string? OptionalString(JsonElement parent, string name, string where)
    {
        if (!parent.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        Expect(e, JsonValueKind.String, where);
        return e.GetString();
    }

    public bool? OptionalBool(JsonElement parent, string name)
    {
        if (!parent.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"\"{name}\" should be true or false but is {Describe(e.ValueKind)}."),
        };
    }

    public int? OptionalInt(JsonElement parent, string name)
    {
        if (!parent.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v
            : throw Error($"\"{name}\" should be an integer but is {Describe(e.ValueKind)}.");
    }

    private JsonElement Required(JsonElement parent, string name, JsonValueKind kind, string? where)
    {
        where ??= name;
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out var e))
            throw Error($"{where} is missing.");
        Expect(e, kind, where);
        return e;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "absent",
    };
}
