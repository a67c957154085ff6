using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>
/// A tensor in device memory: a device pointer and the allocation that owns it (null when the
/// memory belongs to someone else, e.g. the offload scheduler's weight buffers).
/// </summary>
public sealed class CudaTensor : BackendTensor
{
    internal CudaTensor(CudaBackend backend, string name, TensorDType dtype, long[] shape, ulong pointer, DeviceAllocation? owner, bool storedTransposed = false)
        : base(name, dtype, shape)
    {
        Backend = backend;
        Pointer = pointer;
        Owner = owner;
        StoredTransposed = storedTransposed;
    }

    /// <summary>
    /// A Conv1D [in, out] weight a loader stored as nn.Linear's [out, in] in memory
    /// (<see cref="BackendTensor.Shape"/> stays [in, out]): MatMul reads it with the Linear kernels when asked for Conv1D.
    /// </summary>
    public bool StoredTransposed { get; }

    public CudaBackend Backend { get; }

    /// <summary>Device address of element 0 (0 once released).</summary>
    public ulong Pointer { get; private set; }

    internal DeviceAllocation? Owner { get; private set; }

    internal void Invalidate()
    {
        Pointer = 0;
        Owner = null;
    }
}
