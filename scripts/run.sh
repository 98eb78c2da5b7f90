#!/usr/bin/env bash
# README command 1: installs what is missing, builds libtinfer (Release, into build/) and runs the
# main job on the default model. Arguments are passed to the program before the model path;
# MODEL=path picks another model, BUILD_DIR=dir another build tree.
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
exec "$BUILD_DIR/examples/tinfer-inspect" "$@" "$MODEL"
