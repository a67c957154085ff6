using Nnl.Engine.Runtime;

namespace Nnl.Engine.Models.Architectures;

/// <summary>
/// Collects the tensors an architecture expects, checking each against the files (present, shape
/// the config implies), and at the end that the files hold nothing else.
/// </summary>
internal sealed class TensorExpectations
{
    private readonly ModelConfig _config;
    private readonly WeightCatalog _catalog;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public TensorExpectations(ModelConfig config, WeightCatalog catalog)
    {
        _config = config;
        _catalog = catalog;
    }

    /// <summary>The tensor <paramref name="name"/> as role <paramref name="role"/>; it must exist with <paramref name="shape"/>.</summary>
    public NodeWeight Require(string role, string name, params long[] shape)
    {
        if (!_catalog.TryGet(name, out var info))
            throw new NnlModelFormatException(_catalog.Directory,
                $"{_config.Architecture} needs this tensor (shape [{string.Join(", ", shape)}]) but no safetensors file of the model has it",
                tensorName: name);
        if (!info.Shape.SequenceEqual(shape))
            throw new NnlModelFormatException(info.FilePath,
                $"the tensor has shape {info.ShapeText} but {Path.GetFileName(_config.SourcePath)} implies [{string.Join(", ", shape)}] " +
                $"(hidden {_config.HiddenSize}, heads {_config.HeadCount}/{_config.KvHeadCount} of {_config.HeadDim}, intermediate {_config.IntermediateSize}, vocab {_config.VocabSize}); the config contradicts the tensors",
                byteOffset: info.FileOffset, tensorName: name);
        _used.Add(name);
        return new NodeWeight(role, info);
    }

    /// <summary>Like <see cref="Require"/> when <paramref name="present"/>; otherwise null (and the tensor must then be absent, which <see cref="CheckNothingElse"/> enforces).</summary>
    public NodeWeight? RequireIf(bool present, string role, string name, params long[] shape) =>
        present ? Require(role, name, shape) : null;

    /// <summary>Marks a tensor that may be present and is not used (buffers older checkpoints saved).</summary>
    public void Tolerate(string name)
    {
        if (_catalog.Contains(name)) _used.Add(name);
    }

    public void CheckNothingElse(Func<string, bool>? tolerated = null)
    {
        foreach (var t in _catalog.Tensors.OrderBy(t => t.FilePath, StringComparer.Ordinal).ThenBy(t => t.FileOffset))
        {
            if (_used.Contains(t.Name) || (tolerated?.Invoke(t.Name) ?? false)) continue;
            throw new NnlModelFormatException(t.FilePath,
                $"the tensor is not part of {_config.Architecture} as {Path.GetFileName(_config.SourcePath)} describes it " +
                $"({_config.LayerCount} layers, tie_word_embeddings={_config.TieWordEmbeddings.ToString().ToLowerInvariant()}, q/k/v bias={_config.QkvBias.ToString().ToLowerInvariant()})",
                byteOffset: t.FileOffset, tensorName: t.Name);
        }
    }

    public static NodeWeight[] Present(params NodeWeight?[] weights) => weights.Where(w => w is not null).Select(w => w!).ToArray();
}
