using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// Moves test data to and from a <see cref="CudaBackend"/> and collects every mismatch of a test
/// (all dtypes and paths of one shape) before failing, so one run shows the whole picture.
/// </summary>
internal sealed class GpuHarness : IDisposable
{
    private readonly List<string> _failures = new();

    public GpuHarness() { Backend = new CudaBackend(Gpu.Context); }

    public CudaBackend Backend { get; }

    public static TensorDType ToTensorDType(KernelDType t) => t switch
    {
        KernelDType.F16 => TensorDType.F16,
        KernelDType.BF16 => TensorDType.BF16,
        _ => TensorDType.F32,
    };

    public static readonly KernelDType[] AllTypes = [KernelDType.F16, KernelDType.BF16, KernelDType.F32];

    /// <summary>An F32 activation [rows, cols] holding <paramref name="values"/> (already fp32-representable).</summary>
    public BackendTensor Activation(string name, double[] values, long rows, long cols)
    {
        var t = Backend.Allocate(name, TensorDType.F32, rows, cols);
        Backend.Upload(t, KernelData.ToFloats(values));
        return t;
    }

    /// <summary>A weight of <paramref name="type"/> through CreateWeight, as a model's tensors arrive.</summary>
    public unsafe BackendTensor Weight(string name, double[] values, KernelDType type, params long[] shape)
    {
        var bytes = KernelData.ToBytes(values, type);
        var info = new TensorInfo(name, ToTensorDType(type), shape, "test", 0, bytes.Length);
        fixed (byte* p = bytes) return Backend.CreateWeight(info, new WeightBytes(p, bytes.Length));
    }

    public float[] Download(BackendTensor t)
    {
        var result = new float[t.ElementCount];
        Backend.Download(t, result);
        return result;
    }

    public void Check(float[] actual, double[] reference, double maxNmse, string what, double normFloor = 0)
    {
        if (KernelData.Mismatch(actual, reference, maxNmse, what, normFloor) is string message) _failures.Add(message);
    }

    public void Fail(string message) => _failures.Add(message);

    /// <summary>Fails with every collected mismatch.</summary>
    public void AssertAll()
    {
        if (_failures.Count > 0) Assert.Fail(string.Join(Environment.NewLine, _failures));
    }

    public void Dispose() => Backend.Dispose();
}
