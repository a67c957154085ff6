using Nnl.Engine.Cuda;
using Nnl.Engine.Models;
using Nnl.Engine.Runtime;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Kernels;

/// <summary>
/// The CUDA backend's graph steps on plain Add kernels, where the right answer is known exactly:
/// a first step builds the graph, a repeat replays it untouched, a changed argument updates one
/// node, other kernels rebuild it; stream work mid-step falls back in order; an abandoned step
/// runs nothing; disposal drops the graph.
/// </summary>
[Trait("Category", "Gpu")]
[Collection("Gpu")]
public class CudaGraphStepTests
{
    private const int Rows = 3, Cols = 1000;

    private static float[] Random(Random rng) => Enumerable.Range(0, Rows * Cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static float[] Sum(params float[][] terms)
    {
        var r = new float[terms[0].Length];
        for (int i = 0; i < r.Length; i++)
        {
            float s = terms[0][i];
            for (int t = 1; t < terms.Length; t++) s += terms[t][i]; // left to right, as the kernels chain them
            r[i] = s;
        }
        return r;
    }

    /// <summary>Four random inputs a..d and two zeroed outputs y, z, [Rows, Cols] each, on the device.</summary>
    private static (BackendTensor A, BackendTensor B, BackendTensor C, BackendTensor D, BackendTensor Y, BackendTensor Z,
        float[] Av, float[] Bv, float[] Cv, float[] Dv) Operands(CudaBackend be, Random rng)
    {
        BackendTensor T(string name, float[] values)
        {
            var t = be.Allocate(name, TensorDType.F32, Rows, Cols);
            be.Upload(t, values);
            return t;
        }
        float[] av = Random(rng), bv = Random(rng), cv = Random(rng), dv = Random(rng);
        var result = (T("a", av), T("b", bv), T("c", cv), T("d", dv), T("y", new float[Rows * Cols]), T("z", new float[Rows * Cols]), av, bv, cv, dv);
        be.Synchronize();
        return result;
    }

    [GpuFact]
    public void StepsReplayUpdateRebuildAndFallBackInOrder()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(71);
        var (a, b, c, d, y, z, av, bv, cv, dv) = Operands(be, rng);

        // 1: two nodes, built and launched.
        long launches = be.Launches;
        be.BeginGraphStep();
        Assert.True(be.IsRecordingGraph);
        be.Add(a, b, y);
        be.Add(y, c, z);
        be.EndGraphStep();
        Assert.False(be.IsRecordingGraph);
        Assert.Equal(2, be.Launches - launches);
        Assert.Equal(Sum(av, bv, cv), h.Download(z));
        var s = be.GraphStatistics;
        Assert.Equal((1L, 1L, 0L, 2, 2), (s.Replays, s.Rebuilds, s.Fallbacks, s.LastNodeCount, s.LastUpdatedNodes));
        Assert.True(be.HasCachedGraph);
        Assert.True(s.HostMilliseconds > 0 && s.LastHostMilliseconds == s.HostMilliseconds, "the step's host time was not counted");
        double hostAfterFirst = s.HostMilliseconds;

        // 2: new input values, same pointers: the graph replays untouched and sees the new values.
        cv = Random(rng);
        be.Upload(c, cv);
        be.BeginGraphStep();
        be.Add(a, b, y);
        be.Add(y, c, z);
        be.EndGraphStep();
        Assert.Equal(Sum(av, bv, cv), h.Download(z));
        s = be.GraphStatistics;
        Assert.Equal((2L, 1L, 0), (s.Replays, s.Rebuilds, s.LastUpdatedNodes));
        Assert.True(s.HostMilliseconds > hostAfterFirst, "host time is summed over the steps");
        Assert.True(s.LastHostMilliseconds > 0 && s.LastHostMilliseconds < s.HostMilliseconds, "the last step's host time is its own");

        // 3: the second node reads d instead of c: one node updated in place.
        be.BeginGraphStep();
        be.Add(a, b, y);
        be.Add(y, d, z);
        be.EndGraphStep();
        Assert.Equal(Sum(av, bv, dv), h.Download(z));
        s = be.GraphStatistics;
        Assert.Equal((3L, 1L, 1, 1L), (s.Replays, s.Rebuilds, s.LastUpdatedNodes, s.NodeUpdates - 2));

        // 4: another kernel sequence (three nodes): a new graph.
        be.BeginGraphStep();
        be.Add(a, b, y);
        be.Add(y, c, z);
        be.Add(z, d, y);
        be.EndGraphStep();
        Assert.Equal(Sum(av, bv, cv, dv), h.Download(y));
        s = be.GraphStatistics;
        Assert.Equal((4L, 2L, 3, 3), (s.Replays, s.Rebuilds, s.LastNodeCount, s.LastUpdatedNodes));

        // 5: an upload mid-step: the recorded launch is queued before it, the rest launch directly.
        var newC = Random(rng);
        be.BeginGraphStep();
        be.Add(a, c, y);        // must read the old c
        be.Upload(c, newC);     // stream work: falls back
        Assert.False(be.IsRecordingGraph);
        be.Add(y, c, z);        // must read the new c
        be.EndGraphStep();
        Assert.Equal(Sum(av, cv, newC), h.Download(z));
        s = be.GraphStatistics;
        Assert.Equal((4L, 1L), (s.Replays, s.Fallbacks));
        Assert.NotNull(s.LastFallbackReason);

        // 6: an abandoned step runs nothing.
        var w = be.Allocate("w", TensorDType.F32, Rows, Cols);
        be.Upload(w, new float[Rows * Cols]);
        be.BeginGraphStep();
        be.Add(a, b, w);
        be.AbandonGraphStep();
        Assert.All(h.Download(w), v => Assert.Equal(0f, v));
        Assert.Equal(4L, be.GraphStatistics.Replays);

        // Misuse is named, not ignored.
        Assert.Throws<InvalidOperationException>(be.EndGraphStep);
        be.BeginGraphStep();
        Assert.Throws<InvalidOperationException>(() => be.BeginGraphStep());
        be.AbandonGraphStep();

        foreach (var t in new[] { a, b, c, d, y, z, w }) be.Release(t);
        Assert.True(be.HasCachedGraph);
        be.Dispose();
        Assert.False(be.HasCachedGraph);
    }

