namespace Nnl.Engine.Transfer;

/// <summary>A transfer test that cannot run on this machine as asked (too large, no peer GPU).</summary>
public sealed class NnlTransferException : NnlException
{
    private NnlTransferException(string errorId, string category, string message) : base(message)
    {
        ErrorId = errorId;
        Category = category;
    }

    public override string ErrorId { get; }
    public override string Category { get; }

    public static NnlTransferException SizeExceedsFreeMemory(int device, long neededBytes, long freeBytes, string what) =>
        new("TransferSizeExceedsFreeMemory", "LimitsExceeded",
            $"{what} needs {neededBytes:N0} bytes of device memory on GPU {device}, but only {freeBytes:N0} bytes are free; use a smaller -Size or free memory first");

    public static NnlTransferException NoPeerDevice(int device, int deviceCount) =>
        new("PeerDeviceUnavailable", "ResourceUnavailable",
            $"a PeerToPeer test needs a second GPU, but this machine has {deviceCount} (device {device})");

    public static NnlTransferException HostAllocationFailed(long bytes, string kind) =>
        new("TransferHostMemoryUnavailable", "LimitsExceeded",
            $"could not allocate {bytes:N0} bytes of {kind} host memory for the transfer test; use a smaller -Size");
}
