#!/usr/bin/env bash
# One device run of the whole GPU check: parity fixtures from transformers, every GPU test, and a
# first offload benchmark. usage (on the GPU host, repo root): tools/gpu/check.sh [bench args...]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
tools/gpu/unpack.sh >/dev/null
T=/tmp/nnl-tests
nvidia-smi --query-gpu=name,memory.total,driver_version,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader | tee "$OUT/device.txt"

if [ "${SKIP_FIXTURES:-0}" != 1 ]; then
  echo "== parity fixtures (transformers float32)"
  python3 tools/reference/make_fixtures.py --out /tmp/fixtures > "$OUT/fixtures.log" 2>&1 && tar czf "$OUT/fixtures.tar.gz" -C /tmp/fixtures . || tail -20 "$OUT/fixtures.log"
  # run the parity test against the fresh fixtures too
  mkdir -p $T/Fixtures/Models && cp -r /tmp/fixtures/* $T/Fixtures/Models/ 2>/dev/null
fi

echo "== GPU tests"
$T/Nnl.Engine.Tests -noColor -trait "Category=Gpu" ${TEST_FILTER:-} > "$OUT/gpu-tests.log" 2>&1
grep -E "\[FAIL\]" -A12 "$OUT/gpu-tests.log" | head -150
grep -E "Total:" "$OUT/gpu-tests.log"
if [ "${SKIP_PARITY:-0}" != 1 ]; then
  $T/Nnl.Engine.Tests -noColor -class "Nnl.Engine.Tests.Runtime.ReferenceFixtureParityTests" 2>&1 | grep -E "FAIL|Total|Skip" | head -20
fi

if [ $# -gt 0 ]; then
  echo "== bench $*"
  "$@" 2>&1 | tee "$OUT/bench.log"
fi
