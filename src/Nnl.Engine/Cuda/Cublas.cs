using System.Runtime.CompilerServices;

namespace Nnl.Engine.Cuda;

/// <summary>
/// cuBLAS, optional: where it is installed the GPU backend uses GemmEx (fp16/bf16 inputs, fp32
/// accumulation) for prefill; where it is not, Nnl's own kernels do the work and a message says so.
/// </summary>
public sealed unsafe partial class Cublas : IDisposable
{
    static Cublas() => NativeLibraryNames.EnsureResolver(typeof(Cublas).Assembly);

    private const string Lib = NativeLibraryNames.Cublas;

    [System.Runtime.InteropServices.LibraryImport(Lib, EntryPoint = "cublasCreate_v2")] private static partial int cublasCreate(out IntPtr handle);
    [System.Runtime.InteropServices.LibraryImport(Lib, EntryPoint = "cublasDestroy_v2")] private static partial int cublasDestroy(IntPtr handle);
    [System.Runtime.InteropServices.LibraryImport(Lib, EntryPoint = "cublasSetStream_v2")] private static partial int cublasSetStream(IntPtr handle, IntPtr stream);
    [System.Runtime.InteropServices.LibraryImport(Lib, EntryPoint = "cublasGetVersion_v2")] private static partial int cublasGetVersion(IntPtr handle, out int version);
    [System.Runtime.InteropServices.LibraryImport(Lib)] private static partial int cublasGemmEx(IntPtr handle, int transa, int transb, int m, int n, int k,
        void* alpha, ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algo);

    /// <summary>cudaDataType values.</summary>
    public enum DataType { F32 = 0, F16 = 2, BF16 = 14 }

    private const int ComputeF32 = 68;      // CUBLAS_COMPUTE_32F
    private const int GemmDefault = -1;     // CUBLAS_GEMM_DEFAULT

    public static bool IsAvailable => NativeLibraryNames.TryLoad(Lib, out _);

    /// <summary>Why cuBLAS is not used, for a warning; null when it is available.</summary>
    public static string? UnavailableReason => IsAvailable ? null :
        $"cuBLAS was not found (tried {NativeLibraryNames.Describe(Lib)}); Nnl's own GEMM kernels are used instead.";

    public Cublas(CudaContext context)
    {
        if (!IsAvailable) throw new NnlLibraryNotFoundException("cuBLAS", NativeLibraryNames.Describe(Lib), "Install the CUDA toolkit's cuBLAS (11, 12 or 13).");
        Context = context;
        context.MakeCurrent();
        Check(cublasCreate(out IntPtr h));
        Handle = h;
        Check(cublasGetVersion(Handle, out int v));
        Version = v;
    }

    public CudaContext Context { get; }
    public int Version { get; }
    private IntPtr Handle { get; set; }

    /// <summary>
    /// Row-major C[m,n] = A[m,k] · W where W is [n,k] (nn.Linear weight layout, used transposed) when
    /// <paramref name="bIsOutIn"/>, or [k,n] (GPT-2 Conv1D layout) otherwise; fp32 accumulation.
    /// cuBLAS wants A and B of one type (fp16·fp16, bf16·bf16 or fp32·fp32); C may be fp32.
    /// cuBLAS is column-major, so we compute C^T = op(B) · A^T.
    /// </summary>
    public void MatMul(CudaStream stream, ulong a, DataType aType, ulong b, DataType bType, bool bIsOutIn, ulong c, DataType cType,
        int m, int n, int k, float beta = 0f)
    {
        Context.MakeCurrent();
        Check(cublasSetStream(Handle, stream.Handle));
        float alpha = 1f;
        // Column-major view: A^T is [k,m] with ld k; C^T is [n,m] with ld n.
        // Out-in weight: B row-major [n,k] = column-major [k,n] with ld k -> need op T to get [n,k].
        // In-out weight: B row-major [k,n] = column-major [n,k] with ld n -> op N.
        int transB = bIsOutIn ? 1 : 0;
        int ldb = bIsOutIn ? k : n;
        Check(cublasGemmEx(Handle, transB, 0, n, m, k, &alpha, b, (int)bType, ldb, a, (int)aType, k, &beta, c, (int)cType, n, ComputeF32, GemmDefault));
    }

    private static void Check(int status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status == 0) return;
        string name = status switch
        {
            1 => "CUBLAS_STATUS_NOT_INITIALIZED",
            3 => "CUBLAS_STATUS_ALLOC_FAILED",
            7 => "CUBLAS_STATUS_INVALID_VALUE",
            8 => "CUBLAS_STATUS_ARCH_MISMATCH",
            11 => "CUBLAS_STATUS_MAPPING_ERROR",
            13 => "CUBLAS_STATUS_EXECUTION_FAILED",
            14 => "CUBLAS_STATUS_INTERNAL_ERROR",
            15 => "CUBLAS_STATUS_NOT_SUPPORTED",
            _ => $"CUBLAS_STATUS_{status}",
        };
        throw new NnlCudaException(name, status, "cuBLAS call failed", CudaCheck.CallName(call));
    }

    public void Dispose()
    {
        if (Handle == IntPtr.Zero) return;
        Context.MakeCurrent();
        cublasDestroy(Handle);
        Handle = IntPtr.Zero;
    }
}
