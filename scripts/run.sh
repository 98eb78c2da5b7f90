#!/usr/bin/env bash
# README command 1: installs what is missing, builds libtinfer (Release, into build/) and runs the
# main job on the default model: tinfer-bench-decode, one decode step timed at KV-cache positions
# 1, 2, 4, ... 32640 (cache 32768, prefill 128; ~1 minute on 2 cores), printing the table and
# writing results/bench_decode.json and results/bench_decode.png (benchmarks/plot_decode.py).
# Arguments are passed to tinfer-bench-decode after the defaults here (so they override them);
# MODEL=path picks another model, BUILD_DIR=dir another build tree, RESULTS_DIR=dir the output.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
MODEL="${MODEL:-models/gemma-3-270m-q4_k_m.gguf}"

bash scripts/bootstrap.sh

# A CUDA toolkit in its usual place but not on PATH is still found, so AUTO builds the backend.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j"$(nproc)"

if [ ! -f "$MODEL" ]; then
    echo "run.sh: no model at $MODEL (scripts/bootstrap.sh said why above); set MODEL=path" >&2
    exit 1
fi
RESULTS_DIR="${RESULTS_DIR:-results}"
mkdir -p "$RESULTS_DIR"
"$BUILD_DIR/examples/tinfer-bench-decode" -m "$MODEL" --repeats 10 \
    --json "$RESULTS_DIR/bench_decode.json" "$@"
.venv/bin/python benchmarks/plot_decode.py "$RESULTS_DIR/bench_decode.json" \
    -o "$RESULTS_DIR/bench_decode.png"
echo "run.sh: wrote $RESULTS_DIR/bench_decode.json and $RESULTS_DIR/bench_decode.png" >&2
