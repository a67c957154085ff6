#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), ninth session: norms that prefetch the next
# product's weights into L2 (gap prefetch) against without, resident GPT-2-XL and Llama-2-13B decode.
# The gap prefetch is on the branch experiment/gap-prefetch (slower; docs/performance.md); on main the
# gap parts only set environment variables that main ignores, and CudaGapPrefetchTests is not there.
# usage: tools/gpu/resident_session9.sh [ceilings|gap|gap-l13|gap-tests|timing|final|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
for part in "$@"; do
  echo "== $(date -u +%T) $part" >&2
  case $part in
    ceilings) ceilings ;;
    gap)
      model gpt2xl
      for i in 1 2; do
        bench gpt2xl gap-off-$i 33 3 64GB NNL_GAP_PREFETCH_BLOCKS=0
        for n in 1 8 32; do bench gpt2xl gap-self-$n-$i 33 3 64GB NNL_GAP_PREFETCH_SELF=$n; done
        bench gpt2xl gap-self-8-4MB-$i 33 3 64GB NNL_GAP_PREFETCH_SELF=8 NNL_GAP_PREFETCH_MB=4
        bench gpt2xl gap-tma-1-$i 33 3 64GB NNL_GAP_PREFETCH_BLOCKS=1
      done ;;
    gap-l13)
      model l13; bench l13 gap-off 17 2 64GB NNL_GAP_PREFETCH_BLOCKS=0; bench l13 gap-32 17 2 64GB NNL_GAP_PREFETCH_BLOCKS=32 ;;
    gap-tests)
      timeout 400 $T -noColor -class Nnl.Engine.Tests.Kernels.CudaRowOperationTests -class Nnl.Engine.Tests.Kernels.CudaGapPrefetchTests \
        -class Nnl.Engine.Tests.Offload.CudaGraphDecodeTests -class Nnl.Engine.Tests.Offload.CudaGreedyPipelineTests > "$OUT/gap-tests.log" 2>&1
      grep -E "\[FAIL\]" -A14 "$OUT/gap-tests.log" | head -60; tail -1 "$OUT/gap-tests.log" ;;
    timing)
      # Each decode kernel alone in graphs, and what a kernel boundary costs (CudaDecodeKernelTimingTests).
      timeout 500 $T -noColor -method Nnl.Engine.Tests.Kernels.CudaDecodeKernelTimingTests.DecodeKernelsAreTimedInGraphs -showLiveOutput > "$OUT/timing.log" 2>&1
      grep -E "copy|Add of|LayerNorm|Attention 25|GPT-2-XL .*default|FAIL" "$OUT/timing.log" | grep -v "split [0-9]" | head -40; tail -1 "$OUT/timing.log" ;;
    final)
      # The side by side for docs/performance.md (main's code): copy ceilings, resident GPT-2-XL three times
      # and once timed, Llama-2-13B resident, the two budgets.
      ceilings; model gpt2xl; model l13
      for i in 1 2 3; do bench gpt2xl final-$i 33 3 64GB; done
      bench gpt2xl final-timed 33 3 64GB NNL_GRAPH_TIMING=1
      bench l13 final 17 2 64GB
      bench gpt2xl budget2GB 17 2 2GB; bench l13 budget8GB 9 2 8GB ;;
    tests)
      timeout 590 $T -noColor -trait Category=Gpu > "$OUT/gpu-tests.log" 2>&1
      grep -E "\[FAIL\]" -A14 "$OUT/gpu-tests.log" | head -80; tail -1 "$OUT/gpu-tests.log" ;;
    *) echo "unknown part $part" >&2 ;;
  esac
done
