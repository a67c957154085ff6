#!/usr/bin/env python3
"""Which part of the setup decides a small pinned copy's time? Same timing method as
torch_bandwidth.py (GPU spin, 100 copies between two events, median of 30 samples), with the host
buffer, the device buffer and the stream each taken either from torch or straight from the
driver (as Nnl takes them), at two allocation sizes. Prints one JSON object per point.
"""
import ctypes
import json
import statistics
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_bandwidth import Sleeper  # noqa: E402

cu = ctypes.CDLL("libcuda.so.1")
u64, vp, sz = ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t
cu.cuMemHostAlloc.argtypes = [ctypes.POINTER(vp), sz, ctypes.c_uint]
cu.cuMemAlloc_v2.argtypes = [ctypes.POINTER(u64), sz]
cu.cuStreamCreateWithPriority.argtypes = [ctypes.POINTER(vp), ctypes.c_uint, ctypes.c_int]
cu.cuMemcpyHtoDAsync_v2.argtypes = [u64, vp, sz, vp]
cu.cuMemcpyDtoHAsync_v2.argtypes = [vp, u64, sz, vp]
PORTABLE, DEVICEMAP = 1, 2
SIZES = [1000, 4000, 8000, 16000, 40000, 100000]
MB = 1000 * 1000


def check(r, what):
    if r:
        raise RuntimeError(f"{what} failed: {r}")


def host(kind, nbytes):
    if kind == "torch":
        t = torch.randint(0, 256, (nbytes,), dtype=torch.uint8).pin_memory()
        return t.data_ptr(), t
    p = vp()
    check(cu.cuMemHostAlloc(ctypes.byref(p), nbytes, PORTABLE | DEVICEMAP), "cuMemHostAlloc")
    return p.value, p


def device(kind, nbytes):
    if kind == "torch":
        t = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
        return t.data_ptr(), t
    p = u64()
    check(cu.cuMemAlloc_v2(ctypes.byref(p), nbytes), "cuMemAlloc")
    return p.value, p


def stream(kind):
    if kind == "torch":
        return torch.cuda.Stream()
    h = vp()
    check(cu.cuStreamCreateWithPriority(ctypes.byref(h), 1, 0), "cuStreamCreateWithPriority")
    return torch.cuda.ExternalStream(h.value)


def measure(direction, h, d, n, s, sleeper, copies=100, samples=30):
    handle = vp(s.cuda_stream)
    if direction == "HostToDevice":
        copy = lambda: cu.cuMemcpyHtoDAsync_v2(d, h, n, handle)
    else:
        copy = lambda: cu.cuMemcpyDtoHAsync_v2(h, d, n, handle)
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(4):
        check(copy(), "copy")
    s.synchronize()
    times = []
    with torch.cuda.stream(s):
        for _ in range(samples):
            sleeper.sleep_us(50 + 40 * copies)
            a.record(s)
            for _ in range(copies):
                copy()
            b.record(s)
            b.synchronize()
            times.append(a.elapsed_time(b) * 1000.0 / copies)
    return statistics.median(times)


def main():
    torch.cuda.init()
    torch.empty(1, device="cuda")
    sleeper_stream = torch.cuda.Stream()
    for hk, dk, sk, alloc in [("torch", "torch", "torch", 68 * MB), ("driver", "driver", "driver", 1 * MB), ("driver", "driver", "driver", 68 * MB),
                              ("torch", "driver", "driver", 68 * MB), ("driver", "torch", "driver", 68 * MB), ("driver", "driver", "torch", 68 * MB),
                              ("driver", "driver", "driver", 4 * MB), ("driver", "driver", "driver", 16 * MB)]:
        h, hkeep = host(hk, alloc)
        d, dkeep = device(dk, alloc)
        s = stream(sk)
        sleeper = Sleeper(s)
        for direction in ["HostToDevice", "DeviceToHost"]:
            for n in SIZES:
                us = measure(direction, h, d, n, s, sleeper)
                print(json.dumps(dict(Host=hk, DeviceMemory=dk, Stream=sk, AllocationBytes=alloc, Direction=direction, Bytes=n,
                                      MedianMicroseconds=us, MedianGBps=n / us / 1000.0)), flush=True)
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
