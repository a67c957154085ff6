#!/usr/bin/env bash
# Issue 6's side-by-side run on the GPU host (repo root, after tools/gpu/unpack.sh):
# ceilings (pinned H2D, D2D) measured by Nnl, then GPT-2-XL under 2 GB and resident, Llama-2-13B
# under 8 GB, resident and streamed from disk, each next to transformers + accelerate on the same files.
# usage: tools/gpu/offload/must_show.sh PART   (PART: gpt2xl | llama13b | hf13b)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
N=/tmp/nnl-tests/nnl
HF=tools/gpu/offload/hf_offload.py
case "${1:-}" in
  gpt2xl)
    $N transfer --direction h2d,d2d --memory pinned --size 256MB --json | tee "$OUT/ceilings.jsonl"
    $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl --force > /dev/null
    $N bench /tmp/gpt2xl --device cuda --max-gpu-memory 2GB,64GB --prompt-length 16 --tokens 33 --repetitions 3 --json | tee "$OUT/nnl-gpt2xl.jsonl"
    python3 $HF /tmp/gpt2xl --budget 2GiB --tokens 16 | tee "$OUT/hf-gpt2xl.jsonl"
    python3 $HF /tmp/gpt2xl --tokens 16 | tee -a "$OUT/hf-gpt2xl.jsonl"
    ;;
  llama13b)
    $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 --force > /dev/null
    $N bench /tmp/l13 --device cuda --max-gpu-memory 8GB,64GB --prompt-length 16 --tokens 17 --repetitions 2 --json | tee "$OUT/nnl-l13.jsonl"
    sync; echo 3 > /proc/sys/vm/drop_caches
    $N bench /tmp/l13 --device cuda --max-gpu-memory 8GB --no-host-cache --prompt-length 4 --tokens 4 --warmup 0 --repetitions 1 --json | tee -a "$OUT/nnl-l13.jsonl"
    ;;
  hf13b)
    [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
    python3 $HF /tmp/l13 --budget 8GiB --tokens 4 --reps 1 | tee "$OUT/hf-l13.jsonl"
    ;;
  *) echo "usage: $0 gpt2xl|llama13b|hf13b"; exit 2 ;;
esac