    [GpuFact]
    public void ACutStepRunsItsSegmentsInOrderAndKeepsEachSegmentsGraph()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        be.MinGraphSegmentLaunches = 1; // every cut takes effect
        var rng = new Random(72);
        var (a, b, c, d, y, z, av, bv, cv, dv) = Operands(be, rng);

        // Three segments (2 + 1 + 1 nodes); the later ones read what the earlier ones wrote.
        void Step(BackendTensor last)
        {
            be.BeginGraphStep();
            be.Add(a, b, y);
            be.Add(y, c, z);
            be.CutGraphStep();
            be.CutGraphStep(); // nothing recorded since: no empty segment
            be.Add(z, d, y);
            be.CutGraphStep();
            be.Add(y, last, z);
            be.EndGraphStep();
        }
        Step(a);
        Assert.Equal(Sum(av, bv, cv, dv, av), h.Download(z));
        var s = be.GraphStatistics;
        Assert.Equal((1L, 3L, 4, 4), (s.Replays, s.Rebuilds, s.LastNodeCount, s.LastUpdatedNodes));

        // Again with the last segment's second input changed: one node updated, nothing rebuilt.
        Step(b);
        Assert.Equal(Sum(av, bv, cv, dv, bv), h.Download(z));
        s = be.GraphStatistics;
        Assert.Equal((2L, 3L, 4, 1), (s.Replays, s.Rebuilds, s.LastNodeCount, s.LastUpdatedNodes));

