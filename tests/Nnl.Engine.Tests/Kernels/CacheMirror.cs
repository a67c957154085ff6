using Nnl.Engine.Runtime;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>A device cache pair [slots, capacity, kvDim] and the host copy of what it holds.</summary>
internal sealed class CacheMirror
{
    public CacheMirror(GpuHarness h, KernelDType type, int slots, int capacity, int kvDim)
    {
        Type = type;
        Capacity = capacity;
        KvDim = kvDim;
        K = h.Backend.Allocate("k.cache", GpuHarness.ToTensorDType(type), slots, capacity, kvDim);
        V = h.Backend.Allocate("v.cache", GpuHarness.ToTensorDType(type), slots, capacity, kvDim);
        HostK = new double[slots][];
        HostV = new double[slots][];
        for (int s = 0; s < slots; s++) { HostK[s] = new double[capacity * kvDim]; HostV[s] = new double[capacity * kvDim]; }
    }

    public KernelDType Type { get; }
    public int Capacity { get; }
    public int KvDim { get; }
    public BackendTensor K { get; }
    public BackendTensor V { get; }
    public double[][] HostK { get; }
    public double[][] HostV { get; }

    /// <summary>Stores random keys and values for (slot, position) rows through StoreKv and mirrors them (rounded to the cache type).</summary>
    public void Store(GpuHarness h, Random rng, int[] slots, int[] positions)
    {
        int n = slots.Length;
        var k = KernelData.Uniform(rng, n * KvDim, 1);
        var v = KernelData.Uniform(rng, n * KvDim, 1);
        var kt = h.Activation("k", k, n, KvDim);
        var vt = h.Activation("v", v, n, KvDim);
        using (var batch = h.Backend.PrepareBatch(new TokenBatch(new int[n], positions, slots, [n - 1])))
            h.Backend.StoreKv(kt, vt, K, V, batch);
        h.Backend.Release(kt);
        h.Backend.Release(vt);
        for (int r = 0; r < n; r++)
            for (int c = 0; c < KvDim; c++)
            {
                HostK[slots[r]][positions[r] * KvDim + c] = KernelData.Round(k[r * KvDim + c], Type);
                HostV[slots[r]][positions[r] * KvDim + c] = KernelData.Round(v[r * KvDim + c], Type);
            }
    }
}
