#!/usr/bin/env bash
# README command 2 (and what CI runs): installs what is missing, then runs the whole test suite:
#   1. build-test/ (RelWithDebInfo, CUDA backend when nvcc is found) and its ctest unit tests;
#   2. the Python tests in tests/python against the programs in build-test/ (scripts/run.sh keeps build/ for its Release build),
#      and the Python binding's tests (bindings/python/tests) against its shared library;
#   3. build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer with float-cast-overflow, which
#      -fsanitize=undefined leaves out in gcc; CPU only), its ctest tests and
#      the Python tests again against its programs;
#   4. build-clang/ (clang 14, CPU only) and its ctest tests;
#   5. scripts/fuzz.sh 20: every libFuzzer target of tests/fuzz for 20 s (one test per target).
# Every step runs even when an earlier one failed (a failed build skips only its own tests); the
# last line counts the tests of all steps, and the exit status is non-zero when anything failed.
# BUILD_DIR / ASAN_BUILD_DIR / CLANG_BUILD_DIR pick other build trees, TINFER_CUDA=AUTO|ON|OFF the CUDA choice.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build-test}"
ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-build-asan}"
CLANG_BUILD_DIR="${CLANG_BUILD_DIR:-build-clang}"
JOBS="$(nproc)"
DEFAULT_MODEL="$ROOT/models/gemma-3-270m-q4_k_m.gguf"
SANITIZER_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
LOG_DIR="$(mktemp -d)"
trap 'rm -rf "$LOG_DIR"' EXIT

n_passed=0
n_failed=0
n_skipped=0
failed_steps=()
step_started=0

begin_step() {
    step_started=$SECONDS
    echo
    echo "==== test.sh: $1"
}

end_step() { # name, ok|fail
    echo "==== test.sh: $1: $2 ($((SECONDS - step_started)) s)"
    if [ "$2" != ok ]; then failed_steps+=("$1"); fi
}

absolute() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }

# configure_and_build NAME DIR CMAKE_ARGS... ; a failed build counts as one failed test.
configure_and_build() {
    local name="$1" dir="$2"
    shift 2
    begin_step "build $name ($dir)"
    if cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"$JOBS"; then
        end_step "build $name" ok
        return 0
    fi
    n_failed=$((n_failed + 1))
    end_step "build $name" fail
    return 1
}

# ctest prints "100% tests passed, 0 tests failed out of 12" and lists skipped tests as
# "(Skipped)"; skipped tests are inside its "passed" count.
count_ctest() {
    local log="$1" total failed skipped
    total="$(sed -n 's/.*tests passed, [0-9]* tests\? failed out of \([0-9]*\).*/\1/p' "$log" | tail -n1)"
    failed="$(sed -n 's/.*tests passed, \([0-9]*\) tests\? failed out of.*/\1/p' "$log" | tail -n1)"
    skipped="$(grep -c '(Skipped)$' "$log")"
    if [ -z "$total" ]; then
        n_failed=$((n_failed + 1)) # ctest stopped before running anything
        return
    fi
    n_failed=$((n_failed + failed))
    n_skipped=$((n_skipped + skipped))
    n_passed=$((n_passed + total - failed - skipped))
}

run_ctest() { # name, dir, env assignments...
    local name="$1" dir="$2" log="$LOG_DIR/ctest-$1.log" rc
    shift 2
    begin_step "ctest $name ($dir)"
    (cd "$dir" && env "$@" ctest --output-on-failure --no-tests=error -j"$JOBS") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    count_ctest "$log"
    if [ "$rc" -eq 0 ]; then end_step "ctest $name" ok; else end_step "ctest $name" fail; fi
}

# pytest's last line: "==== 30 passed, 1 failed, 2 skipped in 1.20s ====". Exit status 5 means
# it collected no test, which is a failure here, not a pass.
count_pytest() {
    local line="$1" word n
    for word in passed failed skipped error; do # "error" also matches "errors"
        n="$(echo "$line" | grep -o "[0-9]* $word" | head -n1 | cut -d' ' -f1)"
        [ -n "$n" ] || continue
        case "$word" in
        passed) n_passed=$((n_passed + n)) ;;
        skipped) n_skipped=$((n_skipped + n)) ;;
        *) n_failed=$((n_failed + n)) ;;
        esac
    done
}

# The programs under test come from DIR; the tests that also use the Python binding (to tokenize
# or compute a reference) load the normal build's library, which a sanitized Python could not.
run_pytest() { # name, build dir, env assignments...
    local name="$1" dir="$2"
    shift 2
    pytest_step "$name" "$dir" tests/python \
        TINFER_LIBRARY="$(absolute "$BUILD_DIR")/lib/libtinfer.so.0" "$@"
}

