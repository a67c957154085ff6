# Helpers the device-run scripts source (repo root, after tools/gpu/unpack.sh): `bench` runs
# `nnl bench` on a model in /tmp with extra environment assignments and prints its line; `model`
# makes one of the random-weight presets in /tmp once; `base_ab` runs this build against a base engine (`base_engine`);
# `gpu_tests` runs some of the tests and prints their failures and summary; `kernel_timing` times each
# decode kernel alone; `side_by_side` takes the final figures for docs/performance.md; `run_parts` runs a
# session script's parts.
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
N=/tmp/nnl-tests/nnl
T=/tmp/nnl-tests/Nnl.Engine.Tests
show() { python3 -c '
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    if "DecodeMillisecondsPerTokenMedian" in r:
        print(sys.argv[2], "ms/token", round(r["DecodeMillisecondsPerTokenMedian"], 3), "mean", r.get("DecodeMillisecondsPerTokenMean") and round(r["DecodeMillisecondsPerTokenMean"], 3), "min", round(r["DecodeMillisecondsPerTokenMin"], 3), "max", round(r["DecodeMillisecondsPerTokenMax"], 3),
              "bound", r.get("BoundMillisecondsPerToken"), "eff", r.get("Efficiency"), "host/step", r.get("CudaGraphHostMillisecondsPerStep"),
              "replays", r.get("CudaGraphReplays"), "fallbacks", r.get("CudaGraphFallbacks"),
              *(["gpu", round(r["CudaGraphGpuMillisecondsPerStep"], 3), "idle in step", round(r["CudaGraphIdleInStepMilliseconds"], 3),
                 "idle between", r.get("CudaGraphIdleBetweenStepsMilliseconds") and round(r["CudaGraphIdleBetweenStepsMilliseconds"], 3)]
                if r.get("CudaGraphGpuMillisecondsPerStep") is not None else []))' "$1" "$2"; }
# bench <model dir in /tmp> <label> <tokens> <repetitions> <budget> [VAR=value]...; BENCH_ARGS adds nnl bench options
bench() { local model=$1 label=$2 tokens=$3 reps=$4 budget=$5; shift 5
  env "$@" $N bench /tmp/$model --device cuda --max-gpu-memory $budget --prompt-length 16 --tokens $tokens --repetitions $reps ${BENCH_ARGS:-} --json > "$OUT/$model-$label.jsonl"
  show "$OUT/$model-$label.jsonl" "$model $label"; }
# model gpt2xl|l13
model() { case $1 in
  gpt2xl) [ -d /tmp/gpt2xl ] || $N new-model --preset gpt2-xl --dtype fp16 --seed 1 --path /tmp/gpt2xl > /dev/null ;;
  l13) [ -d /tmp/l13 ] || $N new-model --preset llama-2-13b --dtype fp16 --seed 1 --path /tmp/l13 > /dev/null ;;
  esac; }
ceilings() { $N transfer --direction h2d,d2d --memory pinned --size 256MB --json > "$OUT/ceilings.jsonl"
  python3 -c 'import json,sys; [print(r["Direction"], round(r["MedianGBps"],1), "GB/s") for r in map(json.loads, open(sys.argv[1]))]' "$OUT/ceilings.jsonl"; }
# base_engine: /tmp/nnl-base, this build with .device/base-Nnl.Engine.dll.xz (the engine, kernels inside,
# before a change) swapped in; made afresh each call, since a warm machine keeps /tmp between runs.
base_engine() { rm -rf /tmp/nnl-base; cp -r /tmp/nnl-tests /tmp/nnl-base; xz -dc .device/base-Nnl.Engine.dll.xz > /tmp/nnl-base/Nnl.Engine.dll; }
# base_ab <model> <tokens> <repetitions> <rounds>: this build against the base engine, alternating, resident.
base_ab() { local model=$1 tokens=$2 reps=$3 rounds=$4; base_engine; model $model
  for i in $(seq 1 $rounds); do bench $model this-$i $tokens $reps 64GB; N=/tmp/nnl-base/nnl bench $model base-$i $tokens $reps 64GB; done; }
# gpu_tests <log name> <timeout s> <xunit filter arguments>...: the tests into $OUT/<log name>.log, then the
# failures (with their messages) and the summary line.
gpu_tests() { local log="$OUT/$1.log" limit=$2; shift 2
  timeout $limit $T -noColor "$@" > "$log" 2>&1
  grep -E "\[FAIL\]" -A14 "$log" | head -80; tail -1 "$log"; }
# kernel_timing: each decode kernel alone in graphs and what a kernel boundary costs
# (CudaDecodeKernelTimingTests) into $OUT/timing.log, then its GPT-2-XL lines.
kernel_timing() {
  timeout 500 $T -noColor -method Nnl.Engine.Tests.Kernels.CudaDecodeKernelTimingTests.DecodeKernelsAreTimedInGraphs -showLiveOutput > "$OUT/timing.log" 2>&1
  grep -E "kernels replayed|Add of|LayerNorm|Attention 25|GPT-2-XL .*default|folded|FAIL" "$OUT/timing.log" | grep -v "split [0-9]" | sed -E 's/.*\[OUTPUT\] //' | head -40
  tail -1 "$OUT/timing.log"; }
# side_by_side: copy ceilings, resident GPT-2-XL three times and once timed, Llama-2-13B resident, the two budgets.
side_by_side() { ceilings; model gpt2xl; model l13
  for i in 1 2 3; do bench gpt2xl final-$i 33 3 64GB; done
  bench gpt2xl final-timed 33 3 64GB NNL_GRAPH_TIMING=1
  bench l13 final 17 2 64GB
  bench gpt2xl budget2GB 17 2 2GB; bench l13 budget8GB 9 2 8GB; }
# run_parts <handler> <part>...: the parts in turn, each announced with the time on stderr. The session
# script's handler runs a part and returns 127 for one it does not have; then the parts every session
# has: ceilings, timing (kernel_timing), final (side_by_side), tests (all GPU tests).
run_parts() { local handler=$1 part; shift
  for part in "$@"; do
    echo "== $(date -u +%T) $part" >&2
    "$handler" "$part"
    [ $? -eq 127 ] || continue
    case $part in
      ceilings) ceilings ;;
      timing) kernel_timing ;;
      final) side_by_side ;;
      tests) gpu_tests gpu-tests 590 -trait Category=Gpu ;;
      *) echo "unknown part $part" >&2 ;;
    esac
  done; }
