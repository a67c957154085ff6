using System.Management.Automation;
using Nnl.Engine.Commands;

namespace Nnl.PowerShell.Cmdlets;

/// <summary>The text of token ids; piped ids (or NnlToken objects, by their Id) are collected and decoded as one sequence.</summary>
[Cmdlet(VerbsData.ConvertFrom, "NnlToken")]
[OutputType(typeof(string))]
public sealed class ConvertFromNnlTokenCommand : NnlCmdlet
{
    private readonly List<int> _ids = new();

    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(Completers.ModelPathCompleter))]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, int.MaxValue)]
    public int[] Id { get; set; } = [];

    [Parameter]
    public SwitchParameter SkipSpecialTokens { get; set; }

    protected override void ProcessRecord() => _ids.AddRange(Id);

    protected override void EndProcessing() => Run(new ConvertFromTokenCommand
    {
        Path = GetUnresolvedProviderPathFromPSPath(Path),
        Ids = _ids.ToArray(),
        SkipSpecialTokens = SkipSpecialTokens,
    }, Path);
}
