#!/usr/bin/env bash
# Fails when libtinfer.so exports a symbol that is not a TINFER_API function of the public header,
# or when a function of the header is missing from the library.
set -euo pipefail
lib=$1 include_dir=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u)
declared=$(cat "$include_dir"/*.h | tr '\n' ' ' | grep -oE 'TINFER_API[^;(]*\('  | grep -oE 'tinfer_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u)
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
status=0
if [ -n "$extra" ]; then echo "exported but not in the public header:"; echo "$extra"; status=1; fi
if [ -n "$missing" ]; then echo "declared TINFER_API but not exported:"; echo "$missing"; status=1; fi
echo "$(echo "$exported" | wc -l) exported symbols checked against $(echo "$declared" | wc -l) declarations"
exit $status
