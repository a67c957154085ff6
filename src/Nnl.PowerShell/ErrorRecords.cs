using System.Management.Automation;
using Nnl.Engine;

namespace Nnl.PowerShell;

/// <summary>Maps Nnl exceptions to ErrorRecords: the exception's stable id and its category.</summary>
internal static class ErrorRecords
{
    public static ErrorRecord From(NnlException e, object? target) =>
        new(e, e.ErrorId, Enum.TryParse(e.Category, out ErrorCategory c) ? c : ErrorCategory.NotSpecified, target);
}
