using System.Management.Automation;
using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;
using Nnl.Engine.Transfer;

namespace Nnl.PowerShell.Cmdlets;

[Cmdlet(VerbsDiagnostic.Measure, "NnlTransfer", DefaultParameterSetName = SizeSet)]
[OutputType(typeof(NnlTransferResult))]
public sealed class MeasureNnlTransferCommand : NnlCmdlet
{
    private const string SizeSet = "Size", ShmooSet = "Shmoo", RangeSet = "Range", TensorsSet = "Tensors";

    [Parameter]
    [ArgumentCompleter(typeof(Completers.DeviceCompleter))]
    [ValidateRange(0, 1024)]
    public int Device { get; set; }

    [Parameter]
    public TransferDirection[]? Direction { get; set; }

    [Parameter]
    public HostMemoryKind[]? HostMemory { get; set; }

    [Parameter]
    public TransferMechanism[]? Mechanism { get; set; }

    [Parameter(ParameterSetName = SizeSet, Position = 0)]
    public long[]? Size { get; set; }

    [Parameter(ParameterSetName = ShmooSet, Mandatory = true)]
    public SwitchParameter Shmoo { get; set; }

    [Parameter(ParameterSetName = ShmooSet)]
    public SwitchParameter Extended { get; set; }

    [Parameter(ParameterSetName = RangeSet, Mandatory = true)]
    [ValidateCount(3, 3)]
    public long[]? Range { get; set; }

    [Parameter(ParameterSetName = TensorsSet)]
    public long[]? TensorSizes { get; set; }

    [Parameter(ParameterSetName = TensorsSet)]
    [ValidateSet("llama-2-7b-block")]
    public string? TensorSet { get; set; }

    [Parameter]
    [ValidateRange(1, 64)]
    public int Streams { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? ChunkSize { get; set; }

    [Parameter]
    [ValidateRange(1, 100000)]
    public int Iterations { get; set; } = 10;

    [Parameter]
    [ValidateRange(1, 100000)]
    public int CopiesPerSample { get; set; } = 16;

    [Parameter]
    [ValidateRange(0, 100000)]
    public int WarmupCopies { get; set; } = 4;

    [Parameter]
    [ValidateRange(0, 1024)]
    public int? PeerDevice { get; set; }

    protected override void EndProcessing() => Run(new MeasureTransferCommand
    {
        Device = Device, Direction = Direction, HostMemory = HostMemory, Mechanism = Mechanism,
        Size = Size, Shmoo = Shmoo, Extended = Extended, Range = Range, TensorSizes = TensorSizes, TensorSet = TensorSet,
        Streams = Streams, ChunkSize = ChunkSize, Iterations = Iterations, CopiesPerSample = CopiesPerSample,
        WarmupCopies = WarmupCopies, PeerDevice = PeerDevice,
    }, Device);
}
