#!/usr/bin/env bash
# The closing device run: every GPU test (one at a time where they share the pool), nnl device next to
# nvidia-smi, resident and offloaded decode with the current kernels, and transformers + accelerate on
# Llama-2-13B under 8 GiB.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
tools/gpu/unpack.sh > /dev/null
T=/tmp/nnl-tests; N=$T/nnl
{ nvidia-smi --query-gpu=index,name,memory.total,pcie.link.gen.max,pcie.link.width.max,driver_version --format=csv; $N device; $N device --index 5; } > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
$T/Nnl.Engine.Tests -noColor -trait "Category=Gpu" > "$OUT/gpu-tests.log" 2>&1
grep -E "\[FAIL\]" -A8 "$OUT/gpu-tests.log" | head -80; grep -E "Total:" "$OUT/gpu-tests.log"
$N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl --force > /dev/null
$N bench /tmp/gpt2xl --device cuda --max-gpu-memory 2GB,64GB --prompt-length 16 --tokens 33 --repetitions 3 --json > "$OUT/bench.jsonl"
$N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 --force > /dev/null
$N bench /tmp/l13 --device cuda --max-gpu-memory 8GB,64GB --prompt-length 16 --tokens 17 --repetitions 2 --json >> "$OUT/bench.jsonl"
cut -c1-400 "$OUT/bench.jsonl"
$N generate /tmp/gpt2xl --device cuda --max-gpu-memory 2GB --prompt "Hello" --max-new-tokens 8 > "$OUT/generate.txt" 2>&1; cat "$OUT/generate.txt"
python3 tools/gpu/offload/hf_offload.py /tmp/l13 --budget 8GiB --tokens 4 --reps 1 2>/dev/null | tee "$OUT/hf-l13.jsonl"
