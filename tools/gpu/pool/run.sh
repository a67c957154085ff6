#!/usr/bin/env bash
# On the GPU host: GPU tests of the pool, then the offloading and random traces replayed through
# the Nnl pool (virtual memory, cuMemAlloc segments, no pool) and PyTorch's caching allocator
# (default and expandable segments), all reading the same trace files. Results go to $OUT.
# usage: bash .carry/pool/run.sh   (from the repository root, with .carry/pool carried)
set -u
C=.carry/pool
for f in $C/*.tar.xz; do n=$(basename $f .tar.xz); mkdir -p /tmp/$n; tar xJf $f -C /tmp/$n; done
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
T=/tmp/Nnl.Engine.Tests/Nnl.Engine.Tests
N=/tmp/Nnl.Cli/nnl
date -u > $OUT/date.txt
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $OUT/gpu.txt 2>&1
$T -noColor -trait "Category=Gpu" > $OUT/gpu-tests.log 2>&1; echo "tests rc=$?" >> $OUT/gpu-tests.log
tail -3 $OUT/gpu-tests.log
$N pool --make-trace llama-offload --tokens 32 --out $OUT/llama.trace --json | tee $OUT/traces.jsonl
$N pool --make-trace random --seed 7 --out $OUT/random.trace --json | tee -a $OUT/traces.jsonl
for t in llama random; do
  # Correctness: every block filled by a kernel and checked before it is freed.
  for b in vmm cumemalloc; do
    $N pool --replay $OUT/$t.trace --backing $b --budget 8GB --verify --json > $OUT/$t-$b-verify.jsonl 2>&1
  done
  # Timing: no kernels in between.
  for b in vmm cumemalloc direct; do
    svg=""; [ $b = vmm ] && svg="--svg $OUT/$t-vmm.svg"
    [ $b = vmm ] && [ $t = llama ] && svg="$svg"
    $N pool --replay $OUT/$t.trace --backing $b --budget 8GB $svg --json > $OUT/$t-$b.jsonl 2>&1
  done
  python3 $C/torch_replay.py $OUT/$t.trace 8589934592 > $OUT/$t-torch.json 2> $OUT/$t-torch.err
  PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True python3 $C/torch_replay.py $OUT/$t.trace 8589934592 > $OUT/$t-torch-expandable.json 2> $OUT/$t-torch-expandable.err
done
$N pool --replay $OUT/llama.trace --backing vmm --budget 8GB --svg $OUT/llama-vmm-events.svg --by-event --json > /dev/null 2>&1
head -c 3000 $OUT/*.jsonl $OUT/*.json
ls -la $OUT
