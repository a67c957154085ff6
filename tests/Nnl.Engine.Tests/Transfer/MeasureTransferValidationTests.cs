using Nnl.Cli;
using Nnl.Cli.Verbs;
using Nnl.Engine.Commands;
using Nnl.Engine.Cuda;
using Nnl.Engine.Transfer;

namespace Nnl.Engine.Tests.Transfer;

/// <summary>Every check here runs before the driver is touched, so it holds on machines without a GPU.</summary>
public class MeasureTransferValidationTests
{
    public static TheoryData<string, Func<MeasureTransferCommand>> BadCommands => new()
    {
        { "Size", () => new MeasureTransferCommand { Size = [4096, 0] } },
        { "Size", () => new MeasureTransferCommand { Size = [-1] } },
        { "Device", () => new MeasureTransferCommand { Device = -1 } },
        { "Size", () => new MeasureTransferCommand { Size = [4096], Shmoo = true } },
        { "Extended", () => new MeasureTransferCommand { Extended = true } },
        { "Range", () => new MeasureTransferCommand { Range = [1000, 10] } },
        { "Range", () => new MeasureTransferCommand { Range = [5000, 1000, 10] } },
        { "Range", () => new MeasureTransferCommand { Range = [1000, 5000, 0] } },
        { "Streams", () => new MeasureTransferCommand { Streams = 0 } },
        { "ChunkSize", () => new MeasureTransferCommand { ChunkSize = 0 } },
        { "ChunkSize", () => new MeasureTransferCommand { ChunkSize = 1000 + 3, Mechanism = [TransferMechanism.Kernel] } },
        { "Iterations", () => new MeasureTransferCommand { Iterations = 0 } },
        { "CopiesPerSample", () => new MeasureTransferCommand { CopiesPerSample = 0 } },
        { "WarmupCopies", () => new MeasureTransferCommand { WarmupCopies = -1 } },
        { "TensorSet", () => new MeasureTransferCommand { TensorSet = "no-such-model" } },
        { "TensorSizes", () => new MeasureTransferCommand { TensorSizes = [4096, -2] } },
        { "TensorSizes", () => new MeasureTransferCommand { TensorSizes = [4096], TensorSet = "llama-2-7b-block" } },
        { "Direction", () => new MeasureTransferCommand { TensorSet = "llama-2-7b-block", Direction = [TransferDirection.DeviceToHost] } },
        { "PeerDevice", () => new MeasureTransferCommand { PeerDevice = 1 } },
        { "PeerDevice", () => new MeasureTransferCommand { Direction = [TransferDirection.PeerToPeer], PeerDevice = 0 } },
        { "Mechanism", () => new MeasureTransferCommand { HostMemory = [HostMemoryKind.Pageable], Mechanism = [TransferMechanism.Kernel] } },
    };

    [Theory]
    [MemberData(nameof(BadCommands))]
    public void BadParametersFailBeforeTheDriverIsTouched(string parameter, Func<MeasureTransferCommand> make)
    {
        var e = Assert.Throws<NnlArgumentException>(() => make().Execute(new CollectingSink()));
        Assert.Equal(parameter, e.ParameterName);
        Assert.Equal("InvalidArgument", e.ErrorId);
    }

    [Fact]
    public void DefaultsAreBandwidthTestsQuickSizeBothHostDirectionsPinnedCopyEngine()
    {
        var c = new MeasureTransferCommand();
        c.Validate();
        Assert.Equal([TransferSizes.QuickBytes], c.Sizes());
        var configs = c.Configurations();
        Assert.Equal(
            [new TransferConfig(TransferDirection.HostToDevice, HostMemoryKind.Pinned, TransferMechanism.CopyEngine),
             new TransferConfig(TransferDirection.DeviceToHost, HostMemoryKind.Pinned, TransferMechanism.CopyEngine)], configs);
        Assert.Equal(81, new MeasureTransferCommand { Shmoo = true }.Sizes().Count);
        Assert.Equal(1_000_000_000, new MeasureTransferCommand { Shmoo = true, Extended = true }.Sizes()[^1]);
        Assert.Equal([1000L, 3000, 5000], new MeasureTransferCommand { Range = [1000, 5000, 2000] }.Sizes());
    }

