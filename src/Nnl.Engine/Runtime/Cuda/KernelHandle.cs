using Nnl.Engine.Cuda;
using Nnl.Engine.Models;

namespace Nnl.Engine.Runtime.Cuda;

/// <summary>
/// One kernel entry of the backend's context, resolved on first use and kept: a launch then looks
/// nothing up and formats no name. Weight-typed kernels (entries name_f16, name_bf16, name_f32)
/// resolve each type on its own.
/// </summary>
internal sealed class KernelHandle
{
    private readonly CudaContext _context;
    private readonly string _file;
    private readonly string _entry;
    private CudaKernel? _plain, _f16, _bf16, _f32;

    public KernelHandle(CudaContext context, string file, string entry)
    {
        _context = context;
        _file = file;
        _entry = entry;
    }

    /// <summary>The entry itself (a kernel without weight types).</summary>
    public CudaKernel Plain => _plain ??= KernelLibrary.Kernel(_context, _file, _entry);

    /// <summary>The entry for weights (or cache elements) of <paramref name="type"/>.</summary>
    public CudaKernel For(TensorDType type) => type switch
    {
        TensorDType.F16 => _f16 ??= KernelLibrary.Kernel(_context, _file, _entry + "_f16"),
        TensorDType.BF16 => _bf16 ??= KernelLibrary.Kernel(_context, _file, _entry + "_bf16"),
        TensorDType.F32 => _f32 ??= KernelLibrary.Kernel(_context, _file, _entry + "_f32"),
        _ => throw new NnlArgumentException("dtype", $"the CUDA backend has no kernels for {type}"),
    };
}
