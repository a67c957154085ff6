using Nnl.Engine.Cuda;

namespace Nnl.Engine.Transfer;

/// <summary>
/// One measured point of Measure-NnlTransfer / `nnl transfer`. A sample is CopiesPerSample
/// back-to-back transfers of Bytes timed by one CUDA event pair; Iterations samples are taken after a
/// warm-up. GB/s are decimal (10^9 bytes per second); microseconds are per single transfer of Bytes.
/// DeviceToDevice counts every byte twice (read and written), as nvbandwidth and bandwidthTest do.
/// </summary>
public sealed record NnlTransferResult(
    int Device,
    string DeviceName,
    TransferDirection Direction,
    // The leg this result measures: HostToDevice or DeviceToHost for Bidirectional, else Direction.
    TransferDirection Leg,
    // Null for DeviceToDevice and PeerToPeer, which touch no host memory.
    HostMemoryKind? HostMemory,
    TransferMechanism Mechanism,
    int Streams,
    long ChunkBytes,
    long Bytes,
    int Iterations,
    int CopiesPerSample,
    double MinGBps,
    double MedianGBps,
    double MaxGBps,
    double MinMicroseconds,
    double MedianMicroseconds,
    double MaxMicroseconds,
    bool Verified,
    // PeerToPeer only: the destination GPU and whether peer access was enabled.
    int? PeerDevice = null,
    bool? PeerAccess = null,
    // Tensor pattern: how many separate copies make up one transfer of Bytes (1 for a plain or packed copy).
    int TensorCount = 1,
    string? TensorSet = null,
    // Tensor pattern, packed result only: its median GB/s over that of the separate pageable tensors.
    double? SpeedupOverSeparate = null);
