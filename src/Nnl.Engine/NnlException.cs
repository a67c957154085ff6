namespace Nnl.Engine;

/// <summary>
/// Base of every failure family Nnl raises. <see cref="ErrorId"/> is the stable id that cmdlets put
/// into their ErrorRecord and that the CLI prints, so scripts can match on it.
/// </summary>
public abstract class NnlException : Exception
{
    protected NnlException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Stable error id, for example "CudaDriverNotFound" or "ModelFormatInvalid".</summary>
    public abstract string ErrorId { get; }

    /// <summary>The PowerShell ErrorCategory name that fits (kept as a string: no PowerShell reference here).</summary>
    public abstract string Category { get; }
}

/// <summary>A parameter value that cannot work (a zero size, an unknown preset, a range the wrong way round).</summary>
public sealed class NnlArgumentException : NnlException
{
    public NnlArgumentException(string parameterName, string message) : base($"{parameterName}: {message}")
    {
        ParameterName = parameterName;
    }

    public string ParameterName { get; }
    public override string ErrorId => "InvalidArgument";
    public override string Category => "InvalidArgument";
}
