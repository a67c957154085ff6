using Nnl.Engine.Cuda;

namespace Nnl.Engine.Transfer;

/// <summary>One copy of a transfer: from Source+SourceOffset to Destination+DestinationOffset.</summary>
internal readonly record struct TransferPiece(TransferRegion Source, long SourceOffset, TransferRegion Destination, long DestinationOffset, long Bytes);

/// <summary>
/// What is copied in one direction and on which streams: a transfer is its pieces, issued round-robin
/// over its streams (chunks of one buffer, or the tensors of a layer). Its events bracket a sample.
/// </summary>
internal sealed class TransferLane : IDisposable
{
    public TransferLane(TransferDirection leg, IReadOnlyList<CudaStream> streams)
    {
        Leg = leg;
        Streams = streams;
        var ctx = streams[0].Context;
        Start = new CudaEvent(ctx);
        End = new CudaEvent(ctx);
        Joins = streams.Select(_ => new CudaEvent(ctx, timing: false)).ToArray();
    }

    public TransferDirection Leg { get; }
    public IReadOnlyList<CudaStream> Streams { get; }
    public CudaEvent Start { get; }
    public CudaEvent End { get; }
    public CudaEvent[] Joins { get; }

    /// <summary>The copies that make one transfer.</summary>
    public IReadOnlyList<TransferPiece> Pieces { get; set; } = [];

    /// <summary>
    /// The regions whose data is checked: each is filled with a pattern at its source before a point
    /// and checked at its destination after it. Usually one piece covering the transfer; per tensor for
    /// a packed layer, which is copied as one piece but checked tensor by tensor.
    /// </summary>
    public IReadOnlyList<TransferPiece> Checks { get; set; } = [];

    /// <summary>The pattern seed of each check.</summary>
    public IReadOnlyList<uint> Seeds { get; set; } = [];

    public void Dispose()
    {
        Start.Dispose();
        End.Dispose();
        foreach (var j in Joins) j.Dispose();
    }

    /// <summary>Splits [0, bytes) into chunks of chunkBytes (4 KiB-aligned; one chunk per stream when null).</summary>
    public static IReadOnlyList<TransferPiece> Chunks(TransferRegion source, TransferRegion destination, long bytes, int streams, long? chunkBytes)
    {
        long chunk = ChunkBytes(bytes, streams, chunkBytes);
        var pieces = new List<TransferPiece>();
        for (long offset = 0; offset < bytes; offset += chunk)
            pieces.Add(new TransferPiece(source, offset, destination, offset, Math.Min(chunk, bytes - offset)));
        return pieces;
    }

    /// <summary>The chunk size used for a transfer of <paramref name="bytes"/>: the requested one, or bytes split evenly over the streams rounded up to 4 KiB.</summary>
    public static long ChunkBytes(long bytes, int streams, long? chunkBytes)
    {
        if (chunkBytes is { } c) return Math.Min(c, bytes);
        if (streams <= 1) return bytes;
        long even = (bytes + streams - 1) / streams;
        return Math.Min(bytes, (even + 4095) / 4096 * 4096);
    }
}
