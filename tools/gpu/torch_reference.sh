#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), twelfth session: PyTorch and cuBLAS on the resident
# GPT-2-XL decode next to Nnl's, on the same model files, with the copy ceiling measured by both
# (tools/gpu/torch_resident.py says what each torch part is).
# usage: tools/gpu/torch_reference.sh [ceilings|nnl|torch|nnl-l13|torch-l13|final|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
export PYTHONUNBUFFERED=1
# torch_run <model> [torch_resident.py options]: PyTorch's figures on /tmp/<model>, and what it warned of.
torch_run() { local m=$1; shift; model $m
  timeout 540 python3 tools/gpu/torch_resident.py /tmp/$m "$@" 2>"$OUT/torch-$m-stderr.log" | tee "$OUT/torch-$m.jsonl" | cut -c1-400
  grep -iE "skipping cudagraph|warn|error" "$OUT/torch-$m-stderr.log" | sort | uniq -c | head -12; }
part() {
  case $1 in
    nnl) model gpt2xl; for i in 1 2; do bench gpt2xl resident-$i 33 3 64GB; done ;;
    torch) torch_run gpt2xl ;;
    nnl-l13) model l13; bench l13 resident 17 2 64GB ;;
    torch-l13) torch_run l13 --parts step,compiled --samples 5 --replays 8 ;;
    *) return 127 ;;
  esac; }
run_parts part "$@"
