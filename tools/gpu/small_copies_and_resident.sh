#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh): Nnl's small pinned copies against three
# torch references (eager copy_, copy_ in a CUDA graph, driver calls on torch's tensors), then the
# resident decode rate of GPT-2-XL and Llama-2-13B next to the device-to-device ceiling.
# usage: tools/gpu/small_copies_and_resident.sh [tests|copies|gpt2xl|llama13b]...
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
N=/tmp/nnl-tests/nnl
T=tools/gpu/transfer
for part in "$@"; do
  echo "== $(date -u +%T) $part" >&2
  case $part in
    tests)
      timeout 400 /tmp/nnl-tests/Nnl.Engine.Tests -noColor -trait "Category=Gpu" > "$OUT/gpu-tests.log" 2>&1
      tail -5 "$OUT/gpu-tests.log" ;;
    offload-tests)
      timeout 200 /tmp/nnl-tests/Nnl.Engine.Tests -noColor -class Nnl.Engine.Tests.Offload.OffloadParityTests > "$OUT/offload-tests.log" 2>&1
      tail -3 "$OUT/offload-tests.log" ;;
    bench-tests)
      for c in Kernels.CudaDecodeStepBenchmarkTests Kernels.CudaDecodeKernelTimingTests Kernels.CudaGemvBandwidthTests Offload.CudaGraphDecodeTests; do
        timeout 200 /tmp/nnl-tests/Nnl.Engine.Tests -noColor -showLiveOutput -class Nnl.Engine.Tests.$c >> "$OUT/bench-tests.log" 2>&1
      done
      grep -E "ms/token|GB/s|nodes|Total:|FAIL" "$OUT/bench-tests.log" | cut -c1-330 ;;
    llama13b-8gb)
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      $N bench /tmp/l13 --device cuda --max-gpu-memory 8GB --prompt-length 16 --tokens 17 --repetitions 2 --json | tee "$OUT/nnl-l13-8gb.jsonl" ;;
    kvcache)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      for t in fp16 fp32; do
        echo "-- kv cache $t, context 512 (Import-NnlModel's default)"
        $N generate /tmp/gpt2xl --device cuda --max-gpu-memory 2GB --kv-cache $t --prompt "The history of the" --max-new-tokens 32 --json | tee "$OUT/generate-kv-$t.json" | cut -c1-1500
      done ;;
    nographs)
      $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 33 --repetitions 3 --no-cuda-graphs --json | tee "$OUT/nnl-gpt2xl-resident-nographs.jsonl"
      $N bench /tmp/l13 --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 17 --repetitions 2 --no-cuda-graphs --json | tee "$OUT/nnl-l13-resident-nographs.jsonl" ;;
    copies)
      SMALL=$(python3 -c "import sys; sys.path.insert(0,'$T'); import torch_bandwidth as t; print(','.join(str(s) for s in t.shmoo() if s <= 1_000_000))")
      timeout 120 $N transfer --size $SMALL --direction h2d,d2h --memory pinned --iterations 30 --copies 100 --json > "$OUT/nnl-small.jsonl"
      timeout 240 python3 $T/torch_bandwidth.py --what pinned,pinned-graph,pinned-driver --max-bytes 1000000 --iterations 30 --copies 16 --small-copies 100 > "$OUT/torch-small.jsonl"
      timeout 120 $N transfer --size $SMALL --direction h2d,d2h --memory pinned --iterations 30 --copies 100 --json > "$OUT/nnl-small-2.jsonl"
      python3 $T/compare_references.py "$OUT/torch-small.jsonl" "$OUT/nnl-small.jsonl" > "$OUT/references.md"
      python3 $T/compare_references.py "$OUT/torch-small.jsonl" "$OUT/nnl-small-2.jsonl" > "$OUT/references-2.md"
      tail -4 "$OUT/references.md"; tail -4 "$OUT/references-2.md" ;;
    factors)
      timeout 200 python3 $T/small_copy_factors.py > "$OUT/factors.jsonl"
      SIZES=1000,4000,8000,16000,40000,100000
      timeout 60 $N transfer --size $SIZES --direction h2d,d2h --memory pinned --iterations 30 --copies 100 --json > "$OUT/nnl-factors-1mb.jsonl"
      timeout 60 $N transfer --size $SIZES,68000000 --direction h2d,d2h --memory pinned --iterations 30 --copies 100 --json > "$OUT/nnl-factors-68mb.jsonl"
      python3 - "$OUT" <<'PY'
import json, sys, collections
o = sys.argv[1]
rows = collections.defaultdict(dict)
for l in open(o + "/factors.jsonl"):
    r = json.loads(l); rows[(r["Direction"], r["Bytes"])][f"{r['Host'][0]}{r['DeviceMemory'][0]}{r['Stream'][0]}-{r['AllocationBytes']//1000000}MB"] = r["MedianMicroseconds"]
