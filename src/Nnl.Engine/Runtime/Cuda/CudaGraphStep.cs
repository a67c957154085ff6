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
public sealed record NnlCudaGraphStatistics(long Replays, long NodeUpdates, long Rebuilds, long Fallbacks,
    int LastNodeCount, int LastUpdatedNodes, string? LastFallbackReason);

/// <summary>
/// Records a step's kernel launches and replays them as one CUDA graph. The graph of the last step
/// is kept: a step with the same kernels in the same order updates only the nodes whose grid or
/// arguments changed (attention's split count, a pointer the pool handed out elsewhere) and
/// launches it; any other step builds a new linear chain. Not thread-safe (the backend is not).
/// </summary>
internal sealed class CudaGraphStep : IDisposable
{
    private enum State { Idle, Recording, FellBack }

    private readonly CudaContext _context;
    private LaunchRecord _recording = new();
    private LaunchRecord _cached = new();     // what _exec's nodes hold now
    private CudaGraph? _graph;
    private CudaGraphExec? _exec;
    private CudaGraphNode[] _nodes = [];
    private State _state;
    private long _replays, _nodeUpdates, _rebuilds, _fallbacks;
    private int _lastNodeCount, _lastUpdated;
    private string? _lastFallbackReason;

    public CudaGraphStep(CudaContext context) => _context = context;

    /// <summary>True between <see cref="Begin"/> and the end of the step, unless it fell back.</summary>
    public bool IsRecording => _state == State.Recording;

    /// <summary>True between <see cref="Begin"/> and <see cref="End"/> or <see cref="Abandon"/>.</summary>
    public bool InStep => _state != State.Idle;

    /// <summary>True while an executable graph is kept for the next step.</summary>
    public bool HasGraph => _exec is not null;

    public NnlCudaGraphStatistics Statistics =>
        new(_replays, _nodeUpdates, _rebuilds, _fallbacks, _lastNodeCount, _lastUpdated, _lastFallbackReason);

    public void Begin()
    {
        if (_state != State.Idle) throw new InvalidOperationException("A graph step is already open: end it (EndGraphStep) before beginning another.");
        _recording.Clear();
        _state = State.Recording;
    }

    public void Record(CudaKernel kernel, (uint, uint, uint) grid, (uint, uint, uint) block, uint sharedBytes, ReadOnlySpan<KernelArg> args) =>
        _recording.Add(kernel, grid, block, sharedBytes, args);

    /// <summary>
    /// Stream work other than a kernel launch arrived mid-step: queue the launches recorded so far,
    /// one by one, so that work runs after them as it would have; the rest of the step launches directly.
    /// </summary>
    public void FallBack(CudaStream stream, string reason)
    {
        if (_state != State.Recording) return;
        _state = State.FellBack;
        _fallbacks++;
        _lastFallbackReason = reason;
        for (int i = 0; i < _recording.Count; i++)
        {
            var l = _recording[i];
            l.Kernel.Launch(stream, l.Grid, l.Block, l.SharedBytes, MemoryMarshal.Cast<ulong, KernelArg>(_recording.Args(i)));
        }
        _recording.Clear();
    }

    /// <summary>Ends the step: replays the recorded launches as a graph on <paramref name="stream"/> (nothing when the step fell back).</summary>
    public void End(CudaStream stream)
    {
        if (_state == State.Idle) throw new InvalidOperationException("No graph step is open (BeginGraphStep).");
        bool recorded = _state == State.Recording;
        _state = State.Idle;
        if (!recorded || _recording.Count == 0) return;
        try
        {
            int updated;
            if (_exec is not null && _recording.SameKernels(_cached))
            {
                updated = 0;
                for (int i = 0; i < _recording.Count; i++)
                {
                    if (_recording.SameLaunch(i, _cached)) continue;
                    var l = _recording[i];
                    _exec.SetKernelNodeParams(_nodes[i], l.Kernel, l.Grid, l.Block, l.SharedBytes, _recording.Args(i));
                    updated++;
                }
            }
            else
            {
                Rebuild();
                updated = _recording.Count;
            }
            _exec!.Launch(stream);
            _replays++;
            _nodeUpdates += updated;
            _lastUpdated = updated;
            _lastNodeCount = _recording.Count;
            (_cached, _recording) = (_recording, _cached);
            _recording.Clear();
        }
        catch
        {
            // The executable may hold some of this step's parameters and not others: start over next step.
            DropGraph();
            throw;
        }
    }

    /// <summary>Ends a step that failed: the recorded launches are dropped, not run (the pass is abandoned).</summary>
    public void Abandon()
    {
        _state = State.Idle;
        _recording.Clear();
    }

    private void Rebuild()
    {
        DropGraph();
        _rebuilds++;
        var graph = new CudaGraph(_context);
        try
        {
            var nodes = new CudaGraphNode[_recording.Count];
            CudaGraphNode? previous = null;
            for (int i = 0; i < nodes.Length; i++)
            {
                var l = _recording[i];
                nodes[i] = graph.AddKernelNode(l.Kernel, l.Grid, l.Block, l.SharedBytes, _recording.Args(i), previous);
                previous = nodes[i];
            }
            _exec = graph.Instantiate();
            _graph = graph;
            _nodes = nodes;
        }
        catch
        {
            graph.Dispose();
            throw;
        }
    }

    private void DropGraph()
    {
        _exec?.Dispose();
        _exec = null;
        _graph?.Dispose();
        _graph = null;
        _nodes = [];
        _cached.Clear();
    }

    public void Dispose()
    {
        _state = State.Idle;
        DropGraph();
        _recording.Clear();
    }
}
