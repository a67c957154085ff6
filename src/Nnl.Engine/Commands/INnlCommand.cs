namespace Nnl.Engine.Commands;

/// <summary>
/// One user-facing command (Get-NnlDevice / `nnl device`, ...): typed parameters are properties of
/// the implementing class, results go to the sink. Errors are thrown as <see cref="NnlException"/>s.
/// </summary>
public interface INnlCommand
{
    void Execute(ICommandSink sink);
}
