#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh): resident decode with the GEMV kernels chosen by shape
# and with the register GEMV (the default; NNL_REGISTER_GEMV=0 for the row kernels, kernels/gemv_xreg.cu), next to the copy
# ceilings of the same run; the budget points; the GPU tests; the per-kernel timings in graphs.
# usage: tools/gpu/resident_session5.sh [ceilings|gpt2xl|llama13b|budgets|tests|timing]...
set -uo pipefail
source tools/gpu/bench_lib.sh
for part in "$@"; do
  echo "== $(date -u +%T) $part" >&2
  case $part in
    ceilings)
      $N transfer --direction h2d,d2d --memory pinned --size 256MB --json > "$OUT/ceilings.jsonl"
      python3 -c 'import json,sys; [print(r["Direction"], round(r["MedianGBps"],1), "GB/s") for r in map(json.loads, open(sys.argv[1]))]' "$OUT/ceilings.jsonl" ;;
    gpt2xl)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      for i in 1 2; do
        bench gpt2xl register-$i 33 3 64GB X=1
        bench gpt2xl fused-$i 33 3 64GB NNL_NORM_FUSION=1
        bench gpt2xl rows-$i 33 3 64GB NNL_REGISTER_GEMV=0
      done ;;
    final)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      for i in 1 2 3; do bench gpt2xl resident-$i 33 3 64GB X=1; done
      bench gpt2xl rows 33 3 64GB NNL_REGISTER_GEMV=0
      bench gpt2xl 2gb 33 3 2GB X=1
      bench l13 resident 17 2 64GB X=1
      bench l13 rows 17 2 64GB NNL_REGISTER_GEMV=0
      bench l13 8gb 17 2 8GB X=1 ;;
    blocks)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      for i in 1 2; do for b in 2 3 4 6; do bench gpt2xl blocks$b-$i 33 3 64GB NNL_XREG_BLOCKS_PER_SM=$b; done; done ;;
    review)
      timeout 200 $T -noColor -class Nnl.Engine.Tests.Kernels.CudaRegisterGemvTests -class Nnl.Engine.Tests.Kernels.CudaMatMulTests > "$OUT/review-tests.log" 2>&1
      grep -E "\[FAIL\]" -A8 "$OUT/review-tests.log" | head -20; tail -1 "$OUT/review-tests.log"
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      for i in 1 2; do bench gpt2xl review-$i 33 3 64GB X=1; done ;;
    host)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      for i in 1 2 3; do
        bench gpt2xl default-$i 33 3 64GB X=1
        bench gpt2xl notiering-$i 33 3 64GB DOTNET_TieredCompilation=0
        bench gpt2xl gen0-$i 33 3 64GB DOTNET_GCgen0size=0x10000000
      done
      nproc; uptime ;;
    llama13b)
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      bench l13 register 17 2 64GB X=1
      bench l13 rows 17 2 64GB NNL_REGISTER_GEMV=0 ;;
    budgets)
      [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null
      bench gpt2xl 2gb 33 3 2GB X=1
      [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null
      bench l13 8gb 17 2 8GB X=1 ;;
    timing)
      timeout 300 $T -noColor -class Nnl.Engine.Tests.Kernels.CudaDecodeKernelTimingTests -showLiveOutput > "$OUT/timing.log" 2>&1
      grep -E "(GPT-2-XL|Llama-2-13B) .*(default|InputInRegisters)|LayerNorm|copy|FAIL" "$OUT/timing.log" | sed 's/.*OUTPUT. //' | head -40 ;;
    xreg-tests)
      timeout 300 $T -noColor -class Nnl.Engine.Tests.Kernels.CudaRegisterGemvTests -class Nnl.Engine.Tests.Kernels.CudaNormMatMulTests > "$OUT/xreg-tests.log" 2>&1
      grep -E "\[FAIL\]" -A10 "$OUT/xreg-tests.log" | head -40; tail -1 "$OUT/xreg-tests.log" ;;
    tests)
      timeout 450 $T -noColor -trait "Category=Gpu" > "$OUT/gpu-tests.log" 2>&1
      grep -E "\[FAIL\]" -A8 "$OUT/gpu-tests.log" | head -40; tail -2 "$OUT/gpu-tests.log" ;;
    *) echo "unknown part $part" >&2 ;;
  esac
done
