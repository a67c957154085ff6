using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nnl.Engine.Cuda;

/// <summary>
/// The one place a CUresult is turned into an exception (ILGPU's ThrowIfFailed habit): the driver's
/// own error name and text, and the call that failed, taken from the caller's expression.
/// </summary>
internal static class CudaCheck
{
    public const int Success = 0;
    public const int ErrorNotReady = 600;
    public const int ErrorPeerAccessAlreadyEnabled = 704;
    public const int ErrorHostMemoryAlreadyRegistered = 712;

    public static void ThrowIfFailed(int result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != Success) throw Exception(result, call);
    }

    public static NnlCudaException Exception(int result, string call, string? detail = null) =>
        new(ErrorName(result), result, ErrorText(result), CallName(call), detail);

    public static string ErrorName(int result)
    {
        try
        {
            if (CudaApi.cuGetErrorName(result, out var p) == Success && p != IntPtr.Zero)
                return Marshal.PtrToStringUTF8(p) ?? $"CUDA_ERROR_{result}";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        return $"CUDA_ERROR_{result}";
    }

    public static string ErrorText(int result)
    {
        try
        {
            if (CudaApi.cuGetErrorString(result, out var p) == Success && p != IntPtr.Zero)
                return Marshal.PtrToStringUTF8(p) ?? "unknown error";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        return "unknown error";
    }

    /// <summary>"CudaApi.cuMemAlloc(out var p, bytes)" → "cuMemAlloc".</summary>
    internal static string CallName(string expression)
    {
        int paren = expression.IndexOf('(');
        string head = paren > 0 ? expression[..paren] : expression;
        int dot = head.LastIndexOf('.');
        return dot >= 0 ? head[(dot + 1)..] : head;
    }
}
