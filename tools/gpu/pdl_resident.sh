#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh): resident decode with and without
# programmatic dependent launch (the sm90 kernel set) and with segments of 1 or 32 launches, next to
# the device-to-device ceiling measured in the same run.
# usage: tools/gpu/pdl_resident.sh [graph-tests|gpt2xl|llama13b|tests]...
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
N=/tmp/nnl-tests/nnl
bench_gpt2xl() { # label, env...
  local label=$1; shift
  env "$@" $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 33 --repetitions 3 --json > "$OUT/gpt2xl-$label.jsonl"
  python3 - "$OUT/gpt2xl-$label.jsonl" "$label" <<'PY'
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    if "DecodeMillisecondsPerTokenMedian" in r:
        print(sys.argv[2], "median", r["DecodeMillisecondsPerTokenMedian"], "min", r.get("DecodeMillisecondsPerTokenMin"),
              "replays", r.get("CudaGraphReplays"), "updates", r.get("CudaGraphNodeUpdates"), "fallbacks", r.get("CudaGraphFallbacks"))
PY
}
for part in "$@"; do
  echo "== $(date -u +%T) $part" >&2
  case $part in
    graph-tests)
      for c in Kernels.CudaGraphStepTests Offload.CudaGraphDecodeTests; do
        timeout 200 /tmp/nnl-tests/Nnl.Engine.Tests -noColor -class Nnl.Engine.Tests.$c >> "$OUT/graph-tests.log" 2>&1
      done
      grep -E "Total:|FAIL|\[FAIL\]" "$OUT/graph-tests.log" | cut -c1-300 ;;
    gpt2xl)
      $N transfer --direction d2d --memory pinned --size 256MB --json | tee "$OUT/ceilings.jsonl" | cut -c1-400
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      bench_gpt2xl pdl-seg32
      bench_gpt2xl pdl-seg1 NNL_GRAPH_SEGMENT_LAUNCHES=1
      bench_gpt2xl nopdl-seg32 NNL_NO_GRID_DEPENDENCY=1
      bench_gpt2xl nopdl-seg1 NNL_NO_GRID_DEPENDENCY=1 NNL_GRAPH_SEGMENT_LAUNCHES=1
      bench_gpt2xl pdl-seg96 NNL_GRAPH_SEGMENT_LAUNCHES=96 ;;
    llama13b)
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      $N bench /tmp/l13 --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 17 --repetitions 2 --json > "$OUT/l13-resident.jsonl"; tail -c 600 "$OUT/l13-resident.jsonl" ;;
    tests)
      timeout 450 /tmp/nnl-tests/Nnl.Engine.Tests -noColor -trait "Category=Gpu" > "$OUT/gpu-tests.log" 2>&1
      grep -E "\[FAIL\]" "$OUT/gpu-tests.log" | head; tail -3 "$OUT/gpu-tests.log" ;;
    *) echo "unknown part $part" >&2 ;;
  esac
done
