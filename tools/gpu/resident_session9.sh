#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), ninth session: each decode kernel timed alone
# in graphs with what a kernel boundary costs, the register GEMV's balanced grid against the full one,
# and the side by side of main's code. The runs of the gap prefetch (slower; docs/performance.md) are
# this script's parts gap, gap-l13 and gap-tests on the branch experiment/gap-prefetch, which has the
# code they time.
# usage: tools/gpu/resident_session9.sh [ceilings|balance|gemv-tests|attn-tests|base-ab|base-ab-l13|ptxas|timing|final|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
part() {
  case $1 in
    balance)
      # The register GEMV's balanced grid (default) against as many blocks as fit, alternating; and two blocks an SM.
      model gpt2xl
      for i in 1 2 3; do bench gpt2xl balance-on-$i 33 3 64GB; bench gpt2xl balance-off-$i 33 3 64GB NNL_XREG_BALANCE=0; done
      bench gpt2xl balance-on-2-per-sm 33 3 64GB NNL_XREG_BLOCKS_PER_SM=2
      model l13; bench l13 balance-on 17 2 64GB; bench l13 balance-off 17 2 64GB NNL_XREG_BALANCE=0 ;;
    gemv-tests)
      gpu_tests gemv-tests 300 -class Nnl.Engine.Tests.Kernels.CudaRegisterGemvTests -class Nnl.Engine.Tests.Kernels.CudaMatMulTests ;;
    attn-tests)
      gpu_tests attn-tests 400 -class Nnl.Engine.Tests.Kernels.CudaAttentionTests \
        -class Nnl.Engine.Tests.Offload.CudaGraphDecodeTests -class Nnl.Engine.Tests.Offload.CudaGreedyPipelineTests ;;
    base-ab)
      # This build against the same one with .device/base-Nnl.Engine.dll.xz (the engine before a change), alternating.
      base_ab gpt2xl 33 3 3 ;;
    base-ab-l13)
      base_ab l13 17 2 1 ;;
    ptxas)
      # Registers and spills as the driver will compile them (.device/ptx, copied from the build).
      for f in .device/ptx/*.sm90.ptx; do echo "$f"; /usr/local/cuda-13.0/bin/ptxas -arch=sm_90 -v "$f" -o /dev/null 2>&1 | grep -E "Compiling|registers|spill" | paste - - - | grep -E "attention_decode|xreg" | head -8; done ;;
    *) return 127 ;;
  esac; }
run_parts part "$@"
