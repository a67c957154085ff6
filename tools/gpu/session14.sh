#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), thirteenth session: the greedy pipeline's
# first step recorded in cut segments (this build) against the base engine (.device/base-Nnl.Engine.dll.xz,
# main before the change), and the tests of the pipeline and the graph steps.
# Part ab3 also ran the build with a throwaway switch, NNL_FIRST_STEP_WHOLE=1, that recorded the first
# step whole as before (the runner's kept slots alone); main has no such switch.
# usage: tools/gpu/session14.sh [ab|ab1|ab3|must-show|pipeline-tests|ceilings|timing|final|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
# warm2 <nnl> <model> <label> <tokens> <repetitions> [VAR=value]...: resident nnl bench after two warm-up generations.
warm2() { local n=$1; shift; N=$n BENCH_ARGS="--warmup 2" bench "${@:1:4}" 64GB "${@:5}"; }
part() {
  case $1 in
    ab) # Two warm-up generations: a fresh runner's first step falls back (its split counters' zeroing),
      # so the cut step's graphs are all built only in the second generation.
      base_engine; model gpt2xl; model l13
      for i in 1 2 3; do warm2 $N gpt2xl this-$i 33 3; warm2 /tmp/nnl-base/nnl gpt2xl base-$i 33 3; done
      warm2 $N l13 this 17 2; warm2 /tmp/nnl-base/nnl l13 base 17 2 ;;
    ab3) base_engine; model gpt2xl; model l13
      for i in 1 2; do warm2 $N gpt2xl this-$i 33 3; warm2 $N gpt2xl whole-$i 33 3 NNL_FIRST_STEP_WHOLE=1; warm2 /tmp/nnl-base/nnl gpt2xl base-$i 33 3; done
      warm2 $N l13 this 17 2; warm2 $N l13 whole 17 2 NNL_FIRST_STEP_WHOLE=1; warm2 /tmp/nnl-base/nnl l13 base 17 2 ;;
    must-show)
      # Issue 6's four must-shows in one run (tools/gpu/offload/must_show.sh's parts), then resident
      # GPT-2-XL twice more.
      for p in gpt2xl llama13b hf13b; do bash tools/gpu/offload/must_show.sh $p 2>&1 | grep -v Loading | cut -c1-900; done
      model gpt2xl; for i in 1 2; do bench gpt2xl resident-$i 33 3 64GB; done ;;
    pipeline-tests)
      gpu_tests pipeline-tests 300 -class Nnl.Engine.Tests.Offload.CudaGreedyPipelineTests -class Nnl.Engine.Tests.Offload.CudaGraphDecodeTests \
        -class Nnl.Engine.Tests.Kernels.CudaGraphStepTests ;;
    ab1) # One warm-up generation, as nnl bench has by default.
      base_ab gpt2xl 33 3 2; model l13; bench l13 this 17 2 64GB; N=/tmp/nnl-base/nnl bench l13 base 17 2 64GB ;;
    *) return 127 ;;
  esac; }
run_parts part "$@"
