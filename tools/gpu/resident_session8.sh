#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), eighth session: resident GPT-2-XL decode with the
# greedy pipeline (device argmax, the next step queued before the token is read) against without it.
# usage: tools/gpu/resident_session8.sh [ceilings|pipeline-tests|pipeline|pipeline-l13|gen|segments|final|base-ab|base-ab-l13|kernel-tests|ptxas|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
part() {
  case $1 in
    pipeline-tests)
      gpu_tests pipeline-tests 400 -class Nnl.Engine.Tests.Offload.CudaGreedyPipelineTests -class Nnl.Engine.Tests.Offload.CudaGraphDecodeTests -class Nnl.Engine.Tests.Kernels.CudaGraphStepTests \
        -class Nnl.Engine.Tests.Generation.GreedyPipelineLoopTests ;;
    pipeline)
      model gpt2xl
      for i in 1 2 3; do bench gpt2xl pipelined-$i 33 3 64GB; bench gpt2xl unpipelined-$i 33 3 64GB NNL_GREEDY_PIPELINE=0; done ;;
    pipeline-l13)
      model l13; bench l13 pipelined 17 2 64GB; bench l13 unpipelined 17 2 64GB NNL_GREEDY_PIPELINE=0 ;;
    gen)
      # nnl generate, greedy, resident GPT-2-XL: the generation loop with and without the pipeline.
      model gpt2xl
      for i in 1 2; do for p in 1 0; do
        echo "pipeline=$p: $(NNL_GREEDY_PIPELINE=$p $N generate /tmp/gpt2xl --device cuda --prompt "The quick brown fox" --max-new-tokens 64 --temperature 0 --json 2>&1 | python3 -c '
import json,sys
r=[json.loads(l) for l in sys.stdin if l.startswith("{")][-1]
print({k: r.get(k) for k in ("MillisecondsPerToken","TokensPerSecond","TimeToFirstTokenMilliseconds","GeneratedTokens","StopReason")}, r.get("TokenIds", [])[-5:])')"
      done; done ;;
    final)
      # The side by side for docs/performance.md: copy ceilings, resident GPT-2-XL three times with the greedy
      # pipeline and once without (and once timed), Llama-2-13B resident with and without, the two budgets.
      ceilings; model gpt2xl; model l13
      for i in 1 2 3; do bench gpt2xl final-$i 33 3 64GB; done
      bench gpt2xl final-unpipelined 33 3 64GB NNL_GREEDY_PIPELINE=0
      bench gpt2xl final-timed 33 3 64GB NNL_GRAPH_TIMING=1
      bench l13 final 17 2 64GB; bench l13 final-unpipelined 17 2 64GB NNL_GREEDY_PIPELINE=0
      bench gpt2xl budget2GB 17 2 2GB; bench l13 budget8GB 9 2 8GB ;;
    segments)
      # With the pipeline the host records a step while the GPU runs the one before: fewer, longer graph segments.
      model gpt2xl
      for i in 1 2 3; do bench gpt2xl seg-default-$i 33 3 64GB; bench gpt2xl seg-whole-$i 33 3 64GB NNL_GRAPH_SEGMENT_LAUNCHES=100000 NNL_GRAPH_RAMP=0
        bench gpt2xl seg-128-$i 33 3 64GB NNL_GRAPH_SEGMENT_LAUNCHES=128; done ;;
    base-ab)
      # This build against the same one with .device/base-Nnl.Engine.dll.xz (the engine before a change), alternating.
      base_ab gpt2xl 33 3 3 ;;
    base-ab-l13)
      base_ab l13 17 2 1 ;;
    kernel-tests)
      gpu_tests kernel-tests 400 -class Nnl.Engine.Tests.Kernels.CudaRowOperationTests -class Nnl.Engine.Tests.Kernels.CudaRegisterGemvTests -class Nnl.Engine.Tests.Kernels.CudaMatMulTests \
        -class Nnl.Engine.Tests.Kernels.CudaBackendParityTests -class Nnl.Engine.Tests.Offload.CudaGraphDecodeTests ;;
    ptxas)
      # Registers and spills of the register GEMV as the driver will compile it (.device/ptx, copied from the build).
      /usr/local/cuda-13.0/bin/ptxas -arch=sm_90 -v .device/ptx/gemv_xreg.sm90.ptx -o /dev/null 2>&1 | grep -E "properties|registers|spill" ;;
    *) return 127 ;;
  esac; }
run_parts part "$@"
