#!/usr/bin/env python3
"""Small pinned copies timed from a process that loads only the CUDA driver (no torch, no runtime).

The stream is held by cuStreamWaitValue32 on a mapped host word (nvbandwidth's way of queueing a
sample before it starts) instead of a spin kernel; then 100 back-to-back cuMemcpy*Async between
two events, median of 30 samples, as Nnl and torch_bandwidth.py do. Tells whether the small-copy
gap between Nnl and torch belongs to the torch process or to the copies themselves.
"""
import ctypes
import json
import statistics

cu = ctypes.CDLL("libcuda.so.1")
vp, u64, sz, u32 = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_uint


def ok(r, what):
    if r:
        raise RuntimeError(f"{what}: CUDA error {r}")


cu.cuMemcpyHtoDAsync_v2.argtypes = [u64, vp, sz, vp]
cu.cuMemcpyDtoHAsync_v2.argtypes = [vp, u64, sz, vp]
cu.cuStreamWaitValue32_v2.argtypes = [vp, u64, u32, u32]
cu.cuEventRecord.argtypes = [vp, vp]
cu.cuEventSynchronize.argtypes = [vp]
cu.cuEventElapsedTime.argtypes = [ctypes.POINTER(ctypes.c_float), vp, vp]
cu.cuMemHostAlloc.argtypes = [ctypes.POINTER(vp), sz, u32]
cu.cuMemHostGetDevicePointer_v2.argtypes = [ctypes.POINTER(u64), vp, u32]


def main():
    import sys
    process = "driver only (ctypes)"
    if "--with-torch" in sys.argv:
        # Same measurement in a process where torch has initialised CUDA (its primary context is ours too).
        import torch
        torch.empty(1, device="cuda")
        torch.cuda.synchronize()
        process = "driver calls after torch initialised CUDA"
    ok(cu.cuInit(0), "cuInit")
    dev = ctypes.c_int()
    ok(cu.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
    ctx = vp()
    ok(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
    ok(cu.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
    n_max = 68 * 1000 * 1000
    host = vp()
    ok(cu.cuMemHostAlloc(ctypes.byref(host), n_max, 1 | 2), "cuMemHostAlloc")
    ctypes.memset(host, 0x5A, n_max)
    dptr = u64()
    ok(cu.cuMemAlloc_v2(ctypes.byref(dptr), ctypes.c_size_t(n_max)), "cuMemAlloc")
    flag = vp()
    ok(cu.cuMemHostAlloc(ctypes.byref(flag), 4096, 1 | 2), "cuMemHostAlloc flag")
    flag_dev = u64()
    ok(cu.cuMemHostGetDevicePointer_v2(ctypes.byref(flag_dev), flag, 0), "cuMemHostGetDevicePointer")
    word = ctypes.cast(flag, ctypes.POINTER(ctypes.c_uint32))
    stream = vp()
    ok(cu.cuStreamCreateWithPriority(ctypes.byref(stream), 1, 0), "cuStreamCreate")
    start, end = vp(), vp()
    ok(cu.cuEventCreate(ctypes.byref(start), 0), "cuEventCreate")
    ok(cu.cuEventCreate(ctypes.byref(end), 0), "cuEventCreate")
    gate = 0
    for direction in ["HostToDevice", "DeviceToHost"]:
        for n in [1000, 4000, 8000, 16000, 40000, 100000, 1000000]:
            if direction == "HostToDevice":
                copy = lambda: cu.cuMemcpyHtoDAsync_v2(dptr.value, host, n, stream)
            else:
                copy = lambda: cu.cuMemcpyDtoHAsync_v2(host, dptr.value, n, stream)
            for _ in range(4):
                ok(copy(), "copy")
            times = []
            for _ in range(30):
                gate += 1
                ok(cu.cuStreamWaitValue32_v2(stream, flag_dev.value, gate, 0), "cuStreamWaitValue32")  # wait until *flag >= gate
                ok(cu.cuEventRecord(start, stream), "cuEventRecord")
                for _ in range(100):
                    ok(copy(), "copy")
                ok(cu.cuEventRecord(end, stream), "cuEventRecord")
                word[0] = gate  # release the queued sample
                ok(cu.cuEventSynchronize(end), "cuEventSynchronize")
                ms = ctypes.c_float()
                ok(cu.cuEventElapsedTime(ctypes.byref(ms), start, end), "cuEventElapsedTime")
                times.append(ms.value * 1000.0 / 100)
            us = statistics.median(times)
            print(json.dumps(dict(Process=process, Direction=direction, Bytes=n, MedianMicroseconds=us, MedianGBps=n / us / 1000.0)), flush=True)


if __name__ == "__main__":
    main()
