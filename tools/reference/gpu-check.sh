#!/usr/bin/env bash
# The GPU-host part of issue 7, in one run (needs python3 with torch + transformers there).
#   usage: tools/reference/gpu-check.sh NNL TESTS OUT
#     NNL    the nnl executable (self-contained build), TESTS the Nnl.Engine.Tests executable, OUT a results folder.
# 1. writes small presets with nnl new-model and has transformers load them and write reference logits;
# 2. runs the parity test (Nnl CPU and GPU against transformers) and the GPU tests of presets and benchmarks;
# 3. times writing llama-2-13b fp16 to disk, then the budget shmoo of llama-2-13b from 2 GB to fully resident.
set -uo pipefail
nnl=$1 tests=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
work=${NNL_WORK:-/tmp/nnl-presets}
mkdir -p "$work"

refs=()
for p in gpt2 llama-2-7b llama-3-8b mistral-7b qwen2-7b; do
    "$nnl" new-model --preset "$p" --layers 2 --dtype bf16 --seed 7 --path "$work/$p" --force --json >>"$out/new-model.jsonl" 2>>"$out/new-model.err" || echo "new-model $p failed" | tee -a "$out/summary.txt"
    if python3 "$here/reference_logits.py" "$work/$p" --out "$work/$p.reference.json" >>"$out/reference.log" 2>&1; then
        refs+=("$work/$p.reference.json")
    else
        echo "transformers could not load $p (see reference.log)" | tee -a "$out/summary.txt"
    fi
done
NNL_REFERENCE_LOGITS=$(IFS=:; echo "${refs[*]}") "$tests" -noColor -class Nnl.Engine.Tests.Presets.ReferenceParityTests 2>&1 | tee "$out/parity.log" | tail -3
"$tests" -noColor -class Nnl.Engine.Tests.Benchmarks.GpuBenchmarkTests 2>&1 | tee "$out/gpu-tests.log" | tail -3

# Disk write rate of a 26 GB model, then remove it.
"$nnl" new-model --preset llama-2-13b --dtype fp16 --path "$work/llama-2-13b" --force 2>&1 | tee "$out/write-llama-2-13b.txt"
rm -rf "$work/llama-2-13b"

# The budget shmoo, generated in memory (weights go from the generator straight into pinned memory).
"$nnl" bench --preset llama-2-13b --in-memory --device Cuda \
    --max-gpu-memory 2GB,4GB,6GB,8GB,12GB,16GB,20GB,24GB,28GB,32GB \
    --prompt-length 16 --tokens 9 --warmup 1 --repetitions 2 --chart "$out/llama-2-13b-shmoo.svg" --json \
    2>"$out/shmoo.err" | tee "$out/llama-2-13b-shmoo.jsonl"
