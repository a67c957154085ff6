using System.Text.Json;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models;

/// <summary>
/// Every tensor of a model directory: one model.safetensors, or the shards that
/// model.safetensors.index.json lists. The files stay memory-mapped (read-only) until disposal.
/// A catalog can also stand for weights that live in host memory (<see cref="InMemory"/>: a
/// generated model with no files) or for a tensor list alone (<see cref="Describe"/>: shapes
/// without bytes, enough to build a computation table).
/// </summary>
public sealed unsafe class WeightCatalog : IDisposable, IWeightSource
{
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, (TensorInfo Info, SafetensorsFile? File)> _tensors;
    private readonly HostWeightMemory? _memory;

    private WeightCatalog(string directory, List<SafetensorsFile> files, Dictionary<string, (TensorInfo, SafetensorsFile?)> tensors,
        HostWeightMemory? memory = null)
    {
        Directory = directory;
        _files = files;
        _tensors = tensors;
        _memory = memory;
    }

    /// <summary>
    /// A catalog of tensors whose bytes live in <paramref name="memory"/> (each
    /// <see cref="TensorInfo.FileOffset"/> is an offset into it); the catalog owns and frees it.
    /// </summary>
    public static WeightCatalog InMemory(string name, IEnumerable<TensorInfo> tensors, HostWeightMemory memory)
    {
        var map = new Dictionary<string, (TensorInfo, SafetensorsFile?)>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t.FileOffset < 0 || t.FileOffset + t.ByteCount > memory.Length)
                throw new ArgumentException($"Tensor {t.Name} [{t.FileOffset}, {t.FileOffset + t.ByteCount}) lies outside the {memory.Length}-byte host block.");
            map.Add(t.Name, (t, null));
        }
        return new WeightCatalog(name, new List<SafetensorsFile>(), map, memory);
    }

    /// <summary>Tensor names and shapes without bytes: builds tables and counts parameters; <see cref="GetBytes"/> fails.</summary>
    public static WeightCatalog Describe(string name, IEnumerable<TensorInfo> tensors) =>
        new(name, new List<SafetensorsFile>(), tensors.ToDictionary(t => t.Name, t => (t, (SafetensorsFile?)null), StringComparer.Ordinal));

    /// <summary>The host block of an <see cref="InMemory"/> catalog (to pin it, or DMA from it); null for files.</summary>
    public HostWeightMemory? Memory => _memory;

    string IWeightSource.Name => Directory;
    IReadOnlyList<TensorInfo> IWeightSource.Tensors => _tensors.Values.Select(v => v.Info).ToArray();

    /// <summary>Copies the tensor's bytes to <paramref name="destination"/> (<see cref="TensorInfo.ByteCount"/> bytes).</summary>
    public void CopyTo(TensorInfo tensor, byte* destination)
    {
        var bytes = GetBytes(tensor);
        Buffer.MemoryCopy(bytes.Pointer, destination, bytes.Length, bytes.Length);
    }

    public string Directory { get; }
    public IReadOnlyList<SafetensorsFile> Files => _files;
    public IEnumerable<TensorInfo> Tensors => _tensors.Values.Select(v => v.Info);
    public int Count => _tensors.Count;
    public long TotalBytes => _tensors.Values.Sum(v => v.Info.ByteCount);

    public bool TryGet(string name, out TensorInfo info)
    {
        if (_tensors.TryGetValue(name, out var v)) { info = v.Info; return true; }
        info = null!;
        return false;
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor's bytes in its mapped file (valid until the catalog is disposed).</summary>
    public WeightBytes GetBytes(TensorInfo info)
    {
        if (!_tensors.TryGetValue(info.Name, out var v)) throw new ArgumentException($"Tensor {info.Name} is not in the model at {Directory}.");
        if (v.File is not null) return v.File.GetBytes(info);
        if (_memory is not null) return _memory.GetBytes(v.Info);
        throw new InvalidOperationException($"{Directory} describes tensor shapes only; it holds no bytes for {info.Name}.");
    }

    /// <summary>Opens the safetensors of <paramref name="directory"/> (sharded or single).</summary>
    public static WeightCatalog Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        var indexPath = Path.Combine(directory, IndexFileName);
        return File.Exists(indexPath) ? OpenSharded(directory, indexPath) : OpenSingle(directory);
    }

    private static WeightCatalog OpenSingle(string directory)
    {
        var candidates = System.IO.Directory.Exists(directory)
            ? System.IO.Directory.GetFiles(directory, "*.safetensors").OrderBy(f => f, StringComparer.Ordinal).ToArray()
            : Array.Empty<string>();
        var preferred = Path.Combine(directory, "model.safetensors");
        string path;
        if (File.Exists(preferred)) path = preferred;
        else if (candidates.Length == 1) path = candidates[0];
        else if (candidates.Length == 0)
            throw new NnlModelFormatException(directory, "no model.safetensors (nor model.safetensors.index.json) in the model directory");
        else
            throw new NnlModelFormatException(directory, $"several .safetensors files ({string.Join(", ", candidates.Select(Path.GetFileName))}) but no {IndexFileName} saying which belong to the model");

        var file = SafetensorsFile.Open(path);
        var tensors = file.Tensors.ToDictionary(t => t.Name, t => (t, (SafetensorsFile?)file), StringComparer.Ordinal);
        return new WeightCatalog(directory, new List<SafetensorsFile> { file }, tensors);
    }

    private static WeightCatalog OpenSharded(string directory, string indexPath)
    {
        Dictionary<string, string> weightMap;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new NnlModelFormatException(indexPath, "no \"weight_map\" object");
            weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new NnlModelFormatException(indexPath, "the weight_map entry is not a file name", tensorName: p.Name);
                var file = p.Value.GetString()!;
                // Shards live in the model directory itself: no paths, no escaping it.
                if (file.Length == 0 || file != Path.GetFileName(file))
                    throw new NnlModelFormatException(indexPath, $"shard name '{file}' is not a file name in the model directory", tensorName: p.Name);
                weightMap[p.Name] = file;
            }
        }
        catch (JsonException e)
        {
            throw new NnlModelFormatException(indexPath, $"not valid JSON ({e.Message})", byteOffset: e.BytePositionInLine, inner: e);
        }

        var files = new List<SafetensorsFile>();
        var tensors = new Dictionary<string, (TensorInfo, SafetensorsFile?)>(StringComparer.Ordinal);
        try
        {
            foreach (var shardName in weightMap.Values.Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal))
            {
                var shardPath = Path.Combine(directory, shardName);
                if (!File.Exists(shardPath))
                    throw new NnlModelFormatException(indexPath, $"shard '{shardName}' listed in weight_map does not exist");
                var shard = SafetensorsFile.Open(shardPath);
                files.Add(shard);
                foreach (var t in shard.Tensors)
                {
                    if (!weightMap.TryGetValue(t.Name, out var listed) || listed != shardName)
                        throw new NnlModelFormatException(shardPath,
                            listed is null ? $"the tensor is not listed in {IndexFileName}" : $"{IndexFileName} places the tensor in '{listed}'",
                            byteOffset: t.FileOffset, tensorName: t.Name);
                    tensors.Add(t.Name, (t, shard));
                }
            }
            foreach (var (name, shardName) in weightMap)
                if (!tensors.ContainsKey(name))
                    throw new NnlModelFormatException(Path.Combine(directory, shardName), $"the tensor is listed in {IndexFileName} but missing from the shard", tensorName: name);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return new WeightCatalog(directory, files, tensors);
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
        _memory?.Dispose();
    }
}
