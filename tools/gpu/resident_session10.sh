#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), tenth session: the norm folded into the
# register GEMV (NNL_NORM_FOLD) against its own launch, each decode kernel timed alone, and the side by
# side of main's code. The run of x in shared memory with more rows in flight (slower) is this script's
# part depth on the branch experiment/shared-input-gemv, which has the code it times; the runs of the
# register GEMV in blocks of 12 and 24 warps, of the fold's other forms and of 5-7 slices against 8
# used throwaway code (docs/performance.md has their figures).
# usage: tools/gpu/resident_session10.sh [ceilings|ptxas|gemv-tests|fold-tests|fold|timing|final|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
part() {
  case $1 in
    ptxas)
      # Registers and spills of the products as the driver will compile them (.device/ptx, copied from the build).
      /usr/local/cuda-13.0/bin/ptxas -arch=sm_90 -v .device/ptx/gemv_xreg.sm90.ptx -o /dev/null 2>&1 | grep -E "Compiling|registers|spill" | paste - - - | grep -E "xreg.*f16" | sed -E 's/ +/ /g' ;;
    gemv-tests)
      gpu_tests gemv-tests 300 -class Nnl.Engine.Tests.Kernels.CudaRegisterGemvTests -class Nnl.Engine.Tests.Kernels.CudaMatMulTests ;;
    fold-tests)
      gpu_tests fold-tests 400 -class Nnl.Engine.Tests.Kernels.CudaNormFoldTests -class Nnl.Engine.Tests.Kernels.CudaNormMatMulTests \
        -class Nnl.Engine.Tests.Kernels.CudaRegisterGemvTests -class Nnl.Engine.Tests.Offload.CudaGraphDecodeTests -class Nnl.Engine.Tests.Offload.CudaGreedyPipelineTests ;;
    fold)
      # The norm folded into the product (default) against its own launch, alternating.
      model gpt2xl
      for i in 1 2 3; do bench gpt2xl fold-$i 33 3 64GB; bench gpt2xl nofold-$i 33 3 64GB NNL_NORM_FOLD=0; done ;;
    *) return 127 ;;
  esac; }
run_parts part "$@"
