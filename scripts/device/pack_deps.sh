#!/usr/bin/env bash
# Packs what the GPU machine lacks (headers and shared libraries of jansson, PCRE2, utf8proc and
# cmocka; it has OpenBLAS, zstd and CUDA) from this Debian machine into build-devdeps/, with
# pkg-config files pointing there. The device tool carries that folder with the working tree:
#   run(command="bash scripts/device/check.sh", carry=["build-devdeps"])
# Debian 12's libraries (glibc 2.36) load on the device's Ubuntu 24.04 (glibc 2.39).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/build-devdeps"
LIBDIR=/usr/lib/x86_64-linux-gnu
rm -rf "$OUT" && mkdir -p "$OUT/include" "$OUT/lib" "$OUT/pkgconfig"

# name  pkg-config module  version  headers...  (libraries are copied, never linked: links don't travel)
pack() {
    local lib=$1 module=$2 soname=$3
    shift 3
    cp -L "$LIBDIR/$soname" "$OUT/lib/$soname"
    cp -L "$LIBDIR/$soname" "$OUT/lib/lib$lib.so"
    for header in "$@"; do cp -L "/usr/include/$header" "$OUT/include/"; done
    local version
    version=$(pkg-config --modversion "$module")
    cat > "$OUT/pkgconfig/$module.pc" <<PC
prefix=\${pcfiledir}/..
Name: $module
Description: $module packed for the device check
Version: $version
Libs: -L\${prefix}/lib -l$lib
Cflags: -I\${prefix}/include
PC
}
pack jansson jansson libjansson.so.4 jansson.h jansson_config.h
pack pcre2-8 libpcre2-8 libpcre2-8.so.0 pcre2.h
pack utf8proc libutf8proc libutf8proc.so.2 utf8proc.h
pack cmocka cmocka libcmocka.so.0 cmocka.h cmocka_pbc.h
du -sh "$OUT"
