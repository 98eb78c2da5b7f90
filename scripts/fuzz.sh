#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, the library compiled into
# each target) and runs each for SECONDS (default 60), one after the other:
#   scripts/fuzz.sh [SECONDS] [TARGET...]        # all targets when none is named
#   scripts/fuzz.sh --regressions                # replay tests/fuzz/regressions/<target>/* once
# Corpora grow in build-fuzzer/corpus/<target>/ (seeded at every run by tests/fuzz/make_corpus.sh
# from the test fixtures); a crashing, leaking or timing-out input is kept in
# build-fuzzer/crashes/<target>/. One summary line per target:
#   fuzz.sh: fuzz_gguf: 60 s, 812345 execs, cov 1234, ft 5678, 0 crashes
# (cov/ft from libFuzzer's last stats line), then a total. The exit status is non-zero when a target
# crashed or the build failed. FUZZ_BUILD_DIR, FUZZ_CC (default clang-14, else clang),
# FUZZ_MALLOC_LIMIT_MB (default 128) and FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=2
# -workers=2") change the defaults. Two invocations over disjoint targets may share the build
# folder (the build and seeding take a lock). See doc/fuzzing.md for long campaigns.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${FUZZ_BUILD_DIR:-build-fuzzer}"
CC_FUZZ="${FUZZ_CC:-$(command -v clang-14 || command -v clang || echo clang-14)}"
export TINFER_SOURCE_DIR="$ROOT"
# a UBSan report with its stack in the log (the targets abort on the first one)
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# The memory ceiling on hostile input (doc/formats.md): no input of a few KiB may make one
# allocation this large; libFuzzer reports a larger malloc as out-of-memory and keeps the input.
MALLOC_LIMIT_MB="${FUZZ_MALLOC_LIMIT_MB:-128}"

# Per target: the longest input libFuzzer makes, and its dictionary.
max_len() {
    case "$1" in
    fuzz_model) echo 4096 ;;
    fuzz_snapshot) echo 32768 ;;
    fuzz_gguf | fuzz_tokenizer_gguf | fuzz_tokenizer_json | fuzz_safetensors) echo 8192 ;;
    *) echo 2048 ;;
    esac
}
dict() {
    case "$1" in
    fuzz_gguf | fuzz_tokenizer_gguf | fuzz_model) echo tests/fuzz/gguf.dict ;;
    fuzz_tokenizer_json | fuzz_hf_config | fuzz_safetensors_index | fuzz_safetensors)
        echo tests/fuzz/json.dict ;;
    esac
}

build() {
    local log="$BUILD/logs/build.log"
    mkdir -p "$BUILD/logs"
    echo "fuzz.sh: building the targets with $CC_FUZZ in $BUILD/"
    CC="$CC_FUZZ" cmake -S tests/fuzz -B "$BUILD" -DCMAKE_BUILD_TYPE= >"$log" 2>&1 &&
        cmake --build "$BUILD" -j"$(nproc)" >>"$log" 2>&1 && return 0
    tail -n 30 "$log"
    echo "fuzz.sh: build failed (log: $log)"
    return 1
}

all_targets() { for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done; }

# run TARGET SECONDS: prints the summary line; status 1 when it crashed.
run() {
    local target="$1" seconds="$2" corpus="$BUILD/corpus/$1" crashes="$BUILD/crashes/$1"
    local log="$BUILD/logs/$1.log" flags=() dict_file before after execs stats cov ft rc
    mkdir -p "$corpus" "$crashes" "$BUILD/logs"
    dict_file="$(dict "$target")"
    [ -n "$dict_file" ] && flags+=("-dict=$dict_file")
    before="$(ls "$crashes" | wc -l)"
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$BUILD/$target" -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 \
        -rss_limit_mb=2560 -malloc_limit_mb="$MALLOC_LIMIT_MB" -print_final_stats=1 \
        -artifact_prefix="$crashes/" "${flags[@]}" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
    rc=$?
    after="$(ls "$crashes" | wc -l)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
    stats="$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n1)"
    cov="$(echo "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')"
    ft="$(echo "$stats" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')"
    local crashed=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$crashed" -eq 0 ]; then crashed=1; fi # died without an artifact
    echo "fuzz.sh: $target: $seconds s, ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}, $crashed crashes"
    if [ "$crashed" -ne 0 ]; then
        grep -m1 -E 'ERROR: |runtime error|fuzz: |SUMMARY' "$log" | sed 's/^/fuzz.sh:   /'
        ls -t "$crashes" | head -n "$crashed" | sed "s|^|fuzz.sh:   kept $crashes/|"
        echo "fuzz.sh:   log: $log"
        return 1
    fi
    return 0
}

regressions() {
    local failed=0 dir target input
    for dir in tests/fuzz/regressions/*/; do
        [ -d "$dir" ] || continue
        target="$(basename "$dir")"
        for input in "$dir"*; do
            [ -f "$input" ] || continue
            if "$BUILD/$target" -malloc_limit_mb="$MALLOC_LIMIT_MB" -rss_limit_mb=2560 "$input" \
                >"$BUILD/logs/regression.log" 2>&1; then
                echo "fuzz.sh: $target $(basename "$input"): ok"
            else
                echo "fuzz.sh: $target $(basename "$input"): FAILS"
                grep -m1 -E 'ERROR: |runtime error|fuzz: ' "$BUILD/logs/regression.log" | sed 's/^/fuzz.sh:   /'
                failed=$((failed + 1))
            fi
        done
    done
    [ "$failed" -eq 0 ]
}

main() {
    local seconds=60 targets=() n_crashed=0 target
    if [ "${1:-}" = "--regressions" ]; then
        mkdir -p "$BUILD/logs"
        exec 9>"$BUILD/.fuzz.lock"
        flock 9
        build || exit 1
        flock -u 9
        regressions
        exit
    fi
    if [ $# -gt 0 ]; then
        seconds="$1"
        shift
    fi
    targets=("$@")
    [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
    # Two invocations may share $BUILD (two campaigns over disjoint targets): the build and the
    # seeding run under one lock, so the second waits for the first's instead of racing it.
    mkdir -p "$BUILD"
    exec 9>"$BUILD/.fuzz.lock"
    flock 9
    build || exit 1
    tests/fuzz/make_corpus.sh "$BUILD/corpus" "$BUILD/make_seeds" || exit 1
    flock -u 9
    for target in "${targets[@]}"; do
        run "$target" "$seconds" || n_crashed=$((n_crashed + 1))
    done
    echo "fuzz.sh: ${#targets[@]} targets, $n_crashed crashed"
    [ "$n_crashed" -eq 0 ]
}

main "$@"
