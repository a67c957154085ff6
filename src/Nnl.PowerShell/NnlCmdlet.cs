using System.Management.Automation;
using Nnl.Engine;
using Nnl.Engine.Commands;

namespace Nnl.PowerShell;

/// <summary>
/// Base of every Nnl cmdlet: runs an engine command against a sink that writes to this cmdlet,
/// turns Ctrl+C (StopProcessing) into cancellation, and Nnl exceptions into ErrorRecords with stable ids.
/// Cmdlet bodies stay one line: <c>Run(new XCommand { ... })</c>.
/// </summary>
public abstract class NnlCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _stop = new();

    protected CancellationToken StopToken => _stop.Token;

    protected override void StopProcessing() => _stop.Cancel();

    protected void Run(INnlCommand command, object? target = null)
    {
        var sink = new CmdletSink(this, _stop.Token);
        try
        {
            command.Execute(sink);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Ctrl+C: the command has released what it held; PowerShell ends the pipeline.
        }
        catch (NnlException e)
        {
            ThrowTerminatingError(ErrorRecords.From(e, target));
        }
        finally
        {
            sink.CompleteOpenActivities();
        }
    }

    /// <summary>Reports one bad item (for example one prompt) and lets the pipeline go on.</summary>
    protected void RunForItem(INnlCommand command, object? target)
    {
        try
        {
            command.Execute(new CmdletSink(this, _stop.Token));
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (NnlException e)
        {
            WriteError(ErrorRecords.From(e, target));
        }
    }
}
