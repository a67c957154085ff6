using Nnl.Engine.Commands;

namespace Nnl.Cli;

/// <summary>
/// The CLI's sink: records are printed as they arrive (a table is printed once the command ends so
/// columns line up, JSON lines stream), progress is one line rewritten on stderr.
/// </summary>
public sealed class CliSink : ICommandSink
{
    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly bool _json;
    private readonly bool _progressLine;
    private readonly List<object> _table = new();
    private int _lastProgressLength;

    /// <summary>Streamed text was printed without a line end: end the line before anything else.</summary>
    private bool _midStream;

    public CliSink(TextWriter output, TextWriter error, bool json, CancellationToken cancellation, bool progressLine)
    {
        _out = output;
        _err = error;
        _json = json;
        _progressLine = progressLine;
        Cancellation = cancellation;
    }

    public CancellationToken Cancellation { get; }
    public bool Verbose { get; init; }

    public void WriteRecord(object record)
    {
        ClearProgress();
        if (!_json && CliOutput.IsStreamed(record))
        {
            var piece = CliOutput.StreamText(record);
            _out.Write(piece);
            if (piece.Length > 0) _midStream = !piece.EndsWith('\n');
        }
        else
        {
            EndStreamedLine();
            if (record is string text) _out.WriteLine(text);
            else if (_json) _out.WriteLine(CliOutput.ToJson(record));
            else _table.Add(record);
        }
        _out.Flush();
    }

    public void WriteProgress(NnlProgress p)
    {
        if (!_progressLine) return;
        if (p.Completed) { ClearProgress(); return; }
        string line = p.PercentComplete >= 0 ? $"{p.Activity}: {p.Status} {p.PercentComplete}%" : $"{p.Activity}: {p.Status}";
        if (line.Length > 100) line = line[..100];
        _err.Write("\r" + line.PadRight(_lastProgressLength));
        _lastProgressLength = line.Length;
        _err.Flush();
    }

    public void WriteWarning(string message)
    {
        ClearProgress();
        _err.WriteLine("WARNING: " + message);
    }

    public void WriteVerbose(string message)
    {
        if (!Verbose) return;
        ClearProgress();
        _err.WriteLine("VERBOSE: " + message);
    }

    /// <summary>Prints the collected table (records of each type get their own table).</summary>
    public void Flush()
    {
        ClearProgress();
        EndStreamedLine();
        foreach (var group in _table.GroupBy(r => r.GetType()))
            _out.Write(CliOutput.Table(group.ToList()));
        _table.Clear();
        _out.Flush();
    }

    private void EndStreamedLine()
    {
        if (!_midStream) return;
        _out.WriteLine();
        _midStream = false;
    }

    private void ClearProgress()
    {
        if (_lastProgressLength == 0) return;
        _err.Write("\r" + new string(' ', _lastProgressLength) + "\r");
        _lastProgressLength = 0;
    }
}
