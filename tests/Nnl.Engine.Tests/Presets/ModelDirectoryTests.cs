using System.Text.Json;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;
using Nnl.Engine.Models;
using Nnl.Engine.Models.Synthetic;
using Nnl.Engine.Runtime;
using Nnl.Engine.Tokenizers;

namespace Nnl.Engine.Tests.Presets;

public sealed unsafe class ModelDirectoryTests
{
    private static NnlGeneratedModel Write(NewModelCommand command, CollectingSink? sink = null)
    {
        sink ??= new CollectingSink();
        command.Execute(sink);
        return Assert.Single(sink.RecordsOf<NnlGeneratedModel>());
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("gpt2")]
    public void Written_model_loads_with_every_tensor_as_generated_and_generates_on_the_cpu(string family)
    {
        using var dir = new TempDirectory();
        var config = family switch { "llama" => TinyConfigs.Llama(), "qwen2" => TinyConfigs.Qwen2(), _ => TinyConfigs.Gpt2() };
        var configPath = TinyConfigs.WriteConfig(dir, config);
        var target = dir.Sub("model");
        var sink = new CollectingSink();
        var record = Write(new NewModelCommand { Config = configPath, Path = target, Layers = 2, Seed = 42, DType = "bf16" }, sink);

        var expected = SyntheticModel.FromConfigFile(configPath, layers: 2, dtype: TensorDType.BF16, seed: 42);
        Assert.Equal(2, record.Layers);
        Assert.Equal(expected.ParameterCount, record.Parameters);
        Assert.Equal("BF16", record.DType);
        Assert.Equal(target, record.Path);
        Assert.True(sink.Progress.Last().Completed);

        // The directory is what transformers' save_pretrained writes.
        var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(target, "model.safetensors.index.json"))).RootElement;
        Assert.Equal(expected.WeightBytes, index.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var written = JsonDocument.Parse(File.ReadAllText(Path.Combine(target, "config.json"))).RootElement;
        Assert.Equal("bfloat16", written.GetProperty("torch_dtype").GetString());
        Assert.Equal(config["model_type"]!.GetValue<string>(), written.GetProperty("model_type").GetString());

        using (var catalog = WeightCatalog.Open(target))
        {
            Assert.Equal(expected.Tensors.Count, catalog.Count);
            foreach (var t in expected.Tensors)
            {
                Assert.True(catalog.TryGet(t.Name, out var onDisk), t.Name);
                Assert.Equal(t.Shape, onDisk.Shape);
                var bytes = catalog.GetBytes(onDisk);
                var want = new byte[t.ByteCount];
                fixed (byte* p = want) expected.Weights.CopyTo(t, p);
                Assert.True(want.AsSpan().SequenceEqual(new ReadOnlySpan<byte>(bytes.Pointer, (int)bytes.Length)), t.Name);
            }
        }

        // The tokenizer Nnl reads from it covers the vocabulary.
        var tokenizer = TokenizerLoader.Load(target);
        Assert.Equal("a tiny model", tokenizer.Decode(tokenizer.Encode("a tiny model", addSpecialTokens: false)));

        using var model = LoadedModel.LoadCpu(target);
        Assert.Equal(expected.ParameterCount, model.Runner.Table.ParameterCount);
        var prompt = tokenizer.Encode("hello there", addSpecialTokens: false).ToArray();
        using var cache = model.Runner.CreateKvCache(1, 32);
        var logits = model.Runner.Forward(TokenBatch.Single(prompt), cache);
        Assert.Equal(model.Config.VocabSize, logits.Length);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        Assert.True(logits.Max() > logits.Min());

        var results = new TextGenerator(model).Generate(new[] { new GenerationPrompt("hello there", prompt) },
            new GenerationOptions { MaxNewTokens = 5, Temperature = 0 });
        Assert.InRange(results[0].GeneratedTokens, 1, 5);
    }

    [Fact]
    public void Shards_stay_under_the_limit_and_the_index_maps_every_tensor()
    {
        using var dir = new TempDirectory();
        var config = TinyConfigs.WriteConfig(dir, TinyConfigs.Llama());
        var target = dir.Sub("sharded");
        var limit = 200_000L; // a block of the tiny model is about 172 kB in fp32, the whole model 0.8 MB
        var model = SyntheticModel.FromConfigFile(config, dtype: TensorDType.F32);
        var plan = new ModelDirectoryWriter { MaxShardBytes = limit }.PlanShards(model);
        Assert.True(plan.Count > 1);
        var record = Write(new NewModelCommand { Config = config, Path = target, DType = "fp32", MaxShardBytes = limit });
        Assert.Equal(plan.Count, record.Shards);

        var shards = Directory.GetFiles(target, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Enumerable.Range(1, plan.Count).Select(i => $"model-{i:D5}-of-{plan.Count:D5}.safetensors"), shards);
        var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(target, "model.safetensors.index.json"))).RootElement;
        var map = index.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(model.Tensors.Select(t => t.Name).Order(), map.Keys.Order());
        foreach (var shard in shards)
        {
            using var file = SafetensorsFile.Open(Path.Combine(target, shard!));
            Assert.All(file.Tensors, t => Assert.Equal(shard, map[t.Name]));
            var data = file.Tensors.Sum(t => t.ByteCount);
            Assert.True(data <= limit || file.Tensors.Count == 1, $"{shard}: {data} bytes");
            Assert.Equal("pt", file.Metadata["format"]);
            Assert.Equal(0, file.DataStart % 8);
        }
    }

    [Fact]
    public void Too_little_free_space_is_refused_before_anything_is_written()
    {
        using var dir = new TempDirectory();
        var target = dir.Sub("m");
        var model = SyntheticModel.FromPreset("gpt2", layers: 1);
        var space = new FixedFreeSpace(model.WeightBytes / 2);
        var e = Assert.Throws<NnlDiskSpaceException>(() =>
            new NewModelCommand { Preset = "gpt2", Layers = 1, Path = target, FreeSpace = space }.Execute(new CollectingSink()));
        Assert.Equal("InsufficientDiskSpace", e.ErrorId);
        Assert.Equal("ResourceUnavailable", e.Category);
        Assert.True(e.RequiredBytes > model.WeightBytes);
        Assert.Equal(model.WeightBytes / 2, e.AvailableBytes);
        Assert.Contains(target, e.Message);
        Assert.Equal(target, Assert.Single(space.Asked));
        Assert.False(Directory.Exists(target));

        // Enough room: it writes.
        Write(new NewModelCommand { Preset = "gpt2", Layers = 1, Path = target, FreeSpace = new FixedFreeSpace(model.WeightBytes * 2) });
        Assert.True(File.Exists(Path.Combine(target, "model-00001-of-00001.safetensors")));
    }

    [Fact]
    public void Real_drive_reports_free_space_for_a_path_that_does_not_exist_yet()
    {
        using var dir = new TempDirectory();
        var free = DriveFreeSpaceProvider.Instance.AvailableBytes(Path.Combine(dir.Path, "not", "yet"));
        Assert.True(free > 0);
    }

    [Fact]
    public void Non_empty_directory_is_kept_unless_forced_and_force_replaces_only_model_files()
    {
        using var dir = new TempDirectory();
        var config = TinyConfigs.WriteConfig(dir, TinyConfigs.Gpt2());
        var target = dir.Sub("m");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "notes.txt"), "mine");
        File.WriteAllText(Path.Combine(target, "model-00001-of-00009.safetensors"), "stale shard");
        var e = Assert.Throws<NnlArgumentException>(() => new NewModelCommand { Config = config, Path = target }.Execute(new CollectingSink()));
        Assert.Equal("Path", e.ParameterName);
        Assert.Contains("-Force", e.Message);
        Assert.Equal("stale shard", File.ReadAllText(Path.Combine(target, "model-00001-of-00009.safetensors")));

        Write(new NewModelCommand { Config = config, Path = target, Force = true });
        Assert.Equal("mine", File.ReadAllText(Path.Combine(target, "notes.txt")));
        Assert.False(File.Exists(Path.Combine(target, "model-00001-of-00009.safetensors")));
        using var model = LoadedModel.LoadCpu(target);
        Assert.Equal(3, model.Config.LayerCount);
    }

    [Fact]
    public void Cancellation_removes_the_files_written_so_far()
    {
        using var dir = new TempDirectory();
        var target = dir.Sub("cancelled");
        using var cts = new CancellationTokenSource();
        // Cancel as soon as the first shard's header is out: the next block sees it.
        var sink = new CollectingSink(cts.Token);
        var writer = new ModelDirectoryWriter { Progress = (done, _) => { if (done > 0) cts.Cancel(); } };
        var model = SyntheticModel.FromPreset("gpt2", layers: 1);
        Assert.ThrowsAny<OperationCanceledException>(() => writer.Write(model, target, cts.Token));
        Assert.False(Directory.Exists(target));

        // In an existing directory, only what was written goes.
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep.txt"), "x");
        using var cts2 = new CancellationTokenSource();
        var forced = new ModelDirectoryWriter { Force = true, Progress = (done, _) => { if (done > 0) cts2.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => forced.Write(model, target, cts2.Token));
        Assert.Equal(new[] { "keep.txt" }, Directory.GetFiles(target).Select(Path.GetFileName));
    }

    [Fact]
    public void In_memory_model_computes_the_same_logits_as_the_written_one()
    {
        using var dir = new TempDirectory();
        var config = TinyConfigs.WriteConfig(dir, TinyConfigs.Llama());
        var target = dir.Sub("m");
        Write(new NewModelCommand { Config = config, Path = target, Seed = 9 });

        var sink = new CollectingSink();
        new NewModelCommand { Config = config, InMemory = true, Seed = 9 }.Execute(sink);
        var inMemory = Assert.Single(sink.RecordsOf<NnlModel>());
        Assert.True(sink.Progress.Last().Completed);
        Assert.Equal("F16", inMemory.DType);
        Assert.StartsWith("memory:", inMemory.Path);

        using var fromDisk = LoadedModel.LoadCpu(target);
        Assert.Equal(fromDisk.Runner.Table.ParameterCount, inMemory.Parameters);
        var prompt = new[] { 5, 77, 123, 250, 12 };
        float[] Logits(LoadedModel m)
        {
            using var cache = m.Runner.CreateKvCache(1, 16);
            return m.Runner.Forward(TokenBatch.Single(prompt), cache);
        }
        Assert.Equal(Logits(fromDisk), Logits(inMemory.Session));

        new RemoveModelCommand { Model = new[] { inMemory } }.Execute(new CollectingSink());
        Assert.False(inMemory.IsLoaded);
    }

    [Fact]
    public void In_memory_catalog_lays_tensors_out_aligned_in_table_order()
    {
        var model = SyntheticModel.FromPreset("gpt2", layers: 2);
        using var catalog = InMemoryModel.Generate(model);
        Assert.NotNull(catalog.Memory);
        Assert.Equal(0, (long)catalog.Memory!.Pointer % HostWeightMemory.PageBytes);
        var table = model.BuildTable();
        long previous = -1;
        foreach (var t in table.Nodes.SelectMany(n => n.Weights).Select(w => w.Tensor).DistinctBy(t => t.Name))
        {
            Assert.Equal(0, t.FileOffset % SyntheticModel.TensorAlignment);
            Assert.True(t.FileOffset > previous, t.Name);
            previous = t.FileOffset;
            var bytes = catalog.GetBytes(t);
            Assert.Equal(model.Weights.Value(t, 3), (float)BitConverter.UInt16BitsToHalf(((ushort*)bytes.Pointer)[3]));
        }
        // Describe-only catalogs build tables but hold no bytes.
        using var shapes = WeightCatalog.Describe("shapes", model.Tensors);
        Assert.Throws<InvalidOperationException>(() => shapes.GetBytes(model.Tensors[0]));
    }
}
