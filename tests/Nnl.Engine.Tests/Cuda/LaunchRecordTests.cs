using Nnl.Engine.Cuda;
using Nnl.Engine.Runtime.Cuda;

namespace Nnl.Engine.Tests.Cuda;

/// <summary>
/// The comparison that decides what a cached CUDA graph must change (no GPU: kernels are stand-in
/// handles, compared by identity as the backend's are).
/// </summary>
public class LaunchRecordTests
{
    private static readonly CudaKernel Add = new(null!, "nnl_add", 0x1000), Norm = new(null!, "nnl_layernorm_f16", 0x2000);

    private static LaunchRecord Step(Random rng, ulong pointerBase, int splits)
    {
        var r = new LaunchRecord();
        r.Add(Norm, (1, 1, 1), (1024, 1, 1), 0, [pointerBase, pointerBase + 256, 0UL, 1600, 1e-5f]);
        r.Add(Add, ((uint)splits, 25, 1), (128, 1, 1), 0, [pointerBase + 512, 7, -1L]);
        for (int i = 0; i < 40; i++) r.Add(Add, (264, 1, 1), (256, 1, 1), 0, [pointerBase + (ulong)(1024 * i), (ulong)rng.Next(), 3.5f]);
        return r;
    }

    [Fact]
    public void IdenticalStepsChangeNothing()
    {
        var a = Step(new Random(3), 0x7f00_0000_0000, 2);
        var b = Step(new Random(3), 0x7f00_0000_0000, 2);
        Assert.Equal(42, b.Count);
        Assert.Empty(b.ChangedSince(a)!);
    }

    [Fact]
    public void AGridOrAnArgumentChangeNamesExactlyThatLaunch()
    {
        var a = Step(new Random(3), 0x7f00_0000_0000, 2);
        var b = Step(new Random(3), 0x7f00_0000_0000, 3);   // the split count (grid x) of launch 1
        Assert.Equal(new[] { 1 }, b.ChangedSince(a)!);

        var c = new LaunchRecord();
        var rng = new Random(3);
        var reference = Step(new Random(3), 0x7f00_0000_0000, 2);
        for (int i = 0; i < reference.Count; i++)
        {
            var l = reference[i];
            var args = reference.Args(i).ToArray();
            if (i == 17) args[0] ^= 1UL << 40;          // a pointer's high bits: not just the low 32
            if (i == 30) args[2] = BitConverter.SingleToUInt32Bits(3.5000002f);
            c.Add(l.Kernel, l.Grid, i == 41 ? (l.Block.X, 2u, 1u) : l.Block, l.SharedBytes, args.Select(v => (KernelArg)v).ToArray());
        }
        Assert.Equal(new[] { 17, 30, 41 }, c.ChangedSince(reference)!);
        Assert.Empty(reference.ChangedSince(Step(rng, 0x7f00_0000_0000, 2))!);
    }

    [Fact]
    public void OtherKernelsOrAnotherCountCannotUpdateTheGraph()
    {
        var a = Step(new Random(3), 0x7f00_0000_0000, 2);
        var shorter = new LaunchRecord();
        for (int i = 0; i < a.Count - 1; i++) shorter.Add(a[i].Kernel, a[i].Grid, a[i].Block, 0, a.Args(i).ToArray().Select(v => (KernelArg)v).ToArray());
        Assert.Null(shorter.ChangedSince(a));

        var swapped = new LaunchRecord();
        for (int i = 0; i < a.Count; i++) swapped.Add(i == 5 ? Norm : a[i].Kernel, a[i].Grid, a[i].Block, 0, a.Args(i).ToArray().Select(v => (KernelArg)v).ToArray());
        Assert.Null(swapped.ChangedSince(a));
        Assert.False(swapped.SameKernels(a));
    }

    [Fact]
    public void ClearingKeepsNothingAndTheRecordGrowsPastItsFirstArrays()
    {
        var r = new LaunchRecord();
        for (int i = 0; i < 1000; i++) r.Add(Add, ((uint)i + 1, 1, 1), (256, 1, 1), 0, [(ulong)i, i, 2f, 3f, 4f, 5f]);
        Assert.Equal(1000, r.Count);
        Assert.Equal((999u + 1, 1u, 1u), r[999].Grid);
        Assert.Equal(new ulong[] { 999, 999, BitConverter.SingleToUInt32Bits(2f), BitConverter.SingleToUInt32Bits(3f), BitConverter.SingleToUInt32Bits(4f), BitConverter.SingleToUInt32Bits(5f) },
            r.Args(999).ToArray());
        r.Clear();
        Assert.Equal(0, r.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => r[0]);
        var tooMany = Enumerable.Range(0, CudaKernel.MaxArgs + 1).Select(i => (KernelArg)i).ToArray();
        Assert.Throws<NnlArgumentException>(() => r.Add(Add, (1, 1, 1), (1, 1, 1), 0, tooMany));
    }
}
