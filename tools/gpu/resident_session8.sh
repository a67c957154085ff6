#!/usr/bin/env bash
# One device run (repo root, after tools/gpu/unpack.sh), eighth session: resident GPT-2-XL decode with the
# greedy pipeline (device argmax, the next step queued before the token is read) against without it.
# usage: tools/gpu/resident_session8.sh [ceilings|pipeline-tests|pipeline|pipeline-l13|timed|gen|final|tests]...
set -uo pipefail
source tools/gpu/bench_lib.sh
for part in "$@"; do
  echo "== $(date -u +%T) $part" >&2
  case $part in
    ceilings) ceilings ;;
    pipeline-tests)
      timeout 400 $T -noColor -class Nnl.Engine.Tests.Offload.CudaGreedyPipelineTests -class Nnl.Engine.Tests.Offload.CudaGraphDecodeTests \
        -class Nnl.Engine.Tests.Generation.GreedyPipelineLoopTests > "$OUT/pipeline-tests.log" 2>&1
      grep -E "\[FAIL\]" -A14 "$OUT/pipeline-tests.log" | head -60; tail -1 "$OUT/pipeline-tests.log" ;;
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
    tests)
      timeout 590 $T -noColor -trait Category=Gpu > "$OUT/gpu-tests.log" 2>&1
      grep -E "\[FAIL\]" -A14 "$OUT/gpu-tests.log" | head -80; tail -1 "$OUT/gpu-tests.log" ;;
    *) echo "unknown part $part" >&2 ;;
  esac
done
