namespace Nnl.Engine.Generation;

/// <summary>
/// Streams generated text while watching for stop strings: text that could be the start of a stop
/// string is held back until the next token decides, so nothing of a stop string is ever emitted.
/// </summary>
internal sealed class StopStringFilter
{
    private readonly IReadOnlyList<string> _stops;
    private string _pending = "";

    public StopStringFilter(IReadOnlyList<string> stops) { _stops = stops; }

    public bool Stopped { get; private set; }

    /// <summary>Adds decoded text; returns what may be shown now.</summary>
    public string Push(string text)
    {
        if (Stopped || text.Length == 0) return "";
        if (_stops.Count == 0) return text;
        var buffer = _pending + text;

        var cut = -1;
        foreach (var s in _stops)
        {
            var at = buffer.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _pending = "";
            return buffer[..cut];
        }

        // Hold back the longest suffix that is a prefix of some stop string.
        var hold = 0;
        foreach (var s in _stops)
            for (var len = Math.Min(s.Length - 1, buffer.Length); len > hold; len--)
                if (string.CompareOrdinal(buffer, buffer.Length - len, s, 0, len) == 0) { hold = len; break; }
        _pending = buffer[^hold..];
        return buffer[..^hold];
    }

    /// <summary>End of generation: what was held back is ordinary text after all.</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }
}
