namespace Nnl.Engine.Runtime.Cuda;

/// <summary>
/// A batch's ids, positions, slots and output rows in one device block [4 segments of int32],
/// copied once per forward pass; kernels read the segment they need.
/// </summary>
public sealed class CudaBatch : BackendBatch
{
    private readonly CudaBackend _backend;
    private DeviceAllocation? _memory;

    /// <param name="deviceTokenIds">Where the token ids lie on the device instead (a greedy pipeline's argmax of the step before), or null.</param>
    internal CudaBatch(CudaBackend backend, TokenBatch host, DeviceAllocation memory, ulong? deviceTokenIds = null) : base(host)
    {
        _backend = backend;
        _memory = memory;
        ulong p = memory.Pointer;
        long rows = host.RowCount;
        TokenIds = deviceTokenIds ?? p;
        Positions = p + (ulong)(rows * sizeof(int));
        Slots = p + (ulong)(2 * rows * sizeof(int));
        OutputRows = p + (ulong)(3 * rows * sizeof(int));
    }

    /// <summary>Device int32 [rows].</summary>
    public ulong TokenIds { get; }

    /// <summary>Device int32 [rows].</summary>
    public ulong Positions { get; }

    /// <summary>Device int32 [rows].</summary>
    public ulong Slots { get; }

    /// <summary>Device int32 [OutputRows.Length].</summary>
    public ulong OutputRows { get; }

    /// <summary>Packs the host arrays in the device block's order.</summary>
    internal static int[] Pack(TokenBatch b)
    {
        var packed = new int[3 * b.RowCount + Math.Max(1, b.OutputRows.Length)];
        b.TokenIds.CopyTo(packed, 0);
        b.Positions.CopyTo(packed, b.RowCount);
        b.Slots.CopyTo(packed, 2 * b.RowCount);
        b.OutputRows.CopyTo(packed, 3 * b.RowCount);
        return packed;
    }

    public override void Dispose()
    {
        if (_memory is not null) _backend.FreeInternal(_memory);
        _memory = null;
        base.Dispose();
    }
}
