using Nnl.Engine.Cuda;

namespace Nnl.Engine.Tests;

/// <summary>
/// A fact that needs an NVIDIA GPU and driver; skipped (not failed) without one. Put
/// [Trait("Category", "Gpu")] on the class too, so `-trait "Category=Gpu"` selects these tests.
/// </summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute([System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
        [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1) : base(sourceFilePath, sourceLineNumber)
    {
        if (!Gpu.Available) Skip = "needs an NVIDIA GPU and driver";
    }
}

/// <summary>A theory that needs a GPU; see <see cref="GpuFactAttribute"/>.</summary>
public sealed class GpuTheoryAttribute : TheoryAttribute
{
    public GpuTheoryAttribute([System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
        [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1) : base(sourceFilePath, sourceLineNumber)
    {
        if (!Gpu.Available) Skip = "needs an NVIDIA GPU and driver";
    }
}

/// <summary>A fact about behaviour on machines WITHOUT a driver; skipped where there is one.</summary>
public sealed class NoGpuFactAttribute : FactAttribute
{
    public NoGpuFactAttribute([System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
        [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1) : base(sourceFilePath, sourceLineNumber)
    {
        if (Gpu.Available) Skip = "this machine has a GPU driver";
    }
}

public static class Gpu
{
    public static bool Available { get; } = CudaDriver.IsAvailable;

    /// <summary>Device 0's primary context, for GPU tests.</summary>
    public static CudaContext Context => CudaContext.ForDevice(0);
}

/// <summary>
/// GPU tests that use the device's memory pool or measure device memory: they share one pool and
/// one budget, so they run one at a time and never beside other collections.
/// </summary>
[CollectionDefinition("Gpu", DisableParallelization = true)]
public sealed class GpuCollection;
