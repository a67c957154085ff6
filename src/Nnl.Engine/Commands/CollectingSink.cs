namespace Nnl.Engine.Commands;

/// <summary>A sink that keeps everything it is given: for tests and for callers that want a list.</summary>
public sealed class CollectingSink : ICommandSink
{
    private readonly List<object> _records = new();
    private readonly List<NnlProgress> _progress = new();
    private readonly List<string> _warnings = new();
    private readonly List<string> _verbose = new();
    private readonly Action<object>? _onRecord;

    public CollectingSink(CancellationToken cancellation = default, Action<object>? onRecord = null)
    {
        Cancellation = cancellation;
        _onRecord = onRecord;
    }

    public CancellationToken Cancellation { get; }
    public IReadOnlyList<object> Records { get { lock (_records) return _records.ToArray(); } }
    public IReadOnlyList<NnlProgress> Progress { get { lock (_progress) return _progress.ToArray(); } }
    public IReadOnlyList<string> Warnings { get { lock (_warnings) return _warnings.ToArray(); } }
    public IReadOnlyList<string> Verbose { get { lock (_verbose) return _verbose.ToArray(); } }

    public IEnumerable<T> RecordsOf<T>() => Records.OfType<T>();

    public void WriteRecord(object record)
    {
        lock (_records) _records.Add(record);
        _onRecord?.Invoke(record);
    }

    public void WriteProgress(NnlProgress progress) { lock (_progress) _progress.Add(progress); }
    public void WriteWarning(string message) { lock (_warnings) _warnings.Add(message); }
    public void WriteVerbose(string message) { lock (_verbose) _verbose.Add(message); }
}
