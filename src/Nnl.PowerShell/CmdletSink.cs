using System.Management.Automation;
using Nnl.Engine.Commands;

namespace Nnl.PowerShell;

/// <summary>Writes a command's records, progress, warnings and verbose text to a cmdlet.</summary>
internal sealed class CmdletSink : ICommandSink
{
    private readonly Cmdlet _cmdlet;
    private readonly Dictionary<int, ProgressRecord> _open = new();

    public CmdletSink(Cmdlet cmdlet, CancellationToken cancellation)
    {
        _cmdlet = cmdlet;
        Cancellation = cancellation;
    }

    public CancellationToken Cancellation { get; }

    public void WriteRecord(object record) => _cmdlet.WriteObject(record);

    public void WriteProgress(NnlProgress p)
    {
        var record = new ProgressRecord(p.ActivityId, p.Activity, string.IsNullOrEmpty(p.Status) ? p.Activity : p.Status)
        {
            PercentComplete = Math.Clamp(p.PercentComplete, -1, 100),
            CurrentOperation = p.CurrentOperation,
            ParentActivityId = p.ParentActivityId,
            RecordType = p.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
        if (p.Completed) _open.Remove(p.ActivityId); else _open[p.ActivityId] = record;
        _cmdlet.WriteProgress(record);
    }

    public void WriteWarning(string message) => _cmdlet.WriteWarning(message);

    public void WriteVerbose(string message) => _cmdlet.WriteVerbose(message);

    /// <summary>A command that failed or was stopped may leave a bar open; always close it.</summary>
    public void CompleteOpenActivities()
    {
        foreach (var record in _open.Values.ToArray())
        {
            record.RecordType = ProgressRecordType.Completed;
            try { _cmdlet.WriteProgress(record); } catch (PipelineStoppedException) { }
        }
        _open.Clear();
    }
}
