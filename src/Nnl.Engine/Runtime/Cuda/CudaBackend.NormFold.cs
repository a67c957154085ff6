using Nnl.Engine.Cuda;
using Nnl.Engine.Memory;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>
/// A one-token <see cref="NormMatMul"/> as one launch: the register GEMV applies the norm to x itself
/// (kernels/gemv_xreg.cu, nnl_xr_fold). Σ_j W_j·norm(x)_j + bias = r·(Σ_j W_j·γ_j·x_j − μ·c) + d with
/// c = W·γ and d = W·β + bias, so the product streams its weights against γ∘x from the start and
/// needs μ and r only where it stores a row. c and d are constants of the weights, computed once per
/// product; so the fold needs weights whose memory never changes (<see cref="DeclareConstant"/>).
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>
    /// Whether a one-token NormMatMul over constant weights folds its norm into the product (one launch
    /// and one stage of the decode chain fewer a norm). The NNL_NORM_FOLD environment variable set to 0
    /// turns the default off.
    /// </summary>
    public bool FoldNormIntoProduct { get; set; } = Environment.GetEnvironmentVariable("NNL_NORM_FOLD") != "0";

    /// <summary>NormMatMul calls that ran as one folded launch (tests check that the fold, not the composition, ran).</summary>
    public long FoldedNorms { get; private set; }

    private readonly HashSet<CudaTensor> _constants = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<FoldKey, DeviceAllocation> _foldConstants = [];
    private KernelHandle? _foldedGemv, _foldConstantsKernel;

    private readonly record struct FoldKey(CudaTensor Weight, CudaTensor Gamma, CudaTensor? Beta, CudaTensor? Bias);

    /// <summary>
    /// Promises that <paramref name="weight"/>'s memory is not written while it lives (resident weights):
    /// constants derived from it may be kept. Weights made by <see cref="CreateWeight"/> are constant
    /// already; an <see cref="Upload"/> into a tensor or its <see cref="Release"/> ends the promise.
    /// </summary>
    public void DeclareConstant(BackendTensor weight) => _constants.Add(Own(weight, "DeclareConstant"));

    /// <summary>Whether <paramref name="t"/> is absent or constant (<see cref="DeclareConstant"/>).</summary>
    private bool IsConstant(CudaTensor? t) => t is null || _constants.Contains(t);

    /// <summary>Drops <paramref name="t"/>'s promise and every constant derived from it.</summary>
    private void ForgetConstant(CudaTensor t)
    {
        if (!_constants.Remove(t)) return;
        foreach (var key in _foldConstants.Keys.Where(k => k.Weight == t || k.Gamma == t || k.Beta == t || k.Bias == t).ToList())
        {
            Allocator.Free(_foldConstants[key]);
            _foldConstants.Remove(key);
        }
    }

    /// <summary>
    /// Launches the folded product when it reads this NormMatMul: one token, the register GEMV's shapes,
    /// the norm's weights of the product's type and 16-byte aligned, all weights constant; false
    /// launches nothing.
    /// </summary>
    private bool TryLaunchFoldedNormProduct(CudaTensor x, RowNorm norm, CudaTensor gamma, CudaTensor? beta, ProductOperands p, MatMulEpilogue epilogue)
    {
        if (!FoldNormIntoProduct || !PreferRegisterGemv || ForcedGemvVariant is not (null or CudaGemvVariant.InputInRegisters)
            || (ForcedMatMulPath ?? CudaMatMulPath.Gemv) != CudaMatMulPath.Gemv)
            return false;
        var type = p.W.DType;
        if (p.Rows != 1 || p.Layout != WeightLayout.Linear || gamma.DType != type || (beta is not null && beta.DType != type)
            || (p.B is not null && p.B.DType != type) || gamma.Pointer % 16 != 0 || Overlap(x, p.Y))
            return false;
        if (!IsConstant(p.W) || !IsConstant(gamma) || !IsConstant(beta) || !IsConstant(p.B)) return false;
        if (RegisterGemvGridFor(p.W, x, p.N, p.K) is not { } grid) return false;
        bool rms = norm.Kind == NormKind.RmsNorm;
        if (FoldConstants(new FoldKey(p.W, gamma, rms ? null : beta, p.B), p.N, p.K) is not { } constants) return false;
        _foldedGemv ??= new KernelHandle(Context, "gemv_xreg", "nnl_gemv_xregn");
        RegisterGemvLaunches++;
        FoldedNorms++;
        ulong c = rms ? 0UL : constants.Pointer, d = constants.Pointer + (ulong)(p.N * sizeof(float));
        LaunchWithSharedMemory(_foldedGemv.For(type), ((uint)grid.Blocks, 1, 1), ((uint)(32 * grid.Warps), 1, 1), grid.SharedBytes,
            p.W.Pointer, x.Pointer, p.Y.Pointer, p.N, p.K, grid.Slices, (int)epilogue, gamma.Pointer, c, d, rms ? 1 : 0, norm.Epsilon);
        return true;
    }

    /// <summary>
    /// c = W·γ and d = W·β + bias of one product ([2, n] floats; an RMSNorm shares them with a LayerNorm
    /// without β and ignores c), computed on first use (recorded into
    /// the step being recorded, if any); null when the pool has no room for them (the norm is then composed).
    /// </summary>
    private DeviceAllocation? FoldConstants(FoldKey key, int n, int k)
    {
        if (_foldConstants.TryGetValue(key, out var known)) return known;
        DeviceAllocation memory;
        try
        {
            memory = Allocator.Allocate(2L * n * sizeof(float), $"{key.Weight.Name}: norm fold constants");
        }
        catch (NnlOutOfMemoryException)
        {
            return null;
        }
        _foldConstants[key] = memory;
        _foldConstantsKernel ??= new KernelHandle(Context, "gemv_xreg", "nnl_norm_fold_constants");
        Launch(_foldConstantsKernel.For(key.Weight.DType), Blocks((long)n * 32), Threads,
            key.Weight.Pointer, key.Gamma.Pointer, key.Beta?.Pointer ?? 0UL, key.Bias?.Pointer ?? 0UL,
            memory.Pointer, memory.Pointer + (ulong)(n * sizeof(float)), n, k);
        return memory;
    }
}
