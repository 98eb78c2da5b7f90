#!/usr/bin/env bash
# The one prepared GPU check, run on the lent machine in a single call:
#   (here)    bash scripts/device/pack_deps.sh
#   (device)  run(command="bash scripts/device/check.sh", carry=["build-devdeps"], timeout_s=540)
# It builds with CUDA for the device's architecture, runs the whole ctest suite (CUDA tests run
# against the CPU results instead of skipping), and leaves logs in $OUT (or build-dev/out).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT_DIR="${OUT:-$ROOT/build-dev/out}"
mkdir -p "$OUT_DIR"
DEPS="$ROOT/build-devdeps"
export PKG_CONFIG_PATH="$DEPS/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$DEPS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$PATH:/usr/local/cuda/bin"
JOBS=$(nproc)

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>&1
    nvcc --version | tail -n 2
} | tee "$OUT_DIR/device.txt"

# compute capability 9.0 → 90; falls back to 90 (H100/H200) when nvidia-smi cannot say
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '. ')
arch=${arch:-90}

status=0
cmake -S . -B build-dev -DCMAKE_BUILD_TYPE=Release -DTINFER_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="$arch" > "$OUT_DIR/configure.log" 2>&1 || status=1
[ $status -eq 0 ] && { cmake --build build-dev -j"$JOBS" > "$OUT_DIR/build.log" 2>&1 || status=1; }
tail -n 20 "$OUT_DIR/configure.log" "$OUT_DIR/build.log" 2>/dev/null | grep -iE "error|cuda" | head -n 20
if [ $status -eq 0 ]; then
    (cd build-dev && ctest --output-on-failure -j"$JOBS") > "$OUT_DIR/ctest.log" 2>&1 || status=1
    tail -n 15 "$OUT_DIR/ctest.log"
    # the CUDA tests in full: they must have run, not skipped, on a machine with a GPU
    for test in test_cuda test_cuda_matvec test_cuda_ops test_cuda_forward; do
        (cd build-dev && ctest -R "^unit.$test\$" -V) 2>&1 | tee "$OUT_DIR/$test.log"
        grep -q "SKIPPED" "$OUT_DIR/$test.log" && { echo "device check: $test skipped on a GPU machine"; status=1; }
    done
fi
echo "device check: $([ $status -eq 0 ] && echo ok || echo FAILED)"
exit $status
