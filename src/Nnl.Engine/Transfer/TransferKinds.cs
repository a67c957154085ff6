namespace Nnl.Engine.Transfer;

/// <summary>Which way the bytes go.</summary>
public enum TransferDirection
{
    HostToDevice,
    DeviceToHost,
    /// <summary>Within one GPU's memory; bandwidth counts bytes read plus bytes written.</summary>
    DeviceToDevice,
    /// <summary>HostToDevice and DeviceToHost at once on two streams; one result per leg.</summary>
    Bidirectional,
    /// <summary>From one GPU to another, with and without peer access enabled.</summary>
    PeerToPeer,
}

/// <summary>What moves the bytes (nvbandwidth's "_ce" and "_sm" variants).</summary>
public enum TransferMechanism
{
    /// <summary>Asynchronous memcpy on a stream, executed by a DMA copy engine.</summary>
    CopyEngine,
    /// <summary>An SM copy kernel; host memory is reached through its mapped device address (zero copy).</summary>
    Kernel,
}
