#!/usr/bin/env bash
# The main job on a fresh machine, no model needed: writes a small GPT-2 preset with random weights,
# generates from it and benchmarks it — on the GPU when the NVIDIA driver finds one, on the CPU
# otherwise. Run tools/setup.sh once first (the README's quick start does both).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Nnl.Cli -c Release -v q -nologo
n=src/Nnl.Cli/bin/Release/net10.0/nnl
d=$($n device >/dev/null 2>&1 && echo Cuda || echo Cpu)
dir=${1:-/tmp/nnl-gpt2}
$n new-model --preset gpt2 --layers 2 --path "$dir" --force
$n generate "$dir" --device $d --prompt 'Hello, Nnl' --max-new-tokens 16
$n bench "$dir" --device $d --tokens 16 --chart "$dir.svg"
echo "chart: $dir.svg"
