using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// KV-cache store, both attention kernels (split / per row) and rotary embedding against the
/// float64 reference: prefill after a cached prefix, decode rows of several slots of different
/// lengths, ragged batches, grouped-query ratios, fp32 and fp16 caches.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaAttentionTests
{
    private const double MaxNmse = 1e-10;

    private static readonly KernelDType[] CacheTypes = [KernelDType.F32, KernelDType.F16];

    private static int[] RandomIds(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.Next(1, 50000)).ToArray();

    private static int[] Repeat(int value, int n) => Enumerable.Repeat(value, n).ToArray();

    private static int[] Range(int start, int n) => Enumerable.Range(start, n).ToArray();

    /// <summary>Reference for rows of mixed slots: each row attends within its own slot.</summary>
    private static double[] Reference(double[] q, int[] slots, int[] positions, CacheMirror cache, int heads, int kvHeads, int hd, double scale, int? window = null)
    {
        int width = heads * hd;
        var o = new double[slots.Length * width];
        for (int r = 0; r < slots.Length; r++)
        {
            var row = KernelReference.Attention(q.Skip(r * width).Take(width).ToArray(), 1, width,
                cache.HostK[slots[r]], cache.HostV[slots[r]], [positions[r]], heads, kvHeads, hd, scale, window);
            row.CopyTo(o, r * width);
        }
        return o;
    }

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Prefill), MemberType = typeof(KernelShapes))]
    public void PrefillAfterACachedPrefixMatchesTheReference(int nTok, int startPos, int heads, int kvHeads, int hd)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(nTok, startPos, heads, kvHeads, hd));
        var shape = new AttentionShape(heads, kvHeads, hd, (float)(1.0 / Math.Sqrt(hd)));
        foreach (var cacheType in CacheTypes)
        {
            int capacity = startPos + nTok + 3;
            var cache = new CacheMirror(h, cacheType, 2, capacity, shape.KvWidth);
            // Slot 0 holds another sequence: it must not leak into slot 1's attention.
            cache.Store(h, rng, Repeat(0, capacity), Range(0, capacity));
            if (startPos > 0) cache.Store(h, rng, Repeat(1, startPos), Range(0, startPos));
            var slots = Repeat(1, nTok);
            var positions = Range(startPos, nTok);
            cache.Store(h, rng, slots, positions);
            var q = KernelData.Uniform(rng, nTok * shape.QueryWidth, 1);
            var reference = Reference(q, slots, positions, cache, heads, kvHeads, hd, shape.Scale);
            var qt = h.Activation("q", q, nTok, shape.QueryWidth);
            using var batch = h.Backend.PrepareBatch(new TokenBatch(RandomIds(rng, nTok), positions, slots, [nTok - 1]));
            foreach (var path in Enum.GetValues<CudaAttentionPath>())
            {
                h.Backend.ForcedAttentionPath = path;
                var y = h.Backend.Allocate("attn", TensorDType.F32, nTok, shape.QueryWidth);
                h.Backend.Attention(qt, cache.K, cache.V, batch, shape, y);
                h.Check(h.Download(y), reference, MaxNmse, $"{path} cache {cacheType} prefill {nTok} after {startPos}, heads {heads}/{kvHeads} x {hd}");
                h.Backend.Release(y);
            }
        }
        h.AssertAll();
    }

    /// <summary>
    /// Mistral's sliding window: prefill rows (some before, some past the window) and decode rows of
    /// slots longer and shorter than the window, through every kernel, against the float64
    /// reference that sees only positions p - window + 1 .. p; the same call without the window must
    /// differ (the window is shorter than the context, so it matters).
    /// </summary>
    [GpuTheory]
    [InlineData(5, 4, 2, 64, 16)]
    [InlineData(1, 8, 8, 128, 64)]
    [InlineData(37, 6, 3, 80, 7)]
    [InlineData(200, 4, 1, 32, 33)]
    public void SlidingWindowSeesOnlyTheLastPositionsOfEachRow(int window, int heads, int kvHeads, int hd, int splitLength)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(window, heads, kvHeads, hd, splitLength));
        var shape = new AttentionShape(heads, kvHeads, hd, (float)(1.0 / Math.Sqrt(hd)), window);
        var unwindowed = shape with { SlidingWindow = null };
        int[] lengths = [3 * window + 11, Math.Max(1, window / 2), window + 1, 1];
        foreach (var cacheType in CacheTypes)
        {
            int slotCount = lengths.Length, capacity = lengths.Max() + 2;
            var cache = new CacheMirror(h, cacheType, slotCount, capacity, shape.KvWidth);
            for (int s = 0; s < slotCount; s++) cache.Store(h, rng, Repeat(s, lengths[s]), Range(0, lengths[s]));

            // Decode: one row per slot at its last position; prefill: every position of slot 0.
            var decodeSlots = Enumerable.Range(0, slotCount).Reverse().ToArray();
            var cases = new (string Name, int[] Slots, int[] Positions)[]
            {
                ("decode", decodeSlots, decodeSlots.Select(s => lengths[s] - 1).ToArray()),
                ("prefill", Repeat(0, lengths[0]), Range(0, lengths[0])),
            };
            foreach (var (name, slots, positions) in cases)
            {
                int n = slots.Length;
                var q = KernelData.Uniform(rng, n * shape.QueryWidth, 2);
                var reference = Reference(q, slots, positions, cache, heads, kvHeads, hd, shape.Scale, window);
                var whole = Reference(q, slots, positions, cache, heads, kvHeads, hd, shape.Scale);
                Assert.True(KernelData.Nmse(KernelData.ToFloats(whole), reference) > 1e-6, $"{name}: the window of {window} should change the result");
                var qt = h.Activation("q", q, n, shape.QueryWidth);
                using var batch = h.Backend.PrepareBatch(new TokenBatch(RandomIds(rng, n), positions, slots, [n - 1]));
                foreach (var (path, split) in new (CudaAttentionPath, int?)[] { (CudaAttentionPath.Split, null), (CudaAttentionPath.Split, splitLength), (CudaAttentionPath.PerRow, null) })
                {
                    h.Backend.ForcedAttentionPath = path;
                    h.Backend.ForcedSplitLength = split;
                    var y = h.Backend.Allocate("attn", TensorDType.F32, n, shape.QueryWidth);
                    h.Backend.Attention(qt, cache.K, cache.V, batch, shape, y);
                    h.Check(h.Download(y), reference, MaxNmse, $"{name} {path} split {split?.ToString() ?? "auto"} cache {cacheType} window {window}, heads {heads}/{kvHeads} x {hd}");
                    h.Backend.Attention(qt, cache.K, cache.V, batch, unwindowed, y);
                    h.Check(h.Download(y), whole, MaxNmse, $"{name} {path} without the window, cache {cacheType}");
                    h.Backend.Release(y);
                }
                h.Backend.Release(qt);
            }
        }
        h.Backend.ForcedAttentionPath = null;
        h.Backend.ForcedSplitLength = null;
        h.AssertAll();
    }

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Decode), MemberType = typeof(KernelShapes))]
    public void DecodeRowsOfSeveralSlotsMatchTheReference(int[] lengths, int heads, int kvHeads, int hd, int splitLength)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(lengths.Sum(), heads, kvHeads, hd, splitLength));
        var shape = new AttentionShape(heads, kvHeads, hd, (float)(1.0 / Math.Sqrt(hd)));
        foreach (var cacheType in CacheTypes)
        {
            int slotCount = lengths.Length, capacity = lengths.Max() + 2;
            var cache = new CacheMirror(h, cacheType, slotCount, capacity, shape.KvWidth);
            for (int s = 0; s < slotCount; s++) cache.Store(h, rng, Repeat(s, lengths[s]), Range(0, lengths[s]));
            // One row per slot, in reverse slot order, each at its sequence's last position.
            var slots = Enumerable.Range(0, slotCount).Reverse().ToArray();
            var positions = slots.Select(s => lengths[s] - 1).ToArray();
            var q = KernelData.Uniform(rng, slotCount * shape.QueryWidth, 2);
            var reference = Reference(q, slots, positions, cache, heads, kvHeads, hd, shape.Scale);
            var qt = h.Activation("q", q, slotCount, shape.QueryWidth);
            using var batch = h.Backend.PrepareBatch(new TokenBatch(RandomIds(rng, slotCount), positions, slots, Range(0, slotCount)));
            foreach (int? split in new int?[] { null, splitLength })
            {
                h.Backend.ForcedAttentionPath = CudaAttentionPath.Split;
                h.Backend.ForcedSplitLength = split;
                var y = h.Backend.Allocate("attn", TensorDType.F32, slotCount, shape.QueryWidth);
                h.Backend.Attention(qt, cache.K, cache.V, batch, shape, y);
                h.Check(h.Download(y), reference, MaxNmse, $"split {split?.ToString() ?? "auto"} cache {cacheType} lengths [{string.Join(",", lengths)}], heads {heads}/{kvHeads} x {hd}");
                h.Backend.Release(y);
            }
            h.Backend.ForcedSplitLength = null;
            h.Backend.ForcedAttentionPath = CudaAttentionPath.PerRow;
            var y2 = h.Backend.Allocate("attn", TensorDType.F32, slotCount, shape.QueryWidth);
            h.Backend.Attention(qt, cache.K, cache.V, batch, shape, y2);
            h.Check(h.Download(y2), reference, MaxNmse, $"per-row cache {cacheType} lengths [{string.Join(",", lengths)}]");
        }
        h.AssertAll();
    }

    /// <summary>
    /// StoreKvAndAttend with the store inside the split kernel: decode rows of several slots (one of
    /// them at position 0, where the new key is all it sees) take q, k and v as column views of one
    /// qkv row, with splits short enough that the row's own position lies in a later split and with the
    /// whole context in one; the output matches the float64 reference over the cache with the new rows
    /// stored, and the cache afterwards holds exactly the rows a StoreKv would have written. Two rows of
    /// one slot, and the per-row kernel, fall back to the two launches and give the same.
    /// </summary>
    [GpuTheory]
    [InlineData(25, 25, 64, null)]
    [InlineData(8, 2, 128, null)]
    [InlineData(6, 3, 80, 7)]
    [InlineData(4, 1, 32, null)]
    public void StoreKvAndAttendStoresTheNewRowsAndAttendsThem(int heads, int kvHeads, int hd, int? window)
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(HashCode.Combine(heads, kvHeads, hd, window));
        var shape = new AttentionShape(heads, kvHeads, hd, (float)(1.0 / Math.Sqrt(hd)), window);
        int[] lengths = [45, 0, 130, 9];   // each slot's context before the step; its row goes at that position
        int width = shape.QueryWidth + 2 * shape.KvWidth;
        var cases = new (string Name, int[] Slots, int[] Positions, CudaAttentionPath Path, bool Fuses)[]
        {
            ("decode", [2, 0, 3, 1], [lengths[2], lengths[0], lengths[3], lengths[1]], CudaAttentionPath.Split, true),
            ("one row", [1], [lengths[1]], CudaAttentionPath.Split, true),
            ("two rows of one slot", [3, 3], [lengths[3], lengths[3] + 1], CudaAttentionPath.Split, false),
            ("per-row kernel", [2, 0], [lengths[2], lengths[0]], CudaAttentionPath.PerRow, false),
        };
        try
        {
            foreach (var cacheType in CacheTypes)
                foreach (var (name, slots, positions, path, fuses) in cases)
                    foreach (int? split in new int?[] { null, 16 })
                        foreach (bool fusion in new[] { true, false })
                        {
                            // Every row of the cache holds something: the new rows overwrite theirs, the rest must stay.
                            int capacity = lengths.Max() + 3;
                            var cache = new CacheMirror(h, cacheType, lengths.Length, capacity, shape.KvWidth);
                            for (int s = 0; s < lengths.Length; s++) cache.Store(h, rng, Repeat(s, capacity), Range(0, capacity));
                            int n = slots.Length;
                            var qkv = KernelData.Uniform(rng, n * width, 2);
                            var qkvt = h.Activation("qkv", qkv, n, width);
                            var q = be.ColumnView(qkvt, 0, shape.QueryWidth);
                            var k = be.ColumnView(qkvt, shape.QueryWidth, shape.KvWidth);
                            var v = be.ColumnView(qkvt, shape.QueryWidth + shape.KvWidth, shape.KvWidth);
                            for (int r = 0; r < n; r++)
                                for (int c = 0; c < shape.KvWidth; c++)
                                {
                                    cache.HostK[slots[r]][positions[r] * shape.KvWidth + c] = KernelData.Round(qkv[r * width + shape.QueryWidth + c], cacheType);
                                    cache.HostV[slots[r]][positions[r] * shape.KvWidth + c] = KernelData.Round(qkv[r * width + shape.QueryWidth + shape.KvWidth + c], cacheType);
                                }
                            var qRows = Enumerable.Range(0, n).SelectMany(r => qkv.Skip(r * width).Take(shape.QueryWidth)).ToArray();
                            var reference = Reference(qRows, slots, positions, cache, heads, kvHeads, hd, shape.Scale, window);
                            using var batch = be.PrepareBatch(new TokenBatch(RandomIds(rng, n), positions, slots, Range(0, n)));
                            be.ForcedAttentionPath = path;
                            be.ForcedSplitLength = split;
                            be.FuseKvStoreIntoAttention = fusion;
                            long fusedBefore = be.FusedKvStores, launchesBefore = be.Launches;
                            var y = be.Allocate("attn", TensorDType.F32, n, shape.QueryWidth);
                            be.StoreKvAndAttend(q, k, v, cache.K, cache.V, batch, shape, y);
                            string what = $"{name}, fusion {fusion}, split {split?.ToString() ?? "auto"}, cache {cacheType}, heads {heads}/{kvHeads} x {hd}, window {window}";
                            bool fused = fusion && fuses;
                            Assert.True(be.FusedKvStores - fusedBefore == (fused ? 1 : 0), $"{what}: fused {be.FusedKvStores - fusedBefore} times");
                            Assert.True(be.Launches - launchesBefore == (fused ? 1 : 2), $"{what}: {be.Launches - launchesBefore} launches");
                            h.Check(h.Download(y), reference, MaxNmse, what);
                            var bytes = new byte[cache.K.ByteCount];
                            be.DownloadBytes(cache.K, bytes);
                            Assert.True(KernelData.ToBytes(cache.HostK.SelectMany(x => x).ToArray(), cacheType).SequenceEqual(bytes), $"{what}: the key cache");
                            be.DownloadBytes(cache.V, bytes);
                            Assert.True(KernelData.ToBytes(cache.HostV.SelectMany(x => x).ToArray(), cacheType).SequenceEqual(bytes), $"{what}: the value cache");
                            be.Release(y);
                            be.Release(qkvt);
                            be.Release(cache.K);
                            be.Release(cache.V);
                        }
        }
        finally
        {
            be.ForcedAttentionPath = null;
            be.ForcedSplitLength = null;
            be.FuseKvStoreIntoAttention = true;
        }
        h.AssertAll();
    }

    [GpuFact]
    public void RaggedBatchOfTwoPromptsAttendsWithinEachSlot()
    {
        using var h = new GpuHarness();
        var rng = new Random(31);
        var shape = new AttentionShape(6, 2, 64, 0.125f);
        var cache = new CacheMirror(h, KernelDType.F32, 3, 16, shape.KvWidth);
        // Rows interleave slot 2 (positions 0..4) and slot 0 (positions 0..2).
        int[] slots = [2, 0, 2, 0, 2, 0, 2, 2];
        int[] positions = [0, 0, 1, 1, 2, 2, 3, 4];
        cache.Store(h, rng, slots, positions);
        var q = KernelData.Uniform(rng, slots.Length * shape.QueryWidth, 1);
        var reference = Reference(q, slots, positions, cache, 6, 2, 64, shape.Scale);
        var qt = h.Activation("q", q, slots.Length, shape.QueryWidth);
        using var batch = h.Backend.PrepareBatch(new TokenBatch(RandomIds(rng, slots.Length), positions, slots, [6, 7]));
        foreach (var path in Enum.GetValues<CudaAttentionPath>())
        {
            h.Backend.ForcedAttentionPath = path;
            var y = h.Backend.Allocate("attn", TensorDType.F32, slots.Length, shape.QueryWidth);
            h.Backend.Attention(qt, cache.K, cache.V, batch, shape, y);
            h.Check(h.Download(y), reference, MaxNmse, $"{path} ragged");
        }
        h.AssertAll();
    }

    [GpuFact]
    public void StoreKvRoundsToTheCacheTypeAndWritesOnlyItsRows()
    {
        using var h = new GpuHarness();
        var rng = new Random(37);
        foreach (var type in CacheTypes)
        {
            var cache = new CacheMirror(h, type, 2, 7, 24);
            cache.Store(h, rng, Repeat(0, 7), Range(0, 7));
            cache.Store(h, rng, Repeat(1, 7), Range(0, 7));
            cache.Store(h, rng, [1, 0, 1], [6, 2, 0]);          // overwrite three rows
            var bytes = new byte[cache.K.ByteCount];
            h.Backend.DownloadBytes(cache.K, bytes);
            var expected = KernelData.ToBytes(cache.HostK[0].Concat(cache.HostK[1]).ToArray(), type);
            Assert.Equal(expected, bytes);
        }
    }

    [GpuTheory]
    [MemberData(nameof(KernelShapes.Rope), MemberType = typeof(KernelShapes))]
    public void RopeMatchesTheReferenceAtLargePositions(int nTok, int heads, int hd, int rotDim)
    {
        using var h = new GpuHarness();
        var rng = new Random(HashCode.Combine(nTok, heads, hd, rotDim));
        var freq = KernelReference.InvFreq(rotDim, 500000);
        foreach (float factor in new[] { 1f, 1.25f })
        {
            var rope = new RotaryEmbedding(hd, freq, factor);
            var x = KernelData.Uniform(rng, nTok * heads * hd, 1);
            var positions = Enumerable.Range(0, nTok).Select(_ => rng.Next(0, 8192)).ToArray();
            var xt = h.Activation("x", x, nTok, heads * hd);
            using var batch = h.Backend.PrepareBatch(new TokenBatch(RandomIds(rng, nTok), positions, Repeat(0, nTok), [0]));
            h.Backend.Rope(xt, batch, heads, rope);
            var reference = KernelReference.Rope(x, nTok, heads * hd, positions, freq, heads, hd, rotDim);
            if (factor != 1f)
            {
                // The factor scales cos and sin: the rotated dimensions scale, the others stay.
                for (int t = 0; t < nTok; t++)
                    for (int hh = 0; hh < heads; hh++)
                        for (int i = 0; i < rotDim; i++) reference[t * heads * hd + hh * hd + i] *= factor;
            }
            h.Check(h.Download(xt), reference, MaxNmse, $"rope factor {factor} [{nTok} x {heads} x {hd}], rot {rotDim}");
        }
        h.AssertAll();
    }
}
