using Nnl.Engine.Generation;
using Nnl.Engine.Runtime;

namespace Nnl.Engine.Commands;

/// <summary>The logits one forward pass gives for every position of a token sequence, written for comparison with another engine.</summary>
public sealed record NnlLogits(string Model, string Device, int Positions, int VocabSize, string Path, int[] ArgmaxPerPosition);

/// <summary>
/// `nnl logits`: loads a model (CPU or GPU, with the offload options), runs one pass over
/// <see cref="TokenIds"/> and writes float32 little-endian logits [positions, vocab] to
/// <see cref="OutputPath"/> — what tools/reference/compare_logits.py checks against transformers.
/// </summary>
public sealed class ComputeLogitsCommand : INnlCommand
{
    public required string Path { get; init; }
    public required int[] TokenIds { get; init; }
    public required string OutputPath { get; init; }
    public string Device { get; init; } = "Cpu";
    public long? MaxGpuMemory { get; init; }

    public void Execute(ICommandSink sink)
    {
        if (TokenIds.Length == 0) throw new NnlArgumentException(nameof(TokenIds), "give at least one token id");
        var device = DeviceSpec.Parse(Device);
        using var model = device.IsCpu
            ? LoadedModel.LoadCpu(Path, cancellation: sink.Cancellation)
            : LoadedModel.LoadGpu(Path, new Runtime.Offload.OffloadOptions
                {
                    Device = device.Ordinal, MaxGpuMemoryBytes = MaxGpuMemory, ContextLength = TokenIds.Length,
                    MaxPrefillRows = TokenIds.Length, MaxLogitRows = TokenIds.Length, // one pass returns every position's logits
                },
                cancellation: sink.Cancellation);
        int vocab = model.Config.VocabSize;
        foreach (int id in TokenIds)
            if ((uint)id >= (uint)vocab) throw new NnlArgumentException(nameof(TokenIds), $"token id {id} is outside the vocabulary of {vocab}");
        using var cache = model.Runner.CreateKvCache(1, TokenIds.Length);
        var logits = model.Runner.Forward(TokenBatch.Single(TokenIds, allLogits: true), cache, sink.Cancellation);
        model.Runner.Quiesce();
        using (var file = File.Create(OutputPath))
            file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(logits.AsSpan()));
        var argmax = Enumerable.Range(0, TokenIds.Length).Select(p =>
        {
            var row = logits.AsSpan(p * vocab, vocab);
            int best = 0;
            for (int j = 1; j < vocab; j++) if (row[j] > row[best]) best = j;
            return best;
        }).ToArray();
        sink.WriteRecord(new NnlLogits(System.IO.Path.GetFileName(System.IO.Path.GetFullPath(Path).TrimEnd('/')), device.ToString(), TokenIds.Length, vocab, System.IO.Path.GetFullPath(OutputPath), argmax));
    }
}
