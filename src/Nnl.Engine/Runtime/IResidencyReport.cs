namespace Nnl.Engine.Runtime;

/// <summary>
/// What a runner keeps on the device for good, as its plan decided under the memory budget. The
/// CPU engine keeps everything; an offload runner implements this so benchmarks can report it.
/// </summary>
public interface IResidencyReport
{
    /// <summary>Nodes of the computation table whose weights stay on the device.</summary>
    int ResidentNodes { get; }

    /// <summary>Bytes of weights that stay on the device.</summary>
    long ResidentWeightBytes { get; }
}
