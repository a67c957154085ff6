namespace Nnl.Engine.Cuda;

/// <summary>
/// A device's primary context (the one the runtime API and PyTorch share), retained once per
/// process and made current on whichever thread uses it. Every wrapper that calls the driver first
/// calls <see cref="MakeCurrent"/>, so work may move between threads (the pipeline's reader thread,
/// PowerShell's pipeline thread) without "invalid context" errors.
/// </summary>
public sealed class CudaContext
{
    private static readonly Dictionary<int, CudaContext> Contexts = new();

    private CudaContext(int ordinal, IntPtr handle)
    {
        Ordinal = ordinal;
        Handle = handle;
    }

    public int Ordinal { get; }
    internal IntPtr Handle { get; }

    /// <summary>The primary context of device <paramref name="ordinal"/>, retained on first use.</summary>
    public static CudaContext ForDevice(int ordinal)
    {
        lock (Contexts)
        {
            if (Contexts.TryGetValue(ordinal, out var existing)) return existing;
            int device = CudaDriver.GetDevice(ordinal);
            CudaCheck.ThrowIfFailed(CudaApi.cuDevicePrimaryCtxRetain(out IntPtr handle, device));
            var context = new CudaContext(ordinal, handle);
            Contexts[ordinal] = context;
            return context;
        }
    }

    /// <summary>
    /// The context this thread last bound through <see cref="MakeCurrent"/>. Nnl binds contexts
    /// only there, and the runtime API (cuBLAS) uses the primary context that is current, so the
    /// cache stays true; it spares every kernel launch a driver call.
    /// </summary>
    [ThreadStatic] private static IntPtr t_current;

    /// <summary>Binds this context to the calling thread (a field read when already current).</summary>
    public void MakeCurrent()
    {
        if (t_current == Handle) return;
        CudaCheck.ThrowIfFailed(CudaApi.cuCtxGetCurrent(out IntPtr current));
        if (current != Handle) CudaCheck.ThrowIfFailed(CudaApi.cuCtxSetCurrent(Handle));
        t_current = Handle;
    }

    public void Synchronize()
    {
        MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuCtxSynchronize());
    }

    /// <summary>Free and total device memory as the driver sees it now.</summary>
    public (long FreeBytes, long TotalBytes) MemoryInfo()
    {
        MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemGetInfo(out nuint free, out nuint total));
        return ((long)free, (long)total);
    }

    public bool CanAccessPeer(CudaContext peer)
    {
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceCanAccessPeer(out int can, CudaDriver.GetDevice(Ordinal), CudaDriver.GetDevice(peer.Ordinal)));
        return can != 0;
    }

    /// <summary>Lets this context's kernels and copies reach <paramref name="peer"/>'s memory directly.</summary>
    public void EnablePeerAccess(CudaContext peer)
    {
        MakeCurrent();
        int rc = CudaApi.cuCtxEnablePeerAccess(peer.Handle, 0);
        if (rc != CudaCheck.ErrorPeerAccessAlreadyEnabled) CudaCheck.ThrowIfFailed(rc, "cuCtxEnablePeerAccess");
    }

    public void DisablePeerAccess(CudaContext peer)
    {
        MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuCtxDisablePeerAccess(peer.Handle));
    }

    public override string ToString() => $"cuda:{Ordinal}";
}
