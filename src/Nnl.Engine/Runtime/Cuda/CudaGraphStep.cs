using System.Diagnostics;
using System.Runtime.InteropServices;
using Nnl.Engine.Cuda;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>Counters of a backend's graph steps (see <see cref="CudaBackend.BeginGraphStep"/>).</summary>
/// <param name="Replays">Steps that ran as one graph launch.</param>
/// <param name="NodeUpdates">Kernel nodes given new parameters in a cached graph, over all replays.</param>
/// <param name="Rebuilds">Graphs built and instantiated (the first step, or a step with other kernels).</param>
/// <param name="Fallbacks">Steps that met stream work other than a kernel launch and ran their launches one by one.</param>
/// <param name="LastNodeCount">Kernel nodes of the last replayed step.</param>
/// <param name="LastUpdatedNodes">Nodes the last replay changed (all of them after a rebuild).</param>
/// <param name="LastFallbackReason">What made the last fallback, or null.</param>
/// <param name="HostMilliseconds">
/// Host time from each step's begin to its end (recording, graph updates and launches), summed over
/// all steps (the first ones build and instantiate graphs, so the mean is no steady state).
/// </param>
/// <param name="LastHostMilliseconds">
/// The last step's host time: next to the time a step takes, it tells whether the GPU waits for the host.
/// </param>
/// <param name="Timing">Where the GPU's time went, when steps are timed (<see cref="CudaBackend.TimeGraphSteps"/>); else null.</param>
public sealed record NnlCudaGraphStatistics(long Replays, long NodeUpdates, long Rebuilds, long Fallbacks,
    int LastNodeCount, int LastUpdatedNodes, string? LastFallbackReason, double HostMilliseconds = 0, double LastHostMilliseconds = 0,
    NnlGraphStepTiming? Timing = null);

/// <summary>
/// Records a step's kernel launches and replays them as CUDA graphs, one per segment: the caller
/// may cut the step (<see cref="Cut"/>, the runner does after each node) so that the GPU runs the
/// first segments while the host still records the next ones. Each segment's graph is kept for the
/// next step: a segment with the same kernels in the same order updates only the nodes whose grid or
/// arguments changed (attention's split count, a pointer the pool handed out elsewhere) and
/// launches; any other builds a new linear chain. Not thread-safe (the backend is not).
/// </summary>
internal sealed class CudaGraphStep : IDisposable
{
    private enum State { Idle, Recording, FellBack }

    /// <summary>One cut of the step: its executable graph and the launches its nodes hold now.</summary>
    private sealed class Segment : IDisposable
    {
        public LaunchRecord Cached = new();
        public CudaGraph? Graph;
        public CudaGraphExec? Exec;
        public CudaGraphNode[] Nodes = [];

        public void Drop()
        {
            Exec?.Dispose();
            Exec = null;
            Graph?.Dispose();
            Graph = null;
            Nodes = [];
            Cached.Clear();
        }

        public void Dispose() => Drop();
    }

    private readonly CudaContext _context;
    private readonly bool _programmatic;       // consecutive kernels of a segment joined by programmatic edges (the sm90 kernel set)
    // Cut steps and whole steps (Begin) keep their own graphs: a greedy pipeline records its first step
    // cut (nothing runs on the GPU yet) and every later one whole, and one shared set would be rebuilt at
    // each switch, twice a generation.
    private readonly List<Segment> _cutSegments = new(), _wholeSegments = new();
    private LaunchRecord _recording = new();
    private int _segment;                      // index of the segment being recorded
    private int _stepNodes, _stepUpdated;
    private State _state;
    private bool _whole;                       // this step's segments after the first are one (Begin)
    private List<Segment> Segments => _whole ? _wholeSegments : _cutSegments;  // the last or current step's form
    private long _replays, _nodeUpdates, _rebuilds, _fallbacks;
    private int _lastNodeCount, _lastUpdated;
    private string? _lastFallbackReason;
    private long _stepStartTicks, _hostTicks, _lastHostTicks;
    private GraphStepTimer? _timer;

    public CudaGraphStep(CudaContext context)
    {
        _context = context;
        _programmatic = KernelLibrary.UsesGridDependency(context);
    }

    /// <summary>True between <see cref="Begin"/> and the end of the step, unless it fell back.</summary>
    public bool IsRecording => _state == State.Recording;

    /// <summary>True between <see cref="Begin"/> and <see cref="End"/> or <see cref="Abandon"/>.</summary>
    public bool InStep => _state != State.Idle;