    [Fact]
    public void ConfigurationsCrossDirectionsMemoriesAndMechanismsSkippingWhatCannotRun()
    {
        var notes = new List<string>();
        var configs = TransferConfig.Expand(
            [TransferDirection.HostToDevice, TransferDirection.DeviceToDevice, TransferDirection.PeerToPeer, TransferDirection.Bidirectional],
            [HostMemoryKind.Pageable, HostMemoryKind.Mapped], [TransferMechanism.CopyEngine, TransferMechanism.Kernel], notes.Add);
        // HostToDevice and Bidirectional: 2 memories x 2 mechanisms minus Pageable Kernel = 3 each.
        Assert.Equal(3, configs.Count(c => c.Direction == TransferDirection.HostToDevice));
        Assert.Equal(3, configs.Count(c => c.Direction == TransferDirection.Bidirectional));
        Assert.DoesNotContain(configs, c => c is { HostMemory: HostMemoryKind.Pageable, Mechanism: TransferMechanism.Kernel });
        Assert.Equal(2, notes.Count);
        // Device-to-device touches no host memory: one per mechanism.
        Assert.Equal(2, configs.Count(c => c is { Direction: TransferDirection.DeviceToDevice, HostMemory: null }));
        // Peer: copy engine with access off and on; the kernel only with access on.
        var peer = configs.Where(c => c.Direction == TransferDirection.PeerToPeer).ToArray();
        Assert.Equal(3, peer.Length);
        Assert.Contains(peer, c => c is { Mechanism: TransferMechanism.CopyEngine, PeerAccess: false });
        Assert.Contains(peer, c => c is { Mechanism: TransferMechanism.CopyEngine, PeerAccess: true });
        Assert.DoesNotContain(peer, c => c is { Mechanism: TransferMechanism.Kernel, PeerAccess: false });
        Assert.Equal(2 * 5000L, new TransferConfig(TransferDirection.DeviceToDevice, null, TransferMechanism.CopyEngine).DeviceBytes(5000));
    }

    [Fact]
    public void TheCliVerbBuildsTheSameCommand()
    {
        var args = new CliArgs(["--device", "1", "--direction", "h2d,bidir", "--memory", "pinned,wc,Registered", "--mechanism", "ce,kernel",
            "--range", "1MB,4MB,1MB", "--streams", "4", "--chunk-size", "64KiB", "--iterations", "7", "--copies", "3", "--warmup", "2"],
            ["shmoo", "extended", "json"]);
        var c = (MeasureTransferCommand)new TransferVerb().CreateCommand(args);
        Assert.Empty(args.Unused);
        Assert.Equal(1, c.Device);
        Assert.Equal([TransferDirection.HostToDevice, TransferDirection.Bidirectional], c.Direction);
        Assert.Equal([HostMemoryKind.Pinned, HostMemoryKind.WriteCombined, HostMemoryKind.Registered], c.HostMemory);
        Assert.Equal([TransferMechanism.CopyEngine, TransferMechanism.Kernel], c.Mechanism);
        Assert.Equal([1L << 20, 4L << 20, 1L << 20], c.Range!);
        Assert.Equal((4, 64L << 10, 7, 3, 2), (c.Streams, c.ChunkSize, c.Iterations, c.CopiesPerSample, c.WarmupCopies));

        var shmoo = (MeasureTransferCommand)new TransferVerb().CreateCommand(new CliArgs(["--shmoo", "--extended", "--tensor-set", "llama-2-7b-block"], ["shmoo", "extended"]));
        Assert.True(shmoo.Shmoo && shmoo.Extended);
        Assert.Equal("llama-2-7b-block", shmoo.TensorSet);
    }

    [Fact]
    public void TheCliNamesABadDirectionAndRejectsAZeroSizeWithExitCode2()
    {
        var e = Assert.Throws<NnlArgumentException>(() => new TransferVerb().CreateCommand(new CliArgs(["--direction", "sideways"])));
        Assert.Equal("--direction", e.ParameterName);

        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(2, CliApp.Run(["transfer", "--size", "0"], output, error));
        Assert.Contains("[InvalidArgument]", error.ToString());
        Assert.Contains("Size", error.ToString());
    }
}

public class TransferOutputTests
{
    private static NnlTransferResult Sample(HostMemoryKind? memory, TransferDirection direction) => new(
        Device: 0, DeviceName: "GPU", Direction: direction, Leg: direction, HostMemory: memory, Mechanism: TransferMechanism.Kernel,
        Streams: 2, ChunkBytes: 4096, Bytes: 64_000_000, Iterations: 5, CopiesPerSample: 16,
        MinGBps: 50.5, MedianGBps: 55.25, MaxGBps: 56, MinMicroseconds: 1142, MedianMicroseconds: 1158, MaxMicroseconds: 1267, Verified: true);

    [Fact]
    public void JsonNamesEnumsAndLeavesAbsentHostMemoryNull()
    {
        string pinned = Nnl.Cli.CliOutput.ToJson(Sample(HostMemoryKind.Pinned, TransferDirection.HostToDevice));
        Assert.Contains("\"HostMemory\":\"Pinned\"", pinned);
        Assert.Contains("\"Direction\":\"HostToDevice\"", pinned);
        Assert.Contains("\"Mechanism\":\"Kernel\"", pinned);
        Assert.Contains("\"MedianGBps\":55.25", pinned);
        Assert.Contains("\"HostMemory\":null", Nnl.Cli.CliOutput.ToJson(Sample(null, TransferDirection.DeviceToDevice)));
    }

    [Fact]
    public void TheCliTableShowsTheCompactColumns()
    {
        string table = Nnl.Cli.CliOutput.Table([Sample(HostMemoryKind.Mapped, TransferDirection.DeviceToHost), Sample(null, TransferDirection.DeviceToDevice)]);
        var header = table.Split('\n')[0];
        Assert.StartsWith("Device", header);
        Assert.Contains("MedianGBps", header);
        Assert.DoesNotContain("DeviceName", header);
        Assert.Contains("55.250", table);
        Assert.Contains("Mapped", table);
    }
}
