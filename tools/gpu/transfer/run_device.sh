#!/usr/bin/env bash
# The Measure-NnlTransfer device run: GPU tests, then nnl and torch side by side on the same GPU.
# usage: run_device.sh PUBLISH_DIR OUT_DIR   (PUBLISH_DIR holds Nnl.Engine.Tests and nnl, self-contained)
# Both sides take the same samples: 4 warm-up copies, then ITER samples of 16 back-to-back copies
# (100 for sizes up to 1 MB, where one copy lasts a few microseconds), median of the samples.
set -u
P=$1; O=$2
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
N=$P/nnl
E=$O/errors.log
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.current,pcie.link.width.current,memory.total --format=csv
  python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)"
} > $O/device.txt 2>&1
step() { echo "== $(date -u +%T) $*" >> $E; }
SMALL=$(python3 -c "import sys; sys.path.insert(0,'$here'); import torch_bandwidth as t; print(','.join(str(s) for s in t.shmoo() if s <= 1_000_000))")
LARGE=$(python3 -c "import sys; sys.path.insert(0,'$here'); import torch_bandwidth as t; print(','.join(str(s) for s in t.shmoo() if s > 1_000_000))")

step gpu tests
timeout 150 $P/Nnl.Engine.Tests -noColor -trait "Category=Gpu" > $O/gpu-tests.log 2>&1

nnl_sweep() { # $1 options (direction/memory), $2 iterations
  timeout 60 $N transfer --size $SMALL $1 --iterations $2 --copies 100 --json >> $O/nnl.jsonl 2>>$E
  timeout 90 $N transfer --size $LARGE $1 --iterations $2 --copies 16 --json >> $O/nnl.jsonl 2>>$E
}
: > $O/nnl.jsonl
step nnl pinned shmoo
nnl_sweep "--direction h2d,d2h --memory pinned" 30
step torch pinned and registered shmoo
timeout 120 python3 $here/torch_bandwidth.py --what pinned,registered --iterations 30 --copies 16 --small-copies 100 > $O/torch.jsonl 2>>$E
step nnl pageable shmoo
nnl_sweep "--direction h2d,d2h --memory pageable" 10
step nnl d2d shmoo
nnl_sweep "--direction d2d" 20
step torch pageable, d2d, tensors
timeout 100 python3 $here/torch_bandwidth.py --what pageable,d2d,tensors --iterations 20 --pageable-iterations 10 --tensor-iterations 10 --copies 16 --small-copies 100 >> $O/torch.jsonl 2>>$E
step nnl tensors
timeout 40 $N transfer --tensor-set llama-2-7b-block --iterations 10 --json >> $O/nnl.jsonl 2>>$E
step compare
python3 $here/compare.py $O/torch.jsonl $O/nnl.jsonl > $O/comparison.md 2>>$E
step end
