using System.Text.Json.Nodes;
using Nnl.Engine.Models;

namespace Nnl.Engine.Tests.Models;

public sealed class WeightCatalogTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ShardedModelReadsEveryTensorFromItsShard()
    {
        var model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(), seed: 3);
        TestModelWriter.Shard(model, 3);
        using var catalog = WeightCatalog.Open(_dir.Path);
        Assert.Equal(3, catalog.Files.Count);
        Assert.Equal(model.Tensors.Count, catalog.Count);
        foreach (var t in model.Tensors)
        {
            Assert.True(catalog.TryGet(t.Name, out var info));
            var bytes = catalog.GetBytes(info).Slice(0, (int)info.ByteCount).ToArray();
            Assert.Equal(SafetensorsWriter.Encode(t.Values, t.DType), bytes);
        }
    }

    private NnlModelFormatException Bad()
    {
        var e = Assert.Throws<NnlModelFormatException>(() => WeightCatalog.Open(_dir.Path).Dispose());
        Assert.Equal("ModelFormatInvalid", e.ErrorId);
        return e;
    }

    private (TestModel Model, JsonObject Index) Sharded()
    {
        var model = TestModelWriter.WriteGpt2(_dir.Path, new Gpt2Shape(Layers: 1), seed: 4);
        TestModelWriter.Shard(model, 2);
        var index = JsonNode.Parse(File.ReadAllText(_dir.File(WeightCatalog.IndexFileName)))!.AsObject();
        return (model, index);
    }

    private void SaveIndex(JsonObject index) => File.WriteAllText(_dir.File(WeightCatalog.IndexFileName), index.ToJsonString());

    [Fact]
    public void MissingShardFails()
    {
        Sharded();
        File.Delete(_dir.File("model-00002-of-00002.safetensors"));
        var e = Bad();
        Assert.Contains("model-00002-of-00002.safetensors", e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void TensorListedInTheIndexButAbsentFromItsShardFails()
    {
        var (_, index) = Sharded();
        index["weight_map"]!["transformer.h.0.extra.weight"] = "model-00001-of-00002.safetensors";
        SaveIndex(index);
        var e = Bad();
        Assert.Equal("transformer.h.0.extra.weight", e.TensorName);
        Assert.Contains("missing from the shard", e.Message);
    }

    [Fact]
    public void TensorInAShardButNotInTheIndexFails()
    {
        var (model, index) = Sharded();
        var victim = model.Tensors[0].Name;
        index["weight_map"]!.AsObject().Remove(victim);
        SaveIndex(index);
        var e = Bad();
        Assert.Equal(victim, e.TensorName);
        Assert.Contains("not listed", e.Message);
    }

    [Fact]
    public void ShardPathsOutsideTheDirectoryAreRefused()
    {
        var (model, index) = Sharded();
        index["weight_map"]![model.Tensors[0].Name] = "../elsewhere.safetensors";
        SaveIndex(index);
        Assert.Contains("not a file name", Bad().Message);
    }

    [Fact]
    public void InvalidIndexJsonFails()
    {
        Sharded();
        File.WriteAllText(_dir.File(WeightCatalog.IndexFileName), "{\"weight_map\": {");
        var e = Bad();
        Assert.Contains(WeightCatalog.IndexFileName, e.Message);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void DirectoryWithoutSafetensorsFails()
    {
        File.WriteAllText(_dir.File("config.json"), "{}");
        Assert.Contains("no model.safetensors", Bad().Message);
    }

    [Fact]
    public void SeveralUnindexedSafetensorsAreAmbiguous()
    {
        SafetensorsWriter.Write(_dir.File("a.safetensors"), new[] { new TestTensor("x", new long[] { 1 }, new[] { 1.5f }) });
        SafetensorsWriter.Write(_dir.File("b.safetensors"), new[] { new TestTensor("y", new long[] { 1 }, new[] { 2.5f }) });
        Assert.Contains("several .safetensors", Bad().Message);
    }
}
