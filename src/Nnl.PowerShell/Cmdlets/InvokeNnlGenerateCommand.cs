using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Generation;

namespace Nnl.PowerShell.Cmdlets;

/// <summary>
/// Continues prompts with a model. Piped prompts are batched (collected, then generated together at
/// the end) unless -Stream, which generates each prompt as it arrives and writes its tokens live.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "NnlGenerate")]
[OutputType(typeof(NnlGenerationResult), typeof(NnlGeneratedToken))]
public sealed class InvokeNnlGenerateCommand : NnlCmdlet
{
    private readonly List<(NnlModel Model, string Prompt)> _batch = new();

    [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    public NnlModel? Model { get; set; }

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string[] Prompt { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 1 << 20)]
    public int? MaxNewTokens { get; set; }

    [Parameter]
    [ValidateRange(0.0, 100.0)]
    public double? Temperature { get; set; }

    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? TopK { get; set; }

    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double? TopP { get; set; }

    [Parameter]
    [ValidateRange(0.0, 100.0)]
    public double? RepetitionPenalty { get; set; }

    [Parameter]
    public int? Seed { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? StopString { get; set; }

    [Parameter]
    public SwitchParameter Stream { get; set; }

    protected override void ProcessRecord()
    {
        if (Stream) Run(Command(Model!, Prompt), Model);
        else _batch.AddRange(Prompt.Select(p => (Model!, p)));
    }

    protected override void EndProcessing()
    {
        // By reference: two imports of one directory are two models.
        foreach (var group in _batch.GroupBy(b => b.Model, (IEqualityComparer<NnlModel>)ReferenceEqualityComparer.Instance))
            Run(Command(group.Key, group.Select(b => b.Prompt).ToArray()), group.Key);
    }

    private InvokeGenerateCommand Command(NnlModel model, IReadOnlyList<string> prompts) => new()
    {
        Model = model,
        Prompt = prompts,
        MaxNewTokens = MaxNewTokens,
        Temperature = Temperature,
        TopK = TopK,
        TopP = TopP,
        RepetitionPenalty = RepetitionPenalty,
        Seed = Seed,
        StopStrings = StopString,
        Stream = Stream,
    };
}
