#!/usr/bin/env python3
"""The reference side of the Measure-NnlTransfer comparison: the same transfers done with PyTorch.

Method, identical to Nnl's (docs/Measure-NnlTransfer.md): WARMUP untimed copies, then ITERATIONS
samples; a sample is COPIES back-to-back copies between one pair of CUDA events on a non-default
stream, preceded (for pinned and device memory) by a timed GPU sleep that holds the stream while
Python queues the copies. Sample bandwidth = bytes * copies / time in decimal GB/s (device-to-device
counts bytes twice: read plus written); reported are min, median and max over the samples.

Host-to-device is dst.copy_(src, non_blocking=True) from a pinned (pin_memory=True) or pageable CPU
tensor; device-to-host the reverse. Prints one JSON object per line (same field names as Nnl's
NnlTransferResult where they mean the same), and checks each configuration's data once.
"""
import argparse
import json
import statistics
import sys

import torch

KB, MB = 1000, 1000 * 1000


def shmoo():
    """bandwidthTest's 81 shmoo sizes in decimal bytes (1 KB .. 68 MB)."""
    sizes, size = [], 0
    while size <= 64 * MB:
        if size < 20 * KB: size += 1 * KB
        elif size < 50 * KB: size += 2 * KB
        elif size < 100 * KB: size += 10 * KB
        elif size < 1 * MB: size += 100 * KB
        elif size < 16 * MB: size += 1 * MB
        elif size < 32 * MB: size += 2 * MB
        else: size += 4 * MB
        sizes.append(size)
    return sizes


LLAMA2_7B_BLOCK = [2 * n for n in [4096 * 4096] * 4 + [11008 * 4096] * 3 + [4096] * 2]


class Sleeper:
    """torch.cuda._sleep takes GPU cycles; calibrate cycles per microsecond once with events."""

    def __init__(self, stream):
        self.stream = stream
        with torch.cuda.stream(stream):
            torch.cuda._sleep(1000)
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record(stream)
            torch.cuda._sleep(2_000_000)
            b.record(stream)
        b.synchronize()
        self.cycles_per_us = 2_000_000 / (a.elapsed_time(b) * 1000.0)

    def sleep_us(self, us):
        torch.cuda._sleep(int(us * self.cycles_per_us))


class WaitValueGate:
    """Holds a stream with cuStreamWaitValue32 on a mapped host word until release() writes it
    (nvbandwidth's way): nothing runs on the GPU while Python queues a sample's copies."""

    def __init__(self):
        import ctypes
        self.ct = ctypes
        cu = ctypes.CDLL("libcuda.so.1")
        cu.cuMemHostAlloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_uint]
        cu.cuMemHostGetDevicePointer_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_void_p, ctypes.c_uint]
        cu.cuStreamWaitValue32_v2.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint]
        self.cu = cu
        host = ctypes.c_void_p()
        if cu.cuMemHostAlloc(ctypes.byref(host), 4096, 1 | 2):
            raise RuntimeError("cuMemHostAlloc failed")
        dev = ctypes.c_uint64()
        if cu.cuMemHostGetDevicePointer_v2(ctypes.byref(dev), host, 0):
            raise RuntimeError("cuMemHostGetDevicePointer failed")
        self.word = ctypes.cast(host, ctypes.POINTER(ctypes.c_uint32))
        self.word[0] = 0
        self.dev = dev.value
        self.count = 0

    def hold(self, stream, copies):
        self.count += 1
        if self.cu.cuStreamWaitValue32_v2(self.ct.c_void_p(stream.cuda_stream), self.dev, self.count, 0):
            raise RuntimeError("cuStreamWaitValue32 failed")

    def release(self):
        self.word[0] = self.count


class SleepGate:
    """Holds a stream with torch.cuda._sleep, long enough for Python to queue the sample."""

    def __init__(self, sleeper):
        self.sleeper = sleeper

    def hold(self, stream, copies):
        # Python queues a copy_ in roughly 10-40 us.
        self.sleeper.sleep_us(max(1000, 50 + 40 * copies))

    def release(self):
        pass


