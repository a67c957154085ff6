#!/usr/bin/env bash
# Publishes the test project self-contained for the GPU host (which has no .NET) and packs it into
# .device/tests.tar.xz. The test build carries `nnl` too (the tests reference the CLI), so one
# archive serves both. On the GPU host: tools/gpu/unpack.sh, then /tmp/nnl-tests/Nnl.Engine.Tests
# and /tmp/nnl-tests/nnl.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
out=$(mktemp -d)
dotnet publish tests/Nnl.Engine.Tests -c Release -r linux-x64 --self-contained -p:InvariantGlobalization=true -o "$out" -v quiet -nologo
rm -f "$out"/*.pdb
mkdir -p .device
tar -C "$out" -cf - . | xz -T0 -3 > .device/tests.tar.xz
rm -rf "$out"
du -h .device/tests.tar.xz