# The Python binding's own tests (bindings/python/tests), against the shared library in DIR.
run_binding_pytest() { # name, build dir, env assignments...
    local name="$1" dir="$2"
    shift 2
    pytest_step "$name" "$dir" bindings/python/tests \
        TINFER_LIBRARY="$(absolute "$dir")/lib/libtinfer.so.0" "$@"
}

pytest_step() { # name, build dir, test directory, env assignments...
    local name="$1" dir="$2" tests="$3" log="$LOG_DIR/pytest-$1.log" rc
    shift 3
    begin_step "pytest $name ($tests with the programs in $dir)"
    env "$@" TINFER_BUILD_DIR="$(absolute "$dir")" \
        .venv/bin/python -m pytest -p no:cacheprovider -ra "$tests" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    count_pytest "$(grep -E '^=+ .*(passed|failed|skipped|error|no tests ran)' "$log" | tail -n1)"
    if [ "$rc" -eq 5 ]; then
        echo "test.sh: pytest collected no tests"
        n_failed=$((n_failed + 1))
    elif [ "$rc" -ne 0 ] && ! grep -qE '^=+ .*(failed|error)' "$log"; then
        n_failed=$((n_failed + 1)) # pytest itself broke (bad option, crash in conftest)
    fi
    if [ "$rc" -eq 0 ]; then end_step "pytest $name" ok; else end_step "pytest $name" fail; fi
}

# scripts/fuzz.sh prints "fuzz.sh: fuzz_gguf: 20 s, 1234 execs, cov 5, ft 6, 0 crashes" per
# target: each is one test, passed without crashes. A build that fails counts as one failed test.
run_fuzz() { # seconds
    local log="$LOG_DIR/fuzz.log" rc passed failed
    begin_step "fuzz (scripts/fuzz.sh $1)"
    bash scripts/fuzz.sh "$1" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    passed="$(grep -cE '^fuzz\.sh: fuzz_[a-z0-9_]+: .*, 0 crashes$' "$log")"
    failed="$(grep -E '^fuzz\.sh: fuzz_[a-z0-9_]+: .* crashes$' "$log" | grep -cv ', 0 crashes$')"
    n_passed=$((n_passed + passed))
    n_failed=$((n_failed + failed))
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then n_failed=$((n_failed + 1)); fi
    if [ "$rc" -eq 0 ]; then end_step "fuzz" ok; else end_step "fuzz" fail; fi
}

main() {
    local started=$SECONDS
    if ! bash scripts/bootstrap.sh; then
        echo "test.sh: scripts/bootstrap.sh failed; nothing was tested"
        echo "test.sh: 0 passed, 1 failed"
        exit 1
    fi
    if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
        export PATH="/usr/local/cuda/bin:$PATH"
    fi
    if [ -f "$DEFAULT_MODEL" ]; then export TINFER_DEFAULT_MODEL="$DEFAULT_MODEL"; fi

    if configure_and_build normal "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTINFER_CUDA="${TINFER_CUDA:-AUTO}" -DTINFER_SANITIZE=; then
        run_ctest normal "$BUILD_DIR"
        run_pytest normal "$BUILD_DIR"
        run_binding_pytest python-binding "$BUILD_DIR"
    fi
    if configure_and_build asan "$ASAN_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTINFER_CUDA=OFF \
        -DTINFER_SANITIZE=address,undefined,float-cast-overflow; then
        run_ctest asan "$ASAN_BUILD_DIR" "${SANITIZER_ENV[@]}"
        # the programs parse hostile files in the Python tests: run those under the sanitizers too
        run_pytest asan "$ASAN_BUILD_DIR" "${SANITIZER_ENV[@]}"
    fi
    # the same sources must build and pass with clang too (its warnings, its code generation)
    if configure_and_build clang "$CLANG_BUILD_DIR" -DCMAKE_C_COMPILER=clang-14 \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTINFER_CUDA=OFF -DTINFER_SANITIZE=; then
        run_ctest clang "$CLANG_BUILD_DIR"
    fi
    run_fuzz 20

    echo
    if [ "${#failed_steps[@]}" -gt 0 ]; then
        echo "test.sh: FAILED steps: ${failed_steps[*]} ($((SECONDS - started)) s)"
    else
        echo "test.sh: all steps passed ($((SECONDS - started)) s)"
    fi
    echo "test.sh: $n_passed passed, $n_failed failed, $n_skipped skipped"
    [ "${#failed_steps[@]}" -eq 0 ]
}

main
