using System.Runtime.InteropServices;
using Nnl.Engine.Cuda;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// The experiment towards a persistent decode layer (kernels/chain_gemv.cu): GPT-2-XL's four
/// products of a layer (c_attn [4800, 1600], attn c_proj [1600, 1600], c_fc [6400, 1600], mlp c_proj
/// [1600, 6400], nn.Linear memory), each reading the one before's output, chained in one cooperative
/// kernel with grid barriers. Checked against float64 on two layers; timed on 48 layers against the
/// same products as separate kernels replayed in a graph step (programmatic edges where the GPU has
/// them) and against the device-to-device copy of the same run.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaChainGemvTests
{
    private static readonly (int N, int K)[] LayerProducts = [(4800, 1600), (1600, 1600), (6400, 1600), (1600, 6400)];

    // Buffers: 0 the stream x [1600], 1 qkv [4800], 2 the projection [1600], 3 the MLP's [6400].
    // A layer reads x into qkv, qkv's first 1600 into 2 (where attention's output would be), 2 into 3, 3 back into x.
    private static readonly (int Src, int Dst)[] LayerFlow = [(0, 1), (1, 2), (2, 3), (3, 0)];
    private static readonly int[] BufferFloats = [1600, 4800, 1600, 6400];

    private readonly ITestOutputHelper _output;

    public CudaChainGemvTests(ITestOutputHelper output) { _output = output; }

    /// <summary>The chain's device arguments: pointer and shape arrays, the buffers, the barrier word.</summary>
    private sealed class Chain : IDisposable
    {
        private readonly List<DeviceBuffer> _owned = new();

        public Chain(CudaContext ctx, IReadOnlyList<ulong> weights, int layers)
        {
            int phases = 4 * layers;
            Phases = phases;
            Buffers = BufferFloats.Select(f => Own(new DeviceBuffer(ctx, f * sizeof(float)))).ToArray();
            var n = new int[phases];
            var k = new int[phases];
            var src = new int[phases];
            var dst = new int[phases];
            for (int p = 0; p < phases; p++)
            {
                (n[p], k[p]) = LayerProducts[p % 4];
                (src[p], dst[p]) = LayerFlow[p % 4];
            }
            W = Upload(ctx, weights.ToArray());
            N = Upload(ctx, n);
            K = Upload(ctx, k);
            Src = Upload(ctx, src);
            Dst = Upload(ctx, dst);
            X = Upload(ctx, Buffers.Select(b => b.Pointer).ToArray());
            Barrier = Own(new DeviceBuffer(ctx, sizeof(uint)));
        }

        public int Phases { get; }
        public DeviceBuffer[] Buffers { get; }
        public DeviceBuffer W { get; }
        public DeviceBuffer N { get; }
        public DeviceBuffer K { get; }
        public DeviceBuffer Src { get; }
        public DeviceBuffer Dst { get; }
        public DeviceBuffer X { get; }
        public DeviceBuffer Barrier { get; }

        private DeviceBuffer Own(DeviceBuffer b)
        {
            _owned.Add(b);
            return b;
        }

        private DeviceBuffer Upload<T>(CudaContext ctx, T[] values) where T : unmanaged
        {
            var b = Own(new DeviceBuffer(ctx, values.Length * Marshal.SizeOf<T>()));
            b.CopyFrom<T>(values);
            return b;
        }

        /// <summary>Queues the whole chain: the barrier word zeroed, then one cooperative launch.</summary>
        public void Run(CudaBackend be)
        {
            var kernel = KernelLibrary.Kernel(be.Context, "chain_gemv", "nnl_chain_gemv_f16");
            CudaCopy.Fill(Barrier.Pointer, 0, sizeof(uint), be.Stream);
            int sms = CudaDriver.Attribute(CudaDriver.GetDevice(be.Context.Ordinal), CudaDeviceAttribute.MultiprocessorCount);
            kernel.LaunchCooperative(be.Stream, (uint)sms, 1024, 6400 * sizeof(float),
                W.Pointer, N.Pointer, K.Pointer, X.Pointer, Src.Pointer, Dst.Pointer, Phases, Barrier.Pointer);
        }

        public void Dispose()
        {
            foreach (var b in _owned) b.Dispose();
        }
    }

    [GpuFact]
    public void TwoLayersOfProductsMatchTheReference()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(81);
        const int layers = 2;
        var w = new List<double[]>();
        var tensors = new List<BackendTensor>();
        for (int p = 0; p < 4 * layers; p++)
        {
            var (n, k) = LayerProducts[p % 4];
            w.Add(KernelData.Uniform(rng, n * k, Math.Sqrt(3.0 / k), KernelDType.F16)); // unit variance in, unit variance out
            tensors.Add(h.Weight($"w{p}", w[p], KernelDType.F16, n, k));
        }
        var x0 = KernelData.Uniform(rng, 1600, 1);
        using var chain = new Chain(be.Context, tensors.Select(t => ((CudaTensor)t).Pointer).ToList(), layers);
        chain.Buffers[0].CopyFrom<float>(KernelData.ToFloats(x0));
        chain.Run(be);
        be.Synchronize();

        // float64: the same chain on the fp16-rounded weights.
        var buffers = BufferFloats.Select(f => new double[f]).ToArray();
        x0.CopyTo(buffers[0], 0);
        for (int p = 0; p < 4 * layers; p++)
        {
            var (n, k) = LayerProducts[p % 4];
            var (src, dst) = LayerFlow[p % 4];
            var y = new double[n];
            for (int r = 0; r < n; r++)
            {
                double s = 0;
                for (int c = 0; c < k; c++) s += w[p][(long)r * k + c] * buffers[src][c];
                y[r] = s;
            }
            y.CopyTo(buffers[dst], 0);
        }
        for (int b = 0; b < 4; b++)
        {
            var got = new float[BufferFloats[b]];
            chain.Buffers[b].CopyTo<float>(got);
            h.Check(got, buffers[b], 1e-9, $"buffer {b} after {layers} layers");
        }
        foreach (var t in tensors) be.Release(t);
        h.AssertAll();
    }

    [GpuFact]
    public void FortyEightLayersOfProductsAreTimedAgainstSeparateKernelsAndTheCopy()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        const int layers = 48;
        var weights = new List<CudaTensor>();
        long weightBytes = 0;
        for (int p = 0; p < 4 * layers; p++)
        {
            var (n, k) = LayerProducts[p % 4];
            var t = (CudaTensor)be.Allocate($"w{p}", TensorDType.F16, n, k);
            CudaDecodeStepBenchmarkTests.Fill(be, t, (uint)(1000 + p), (float)Math.Sqrt(3.0 / k));
            weights.Add(t);
            weightBytes += t.ByteCount;
        }
        using var chain = new Chain(be.Context, weights.Select(t => t.Pointer).ToList(), layers);
        var rng = new Random(82);
        var x0 = KernelData.ToFloats(KernelData.Uniform(rng, 1600, 1));

        // The same products as separate kernels (the backend's GEMV choice), in one graph step.
        var acts = BufferFloats.Select((f, i) => be.Allocate($"b{i}", TensorDType.F32, 1, f)).ToArray();
        var qkvHead = be.Allocate("qkv.head", TensorDType.F32, 1, 1600);
        void Separate()
        {
            be.BeginGraphStep();
            for (int l = 0; l < layers; l++)
            {
                be.MatMul(acts[0], weights[4 * l], WeightLayout.Linear, null, acts[1]);
                be.MatMul(qkvHead, weights[4 * l + 1], WeightLayout.Linear, null, acts[2]); // a stand-in input of the same size
                be.MatMul(acts[2], weights[4 * l + 2], WeightLayout.Linear, null, acts[3]);
                be.MatMul(acts[3], weights[4 * l + 3], WeightLayout.Linear, null, acts[0]);
            }
            be.EndGraphStep();
        }
        be.Upload(acts[0], x0);
        be.Upload(qkvHead, x0);
        chain.Buffers[0].CopyFrom<float>(x0);

        var ctx = be.Context;
        const long copyBytes = 1L << 30;
        float copyMs;
        using (var src = new DeviceBuffer(ctx, copyBytes))
        using (var dst = new DeviceBuffer(ctx, copyBytes))
        {
            src.Fill(0x21);
            copyMs = CudaDecodeStepBenchmarkTests.Median(be.Stream, 7, () => CudaCopy.DeviceToDevice(dst.Pointer, src.Pointer, copyBytes, be.Stream)).GpuMs;
        }
        double copyReadWrite = 2.0 * copyBytes / (copyMs * 1e-3) / 1e9;
        float chainMs = CudaDecodeStepBenchmarkTests.Median(be.Stream, 9, () => chain.Run(be)).GpuMs;
        float separateMs = CudaDecodeStepBenchmarkTests.Median(be.Stream, 9, Separate).GpuMs;
        var chainOut = new float[1600];
        chain.Buffers[0].CopyTo<float>(chainOut);
        Assert.All(chainOut, v => Assert.True(float.IsFinite(v)));

        double Rate(float ms) => weightBytes / (ms * 1e-3) / 1e9;
        _output.WriteLine($"{NnlDevice.Query(0).Name}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: copy {copyReadWrite:F0} GB/s read + write; " +
            $"GPT-2-XL's 192 products of 48 layers ({weightBytes / 1e9:F2} GB fp16)");
        _output.WriteLine($"  one persistent kernel (grid barriers, next rows prefetched to L2): {chainMs:F3} ms, {Rate(chainMs):F0} GB/s = {Rate(chainMs) / copyReadWrite:P0} of copy");
        _output.WriteLine($"  separate kernels in a graph step{(be.ProgrammaticGraphEdges ? " (programmatic edges)" : "")}: {separateMs:F3} ms, {Rate(separateMs):F0} GB/s = {Rate(separateMs) / copyReadWrite:P0} of copy");
        foreach (var t in weights) be.Release(t);
        foreach (var t in acts) be.Release(t);
        be.Release(qkvHead);
    }
}
