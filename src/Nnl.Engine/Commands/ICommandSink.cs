namespace Nnl.Engine.Commands;

/// <summary>
/// Where a command writes. The cmdlet (WriteObject/WriteProgress/WriteWarning), the CLI (table,
/// JSON, a progress line on stderr) and the tests (lists) each implement it, so every command's
/// behaviour is reachable from xunit.
/// </summary>
public interface ICommandSink
{
    /// <summary>One output object (a record) for the pipeline.</summary>
    void WriteRecord(object record);

    void WriteProgress(NnlProgress progress);

    void WriteWarning(string message);

    void WriteVerbose(string message);

    /// <summary>Cancelled by Ctrl+C (StopProcessing in pwsh, Console.CancelKeyPress in the CLI).</summary>
    CancellationToken Cancellation { get; }
}

/// <summary>
/// A progress update. One <see cref="ActivityId"/> per operation; the last update of an activity
/// has <see cref="Completed"/> set, so hosts can clear their progress bar.
/// </summary>
public sealed record NnlProgress(
    int ActivityId,
    string Activity,
    string Status,
    int PercentComplete = -1,
    string? CurrentOperation = null,
    bool Completed = false,
    int ParentActivityId = -1);
