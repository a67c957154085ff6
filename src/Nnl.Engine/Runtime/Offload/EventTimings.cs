using Nnl.Engine.Cuda;

namespace Nnl.Engine.Runtime.Offload;

/// <summary>
/// Pairs of CUDA events whose elapsed time is read once both have completed (never waiting for
/// them), recycled so a token's hundreds of timings create no driver objects after the first.
/// </summary>
internal sealed class EventTimings : IDisposable
{
    private readonly CudaContext _context;
    private readonly Stack<CudaEvent> _free = new();
    private readonly List<CudaEvent> _all = new();
    private readonly List<(CudaEvent Start, CudaEvent End, Action<double> Add)> _pending = new();

    public EventTimings(CudaContext context) { _context = context; }

    public CudaEvent Rent()
    {
        if (_free.TryPop(out var e)) return e;
        e = new CudaEvent(_context, timing: true);
        _all.Add(e);
        return e;
    }

    public void Return(CudaEvent e) => _free.Push(e);

    /// <summary>Records end-minus-start into <paramref name="add"/> once both have run; then recycles both.</summary>
    public void Measure(CudaEvent start, CudaEvent end, Action<double> add) => _pending.Add((start, end, add));

    /// <summary>Reads every pair that has completed (all of them when <paramref name="wait"/>).</summary>
    public void Harvest(bool wait = false)
    {
        for (int i = 0; i < _pending.Count; i++)
        {
            var (start, end, add) = _pending[i];
            if (wait) end.Synchronize();
            else if (!end.IsComplete) continue;
            add(Math.Max(0, end.ElapsedMillisecondsSince(start)));
            _free.Push(start);
            _free.Push(end);
            _pending.RemoveAt(i--);
        }
    }

    public void Dispose()
    {
        foreach (var e in _all) e.Dispose();
        _all.Clear();
        _free.Clear();
        _pending.Clear();
    }
}