for f in ["nnl-factors-1mb", "nnl-factors-68mb"]:
    for l in open(f"{o}/{f}.jsonl"):
        r = json.loads(l)
        if r["Bytes"] < 1000000: rows[(r["Direction"], r["Bytes"])][f] = r["MedianMicroseconds"]
cols = sorted({c for v in rows.values() for c in v})
print("µs per copy (h/d/s = host, device memory, stream: t = torch, d = driver)")
print("dir bytes " + " ".join(cols))
for k in sorted(rows): print(k[0][:6], k[1], " ".join(f"{rows[k].get(c, float('nan')):.3f}" for c in cols))
PY
      ;;
    streams)
      timeout 200 python3 $T/small_copy_factors.py --streams 10 > "$OUT/streams.jsonl"
      python3 - "$OUT/streams.jsonl" <<'PY'
import json, sys, collections
t = collections.defaultdict(list)
for l in open(sys.argv[1]):
    r = json.loads(l); t[(r["StreamKind"], r["Direction"][:6], r["Bytes"])].append(round(r["MedianMicroseconds"], 3))
for k, v in sorted(t.items()): print(*k, "µs per copy by stream:", v)
PY
      ;;
    gates)
      SMALL=$(python3 -c "import sys; sys.path.insert(0,'$T'); import torch_bandwidth as t; print(','.join(str(s) for s in t.shmoo() if s <= 1_000_000))")
      timeout 120 $N transfer --size $SMALL --direction h2d,d2h --memory pinned --iterations 30 --copies 100 --json > "$OUT/nnl-gates.jsonl"
      timeout 240 python3 $T/torch_bandwidth.py --what pinned,pinned-graph --gate wait-value --max-bytes 1000000 --iterations 30 --copies 16 --small-copies 100 > "$OUT/torch-gates.jsonl"
      timeout 240 python3 $T/torch_bandwidth.py --what pinned --max-bytes 1000000 --iterations 30 --copies 16 --small-copies 100 >> "$OUT/torch-gates.jsonl"
      timeout 120 $N transfer --size $SMALL --direction h2d,d2h --memory pinned --iterations 30 --copies 100 --json > "$OUT/nnl-gates-2.jsonl"
      python3 $T/compare_references.py "$OUT/torch-gates.jsonl" "$OUT/nnl-gates.jsonl" > "$OUT/gates.md"
      python3 $T/compare_references.py "$OUT/torch-gates.jsonl" "$OUT/nnl-gates-2.jsonl" > "$OUT/gates-2.md"
      tail -4 "$OUT/gates.md"; tail -4 "$OUT/gates-2.md" ;;
    driver-only)
      timeout 120 python3 $T/driver_only_small_copies.py > "$OUT/driver-only.jsonl"
      timeout 120 python3 $T/driver_only_small_copies.py --with-torch > "$OUT/driver-after-torch.jsonl"
      timeout 60 $N transfer --size 1000,4000,8000,16000,40000,100000,1000000 --direction h2d,d2h --memory pinned --iterations 30 --copies 100 --json > "$OUT/nnl-driver-only.jsonl"
      python3 - "$OUT" <<'PY'
import json, sys
o = sys.argv[1]
a = {(r["Direction"], r["Bytes"]): r["MedianMicroseconds"] for r in map(json.loads, open(o + "/driver-only.jsonl"))}
b = {(r["Direction"], r["Bytes"]): r["MedianMicroseconds"] for r in map(json.loads, open(o + "/nnl-driver-only.jsonl"))}
c = {(r["Direction"], r["Bytes"]): r["MedianMicroseconds"] for r in map(json.loads, open(o + "/driver-after-torch.jsonl"))}
for k in sorted(a): print(k[0][:6], k[1], "driver-only process", round(a[k], 3), "us; after torch init", round(c.get(k, float('nan')), 3), "us; nnl", round(b.get(k, float('nan')), 3), "us; driver-only/nnl", round(a[k] / b.get(k, float('nan')), 3))
PY
      ;;
    gpt2xl)
      $N transfer --direction h2d,d2d --memory pinned --size 256MB --json | tee "$OUT/ceilings.jsonl"
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 33 --repetitions 3 --json | tee "$OUT/nnl-gpt2xl-resident.jsonl" ;;
    gpt2xl-2gb)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 2GB --prompt-length 16 --tokens 33 --repetitions 3 --json | tee "$OUT/nnl-gpt2xl-2gb.jsonl" ;;
    llama13b)
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      $N bench /tmp/l13 --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 17 --repetitions 2 --json | tee "$OUT/nnl-l13-resident.jsonl" ;;
    *) echo "unknown part $part" >&2 ;;
  esac
done