    /// <summary>True while an executable graph is kept for the next step.</summary>
    public bool HasGraph => Segments.Any(g => g.Exec is not null);

    public NnlCudaGraphStatistics Statistics
    {
        get
        {
            if (_state == State.Idle) _timer?.Collect();
            return new(_replays, _nodeUpdates, _rebuilds, _fallbacks, _lastNodeCount, _lastUpdated, _lastFallbackReason,
                _hostTicks * 1000.0 / Stopwatch.Frequency, _lastHostTicks * 1000.0 / Stopwatch.Frequency, _timer?.Timing);
        }
    }

    /// <summary>
    /// Time each step's segments with events (<see cref="GraphStepTimer"/>): the GPU's time in them and
    /// its idle time waiting for the host, in <see cref="Statistics"/>. Turning it off drops what was timed.
    /// </summary>
    public bool TimeSteps
    {
        get => _timer is not null;
        set
        {
            if (value == TimeSteps) return;
            if (value) _timer = new GraphStepTimer(_context);
            else { _timer!.Dispose(); _timer = null; }
        }
    }

    /// <param name="whole">
    /// Record everything after the first segment as one: the host records this step while the GPU still
    /// runs the one before (a greedy pipeline), so nothing is gained by starting early, and every segment
    /// boundary costs the GPU a drain and a launch (GPT-2-XL: 1.584 against 1.610 ms/token on the H200,
    /// 2026-11-21). Whole steps and cut ones keep separate graphs.
    /// </param>
    public void Begin(bool whole = false)
    {
        if (_state != State.Idle) throw new InvalidOperationException("A graph step is already open: end it (EndGraphStep) before beginning another.");
        _whole = whole;
        _timer?.Collect();
        _recording.Clear();
        _segment = 0;
        _stepNodes = _stepUpdated = 0;
        _state = State.Recording;
        _stepStartTicks = Stopwatch.GetTimestamp();
    }

    public void Record(CudaKernel kernel, (uint, uint, uint) grid, (uint, uint, uint) block, uint sharedBytes, ReadOnlySpan<KernelArg> args) =>
        _recording.Add(kernel, grid, block, sharedBytes, args);

    /// <summary>
    /// Stream work other than a kernel launch arrived mid-step: queue the launches recorded since the
    /// last cut, one by one, so that work runs after them as it would have; the rest of the step
    /// launches directly.
    /// </summary>
    public void FallBack(CudaStream stream, string reason)
    {
        if (_state != State.Recording) return;
        _state = State.FellBack;
        _fallbacks++;
        _timer?.Discard();
        _lastFallbackReason = reason;
        for (int i = 0; i < _recording.Count; i++)
        {
            var l = _recording[i];
            l.Kernel.Launch(stream, l.Grid, l.Block, l.SharedBytes, MemoryMarshal.Cast<ulong, KernelArg>(_recording.Args(i)));
        }
        _recording.Clear();
    }

    /// <summary>
    /// Launches a segment holds at least (but the first, which starts the GPU early, and the last):
    /// a cut that comes sooner records on. Between segments the GPU drains one graph before it
    /// starts the next, and no programmatic edge spans two graphs, so a segment per node (a GPT-2
    /// layer is 8 launches) paid that 48 times a step; the host records far faster than the GPU
    /// runs, so longer segments leave the GPU nothing to wait for. NNL_GRAPH_SEGMENT_LAUNCHES
    /// overrides the default (1 cuts at every node, as before).
    /// </summary>
    public int MinSegmentLaunches { get; set; } = DefaultMinSegmentLaunches;

    private static readonly int DefaultMinSegmentLaunches =
        int.TryParse(Environment.GetEnvironmentVariable("NNL_GRAPH_SEGMENT_LAUNCHES"), out int n) && n > 0 ? n : 32;

    /// <summary>
    /// The second segment's minimum, growing fourfold a segment up to <see cref="MinSegmentLaunches"/>:
    /// the first segment (one node, the embedding) keeps the GPU busy for a few microseconds only, so a
    /// full-sized second segment left it idle while the host recorded it (0.07 ms a resident GPT-2-XL
    /// step on the H200, timed with <see cref="TimeSteps"/>); short segments first let the GPU start while
    /// the host, about three times faster than the GPU a launch, gets ahead. 0 turns the ramp off
    /// (NNL_GRAPH_RAMP overrides the default of 4).
    /// </summary>
    public int SegmentRamp { get; set; } = DefaultSegmentRamp;

