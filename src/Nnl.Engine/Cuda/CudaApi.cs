using System.Runtime.InteropServices;

namespace Nnl.Engine.Cuda;

/// <summary>
/// The CUDA driver API, as thin typed declarations. Every call returns a CUresult that callers pass
/// to <see cref="CudaCheck.ThrowIfFailed"/>; nothing here is used unchecked. Versioned entry points
/// (_v2) are the ones cuda.h maps the plain names to since CUDA 4/11.
/// </summary>
internal static unsafe partial class CudaApi
{
    static CudaApi() => NativeLibraryNames.EnsureResolver(typeof(CudaApi).Assembly);

    private const string Lib = NativeLibraryNames.Cuda;

    // Initialisation, version, errors
    [LibraryImport(Lib)] public static partial int cuInit(uint flags);
    [LibraryImport(Lib)] public static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] public static partial int cuGetErrorName(int error, out IntPtr name);
    [LibraryImport(Lib)] public static partial int cuGetErrorString(int error, out IntPtr text);

    // Devices
    [LibraryImport(Lib)] public static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] public static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib)] public static partial int cuDeviceGetAttribute(out int value, CudaDeviceAttribute attribute, int device);
    [LibraryImport(Lib, EntryPoint = "cuDeviceTotalMem_v2")] public static partial int cuDeviceTotalMem(out nuint bytes, int device);
    [LibraryImport(Lib)] public static partial int cuDeviceGetPCIBusId(byte* busId, int length, int device);
    [LibraryImport(Lib)] public static partial int cuDeviceCanAccessPeer(out int canAccess, int device, int peerDevice);

    // Primary contexts (one per device, shared with every other CUDA user in the process)
    [LibraryImport(Lib)] public static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] public static partial int cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(Lib)] public static partial int cuCtxSetCurrent(IntPtr context);
    [LibraryImport(Lib)] public static partial int cuCtxGetCurrent(out IntPtr context);
    [LibraryImport(Lib)] public static partial int cuCtxSynchronize();
    [LibraryImport(Lib)] public static partial int cuCtxEnablePeerAccess(IntPtr peerContext, uint flags);
    [LibraryImport(Lib)] public static partial int cuCtxDisablePeerAccess(IntPtr peerContext);
    [LibraryImport(Lib, EntryPoint = "cuMemGetInfo_v2")] public static partial int cuMemGetInfo(out nuint free, out nuint total);

    // Streams and events
    [LibraryImport(Lib)] public static partial int cuStreamCreate(out IntPtr stream, uint flags);
    [LibraryImport(Lib)] public static partial int cuStreamCreateWithPriority(out IntPtr stream, uint flags, int priority);
    [LibraryImport(Lib, EntryPoint = "cuStreamDestroy_v2")] public static partial int cuStreamDestroy(IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuStreamSynchronize(IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuStreamQuery(IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuStreamWaitEvent(IntPtr stream, IntPtr evt, uint flags);
    [LibraryImport(Lib)] public static partial int cuEventCreate(out IntPtr evt, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuEventDestroy_v2")] public static partial int cuEventDestroy(IntPtr evt);
    [LibraryImport(Lib)] public static partial int cuEventRecord(IntPtr evt, IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuEventSynchronize(IntPtr evt);
    [LibraryImport(Lib)] public static partial int cuEventQuery(IntPtr evt);
    [LibraryImport(Lib)] public static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);

    // Device memory
    [LibraryImport(Lib, EntryPoint = "cuMemAlloc_v2")] public static partial int cuMemAlloc(out ulong pointer, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemFree_v2")] public static partial int cuMemFree(ulong pointer);
    [LibraryImport(Lib, EntryPoint = "cuMemsetD8_v2")] public static partial int cuMemsetD8(ulong pointer, byte value, nuint count);
    [LibraryImport(Lib)] public static partial int cuMemsetD8Async(ulong pointer, byte value, nuint count, IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuMemsetD32Async(ulong pointer, uint value, nuint count, IntPtr stream);

    // Host memory: pinned (page-locked), write-combined, mapped, and pageable memory registered in place
    [LibraryImport(Lib)] public static partial int cuMemHostAlloc(out IntPtr pointer, nuint bytes, uint flags);
    [LibraryImport(Lib)] public static partial int cuMemFreeHost(IntPtr pointer);
    [LibraryImport(Lib, EntryPoint = "cuMemHostGetDevicePointer_v2")] public static partial int cuMemHostGetDevicePointer(out ulong devicePointer, IntPtr hostPointer, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuMemHostRegister_v2")] public static partial int cuMemHostRegister(IntPtr pointer, nuint bytes, uint flags);
    [LibraryImport(Lib)] public static partial int cuMemHostUnregister(IntPtr pointer);

    // Copies
    [LibraryImport(Lib, EntryPoint = "cuMemcpyHtoD_v2")] public static partial int cuMemcpyHtoD(ulong destination, void* source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoH_v2")] public static partial int cuMemcpyDtoH(void* destination, ulong source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoD_v2")] public static partial int cuMemcpyDtoD(ulong destination, ulong source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyHtoDAsync_v2")] public static partial int cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, IntPtr stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoHAsync_v2")] public static partial int cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, IntPtr stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoDAsync_v2")] public static partial int cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuMemcpyPeerAsync(ulong destination, IntPtr destinationContext, ulong source, IntPtr sourceContext, nuint bytes, IntPtr stream);

    // Virtual memory management
    [LibraryImport(Lib)] public static partial int cuMemAddressReserve(out ulong pointer, nuint size, nuint alignment, ulong address, ulong flags);
    [LibraryImport(Lib)] public static partial int cuMemAddressFree(ulong pointer, nuint size);
    [LibraryImport(Lib)] public static partial int cuMemCreate(out ulong handle, nuint size, CudaMemAllocationProp* properties, ulong flags);
    [LibraryImport(Lib)] public static partial int cuMemRelease(ulong handle);
    [LibraryImport(Lib)] public static partial int cuMemMap(ulong pointer, nuint size, nuint offset, ulong handle, ulong flags);
    [LibraryImport(Lib)] public static partial int cuMemUnmap(ulong pointer, nuint size);
    [LibraryImport(Lib)] public static partial int cuMemSetAccess(ulong pointer, nuint size, CudaMemAccessDesc* descriptors, nuint count);
    [LibraryImport(Lib)] public static partial int cuMemGetAllocationGranularity(out nuint granularity, CudaMemAllocationProp* properties, int option);

    // Modules and kernels
    [LibraryImport(Lib)] public static partial int cuModuleLoadDataEx(out IntPtr module, void* image, uint optionCount, int* options, void** optionValues);
    [LibraryImport(Lib)] public static partial int cuModuleUnload(IntPtr module);
    [LibraryImport(Lib)] public static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, byte* name);
    [LibraryImport(Lib)] public static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);
    [LibraryImport(Lib)] public static partial int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, IntPtr function, int blockSize, nuint dynamicSharedBytes);
    [LibraryImport(Lib)] public static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedMemoryBytes, IntPtr stream, void** parameters, void** extra);

    // Graphs of kernel nodes. The unversioned exports take CUDA_KERNEL_NODE_PARAMS v1 (cuda.h maps the
    // plain names to _v2, which appends a CUkernel and a CUcontext, since CUDA 12); v1 works on 11.4+.
    [LibraryImport(Lib)] public static partial int cuGraphCreate(out IntPtr graph, uint flags);
    [LibraryImport(Lib)] public static partial int cuGraphDestroy(IntPtr graph);
    [LibraryImport(Lib)] public static partial int cuGraphAddKernelNode(out IntPtr node, IntPtr graph, IntPtr* dependencies, nuint dependencyCount, CudaKernelNodeParams* parameters);
    [LibraryImport(Lib)] public static partial int cuGraphInstantiateWithFlags(out IntPtr graphExec, IntPtr graph, ulong flags);
    [LibraryImport(Lib)] public static partial int cuGraphExecKernelNodeSetParams(IntPtr graphExec, IntPtr node, CudaKernelNodeParams* parameters);
    [LibraryImport(Lib)] public static partial int cuGraphLaunch(IntPtr graphExec, IntPtr stream);
    [LibraryImport(Lib)] public static partial int cuGraphExecDestroy(IntPtr graphExec);
    // CUDA 12.3+: edges with data (a programmatic dependency between two kernel nodes).
    [LibraryImport(Lib)] public static partial int cuGraphAddDependencies_v2(IntPtr graph, IntPtr* from, IntPtr* to, CudaGraphEdgeData* edgeData, nuint count);
}

