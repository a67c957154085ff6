using Nnl.Engine.Cuda;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>The batch upload and the device argmax, in the forms a greedy decode pipeline (<see cref="IGreedyDecodePipeline"/>) needs too.</summary>
public sealed partial class CudaBackend
{
    /// <summary>
    /// <see cref="PrepareBatch(TokenBatch)"/> (no staging, ids from the batch) and its form for a pipelined
    /// step: the packed batch goes through page-locked <paramref name="staging"/> (a copy from pageable
    /// memory may wait for the stream, which would stall the host behind the step before), and with
    /// <paramref name="deviceTokenIds"/> the kernels read the rows' token ids there instead (the argmax of
    /// the step before). The staging must not be rewritten before the stream has passed this copy.
    /// </summary>
    internal unsafe BackendBatch PrepareBatch(TokenBatch batch, HostBuffer? staging, ulong? deviceTokenIds)
    {
        var packed = CudaBatch.Pack(batch);
        long bytes = (long)packed.Length * sizeof(int);
        if (staging is not null && (!staging.IsPageLocked || staging.Bytes < bytes))
            throw new NnlArgumentException(nameof(staging), $"{bytes} bytes of page-locked staging needed for a batch of {batch.RowCount} rows, {staging.Bytes} given");
        var memory = BatchMemory(batch.RowCount, bytes);
        if (staging is null)
            fixed (int* p = packed) CudaCopy.HostToDevice(memory.Pointer, (IntPtr)p, bytes, Stream);
        else
        {
            packed.AsSpan().CopyTo(new Span<int>((void*)staging.Pointer, packed.Length));
            CudaCopy.HostToDevice(memory.Pointer, staging.Pointer, bytes, Stream);
        }
        return new CudaBatch(this, batch, memory, deviceTokenIds);
    }

    /// <summary>Queues each row's first largest value of x [rows, columns] into <paramref name="deviceIds"/> (int32 [rows]); NaN is skipped.</summary>
    internal void ArgmaxInto(BackendTensor x, ulong deviceIds)
    {
        var xt = F32(x, "Argmax", "x");
        Launch(_argmax.Plain, RowBlocks(xt.Rows), 1024, xt.Pointer, deviceIds, (int)xt.Rows, (int)xt.Columns);
    }
}
