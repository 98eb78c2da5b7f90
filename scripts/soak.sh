#!/usr/bin/env bash
# Builds and runs the soak program (tests/soak/soak.c): decode steps over 8 sequences of a tiny
# synthetic model with seeded truncate/clear churn, checking that resident memory stays flat after
# the warm-up and that every checked sequence's logits equal a fresh context's (memcmp).
#   scripts/soak.sh [SOAK OPTIONS...]             # 10,000 steps, then the same run on 2 threads:
#                                                 # the two checksums must be equal
#   scripts/soak.sh --valgrind [SOAK OPTIONS...]  # 200 steps under valgrind (memcheck, full leak
#                                                 # check, any error fails)
# SOAK OPTIONS go to the program (see the comment at the top of tests/soak/soak.c), e.g.
# --steps 100000 --seed 7. BUILD_DIR (default build) is the CMake build to use; it is configured
# when missing. The exit status is non-zero when a run fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${BUILD_DIR:-build}"
valgrind=0
if [ "${1:-}" = "--valgrind" ]; then
    valgrind=1
    shift
fi

[ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target tinfer_soak >/dev/null
SOAK="$BUILD/tests/tinfer_soak"
export TINFER_TEST_TMPDIR="${TINFER_TEST_TMPDIR:-$ROOT/$BUILD/tests}"

if [ "$valgrind" -eq 1 ]; then
    command -v valgrind >/dev/null || { echo "soak.sh: valgrind is not installed (scripts/bootstrap.sh installs it)"; exit 1; }
    # valgrind's own memory makes the RSS figure meaningless: the drift limit is lifted there.
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect --track-origins=yes \
        "$SOAK" --steps 200 --warmup 50 --check-every 20 --max-drift-kib 1000000000 "$@"
    exit
fi

out1="$("$SOAK" "$@")" || { echo "$out1"; exit 1; }
echo "$out1"
out2="$("$SOAK" "$@" --threads 2)" || { echo "$out2"; exit 1; }
echo "$out2" | sed 's/^soak:/soak (2 threads):/'
sum1="$(echo "$out1" | sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p')"
sum2="$(echo "$out2" | sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p')"
if [ -z "$sum1" ] || [ "$sum1" != "$sum2" ]; then
    echo "soak.sh: the checksums differ between 1 and 2 threads ($sum1, $sum2)"
    exit 1
fi
echo "soak.sh: ok (checksum $sum1 on 1 and 2 threads)"
