using System.Runtime.InteropServices;
using Nnl.Engine.Cuda;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>One kernel launch as a graph step recorded it; its arguments live in the record's arena.</summary>
internal readonly record struct RecordedLaunch(CudaKernel Kernel, (uint X, uint Y, uint Z) Grid, (uint X, uint Y, uint Z) Block, uint SharedBytes,
    int ArgStart, int ArgCount);

/// <summary>
/// The kernel launches of one decode step, in order, with a copy of each launch's argument slots.
/// Two records are compared node by node to find what a cached graph must change: the same kernels
/// in the same order keep the graph, and only launches whose grid, block or arguments differ are
/// updated. Reused step after step without allocating once its arrays have grown.
/// </summary>
internal sealed class LaunchRecord
{
    private RecordedLaunch[] _launches = new RecordedLaunch[256];
    private ulong[] _args = new ulong[2048];
    private int _argCount;

    public int Count { get; private set; }

    public RecordedLaunch this[int index] => (uint)index < (uint)Count ? _launches[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The argument slots of launch <paramref name="index"/>.</summary>
    public ReadOnlySpan<ulong> Args(int index)
    {
        var l = this[index];
        return _args.AsSpan(l.ArgStart, l.ArgCount);
    }

    public void Add(CudaKernel kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes, ReadOnlySpan<KernelArg> args)
    {
        if (args.Length > CudaKernel.MaxArgs) throw new NnlArgumentException(nameof(args), $"kernel {kernel.Name}: {args.Length} arguments, at most {CudaKernel.MaxArgs}");
        if (Count == _launches.Length) Array.Resize(ref _launches, 2 * _launches.Length);
        if (_argCount + args.Length > _args.Length) Array.Resize(ref _args, Math.Max(2 * _args.Length, _argCount + args.Length));
        MemoryMarshal.Cast<KernelArg, ulong>(args).CopyTo(_args.AsSpan(_argCount));
        _launches[Count++] = new RecordedLaunch(kernel, grid, block, sharedBytes, _argCount, args.Length);
        _argCount += args.Length;
    }

    public void Clear()
    {
        Count = 0;
        _argCount = 0;
        Array.Clear(_launches); // drop the kernel references
    }

    /// <summary>True when <paramref name="other"/> runs the same kernels in the same order (a graph of one fits the other).</summary>
    public bool SameKernels(LaunchRecord other)
    {
        if (other.Count != Count) return false;
        for (int i = 0; i < Count; i++)
            if (!ReferenceEquals(_launches[i].Kernel, other._launches[i].Kernel)) return false;
        return true;
    }

    /// <summary>True when launch <paramref name="index"/> has the same grid, block, shared memory and arguments in both records.</summary>
    public bool SameLaunch(int index, LaunchRecord other)
    {
        var a = this[index];
        var b = other[index];
        return a.Grid == b.Grid && a.Block == b.Block && a.SharedBytes == b.SharedBytes
            && Args(index).SequenceEqual(other.Args(index));
    }

    /// <summary>
    /// The launches of this record that differ from <paramref name="cached"/>'s, or null when the two
    /// do not run the same kernels (a graph built from one cannot be updated to the other).
    /// </summary>
    public List<int>? ChangedSince(LaunchRecord cached)
    {
        if (!SameKernels(cached)) return null;
        var changed = new List<int>();
        for (int i = 0; i < Count; i++)
            if (!SameLaunch(i, cached)) changed.Add(i);
        return changed;
    }
}
