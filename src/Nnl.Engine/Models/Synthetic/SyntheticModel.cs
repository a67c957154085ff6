using System.Text.Json;
using System.Text.Json.Nodes;
using Nnl.Engine.Models.Architectures;
using Nnl.Engine.Models.Presets;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Synthetic;

/// <summary>
/// A model to generate: a config (a preset's or the user's, possibly cut to fewer layers), the
/// dtype, the seed, and the tensors that follow from them. Nothing is allocated until it is
/// written (<see cref="ModelDirectoryWriter"/>) or materialised (<see cref="InMemoryModel"/>).
/// </summary>
public sealed class SyntheticModel
{
    /// <summary>Tensor offsets in host memory are multiples of this (vector loads, one DMA per node).</summary>
    public const long TensorAlignment = 256;

    private SyntheticModel(string name, JsonObject configJson, ModelConfig config, TensorDType dtype, int seed)
    {
        Name = name;
        ConfigJson = configJson;
        Config = config;
        DType = dtype;
        Seed = seed;
        Specs = SyntheticTensors.For(config);
        var tensors = new List<TensorInfo>(Specs.Count);
        long at = 0;
        foreach (var s in Specs)
        {
            var bytes = s.ElementCount * dtype.ElementBytes();
            tensors.Add(new TensorInfo(s.Name, dtype, s.Shape, "memory:" + name, at, bytes));
            at = (at + bytes + TensorAlignment - 1) / TensorAlignment * TensorAlignment;
        }
        Tensors = tensors;
        HostBytes = at;
        WeightBytes = tensors.Sum(t => t.ByteCount);
        Weights = new SyntheticWeights("memory:" + name, tensors, Specs, seed);
    }

    /// <summary>The preset's name, or the config file's directory name.</summary>
    public string Name { get; }

    /// <summary>config.json as it will be written (dtype and layer count applied).</summary>
    public JsonObject ConfigJson { get; }

    public ModelConfig Config { get; }
    public TensorDType DType { get; }
    public int Seed { get; }
    public IReadOnlyList<SyntheticTensor> Specs { get; }

    /// <summary>The tensors, in table order; offsets are those of the host-memory layout.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>Bytes of the weights proper (the safetensors data).</summary>
    public long WeightBytes { get; }

    /// <summary>Bytes of the host-memory layout (tensors aligned to <see cref="TensorAlignment"/>).</summary>
    public long HostBytes { get; }

    /// <summary>The generator of every tensor's values.</summary>
    public SyntheticWeights Weights { get; }

    /// <summary>The computation table built over this tensor list (the architecture checks every name and shape).</summary>
    public ComputationTable BuildTable() =>
        ModelArchitectures.Create(Config).BuildTable(WeightCatalog.Describe("memory:" + Name, Tensors));

    /// <summary>Parameters as the computation table counts them (a tied head once).</summary>
    public long ParameterCount => BuildTable().ParameterCount;

    public static SyntheticModel FromPreset(string preset, int? layers = null, TensorDType dtype = TensorDType.F16, int seed = 0)
    {
        var p = ModelPresets.Find(preset);
        return FromConfigJson(p.Name, p.CreateConfig(), $"preset:{p.Name}/config.json", layers, dtype, seed);
    }

    /// <summary>A config.json of any shape Nnl runs; errors name the file and the field.</summary>
    public static SyntheticModel FromConfigFile(string path, int? layers = null, TensorDType dtype = TensorDType.F16, int seed = 0)
    {
        var full = System.IO.Path.GetFullPath(File.Exists(path) || !Directory.Exists(path) ? path : System.IO.Path.Combine(path, "config.json"));
        if (!File.Exists(full)) throw new NnlArgumentException("Config", $"'{full}' does not exist.");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(full), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new NnlModelFormatException(full, $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine}): {e.Message}", inner: e);
        }
        if (node is not JsonObject obj) throw new NnlModelFormatException(full, "the JSON is not an object");
        var name = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(full)) is { Length: > 0 } dir ? dir : "model";
        return FromConfigJson(name, obj, full, layers, dtype, seed);
    }

    /// <summary>Applies the layer count and dtype to <paramref name="json"/>, then checks it as Nnl's loader will.</summary>
    public static SyntheticModel FromConfigJson(string name, JsonObject json, string sourcePath, int? layers, TensorDType dtype, int seed)
    {
        var isGpt2 = (json["model_type"]?.GetValueKind() == JsonValueKind.String && json["model_type"]!.GetValue<string>() == "gpt2")
            || json.ContainsKey("n_layer");
        if (layers is { } n)
        {
            if (n < 1) throw new NnlArgumentException("Layers", $"must be at least 1, not {n}.");
            json[isGpt2 ? "n_layer" : "num_hidden_layers"] = n;
            // Qwen2 names how many layers use full attention; it cannot exceed the layers there are.
            if (json["max_window_layers"] is JsonValue mw && mw.TryGetValue<int>(out var m) && m > n) json["max_window_layers"] = n;
        }
        json["torch_dtype"] = dtype switch
        {
            TensorDType.F32 => "float32",
            TensorDType.F16 => "float16",
            _ => "bfloat16",
        };
        json.Remove("dtype");

        ModelConfig config;
        using (var doc = JsonDocument.Parse(json.ToJsonString()))
            config = ModelConfigReader.Parse(new JsonFields(sourcePath, doc.RootElement));
        Validate(config, sourcePath);
        return new SyntheticModel(name, json, config, dtype, seed);
    }

    /// <summary>What the generator itself needs beyond what the loader checks: room for the byte tokenizer, ids inside the vocabulary.</summary>
    private static void Validate(ModelConfig c, string path)
    {
        var special = SpecialTokenIds(c).Count;
        if (c.VocabSize < 256 + special)
            throw new NnlModelFormatException(path, $"\"vocab_size\" is {c.VocabSize}; a byte-level tokenizer needs at least {256 + special} (256 bytes and {special} special tokens)");
        foreach (var (field, id) in new[] { ("bos_token_id", c.BosTokenId) }.Concat(c.EosTokenIds.Select(e => ("eos_token_id", (int?)e))))
            if (id is { } v && (v < 0 || v >= c.VocabSize))
                throw new NnlModelFormatException(path, $"\"{field}\" is {v}, outside the vocabulary of {c.VocabSize}");
        if (c.MaxPositions > 1 << 24)
            throw new NnlModelFormatException(path, $"the context length {c.MaxPositions} is beyond what Nnl generates");
    }

    /// <summary>Ids the config reserves for BOS/EOS (the tokenizer places its special tokens there).</summary>
    internal static IReadOnlyList<int> SpecialTokenIds(ModelConfig c) =>
        new[] { c.BosTokenId }.Where(i => i is not null).Select(i => i!.Value).Concat(c.EosTokenIds).Distinct().OrderBy(i => i).ToArray();

    /// <summary>generation_config.json: the special ids only, so greedy decoding is the default.</summary>
    public JsonObject GenerationConfigJson()
    {
        var o = new JsonObject();
        if (Config.BosTokenId is { } bos) o["bos_token_id"] = bos;
        if (Config.EosTokenIds.Count == 1) o["eos_token_id"] = Config.EosTokenIds[0];
        else if (Config.EosTokenIds.Count > 1) o["eos_token_id"] = new JsonArray(Config.EosTokenIds.Select(e => (JsonNode)e).ToArray());
        return o;
    }
}
