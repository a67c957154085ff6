namespace Nnl.Engine.Models;

/// <summary>
/// Where a model's weights come from, as little as a loader needs: the tensor list, and a way to
/// put one tensor's bytes at a given address. Files (<see cref="WeightCatalog"/> copies from its
/// mapped safetensors) and generated weights (<see cref="Synthetic.SyntheticWeights"/> computes the
/// values in place) both fit, so an offload packer can fill its pinned per-node buffers straight
/// from either, with no copy in between.
/// </summary>
public unsafe interface IWeightSource
{
    /// <summary>The model directory, or a name such as "preset:llama-2-13b" for generated weights.</summary>
    string Name { get; }

    /// <summary>Every tensor, in storage order (for a generated model: the order of the computation table).</summary>
    IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>
    /// Writes <see cref="TensorInfo.ByteCount"/> bytes of <paramref name="tensor"/> to
    /// <paramref name="destination"/>. Safe to call for different tensors from several threads.
    /// </summary>
    void CopyTo(TensorInfo tensor, byte* destination);
}
