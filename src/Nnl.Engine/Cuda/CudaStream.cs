namespace Nnl.Engine.Cuda;

/// <summary>A non-blocking stream (it does not synchronise with the legacy default stream).</summary>
public sealed class CudaStream : IDisposable
{
    public CudaStream(CudaContext context, int priority = 0)
    {
        Context = context;
        context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuStreamCreateWithPriority(out IntPtr handle, CudaFlags.StreamNonBlocking, priority));
        Handle = handle;
    }

    public CudaContext Context { get; }
    internal IntPtr Handle { get; private set; }

    public void Synchronize()
    {
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuStreamSynchronize(Handle));
    }

    /// <summary>Makes later work on this stream wait for <paramref name="evt"/> (no host wait).</summary>
    public void Wait(CudaEvent evt)
    {
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuStreamWaitEvent(Handle, evt.Handle, 0));
    }

    public CudaEvent Record(CudaEvent evt)
    {
        evt.Record(this);
        return evt;
    }

    public void Dispose()
    {
        if (Handle == IntPtr.Zero) return;
        Context.MakeCurrent();
        CudaApi.cuStreamDestroy(Handle); // nothing useful to do if destroy fails during cleanup
        Handle = IntPtr.Zero;
    }
}

/// <summary>A CUDA event: orders streams and, with timing enabled, measures GPU time between two records.</summary>
public sealed class CudaEvent : IDisposable
{
    public CudaEvent(CudaContext context, bool timing = true, bool blockingSync = false)
    {
        Context = context;
        context.MakeCurrent();
        uint flags = (timing ? CudaFlags.EventDefault : CudaFlags.EventDisableTiming) | (blockingSync ? CudaFlags.EventBlockingSync : 0);
        CudaCheck.ThrowIfFailed(CudaApi.cuEventCreate(out IntPtr handle, flags));
        Handle = handle;
    }

    public CudaContext Context { get; }
    internal IntPtr Handle { get; private set; }

    public void Record(CudaStream stream)
    {
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuEventRecord(Handle, stream.Handle));
    }

    public void Synchronize()
    {
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuEventSynchronize(Handle));
    }

    /// <summary>True once all work captured by the last record has finished.</summary>
    public bool IsComplete
    {
        get
        {
            Context.MakeCurrent();
            int rc = CudaApi.cuEventQuery(Handle);
            if (rc == CudaCheck.ErrorNotReady) return false;
            CudaCheck.ThrowIfFailed(rc, "cuEventQuery");
            return true;
        }
    }

    /// <summary>GPU milliseconds from <paramref name="start"/> to this event (both recorded and completed).</summary>
    public float ElapsedMillisecondsSince(CudaEvent start)
    {
        Context.MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuEventElapsedTime(out float ms, start.Handle, Handle));
        return ms;
    }

    public void Dispose()
    {
        if (Handle == IntPtr.Zero) return;
        Context.MakeCurrent();
        CudaApi.cuEventDestroy(Handle);
        Handle = IntPtr.Zero;
    }
}
