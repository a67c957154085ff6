namespace Nnl.Engine.Cuda;

/// <summary>
/// A CUDA driver, NVRTC, cuBLAS or NVML call failed. Carries the library's own error name
/// (CUDA_ERROR_INVALID_DEVICE, NVRTC_ERROR_COMPILATION, ...) and the call that failed.
/// </summary>
public class NnlCudaException : NnlException
{
    public NnlCudaException(string errorName, int code, string description, string call, string? detail = null)
        : base(Compose(errorName, code, description, call, detail))
    {
        ErrorName = errorName;
        Code = code;
        Description = description;
        Call = call;
    }

    public string ErrorName { get; }
    public int Code { get; }
    public string Description { get; }
    public string Call { get; }

    public override string ErrorId => ErrorName switch
    {
        "CUDA_ERROR_INVALID_DEVICE" => "CudaInvalidDevice",
        "CUDA_ERROR_NO_DEVICE" => "CudaNoDevice",
        "CUDA_ERROR_OUT_OF_MEMORY" => "CudaOutOfMemory",
        _ => "CudaCallFailed",
    };

    public override string Category => ErrorName switch
    {
        "CUDA_ERROR_INVALID_DEVICE" => "InvalidArgument",
        "CUDA_ERROR_NO_DEVICE" => "ResourceUnavailable",
        "CUDA_ERROR_OUT_OF_MEMORY" => "LimitsExceeded",
        _ => "NotSpecified",
    };

    private static string Compose(string name, int code, string description, string call, string? detail) =>
        $"{call} failed with {name} ({code}): {description}" + (detail is null ? "" : Environment.NewLine + detail);
}

/// <summary>A native library Nnl needs is not installed: the NVIDIA driver, or an optional toolkit library.</summary>
public sealed class NnlLibraryNotFoundException : NnlException
{
    public NnlLibraryNotFoundException(string library, string triedNames, string advice)
        : base($"{library} was not found (tried {triedNames}). {advice}")
    {
        Library = library;
    }

    public string Library { get; }
    public override string ErrorId => Library switch
    {
        "NVIDIA driver" => "CudaDriverNotFound",
        "NVRTC" => "NvrtcNotFound",
        "cuBLAS" => "CublasNotFound",
        _ => "NativeLibraryNotFound",
    };
    public override string Category => "ResourceUnavailable";
}
