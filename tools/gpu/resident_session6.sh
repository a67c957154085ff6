#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), sixth session: resident decode with the KV store
# inside attention (default) against its own launch (NNL_KV_FUSION=0), next to the copy ceilings.
# usage: tools/gpu/resident_session6.sh [ceilings|kv|llama13b|budgets|kv-tests|idle|ramp|base-ab|base-ab-l13|kernel-tests|graph-tests|final|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
part() {
  case $1 in
    kv)
      model gpt2xl
      for i in 1 2 3; do bench gpt2xl kv-in-attention-$i 33 3 64GB; bench gpt2xl kv-store-$i 33 3 64GB NNL_KV_FUSION=0; done ;;
    llama13b)
      model l13
      bench l13 kv-in-attention 17 2 64GB; bench l13 kv-store 17 2 64GB NNL_KV_FUSION=0 ;;
    budgets)
      model gpt2xl; model l13
      bench gpt2xl budget2GB 17 2 2GB; bench l13 budget8GB 9 2 8GB ;;
    kv-tests)
      timeout 300 $T -noColor -showLiveOutput -class Nnl.Engine.Tests.Kernels.CudaAttentionTests -class Nnl.Engine.Tests.Kernels.CudaBackendParityTests \
        -class Nnl.Engine.Tests.Kernels.CudaDecodeStepBenchmarkTests > "$OUT/kv-tests.log" 2>&1
      grep -E "\[FAIL\]" -A12 "$OUT/kv-tests.log" | head -60; grep -E "decode step|KV store" "$OUT/kv-tests.log" | head -20; tail -1 "$OUT/kv-tests.log" ;;
    idle)
      # Where a resident GPT-2-XL step's time goes: the GPU in the graph segments, and idle waiting for the host.
      model gpt2xl
      for i in 1 2; do bench gpt2xl timed-$i 33 3 64GB NNL_GRAPH_TIMING=1; bench gpt2xl untimed-$i 33 3 64GB; done
      model l13; bench l13 timed 17 2 64GB NNL_GRAPH_TIMING=1 ;;
    ramp)
      # The graph segments' ramp (NNL_GRAPH_RAMP: the second segment's minimum, fourfold a segment up to 32).
      model gpt2xl
      bench gpt2xl ramp4-timed 33 3 64GB NNL_GRAPH_TIMING=1; bench gpt2xl ramp0-timed 33 3 64GB NNL_GRAPH_TIMING=1 NNL_GRAPH_RAMP=0
      for i in 1 2; do for r in 4 0 8 2; do bench gpt2xl ramp$r-$i 33 3 64GB NNL_GRAPH_RAMP=$r; done; done ;;
    base-ab)
      # This build against the same one with .device/base-Nnl.Engine.dll.xz (the engine, kernels inside, before a change), alternating.
      base_ab gpt2xl 33 3 3 ;;
    kernel-tests)
      timeout 400 $T -noColor -class Nnl.Engine.Tests.Kernels.CudaRowOperationTests -class Nnl.Engine.Tests.Kernels.CudaRegisterGemvTests \
        -class Nnl.Engine.Tests.Kernels.CudaNormMatMulTests -class Nnl.Engine.Tests.Kernels.CudaBackendParityTests -class Nnl.Engine.Tests.Kernels.CudaMatMulTests > "$OUT/kernel-tests.log" 2>&1
      grep -E "\[FAIL\]" -A12 "$OUT/kernel-tests.log" | head -60; tail -1 "$OUT/kernel-tests.log" ;;
    base-ab-l13)
      base_ab l13 17 2 1 ;;
    final)
      # The side by side for docs/performance.md: resident GPT-2-XL three times (and once timed), Llama-2-13B
      # resident, and the two budgets of must-show 1 and 2, after the copy ceilings.
      ceilings; model gpt2xl; model l13
      for i in 1 2 3; do bench gpt2xl final-$i 33 3 64GB; done
      bench gpt2xl final-timed 33 3 64GB NNL_GRAPH_TIMING=1
      bench l13 final 17 2 64GB; bench l13 final-timed 17 2 64GB NNL_GRAPH_TIMING=1
      bench gpt2xl budget2GB 17 2 2GB; bench l13 budget8GB 9 2 8GB ;;
    sampling)
      # nnl generate with sampling on resident GPT-2-XL, this build against the base engine (the host's sampler per token).
      base_engine; model gpt2xl
      for i in 1 2; do for b in /tmp/nnl-tests /tmp/nnl-base; do for opt in "--temperature 0" "--temperature 0.8" "--temperature 0.8 --top-k 40" "--temperature 0.8 --top-p 0.9"; do
        echo "$b $opt: $($b/nnl generate /tmp/gpt2xl --device cuda --prompt "The quick brown fox" --max-new-tokens 64 --seed 1 $opt --json 2>&1 | python3 -c '
import json,sys
for l in sys.stdin:
    try: r=json.loads(l)
    except Exception: print(l.strip()[:200]); continue
    print({k: (round(v,3) if isinstance(v,float) else v) for k,v in r.items() if "PerSecond" in k or "Millisecond" in k or k in ("GeneratedTokens","StopReason")})' | tail -1)"
      done; done; done ;;
    graph-tests)
      timeout 300 $T -noColor -class Nnl.Engine.Tests.Kernels.CudaGraphStepTests > "$OUT/graph-tests.log" 2>&1
      grep -E "\[FAIL\]" -A12 "$OUT/graph-tests.log" | head -40; tail -1 "$OUT/graph-tests.log" ;;
    timeline)
      # The GPU's timeline of a resident GPT-2-XL decode (Nsight Systems, kernels inside graphs as nodes): where it idles.
      model gpt2xl
      NSYS=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys /usr/local/cuda*/nsight-systems*/bin/nsys 2>/dev/null | head -1)
      echo "nsys: ${NSYS:-none}"
      [ -n "$NSYS" ] || continue
      $NSYS profile -o /tmp/tl --trace=cuda --cuda-graph-trace=node -f true $N bench /tmp/gpt2xl --device cuda --prompt-length 16 --tokens 17 --repetitions 2 --json > "$OUT/timeline-bench.jsonl" 2> "$OUT/nsys.log"
      tail -3 "$OUT/nsys.log"
      $NSYS stats --report cuda_gpu_trace --format csv -o /tmp/tl /tmp/tl.nsys-rep > /dev/null 2>> "$OUT/nsys.log"
      ls /tmp/tl* ; xz -T0 -c /tmp/tl_cuda_gpu_trace.csv > "$OUT/tl_cuda_gpu_trace.csv.xz"; ls -la "$OUT" | tail -3 ;;
    decode-step)
      timeout 300 $T -noColor -showLiveOutput -class Nnl.Engine.Tests.Kernels.CudaDecodeStepBenchmarkTests > "$OUT/decode-step.log" 2>&1
      grep -E "\[FAIL\]" -A12 "$OUT/decode-step.log" | head -40; grep -E "CUDA graph" "$OUT/decode-step.log" | sed 's/.*\[OUTPUT\] //'; tail -1 "$OUT/decode-step.log" ;;
    tests)
      timeout 450 $T -noColor -trait "Category=Gpu" > "$OUT/gpu-tests.log" 2>&1
      grep -E "\[FAIL\]" -A8 "$OUT/gpu-tests.log" | head -40; tail -2 "$OUT/gpu-tests.log" ;;
    *) return 127 ;;
  esac; }
run_parts part "$@"
