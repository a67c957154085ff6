using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Tokenizers;

namespace Nnl.PowerShell.Cmdlets;

/// <summary>The tokens of texts under a model directory's tokenizer; piped texts are collected and tokenized with one tokenizer load.</summary>
[Cmdlet(VerbsData.ConvertTo, "NnlToken")]
[OutputType(typeof(NnlToken))]
public sealed class ConvertToNnlTokenCommand : NnlCmdlet
{
    private readonly List<string> _texts = new();

    [Parameter(Mandatory = true, Position = 0)]
    [ArgumentCompleter(typeof(Completers.ModelPathCompleter))]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string[] Text { get; set; } = [];

    [Parameter]
    public SwitchParameter AddSpecialTokens { get; set; }

    protected override void ProcessRecord() => _texts.AddRange(Text);

    protected override void EndProcessing() => Run(new ConvertToTokenCommand
    {
        Path = GetUnresolvedProviderPathFromPSPath(Path),
        Text = _texts.ToArray(),
        AddSpecialTokens = AddSpecialTokens,
    }, Path);
}