/// <summary>
/// CUgraphEdgeData (cuda.h, 8 bytes). A zeroed edge is full serialization; Nnl uses one kind of
/// other edge: from the upstream kernel's programmatic port (it fires once every block of that
/// kernel has called griddepcontrol.launch_dependents or exited) with the programmatic type (the
/// downstream kernel may start and must griddepcontrol.wait before touching upstream memory).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CudaGraphEdgeData
{
    public const byte KernelNodePortProgrammatic = 1;     // CU_GRAPH_KERNEL_NODE_PORT_PROGRAMMATIC
    public const byte DependencyTypeProgrammatic = 1;     // CU_GRAPH_DEPENDENCY_TYPE_PROGRAMMATIC

    public byte FromPort;
    public byte ToPort;
    public byte Type;
    public fixed byte Reserved[5];

    public static CudaGraphEdgeData Programmatic => new() { FromPort = KernelNodePortProgrammatic, Type = DependencyTypeProgrammatic };
}

/// <summary>CUDA_KERNEL_NODE_PARAMS v1 (cuda.h), 56 bytes: what the unversioned graph entry points take.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CudaKernelNodeParams
{
    public IntPtr Function;
    public uint GridX, GridY, GridZ;
    public uint BlockX, BlockY, BlockZ;
    public uint SharedMemoryBytes;    // followed by 4 bytes of padding, as in C
    public void** KernelParams;
    public void** Extra;
}

