using Nnl.Engine.Commands;
using Nnl.Engine.Generation;
using Nnl.Engine.Models;
using Nnl.Engine.Tests.Models;
using Nnl.Engine.Tests.Tokenizers;

namespace Nnl.Engine.Tests.Generation;

/// <summary>Import-NnlModel, Invoke-NnlGenerate and Remove-NnlModel through their command classes.</summary>
public sealed class ModelCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestModel _model;

    public ModelCommandTests()
    {
        // A byte-level tokenizer (256 bytes + 3 specials at 1000..1002) and a model with a matching vocabulary.
        _model = TestModelWriter.WriteLlama(_dir.Path, new LlamaShape(Vocab: 1003, Hidden: 32, Layers: 2), seed: 31);
        _model.Config["bos_token_id"] = TestTokenizers.Llama3Bos;
        _model.Config["eos_token_id"] = TestTokenizers.Llama3Eos;
        _model.SaveConfig();
        File.WriteAllText(_dir.File("tokenizer.json"), TestTokenizers.Llama3Json(Array.Empty<string>(), Array.Empty<(string, string)>()));
    }

    public void Dispose() => _dir.Dispose();

    private static CollectingSink Sink(CancellationToken token = default, Action<object>? onRecord = null) =>
        new(token == default ? TestContext.Current.CancellationToken : token, onRecord);

    private NnlModel Import()
    {
        var sink = Sink();
        new ImportModelCommand { Path = _dir.Path }.Execute(sink);
        return sink.RecordsOf<NnlModel>().Single();
    }

    [Fact]
    public void ImportDescribesTheModelAndReportsProgress()
    {
        var sink = Sink();
        new ImportModelCommand { Path = _dir.Path }.Execute(sink);
        var m = sink.RecordsOf<NnlModel>().Single();
        try
        {
            Assert.Equal("LlamaForCausalLM", m.Architecture);
            Assert.Equal(_model.Tensors.Sum(t => (long)t.Values.Length), m.Parameters);
            Assert.Equal(_model.Tensors.Sum(t => t.Values.Length * 4L), m.Bytes);
            Assert.Equal((2, 32, 4, 2, 1003), (m.Layers, m.HiddenSize, m.Heads, m.KvHeads, m.VocabSize));
            Assert.Equal("F32", m.DType);
            Assert.Equal("ByteLevelBpe", m.Tokenizer);
            Assert.Equal("Cpu", m.Device);
            Assert.Equal(Path.GetFullPath(_dir.Path), m.Path);
            Assert.True(m.IsLoaded);

            var progress = sink.Progress;
            Assert.True(progress.Count >= 2);
            Assert.Single(progress.Select(p => p.ActivityId).Distinct());
            Assert.True(progress[^1].Completed);
            Assert.Contains(progress, p => p.PercentComplete == 100 && !p.Completed);
        }
        finally
        {
            new RemoveModelCommand { Model = new[] { m } }.Execute(Sink());
        }
    }

    [Fact]
    public void GenerateFromTextGreedyAndStreamedAgree()
    {
        var m = Import();
        try
        {
            var sink = Sink();
            new InvokeGenerateCommand { Model = m, Prompt = new[] { "héllo" }, MaxNewTokens = 10 }.Execute(sink);
            var result = sink.RecordsOf<NnlGenerationResult>().Single();
            Assert.Equal(1 + 6, result.PromptTokens); // BOS + the six UTF-8 bytes
            Assert.Equal("héllo", result.Prompt);
            Assert.InRange(result.GeneratedTokens, 1, 10);

            var streamSink = Sink();
            new InvokeGenerateCommand { Model = m, Prompt = new[] { "héllo" }, MaxNewTokens = 10, Stream = true }.Execute(streamSink);
            Assert.Empty(streamSink.RecordsOf<NnlGenerationResult>());
            var tokens = streamSink.RecordsOf<NnlGeneratedToken>().ToArray();
            Assert.Equal(result.TokenIds, tokens.Select(t => t.Id));
            Assert.Equal(result.Text, string.Concat(tokens.Select(t => t.Text)));
        }
        finally { m.Session.Dispose(); }
    }

    [Fact]
    public void GenerateFromTokenIdsAndSeveralPrompts()
    {
        var m = Import();
        try
        {
            var sink = Sink();
            new InvokeGenerateCommand
            {
                Model = m, Prompt = new[] { "a", "bc" }, MaxNewTokens = 3, Temperature = 0.9, Seed = 5,
            }.Execute(sink);
            var results = sink.RecordsOf<NnlGenerationResult>().ToArray();
            Assert.Equal(new[] { 0, 1 }, results.Select(r => r.PromptIndex));
            Assert.Equal(new[] { 5, 6 }, results.Select(r => r.Seed!.Value));

            var idSink = Sink();
            new InvokeGenerateCommand { Model = m, TokenIds = new[] { 1000, 104, 105 }, MaxNewTokens = 3 }.Execute(idSink);
            Assert.Equal(3, idSink.RecordsOf<NnlGenerationResult>().Single().PromptTokens);
        }
        finally { m.Session.Dispose(); }
    }

    [Fact]
    public void CancellationDuringAStreamStopsWithinOneToken()
    {
        var m = Import();
        try
        {
            using var cts = new CancellationTokenSource();
            var count = 0;
            var sink = Sink(cts.Token, r => { if (r is NnlGeneratedToken && ++count == 2) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() =>
                new InvokeGenerateCommand { Model = m, TokenIds = new[] { 1000, 50 }, MaxNewTokens = 200, Stream = true, StopTokenIds = Array.Empty<int>() }.Execute(sink));
            Assert.Equal(2, sink.RecordsOf<NnlGeneratedToken>().Count());
        }
        finally { m.Session.Dispose(); }
    }

    [Fact]
    public void RemovedModelCannotGenerate()
    {
        var m = Import();
        new RemoveModelCommand { Model = new[] { m } }.Execute(Sink());
        Assert.False(m.IsLoaded);
        new RemoveModelCommand { Model = new[] { m } }.Execute(Sink()); // harmless twice
        var e = Assert.Throws<NnlArgumentException>(() => new InvokeGenerateCommand { Model = m, TokenIds = new[] { 5 } }.Execute(Sink()));
        Assert.Contains("removed", e.Message);
    }

    [Fact]
    public void GenerationConfigDefaultsApplyWhenParametersAreUnset()
    {
        File.WriteAllText(_dir.File("generation_config.json"), "{\"do_sample\": true, \"temperature\": 0.7, \"top_p\": 0.9, \"max_new_tokens\": 7}");
        var m = Import();
        try
        {
            var options = new InvokeGenerateCommand { Model = m, TokenIds = new[] { 5 } }.Options(m.Session);
            Assert.Equal((0.7, 50, 0.9, 7), (options.Temperature, options.TopK, options.TopP, options.MaxNewTokens));
            var greedy = new InvokeGenerateCommand { Model = m, TokenIds = new[] { 5 }, Temperature = 0 }.Options(m.Session);
            Assert.True(greedy.IsGreedy);
        }
        finally { m.Session.Dispose(); }
    }

    [Fact]
    public void ABrokenModelFailsWithItsFileAndTheProgressCompletes()
    {
        var bytes = File.ReadAllBytes(_dir.File("model.safetensors"));
        File.WriteAllBytes(_dir.File("model.safetensors"), bytes[..(bytes.Length / 2)]);
        var sink = Sink();
        var e = Assert.Throws<NnlModelFormatException>(() => new ImportModelCommand { Path = _dir.Path }.Execute(sink));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.True(sink.Progress[^1].Completed);
        Assert.Empty(sink.Records);
    }

    [Theory]
    [InlineData("Tpu")]
    [InlineData("Cuda:x")]
    public void UnknownDeviceIsRefused(string device)
    {
        var e = Assert.Throws<NnlArgumentException>(() => new ImportModelCommand { Path = _dir.Path, Device = device }.Execute(Sink()));
        Assert.Equal("Device", e.ParameterName);
    }

    [NoGpuFact]
    public void AGpuDeviceWithoutTheDriverSaysSo()
    {
        var e = Assert.Throws<Nnl.Engine.Cuda.NnlLibraryNotFoundException>(() => new ImportModelCommand { Path = _dir.Path, Device = "Cuda:0" }.Execute(Sink()));
        Assert.Equal("CudaDriverNotFound", e.ErrorId);
    }

    [Fact]
    public void GpuOptionsOnTheCpuAreRefused()
    {
        var e = Assert.Throws<NnlArgumentException>(() => new ImportModelCommand { Path = _dir.Path, MaxGpuMemory = 1L << 30 }.Execute(Sink()));
        Assert.Equal("MaxGpuMemory", e.ParameterName);
    }

    [Fact]
    public void MissingDirectoryIsRefused()
    {
        var e = Assert.Throws<NnlArgumentException>(() => new ImportModelCommand { Path = _dir.File("nope") }.Execute(Sink()));
        Assert.Contains("not a directory", e.Message);
    }
}
