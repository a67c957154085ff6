#!/usr/bin/env python3
"""Replay an Nnl memory trace through PyTorch's CUDA caching allocator, for comparison with
`nnl pool --replay` on the same file in the same run.

usage: torch_replay.py TRACE BUDGET_BYTES > result.json
Set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True in the environment for the
virtual-memory variant. The budget is applied with set_per_process_memory_fraction.
Trace lines: "a ID BYTES OWNER...", "f ID", "t" (a token ends), "#" comments.
"""
import json
import os
import statistics
import sys
import time

import torch


def main():
    path, budget = sys.argv[1], int(sys.argv[2])
    events = []
    name = os.path.basename(path)
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# nnl memory trace v1: "):
                name = line[len("# nnl memory trace v1: "):]
                continue
            if not line or line[0] == "#":
                continue
            parts = line.split(" ", 3)
            if parts[0] == "a":
                events.append(("a", int(parts[1]), int(parts[2])))
            elif parts[0] == "f":
                events.append(("f", int(parts[1]), 0))
            else:
                events.append(("t", 0, 0))

    torch.cuda.init()
    device = torch.device("cuda:0")
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, budget / total), 0)
    torch.empty(1, device=device)  # create the context before measuring
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    stats0 = torch.cuda.memory_stats()
    has_device_counts = "num_device_alloc" in stats0

    def driver_calls():
        s = torch.cuda.memory_stats()
        if has_device_counts:
            return s.get("num_device_alloc", 0) + s.get("num_device_free", 0)
        return s.get("segment.all.allocated", 0) + s.get("segment.all.freed", 0)

    live = {}
    hits, misses = [], []
    ooms = 0
    tokens = 0
    calls_after_first = None
    calls_start = driver_calls()
    live_bytes = peak_live = 0
    t_start = time.perf_counter()
    for op, ident, size in events:
        if op == "a":
            before = driver_calls()
            t0 = time.perf_counter_ns()
            try:
                x = torch.empty(size, dtype=torch.uint8, device=device)
            except torch.OutOfMemoryError:
                ooms += 1
                continue
            dt = (time.perf_counter_ns() - t0) / 1000.0
            (hits if driver_calls() == before else misses).append(dt)
            live[ident] = x
            live_bytes += size
            peak_live = max(peak_live, live_bytes)
        elif op == "f":
            x = live.pop(ident, None)
            if x is not None:
                live_bytes -= x.numel()
                del x
        else:
            tokens += 1
            if tokens == 1:
                calls_after_first = driver_calls()
    elapsed = time.perf_counter() - t_start
    s = torch.cuda.memory_stats()
    calls_end = driver_calls()
    requested_peak = s.get("requested_bytes.all.peak", 0)
    allocated_peak = s.get("allocated_bytes.all.peak", 0)
    reserved_peak = s.get("reserved_bytes.all.peak", 0)
    result = {
        "trace": name,
        "backing": "torch " + (os.environ.get("PYTORCH_CUDA_ALLOC_CONF") or "default"),
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "budget_bytes": budget,
        "allocations": len(hits) + len(misses),
        "tokens": tokens,
        "out_of_memory": ooms,
        "alloc_retries": s.get("num_alloc_retries", 0),
        "peak_live_bytes": peak_live,
        "requested_bytes_peak": requested_peak,
        "allocated_bytes_peak": allocated_peak,
        "reserved_bytes_peak": reserved_peak,
        "reserved_over_requested": reserved_peak / requested_peak if requested_peak else None,
        "reserved_over_live": reserved_peak / peak_live if peak_live else None,
        "cache_hits": len(hits),
        "misses": len(misses),
        "alloc_median_us": statistics.median(hits + misses) if hits or misses else None,
        "hit_median_us": statistics.median(hits) if hits else None,
        "miss_median_us": statistics.median(misses) if misses else None,
        "driver_call_counter": "num_device_alloc+num_device_free" if has_device_counts else "segment.all.allocated+freed",
        "driver_calls": calls_end - calls_start,
        "driver_calls_per_token": (calls_end - calls_start) / tokens if tokens else None,
        "steady_driver_calls_per_token": (calls_end - calls_after_first) / (tokens - 1) if tokens > 1 else None,
        "seconds": elapsed,
    }
    # PyTorch's pinned host allocator rounds up to a power of two: show what a 1.1 GB buffer costs.
    try:
        pinned = torch.empty(1_100_000_000, dtype=torch.uint8, pin_memory=True)
        hs = torch.cuda.host_memory_stats()
        result["pinned_1p1GB_reserved_bytes"] = hs.get("reserved_bytes.current", hs.get("allocated_bytes.current"))
        del pinned
    except Exception as e:  # older torch without host_memory_stats
        result["pinned_1p1GB_reserved_bytes"] = f"unavailable: {e}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
