namespace Nnl.Engine.Models.Synthetic;

/// <summary>
/// Generates a <see cref="SyntheticModel"/>'s weights straight into one page-aligned host block
/// (no files, no disk): the result is a <see cref="WeightCatalog"/> that every loader reads like a
/// model directory. A GPU runner can pin <see cref="WeightCatalog.Memory"/> once and DMA from it;
/// the tensors lie in table order, each 256-byte aligned, so a node's weights are one contiguous range.
/// </summary>
public static unsafe class InMemoryModel
{
    /// <param name="progress">Called on this thread with (bytes generated, total bytes).</param>
    public static WeightCatalog Generate(SyntheticModel model, Action<long, long>? progress = null, CancellationToken cancellation = default)
    {
        // Linux overcommits: a too-large block would allocate fine and then be killed while filling. Refuse up front.
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0 && model.HostBytes > available)
            throw new NnlArgumentException("InMemory",
                $"{model.Name} needs {model.HostBytes / (double)(1L << 30):F1} GiB of host memory for its weights but this machine has {available / (double)(1L << 30):F1} GiB; use fewer -Layers or write it to disk.");
        var memory = new HostWeightMemory(model.HostBytes);
        try
        {
            long done = 0;
            progress?.Invoke(0, model.WeightBytes);
            foreach (var t in model.Tensors)
            {
                cancellation.ThrowIfCancellationRequested();
                model.Weights.CopyTo(t, memory.Pointer + t.FileOffset);
                done += t.ByteCount;
                progress?.Invoke(done, model.WeightBytes);
            }
            return WeightCatalog.InMemory("memory:" + model.Name, model.Tensors, memory);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }
}