def sample_times(copy, copies, iterations, warmup, stream, gate, spin):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            copy()
        stream.synchronize()
        times = []
        for _ in range(iterations):
            if spin:
                gate.hold(stream, copies)
            start.record(stream)
            for _ in range(copies):
                copy()
            end.record(stream)
            if spin:
                gate.release()
            end.synchronize()
            times.append(start.elapsed_time(end))
    return times


def graph_sample_times(copy, copies, iterations, stream, gate):
    """copies x copy() captured once as a CUDA graph; a sample is one replay between two events."""
    with torch.cuda.stream(stream):
        for _ in range(4):
            copy()
    stream.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        for _ in range(copies):
            copy()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    with torch.cuda.stream(stream):
        graph.replay()  # warm-up: the first replay uploads the graph
        stream.synchronize()
        for _ in range(iterations):
            gate.hold(stream, 1)
            start.record(stream)
            graph.replay()
            end.record(stream)
            gate.release()
            end.synchronize()
            times.append(start.elapsed_time(end))
    del graph
    return times


class DriverCopies:
    """cuMemcpyHtoDAsync_v2 / cuMemcpyDtoHAsync_v2 through ctypes on torch's stream (torch's primary context)."""

    def __init__(self, stream):
        import ctypes
        self.ct = ctypes
        self.lib = ctypes.CDLL("libcuda.so.1")
        self.lib.cuMemcpyHtoDAsync_v2.argtypes = [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        self.lib.cuMemcpyDtoHAsync_v2.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p]
        self.stream = ctypes.c_void_p(stream.cuda_stream)

    def copier(self, direction, dst, src, n):
        lib, s = self.lib, self.stream
        d, h = (dst.data_ptr(), src.data_ptr()) if direction == "HostToDevice" else (src.data_ptr(), dst.data_ptr())
        if direction == "HostToDevice":
            f = lib.cuMemcpyHtoDAsync_v2

            def copy():
                r = f(d, h, n, s)
                if r:
                    raise RuntimeError(f"cuMemcpyHtoDAsync failed: {r}")
        else:
            f = lib.cuMemcpyDtoHAsync_v2

            def copy():
                r = f(h, d, n, s)
                if r:
                    raise RuntimeError(f"cuMemcpyDtoHAsync failed: {r}")
        return copy


def summarize(times, nbytes, copies, factor=1):
    gbps = [factor * nbytes * copies / (ms * 1e-3) / 1e9 for ms in times]
    us = [ms * 1000.0 / copies for ms in times]
    return dict(MinGBps=min(gbps), MedianGBps=statistics.median(gbps), MaxGBps=max(gbps),
                MinMicroseconds=min(us), MedianMicroseconds=statistics.median(us), MaxMicroseconds=max(us))


