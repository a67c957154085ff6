using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Nnl.Engine.Cuda;

/// <summary>
/// NVRTC, the run-time CUDA C++ compiler. The build uses it to turn kernels/*.cu into PTX; nothing
/// at run time needs it. Any NVRTC from CUDA 11.2 on will do (Debian's libnvrtc11.2 included).
/// </summary>
internal static unsafe partial class Nvrtc
{
    static Nvrtc() => NativeLibraryNames.EnsureResolver(typeof(Nvrtc).Assembly);

    public static bool IsAvailable => NativeLibraryNames.TryLoad(NativeLibraryNames.Nvrtc, out _);

    public static void EnsureAvailable()
    {
        if (!IsAvailable)
            throw new NnlLibraryNotFoundException("NVRTC", NativeLibraryNames.Describe(NativeLibraryNames.Nvrtc),
                "Kernels are compiled with NVRTC. On Debian enable the non-free component and `apt-get install libnvrtc11.2`; elsewhere install the CUDA toolkit (any version from 11.2).");
    }

    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcVersion(out int major, out int minor);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial IntPtr nvrtcGetErrorString(int result);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcCreateProgram(out IntPtr prog, byte* src, byte* name, int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcCompileProgram(IntPtr prog, int numOptions, byte** options);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcGetPTXSize(IntPtr prog, out nuint size);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcGetPTX(IntPtr prog, byte* ptx);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcGetProgramLogSize(IntPtr prog, out nuint size);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcGetProgramLog(IntPtr prog, byte* log);
    [LibraryImport(NativeLibraryNames.Nvrtc)] private static partial int nvrtcDestroyProgram(ref IntPtr prog);

    public static Version Version()
    {
        EnsureAvailable();
        Check(nvrtcVersion(out int major, out int minor));
        return new Version(major, minor);
    }

    /// <summary>
    /// Compiles one translation unit to PTX. <paramref name="headers"/> maps include names to their
    /// source, so kernels can include our own .cuh files without a file system or toolkit headers.
    /// </summary>
    public static string CompileToPtx(string source, string name, IReadOnlyDictionary<string, string> headers, IReadOnlyList<string> options)
    {
        EnsureAvailable();
        var pins = new List<IntPtr>();
        byte* Utf8(string s)
        {
            var p = Marshal.StringToCoTaskMemUTF8(s);
            pins.Add(p);
            return (byte*)p;
        }
        IntPtr prog = IntPtr.Zero;
        try
        {
            var headerNames = headers.Keys.ToArray();
            byte** hdrSrc = stackalloc byte*[Math.Max(1, headerNames.Length)];
            byte** hdrName = stackalloc byte*[Math.Max(1, headerNames.Length)];
            for (int i = 0; i < headerNames.Length; i++)
            {
                hdrSrc[i] = Utf8(headers[headerNames[i]]);
                hdrName[i] = Utf8(headerNames[i]);
            }
            Check(nvrtcCreateProgram(out prog, Utf8(source), Utf8(name), headerNames.Length, hdrSrc, hdrName));
            byte** opts = stackalloc byte*[Math.Max(1, options.Count)];
            for (int i = 0; i < options.Count; i++) opts[i] = Utf8(options[i]);
            int rc = nvrtcCompileProgram(prog, options.Count, opts);
            if (rc != 0)
            {
                string log = ProgramLog(prog);
                Check(rc, detail: $"{name}:{Environment.NewLine}{log}");
            }
            Check(nvrtcGetPTXSize(prog, out nuint size));
            var buffer = new byte[(int)size];
            fixed (byte* b = buffer) Check(nvrtcGetPTX(prog, b));
            return Encoding.UTF8.GetString(buffer, 0, Math.Max(0, buffer.Length - 1)); // drop the trailing NUL
        }
        finally
        {
            if (prog != IntPtr.Zero) nvrtcDestroyProgram(ref prog);
            foreach (var p in pins) Marshal.FreeCoTaskMem(p);
        }
    }

    private static string ProgramLog(IntPtr prog)
    {
        if (nvrtcGetProgramLogSize(prog, out nuint size) != 0 || size <= 1) return "";
        var buffer = new byte[(int)size];
        fixed (byte* b = buffer) nvrtcGetProgramLog(prog, b);
        return Encoding.UTF8.GetString(buffer, 0, buffer.Length - 1);
    }

    private static void Check(int result, [CallerArgumentExpression(nameof(result))] string call = "", string? detail = null)
    {
        if (result == 0) return;
        string text = Marshal.PtrToStringUTF8(nvrtcGetErrorString(result)) ?? $"NVRTC error {result}";
        int paren = call.IndexOf('(');
        throw new NnlCudaException(text, result, text, paren > 0 ? call[..paren] : call, detail);
    }
}
