using Nnl.Engine.Cuda;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>
/// Medians over the timed graph steps (<see cref="CudaBackend.TimeGraphSteps"/>) of where a step's GPU time went.
/// </summary>
/// <param name="Steps">Steps timed.</param>
/// <param name="GpuMilliseconds">The GPU inside the step's segments (from each segment's start to its end).</param>
/// <param name="IdleInStepMilliseconds">
/// The GPU idle inside the step: a segment queued after the one before it had finished, so the GPU
/// waited for the host to record it.
/// </param>
/// <param name="IdleBetweenStepsMilliseconds">
/// From the end of the previous step's last segment to this step's first: the logits' download, the
/// host's sampling and the next batch, and the recording of the first segment.
/// </param>
public sealed record NnlGraphStepTiming(int Steps, double GpuMilliseconds, double IdleInStepMilliseconds, double IdleBetweenStepsMilliseconds);

/// <summary>
/// Events around each segment of a graph step: an event queued on an idle stream completes when it is
/// queued, so a segment's start event after the previous segment's end event is time the GPU waited for
/// the host. The step's events are read when the next step begins (the host has waited for the
/// previous step's logits by then). Opt-in: two event records a segment.
/// </summary>
internal sealed class GraphStepTimer : IDisposable
{
    private readonly CudaContext _context;
    private readonly List<(CudaEvent Start, CudaEvent End)> _segments = new();
    private CudaEvent? _lastEnd, _previousEnd;                   // the last ended step's end, and the one before's
    private int _count;                                          // segments of the open (or last ended) step
    private bool _previousEnded;                                 // _previousEnd belongs to the step just before
    private readonly List<double> _gpu = new(), _idleIn = new(), _idleBetween = new();

    public GraphStepTimer(CudaContext context) => _context = context;

    public void BeforeSegment(CudaStream stream)
    {
        if (_count == _segments.Count) _segments.Add((new CudaEvent(_context), new CudaEvent(_context)));
        _segments[_count].Start.Record(stream);
    }

    public void AfterSegment(CudaStream stream) => _segments[_count++].End.Record(stream);

    /// <summary>The step's segments are all queued: its end event follows them.</summary>
    public void EndStep(CudaStream stream)
    {
        if (_count == 0) return;
        (_lastEnd, _previousEnd) = (_previousEnd ?? new CudaEvent(_context), _lastEnd);
        _lastEnd.Record(stream);
    }

    /// <summary>Reads the last ended step's events (waiting for them) and starts the next step's count.</summary>
    public void Collect()
    {
        if (_count == 0) return;
        _lastEnd!.Synchronize();
        double gpu = 0, idle = 0;
        for (int i = 0; i < _count; i++)
        {
            gpu += _segments[i].End.ElapsedMillisecondsSince(_segments[i].Start);
            if (i > 0) idle += Math.Max(0, _segments[i].Start.ElapsedMillisecondsSince(_segments[i - 1].End));
        }
        _gpu.Add(gpu);
        _idleIn.Add(idle);
        if (_previousEnded) _idleBetween.Add(Math.Max(0, _segments[0].Start.ElapsedMillisecondsSince(_previousEnd!)));
        _previousEnded = true;
        _count = 0;
    }

    /// <summary>A step that fell back or was abandoned: its events say nothing, and the next step has no predecessor.</summary>
    public void Discard()
    {
        _count = 0;
        _previousEnded = false;
    }

    public NnlGraphStepTiming? Timing => _gpu.Count == 0 ? null :
        new(_gpu.Count, Median(_gpu), Median(_idleIn), _idleBetween.Count == 0 ? double.NaN : Median(_idleBetween));

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public void Dispose()
    {
        foreach (var (s, e) in _segments) { s.Dispose(); e.Dispose(); }
        _segments.Clear();
        _lastEnd?.Dispose();
        _previousEnd?.Dispose();
    }
}