def emit(record):
    print(json.dumps(record), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--what", default="pinned,pageable,d2d,tensors")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--pageable-iterations", type=int, default=10)
    ap.add_argument("--tensor-iterations", type=int, default=10)
    ap.add_argument("--copies", type=int, default=16)
    ap.add_argument("--small-copies", type=int, default=None, help="copies per sample for sizes up to --small-limit")
    ap.add_argument("--small-limit", type=int, default=1_000_000)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--gate", choices=["sleep", "wait-value"], default="sleep",
                    help="how a sample is held until queued: torch.cuda._sleep or cuStreamWaitValue32 on a host word")
    ap.add_argument("--max-bytes", type=int, default=None, help="host-memory sweeps: largest size")
    args = ap.parse_args()
    what = set(args.what.split(","))
    dev = torch.device("cuda", args.device)
    torch.cuda.set_device(dev)
    stream = torch.cuda.Stream(dev)
    sleeper = Sleeper(stream)
    gate = WaitValueGate() if args.gate == "wait-value" else SleepGate(sleeper)
    suffix = "+wait-value" if args.gate == "wait-value" else ""
    name = torch.cuda.get_device_name(dev)
    sizes = shmoo()
    largest = max(sizes)
    base = dict(Implementation="torch " + torch.__version__, Device=args.device, DeviceName=name,
                CopiesPerSample=args.copies, Streams=1, TensorCount=1)

    def copies_for(n):
        return args.small_copies if args.small_copies and n <= args.small_limit else args.copies

    cudart = torch.cuda.cudart()

    def register(t):
        # Pageable memory pinned in place: pinned for the copy engines, but not a block of torch's
        # caching host allocator, so copy_(non_blocking=True) records no allocator event per copy.
        r = cudart.cudaHostRegister(t.data_ptr(), t.numel(), 0)
        if int(r) != 0:
            raise RuntimeError(f"cudaHostRegister failed: {r}")
        return t

    d_buf = torch.empty(largest, dtype=torch.uint8, device=dev)
    # Pinned: pin_memory() (torch's caching host allocator); Registered: cudaHostRegister.
    for memory in ["Pinned", "Registered", "Pageable"]:
        if memory.lower() not in what:
            continue
        pinned = memory != "Pageable"
        iterations = args.iterations if pinned else args.pageable_iterations
        if memory == "Pinned":
            h_src = torch.randint(0, 256, (largest,), dtype=torch.uint8).pin_memory()
            h_dst = torch.empty(largest, dtype=torch.uint8, pin_memory=True)
        elif memory == "Registered":
            h_src = register(torch.randint(0, 256, (largest,), dtype=torch.uint8))
            h_dst = register(torch.empty(largest, dtype=torch.uint8))
            assert h_src.is_pinned() and h_dst.is_pinned()
        else:
            h_src = torch.randint(0, 256, (largest,), dtype=torch.uint8)
            h_dst = torch.empty(largest, dtype=torch.uint8)
        for direction in ["HostToDevice", "DeviceToHost"]:
            for n in sizes:
                if args.max_bytes and n > args.max_bytes:
                    continue
                if direction == "HostToDevice":
                    src, dst = h_src[:n], d_buf[:n]
                else:
                    src, dst = d_buf[:n], h_dst[:n]
                copies = copies_for(n)
                times = sample_times(lambda: dst.copy_(src, non_blocking=True), copies, iterations, args.warmup, stream, gate, spin=pinned)
                verified = None
                if n == largest:
                    stream.synchronize()
                    verified = bool(torch.equal(d_buf[:n].cpu(), h_src[:n])) if direction == "HostToDevice" else bool(torch.equal(h_dst[:n], h_src[:n]))
                emit(dict(base, Direction=direction, HostMemory=memory, Variant="eager" + suffix, Mechanism="CopyEngine", Bytes=n, Iterations=iterations,
                          CopiesPerSample=copies, Verified=verified, **summarize(times, n, copies)))
        stream.synchronize()
        if memory == "Registered":
            cudart.cudaHostUnregister(h_src.data_ptr())
            cudart.cudaHostUnregister(h_dst.data_ptr())
        del h_src, h_dst

    # Two more ways of timing the same pinned (pin_memory) copies, to tell the copy engine's time
    # from what torch's copy_ adds per call: copy_ captured in a CUDA graph (the allocator event
    # torch records per eager copy_ is not part of the replay), and the driver's cuMemcpy*Async
    # called through ctypes on the same tensors and stream (what Nnl issues).
    if "pinned-graph" in what or "pinned-driver" in what:
        h_src = torch.randint(0, 256, (largest,), dtype=torch.uint8).pin_memory()
        h_dst = torch.empty(largest, dtype=torch.uint8, pin_memory=True)
        driver = DriverCopies(stream) if "pinned-driver" in what else None
        for variant in ["graph", "driver"]:
            if "pinned-" + variant not in what:
                continue
            for direction in ["HostToDevice", "DeviceToHost"]:
                for n in sizes:
                    if args.max_bytes and n > args.max_bytes:
                        continue
                    src, dst = (h_src[:n], d_buf[:n]) if direction == "HostToDevice" else (d_buf[:n], h_dst[:n])
                    copies = copies_for(n)
                    if variant == "graph":
                        times = graph_sample_times(lambda: dst.copy_(src, non_blocking=True), copies, args.iterations, stream, gate)
                    else:
                        times = sample_times(driver.copier(direction, dst, src, n), copies, args.iterations, args.warmup, stream, gate, spin=True)
                    stream.synchronize()
                    verified = bool(torch.equal(d_buf[:n].cpu(), h_src[:n])) if direction == "HostToDevice" else bool(torch.equal(h_dst[:n], h_src[:n]))
                    emit(dict(base, Direction=direction, HostMemory="Pinned", Variant=variant + suffix, Mechanism="CopyEngine", Bytes=n,
                              Iterations=args.iterations, CopiesPerSample=copies, Verified=verified, **summarize(times, n, copies)))
        del h_src, h_dst

    if "d2d" in what:
        d_src = torch.randint(0, 256, (largest,), dtype=torch.uint8, device=dev)
        for n in sizes:
            src, dst = d_src[:n], d_buf[:n]
            copies = copies_for(n)
            times = sample_times(lambda: dst.copy_(src, non_blocking=True), copies, args.iterations, args.warmup, stream, gate, spin=True)
            verified = bool(torch.equal(dst, src)) if n == largest else None
            emit(dict(base, Direction="DeviceToDevice", HostMemory=None, Mechanism="CopyEngine", Bytes=n, Iterations=args.iterations,
                      CopiesPerSample=copies, Verified=verified, **summarize(times, n, copies, factor=2)))
        del d_src

    if "tensors" in what:
        sizes_t = LLAMA2_7B_BLOCK
        offsets, at = [], 0
        for s in sizes_t:
            offsets.append(at)
            at = (at + s + 255) // 256 * 256
        packed_bytes, payload = at, sum(sizes_t)
        d_layer = torch.empty(packed_bytes, dtype=torch.uint8, device=dev)
        separate_pageable = None
        for label, memory, packed in [("separate", "Pageable", False), ("separate", "Pinned", False), ("packed", "Pinned", True)]:
            pinned = memory == "Pinned"
            if packed:
                h_packed = torch.randint(0, 256, (packed_bytes,), dtype=torch.uint8).pin_memory()
                copy = lambda: d_layer.copy_(h_packed, non_blocking=True)
                expected = h_packed
            else:
                tensors = [torch.randint(0, 256, (s,), dtype=torch.uint8) for s in sizes_t]
                if pinned:
                    tensors = [t.pin_memory() for t in tensors]
                views = [d_layer[o:o + s] for o, s in zip(offsets, sizes_t)]
                pairs = list(zip(views, tensors))

                def copy():
                    for v, t in pairs:
                        v.copy_(t, non_blocking=True)
            times = sample_times(copy, args.copies, args.tensor_iterations, args.warmup, stream, gate, spin=pinned)
            stream.synchronize()
            if packed:
                verified = bool(torch.equal(d_layer.cpu(), expected))
            else:
                verified = all(bool(torch.equal(v.cpu(), t)) for v, t in pairs)
            stats = summarize(times, payload, args.copies)
            if not packed and not pinned:
                separate_pageable = stats["MedianGBps"]
            emit(dict(base, Direction="HostToDevice", HostMemory=memory, Mechanism="CopyEngine", Bytes=payload, Iterations=args.tensor_iterations,
                      Verified=verified, TensorCount=1 if packed else len(sizes_t), TensorSet="llama-2-7b-block",
                      SpeedupOverSeparate=(stats["MedianGBps"] / separate_pageable) if packed and separate_pageable else None, **stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