    private static readonly int DefaultSegmentRamp =
        int.TryParse(Environment.GetEnvironmentVariable("NNL_GRAPH_RAMP"), out int r) && r >= 0 ? r : 4;

    /// <summary>Launches segment <paramref name="index"/> (≥ 1) holds at least.</summary>
    internal int MinLaunchesOfSegment(int index)
    {
        if (SegmentRamp <= 0) return MinSegmentLaunches;
        long ramp = SegmentRamp;
        for (int k = 1; k < index && ramp < MinSegmentLaunches; k++) ramp *= 4;
        return (int)Math.Min(ramp, MinSegmentLaunches);
    }

    /// <summary>
    /// Launches what was recorded since the last cut as the step's next segment, when it is the
    /// first or holds its minimum (<see cref="SegmentRamp"/>, <see cref="MinSegmentLaunches"/>); recording goes on.
    /// </summary>
    public void Cut(CudaStream stream)
    {
        if (_state != State.Recording || _recording.Count == 0) return;
        if (_segment > 0 && (_whole || _recording.Count < MinLaunchesOfSegment(_segment))) return;
        LaunchSegment(stream);
    }

    /// <summary>Ends the step: replays the last segment on <paramref name="stream"/> (nothing more when the step fell back).</summary>
    public void End(CudaStream stream)
    {
        if (_state == State.Idle) throw new InvalidOperationException("No graph step is open (BeginGraphStep).");
        bool recorded = _state == State.Recording;
        if (recorded && _recording.Count > 0)
        {
            try { LaunchSegment(stream); }
            finally { _state = State.Idle; }
        }
        _state = State.Idle;
        if (recorded) _timer?.EndStep(stream);
        _lastHostTicks = Stopwatch.GetTimestamp() - _stepStartTicks;
        _hostTicks += _lastHostTicks;
        // A step that fell back counts as a fallback even if its first segments ran as graphs.
        if (!recorded || _stepNodes == 0) return;
        _replays++;
        _lastNodeCount = _stepNodes;
        _lastUpdated = _stepUpdated;
    }

    private void LaunchSegment(CudaStream stream)
    {
        var segments = Segments;
        if (_segment == segments.Count) segments.Add(new Segment());
        var g = segments[_segment++];
        try
        {
            int updated;
            if (g.Exec is not null && _recording.ChangedSince(g.Cached) is { } changed)
            {
                foreach (int i in changed)
                {
                    var l = _recording[i];
                    g.Exec.SetKernelNodeParams(g.Nodes[i], l.Kernel, l.Grid, l.Block, l.SharedBytes, _recording.Args(i));
                }
                updated = changed.Count;
            }
            else
            {
                Rebuild(g);
                updated = _recording.Count;
            }
            _timer?.BeforeSegment(stream);
            g.Exec!.Launch(stream);
            _timer?.AfterSegment(stream);
            _nodeUpdates += updated;
            _stepUpdated += updated;
            _stepNodes += _recording.Count;
            (g.Cached, _recording) = (_recording, g.Cached);
            _recording.Clear();
        }
        catch
        {
            // The executable may hold some of this step's parameters and not others: start over next step.
            g.Drop();
            _recording.Clear();
            _timer?.Discard();
            throw;
        }
    }

    /// <summary>Ends a step that failed: the launches recorded since the last cut are dropped, not run (the pass is abandoned).</summary>
    public void Abandon()
    {
        _state = State.Idle;
        _timer?.Discard();
        _recording.Clear();
    }

    private void Rebuild(Segment g)
    {
        g.Drop();
        _rebuilds++;
        var graph = new CudaGraph(_context);
        try
        {
            var nodes = new CudaGraphNode[_recording.Count];
            CudaGraphNode? previous = null;
            for (int i = 0; i < nodes.Length; i++)
            {
                var l = _recording[i];
                nodes[i] = graph.AddKernelNode(l.Kernel, l.Grid, l.Block, l.SharedBytes, _recording.Args(i), previous, _programmatic);
                previous = nodes[i];
            }
            g.Exec = graph.Instantiate();
            g.Graph = graph;
            g.Nodes = nodes;
        }
        catch
        {
            graph.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _state = State.Idle;
        foreach (var g in _cutSegments.Concat(_wholeSegments)) g.Dispose();
        _cutSegments.Clear();
        _wholeSegments.Clear();
        _timer?.Dispose();
        _timer = null;
        _recording.Clear();
    }
}
