#!/usr/bin/env bash
# On the GPU host: unpack the test build and put the CUDA toolkit libraries (cuBLAS, NVRTC) on the path.
set -euo pipefail
mkdir -p /tmp/nnl-tests
xz -dc .device/tests.tar.xz | tar -C /tmp/nnl-tests -xf -
echo "unpacked to /tmp/nnl-tests"