/// <summary>CUdevice_attribute values Nnl reads (cuda.h numbering).</summary>
internal enum CudaDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    ClockRate = 13,
    MultiprocessorCount = 16,
    Integrated = 18,
    CanMapHostMemory = 19,
    PciBusId = 33,
    PciDeviceId = 34,
    MemoryClockRate = 36,
    GlobalMemoryBusWidth = 37,
    L2CacheSize = 38,
    AsyncEngineCount = 40,
    UnifiedAddressing = 41,
    PciDomainId = 50,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
    HostRegisterSupported = 99,
    VirtualMemoryManagementSupported = 102,
}

/// <summary>CUmemAllocationProp (cuda.h), 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CudaMemAllocationProp
{
    public int Type;                  // CU_MEM_ALLOCATION_TYPE_PINNED = 1
    public int RequestedHandleTypes;  // CU_MEM_HANDLE_TYPE_NONE = 0
    public int LocationType;          // CU_MEM_LOCATION_TYPE_DEVICE = 1
    public int LocationId;            // device ordinal
    public IntPtr Win32HandleMetaData;
    public byte CompressionType;
    public byte GpuDirectRdmaCapable;
    public ushort Usage;
    public uint Reserved;
}

/// <summary>CUmemAccessDesc (cuda.h), 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CudaMemAccessDesc
{
    public int LocationType;
    public int LocationId;
    public int Flags;                 // CU_MEM_ACCESS_FLAGS_PROT_READWRITE = 3
}

/// <summary>Flag values from cuda.h that the wrappers pass.</summary>
internal static class CudaFlags
{
    public const uint StreamNonBlocking = 1;
    public const uint EventDefault = 0;
    public const uint EventBlockingSync = 1;
    public const uint EventDisableTiming = 2;
    public const uint HostAllocPortable = 1;
    public const uint HostAllocDeviceMap = 2;
    public const uint HostAllocWriteCombined = 4;
    public const uint HostRegisterPortable = 1;
    public const uint HostRegisterDeviceMap = 2;
    public const int MemAllocationTypePinned = 1;
    public const int MemLocationTypeDevice = 1;
    public const int MemAccessProtReadWrite = 3;
    public const int MemAllocGranularityMinimum = 0;
    public const int MemAllocGranularityRecommended = 1;
    public const int FuncAttributeMaxDynamicSharedMemory = 8;
    public const int JitInfoLogBuffer = 3;
    public const int JitInfoLogBufferSizeBytes = 4;
    public const int JitErrorLogBuffer = 5;
    public const int JitErrorLogBufferSizeBytes = 6;
}