        // Stream work in the second segment: the first segment ran as a graph, the rest in order, directly.
        var newD = Random(rng);
        be.BeginGraphStep();
        be.Add(a, b, y);
        be.CutGraphStep();
        be.Add(y, d, z);        // must read the old d
        be.Upload(d, newD);     // falls back
        be.Add(z, d, y);        // must read the new d
        be.EndGraphStep();
        Assert.Equal(Sum(av, bv, dv, newD), h.Download(y));
        s = be.GraphStatistics;
        Assert.Equal((2L, 1L), (s.Replays, s.Fallbacks));
    }

    /// <summary>
    /// Timed steps: the host sleeps between a step's two segments and between steps, so the GPU sits
    /// idle for at least that long in each place, while the kernels themselves take microseconds; the
    /// medians must put the sleeps where they were and the GPU time well below them. A step that falls
    /// back is not timed, and untimed steps report nothing.
    /// </summary>
    [GpuFact]
    public void TimedStepsPutTheHostsDelaysWhereTheyWere()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        be.MinGraphSegmentLaunches = 1;
        var rng = new Random(74);
        var (a, b, c, d, y, z, av, bv, cv, dv) = Operands(be, rng);
        void Step(int sleepInStepMs)
        {
            be.BeginGraphStep();
            be.Add(a, b, y);
            be.CutGraphStep();
            Thread.Sleep(sleepInStepMs);
            be.Add(y, c, z);
            be.EndGraphStep();
        }
        Step(0);
        be.Synchronize();
        Assert.Null(be.GraphStatistics.Timing);

        be.TimeGraphSteps = true;
        for (int i = 0; i < 5; i++)
        {
            Step(20);
            be.Synchronize();
            Thread.Sleep(30);
        }
        Assert.Equal(Sum(av, bv, cv), h.Download(z));
        var t = be.GraphStatistics.Timing;
        Assert.NotNull(t);
        Assert.Equal(5, t.Steps);
        Assert.True(t.IdleInStepMilliseconds is >= 19 and < 200, $"idle inside a step {t.IdleInStepMilliseconds} ms, the host slept 20");
        Assert.True(t.IdleBetweenStepsMilliseconds is >= 29 and < 300, $"idle between steps {t.IdleBetweenStepsMilliseconds} ms, the host slept 30");
        Assert.True(t.GpuMilliseconds is > 0 and < 5, $"two small adds took {t.GpuMilliseconds} ms of GPU time");

        // A step that falls back is not timed.
        be.BeginGraphStep();
        be.Add(a, b, y);
        be.Upload(d, dv);
        be.Add(y, c, z);
        be.EndGraphStep();
        Assert.Equal(5, be.GraphStatistics.Timing!.Steps);
        be.TimeGraphSteps = false;
    }

    [GpuFact]
    public void CutsBeforeASegmentHoldsTheMinimumRecordOn()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        be.MinGraphSegmentLaunches = 3;
        var rng = new Random(73);
        var (a, b, c, d, y, z, av, bv, cv, dv) = Operands(be, rng);

        // Cuts after 2 (the first segment: taken), 1, 2 (too short: record on), 3 (taken) launches, then 1 more.
        be.BeginGraphStep();
        be.Add(a, b, y);
        be.Add(y, c, z);
        be.CutGraphStep();
        be.Add(z, d, y);
        be.CutGraphStep();
        be.Add(y, a, z);
        be.CutGraphStep();
        be.Add(z, b, y);
        be.CutGraphStep();
        be.Add(y, c, z);
        be.EndGraphStep();
        Assert.Equal(Sum(av, bv, cv, dv, av, bv, cv), h.Download(z));
        var s = be.GraphStatistics;
        Assert.Equal((1L, 3L, 6), (s.Replays, s.Rebuilds, s.LastNodeCount)); // segments of 2, 3 and 1 launches
    }

    /// <summary>
    /// A whole step (a greedy pipeline's: the GPU is busy with the step before): cuts after the first
    /// segment record on, so the step is two segments however often it is cut, and sums in order; a step
    /// cut as usual builds segments of its own, and each form keeps its graphs for its next step.
    /// </summary>
    [GpuFact]
    public void AWholeStepIsTheFirstSegmentAndOneMore()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        be.MinGraphSegmentLaunches = 1; // every cut would take effect
        var rng = new Random(79);
        var (a, b, c, d, y, z, av, bv, cv, dv) = Operands(be, rng);
        void Step(bool whole)
        {
            be.BeginGraphStep(wholeStep: whole);
            be.Add(a, b, y);
            be.CutGraphStep();
            be.Add(y, c, z);
            be.CutGraphStep();
            be.Add(z, d, y);
            be.CutGraphStep();
            be.Add(y, a, z);
            be.EndGraphStep();
        }
        Step(whole: true);
        Assert.Equal(Sum(av, bv, cv, dv, av), h.Download(z));
        var s = be.GraphStatistics;
        Assert.Equal((1L, 2L, 4), (s.Replays, s.Rebuilds, s.LastNodeCount)); // segments of 1 and 3 launches
        Step(whole: false);
        Assert.Equal(Sum(av, bv, cv, dv, av), h.Download(z));
        s = be.GraphStatistics;
        Assert.Equal((2L, 2L + 4L, 4), (s.Replays, s.Rebuilds, s.LastNodeCount)); // its own four segments of 1 launch
        // Each form kept its graphs: switching back and forth (a greedy pipeline's first step is cut,
        // the rest whole) rebuilds nothing.
        Step(whole: true);
        Step(whole: false);
        Assert.Equal(Sum(av, bv, cv, dv, av), h.Download(z));
        var again = be.GraphStatistics;
        Assert.Equal((4L, 6L, s.NodeUpdates), (again.Replays, again.Rebuilds, again.NodeUpdates));
    }

    /// <summary>
    /// The ramp: with a minimum of 16 and a ramp of 2, cuts after every launch give segments of 1 (the
    /// first), 2, 8, 16, 16 launches and the rest; the chain of adds still sums in order.
    /// </summary>
    [GpuFact]
    public void SegmentsGrowFromTheRampToTheMinimum()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        be.MinGraphSegmentLaunches = 16;
        be.GraphSegmentRamp = 2;
        var rng = new Random(75);
        var (a, b, c, d, y, z, av, bv, cv, dv) = Operands(be, rng);
        const int launches = 1 + 2 + 8 + 16 + 16 + 5;
        be.BeginGraphStep();
        be.Add(a, b, z);
        var expected = Sum(av, bv);
        for (int i = 1; i < launches; i++)
        {
            be.CutGraphStep();
            var (term, values) = (i % 3) switch { 0 => (a, av), 1 => (c, cv), _ => (d, dv) };
            be.Add(z, term, z);
            expected = Sum(expected, values);
        }
        be.EndGraphStep();
        Assert.Equal(expected, h.Download(z));
        var s = be.GraphStatistics;
        Assert.Equal((1L, 6L, launches), (s.Replays, s.Rebuilds, s.LastNodeCount));

        be.GraphSegmentRamp = 0;   // no ramp: 1 (the same node as before: replayed), then 16, 16 and 15 (new graphs)
        be.BeginGraphStep();
        be.Add(a, b, z);
        for (int i = 1; i < launches; i++) { be.CutGraphStep(); be.Add(z, c, z); }
        be.EndGraphStep();
        s = be.GraphStatistics;
        Assert.Equal((2L, 6L + 3L, launches), (s.Replays, s.Rebuilds, s.LastNodeCount));
    }

    /// <summary>
    /// A long chain of dependent kernels in one segment, each reading what the one before wrote:
    /// with programmatic edges (sm_90 and later) each kernel starts while its predecessor drains and
    /// must wait inside before it reads, so a kernel without that wait would read stale sums here.
    /// Adds (tiny kernels, the closest overlap) and one-token products against a float64 reference.
    /// </summary>
    [GpuFact]
    public void ProgrammaticEdgesKeepAChainOfDependentKernelsInOrder()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        var rng = new Random(74);
        var (a, b, _, _, y, z, av, bv, _, _) = Operands(be, rng);
        const int n = 64, links = 24;
        double[] wv = KernelData.Uniform(rng, n * n, 1 / Math.Sqrt(n));
        double[] xv = KernelData.Uniform(rng, n, 1);
        var w = h.Weight("w", wv, KernelDType.F32, n, n);
        var x0 = h.Activation("x0", xv, 1, n);
        var x1 = be.Allocate("x1", TensorDType.F32, 1, n);

        // Once outside a step, so that anything a product allocates on first use (and zeroes on the
        // stream, which a recording step would fall back for) exists before the step.
        be.MatMul(x0, w, WeightLayout.Linear, null, x1);
        be.BeginGraphStep();
        for (int i = 0; i < links; i++)
        {
            be.Add(i == 0 ? a : (i % 2 == 1 ? y : z), b, i % 2 == 0 ? y : z);       // a + b + b + ...
            be.MatMul(i % 2 == 0 ? x0 : x1, w, WeightLayout.Linear, null, i % 2 == 0 ? x1 : x0);
        }
        be.EndGraphStep();
        Assert.Equal(1L, be.GraphStatistics.Replays);
        Assert.Equal(2 * links, be.GraphStatistics.LastNodeCount);
        bool sm90 = Version.Parse(NnlDevice.Query(0).ComputeCapability).Major >= 9 && CudaDriver.DriverApiVersion >= new Version(12, 3);
        Assert.Equal(sm90 && !KernelLibrary.GridDependencyDisabled, be.ProgrammaticGraphEdges);

        Assert.Equal(Sum([av, .. Enumerable.Repeat(bv, links)]), h.Download(links % 2 == 0 ? z : y));

        double[] xr = xv;
        for (int i = 0; i < links; i++) xr = KernelReference.Linear(xr, 1, n, wv, n, null, null);
        var got = h.Download(links % 2 == 0 ? x0 : x1);
        for (int r = 0; r < n; r++) Assert.True(Math.Abs(got[r] - xr[r]) <= 1e-4 * (1 + Math.Abs(xr[r])), $"row {r}: {got[r]} vs {xr[r]}");
    }

    [GpuFact]
    public void DecodeBatchesKeepTheirDevicePointersFromPassToPass()
    {
        using var h = new GpuHarness();
        var be = h.Backend;
        ulong tokens;
        using (var first = (CudaBatch)be.PrepareBatch(new TokenBatch([5], [7], [0], [0]))) tokens = first.TokenIds;
        using (var second = (CudaBatch)be.PrepareBatch(new TokenBatch([9], [8], [0], [0])))
        {
            Assert.Equal(tokens, second.TokenIds);
            // A second small batch alive at the same time gets memory of its own.
            using var third = (CudaBatch)be.PrepareBatch(new TokenBatch([9, 3], [8, 9], [0, 0], [1]));
            Assert.NotEqual(tokens, third.TokenIds);
            var ids = new int[2];
            unsafe
            {
                fixed (int* p = ids) Nnl.Engine.Cuda.CudaCopy.DeviceToHost((IntPtr)p, third.TokenIds, 8, be.Stream);
            }
            be.Synchronize();
            Assert.Equal(new[] { 9, 3 }, ids);
        }
        // A prefill-sized batch does not take the shared block.
        using var prefill = (CudaBatch)be.PrepareBatch(new TokenBatch(new int[CudaBackend.GemvMaxRows + 1], Enumerable.Range(0, CudaBackend.GemvMaxRows + 1).ToArray(),
            new int[CudaBackend.GemvMaxRows + 1], [0]));
        Assert.NotEqual(tokens, prefill.TokenIds);
    }
}
