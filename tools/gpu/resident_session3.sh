#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh): resident GPT-2-XL decode with and without
# programmatic launch and with graph segments of 1, 32 and 96 launches (host time per step beside
# each), resident Llama-2-13B, and the budget points, next to the copy ceilings of the same run.
# usage: tools/gpu/resident_session3.sh [gpt2xl|llama13b|budgets|tests]...
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
N=/tmp/nnl-tests/nnl
show() { python3 -c '
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    if "DecodeMillisecondsPerTokenMedian" in r:
        print(sys.argv[2], "ms/token", round(r["DecodeMillisecondsPerTokenMedian"], 3), "min", round(r["DecodeMillisecondsPerTokenMin"], 3),
              "bound", r.get("BoundMillisecondsPerToken"), "eff", r.get("Efficiency"), "host/step", r.get("CudaGraphHostMillisecondsPerStep"),
              "replays", r.get("CudaGraphReplays"), "fallbacks", r.get("CudaGraphFallbacks"))' "$1" "$2"; }
gpt2xl() { local label=$1; shift; env "$@" $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 33 --repetitions 3 --json > "$OUT/gpt2xl-$label.jsonl"; show "$OUT/gpt2xl-$label.jsonl" "gpt2xl $label"; }
for part in "$@"; do
  echo "== $(date -u +%T) $part" >&2
  case $part in
    gpt2xl)
      $N transfer --direction h2d,d2d --memory pinned --size 256MB --json > "$OUT/ceilings.jsonl"
      python3 -c 'import json,sys; [print(r["Direction"], round(r["MedianGBps"],1), "GB/s") for r in map(json.loads, open(sys.argv[1]))]' "$OUT/ceilings.jsonl"
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      gpt2xl default X=1
      gpt2xl nopdl NNL_NO_GRID_DEPENDENCY=1
      gpt2xl seg1 NNL_GRAPH_SEGMENT_LAUNCHES=1
      gpt2xl seg96 NNL_GRAPH_SEGMENT_LAUNCHES=96
      $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 33 --repetitions 3 --no-cuda-graphs --json > "$OUT/gpt2xl-nographs.jsonl"; show "$OUT/gpt2xl-nographs.jsonl" "gpt2xl nographs"
      gpt2xl default-again X=1 ;;
    llama13b)
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      $N bench /tmp/l13 --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 17 --repetitions 2 --json > "$OUT/l13-resident.jsonl"; show "$OUT/l13-resident.jsonl" "l13 resident"
      NNL_NO_GRID_DEPENDENCY=1 $N bench /tmp/l13 --device cuda --max-gpu-memory 64GB --prompt-length 16 --tokens 17 --repetitions 2 --json > "$OUT/l13-resident-nopdl.jsonl"; show "$OUT/l13-resident-nopdl.jsonl" "l13 resident nopdl" ;;
    budgets)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 2GB --prompt-length 16 --tokens 33 --repetitions 3 --json > "$OUT/gpt2xl-2gb.jsonl"; show "$OUT/gpt2xl-2gb.jsonl" "gpt2xl 2GB"
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      $N bench /tmp/l13 --device cuda --max-gpu-memory 8GB --prompt-length 16 --tokens 17 --repetitions 2 --json > "$OUT/l13-8gb.jsonl"; show "$OUT/l13-8gb.jsonl" "l13 8GB" ;;
    tests)
      timeout 450 /tmp/nnl-tests/Nnl.Engine.Tests -noColor -trait "Category=Gpu" > "$OUT/gpu-tests.log" 2>&1
      grep -E "\[FAIL\]" "$OUT/gpu-tests.log" | head; tail -2 "$OUT/gpu-tests.log" ;;
    *) echo "unknown part $part" >&2 ;;
  esac
done
