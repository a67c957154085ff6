using System.Reflection;
using System.Runtime.InteropServices;

namespace Nnl.Engine.Cuda;

/// <summary>
/// Resolves the logical library names used by the bindings ("nnl-cuda", "nnl-nvml", "nnl-nvrtc",
/// "nnl-cublas") to whichever real library this machine has. The driver has one name per OS; the
/// toolkit libraries carry their major version in the file name, so we try CUDA 13, 12 and 11.
/// </summary>
internal static class NativeLibraryNames
{
    public const string Cuda = "nnl-cuda";
    public const string Nvml = "nnl-nvml";
    public const string Nvrtc = "nnl-nvrtc";
    public const string Cublas = "nnl-cublas";

    public static IReadOnlyList<string> Candidates(string logicalName)
    {
        bool windows = OperatingSystem.IsWindows();
        return logicalName switch
        {
            Cuda => windows ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"],
            Nvml => windows ? ["nvml.dll"] : ["libnvidia-ml.so.1", "libnvidia-ml.so"],
            Nvrtc => windows
                ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"]
                : ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
            Cublas => windows
                ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
                : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
            _ => [],
        };
    }

    private static readonly Dictionary<string, IntPtr> Loaded = new();
    private static readonly HashSet<Assembly> Registered = new();

    /// <summary>Installs the resolver for an assembly that declares bindings (once per assembly).</summary>
    public static void EnsureResolver(Assembly assembly)
    {
        lock (Registered)
        {
            if (!Registered.Add(assembly)) return;
            NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => TryLoad(name, out var h) ? h : IntPtr.Zero);
        }
    }

    /// <summary>Loads the first candidate that exists; false (never an exception) when none does.</summary>
    public static bool TryLoad(string logicalName, out IntPtr handle)
    {
        lock (Loaded)
        {
            if (Loaded.TryGetValue(logicalName, out handle)) return handle != IntPtr.Zero;
            handle = IntPtr.Zero;
            foreach (var candidate in Candidates(logicalName))
            {
                if (NativeLibrary.TryLoad(candidate, out handle)) break;
            }
            Loaded[logicalName] = handle;
            return handle != IntPtr.Zero;
        }
    }

    /// <summary>Which file was loaded for a logical name, for messages ("libnvrtc.so.11.2").</summary>
    public static string Describe(string logicalName) => string.Join(", ", Candidates(logicalName));
}
