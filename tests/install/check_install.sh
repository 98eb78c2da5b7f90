#!/usr/bin/env bash
# Installs the build into a scratch prefix, then checks what doc/building.md promises:
#   1. the SONAME and the installed files;
#   2. shared consumers (find_package -> tinfer::tinfer, pkg-config tinfer, and plain cc) need
#      nothing but tinfer's own files: the dependencies' .pc files are hidden (PKG_CONFIG_LIBDIR is
#      the install's pkgconfig folder alone) and CMake may not find the CUDA toolkit; asking for
#      the static component there fails, naming what is missing;
#   3. static consumers (tinfer::tinfer_static, pkg-config tinfer-static through CMake and through
#      plain cc) link libtinfer.a, with its CUDA objects when the build has them, and run without
#      libtinfer.so;
#   4. the installed programs run from the prefix with no LD_LIBRARY_PATH to libtinfer (RUNPATH
#      $ORIGIN/../lib).
# Consumers are C-only programs built with the C compiler. The environment's LD_LIBRARY_PATH and
# PKG_CONFIG_PATH are kept for the dependencies (the GPU check's copied jansson, PCRE2 and
# utf8proc are found that way), less any folder holding a libtinfer.so.0 where the point is to
# find it without one.
set -euo pipefail
build_dir=$1 source_dir=$2 scratch=$3
prefix=$scratch/prefix
consumer_src=$source_dir/tests/install/consumer
rm -rf "$scratch" && mkdir -p "$scratch"
fail() { echo "check_install: $*" >&2; exit 1; }
# Runs a command with its output in a log; on failure prints the log's end and stops.
logged() { # log, command...
    local log=$1
    shift
    "$@" > "$log" 2>&1 || { tail -n 40 "$log" >&2; fail "failed ($log): $*"; }
}

# ---- 1. install, SONAME, files ----
logged "$scratch/install.log" cmake --install "$build_dir" --prefix "$prefix"
lib=$(ls "$prefix"/lib*/libtinfer.so.0 2>/dev/null | head -n1)
[ -n "$lib" ] || fail "libtinfer.so.0 not installed"
libdir=$(dirname "$lib")
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = "libtinfer.so.0" ] || fail "SONAME is '$soname'"
programs=(tinfer-run tinfer-inspect tinfer-tokenize tinfer-bench-decode tinfer-bench tinfer-perplexity)
for f in "$libdir/libtinfer.a" "$libdir/libtinfer_static.a" "$prefix/include/tinfer/tinfer.h" "$libdir/pkgconfig/tinfer.pc" \
         "$libdir/pkgconfig/tinfer-static.pc" "$libdir/cmake/tinfer/tinferConfig.cmake" \
         "$libdir/cmake/tinfer/tinferTargets.cmake" \
         "$libdir/cmake/tinfer/tinferStaticTargets.cmake" "${programs[@]/#/$prefix/bin/}"; do
    [ -e "$f" ] || fail "$f not installed"
done
# What the consumers print when libtinfer.a holds the CUDA backend. (grep reads all of nm's
# output: with -q it would stop at the match and nm, killed by SIGPIPE, fail the pipeline.)
if nm "$libdir/libtinfer.a" 2>/dev/null | grep ' T tf_cuda_device_count' >/dev/null; then
    expect_cuda="CUDA backend built in"
else
    expect_cuda="CUDA backend absent"
fi
# The environment's LD_LIBRARY_PATH without the folders that hold a libtinfer.so.0.
ld_path_without_tinfer() {
    local IFS=: dir kept=()
    for dir in ${LD_LIBRARY_PATH:-}; do
        if [ -n "$dir" ] && [ ! -e "$dir/libtinfer.so.0" ]; then kept+=("$dir"); fi
    done
    echo "${kept[*]}"
}
if [ -n "$(ld_path_without_tinfer)" ]; then
    no_libtinfer_path=(env LD_LIBRARY_PATH="$(ld_path_without_tinfer)")
else
    no_libtinfer_path=(env -u LD_LIBRARY_PATH)
fi
with_libdir=(env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
run_consumer() { # program: runs it with no path to libtinfer.so.0, checks its line
    local out
    out=$("${no_libtinfer_path[@]}" "$@") || fail "$1 failed: $out"
    case $out in *"$expect_cuda"*) ;; *) fail "$1 printed '$out', expected '$expect_cuda'" ;; esac
}
# Static consumers must not load libtinfer.so; shared ones must.
needs_libtinfer() { readelf -d "$1" | grep -q 'NEEDED.*\[libtinfer\.so\.0\]'; }

# ---- 2. shared consumers with nothing but tinfer's own files ----
hidden_pc=(env PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_PATH=)
logged "$scratch/shared-configure.log" "${hidden_pc[@]}" cmake -S "$consumer_src" \
    -B "$scratch/shared" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON
grep -q "consumer: tinfer::tinfer_static not defined" "$scratch/shared-configure.log" ||
    fail "with the dependencies hidden, find_package(tinfer) still defined tinfer::tinfer_static"
logged "$scratch/shared-build.log" cmake --build "$scratch/shared"
pc_flags=$("${hidden_pc[@]}" pkg-config --cflags --libs tinfer) ||
    fail "pkg-config tinfer needs more than tinfer.pc"
logged "$scratch/shared-cc.log" cc "$consumer_src/main.c" $pc_flags -o "$scratch/consumer_cc_shared"
for program in consumer_cmake consumer_pkgconfig; do
    needs_libtinfer "$scratch/shared/$program" || fail "$program does not use libtinfer.so.0"
    "${with_libdir[@]}" "$scratch/shared/$program" > /dev/null
done
"${with_libdir[@]}" "$scratch/consumer_cc_shared" > /dev/null
# Asking for the static part without its dependencies fails clearly.
if "${hidden_pc[@]}" cmake -S "$consumer_src" -B "$scratch/static-hidden" -DCONSUMER_STATIC=ON \
       -DCMAKE_PREFIX_PATH="$prefix" > "$scratch/static-hidden.log" 2>&1; then
    fail "find_package(tinfer COMPONENTS static) succeeded without the dependencies' .pc files"
fi
grep -q "tinfer::tinfer_static needs libzstd" "$scratch/static-hidden.log" ||
    fail "no clear message for the missing static dependencies: $(tail -n 20 "$scratch/static-hidden.log")"

# ---- 3. static consumers ----
static_pc=(env PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}")
logged "$scratch/static-configure.log" "${static_pc[@]}" cmake -S "$consumer_src" \
    -B "$scratch/static" -DCONSUMER_STATIC=ON -DCMAKE_PREFIX_PATH="$prefix"
logged "$scratch/static-build.log" cmake --build "$scratch/static"
pc_flags=$("${static_pc[@]}" pkg-config --cflags --libs tinfer-static) ||
    fail "pkg-config tinfer-static failed"
logged "$scratch/static-cc.log" cc "$consumer_src/main.c" $pc_flags -o "$scratch/consumer_cc_static"
for program in "$scratch/static/consumer_cmake_static" "$scratch/static/consumer_pkgconfig_static" \
               "$scratch/consumer_cc_static"; do
    needs_libtinfer "$program" && fail "$program loads libtinfer.so.0: not a static link"
    run_consumer "$program"
done

# ---- 4. installed programs from the prefix, no LD_LIBRARY_PATH to libtinfer ----
for program in "${programs[@]}"; do
    runpath=$(readelf -d "$prefix/bin/$program" | grep -E 'R(UN)?PATH' || true)
    case $runpath in *'$ORIGIN/../lib'*) ;; *) fail "$program: RUNPATH is '$runpath'" ;; esac
    # The loader's failure is status 127; tinfer-tokenize answers --help with status 1.
    status=0
    "${no_libtinfer_path[@]}" "$prefix/bin/$program" --help > "$scratch/$program-help.log" 2>&1 ||
        status=$?
    if [ "$status" = 127 ] || ! grep -q "usage: $program" "$scratch/$program-help.log"; then
        fail "$prefix/bin/$program --help: status $status: $(cat "$scratch/$program-help.log")"
    fi
done
loaded=$("${no_libtinfer_path[@]}" ldd "$prefix/bin/tinfer-inspect" | awk '/libtinfer\.so\.0/ {print $3}')
[ "$(realpath "$loaded")" = "$(realpath "$lib")" ] ||
    fail "tinfer-inspect loads '$loaded', not the installed $lib"
model=$source_dir/tests/data/synthetic/llama_kq_q4_k.gguf
"${no_libtinfer_path[@]}" "$prefix/bin/tinfer-inspect" "$model" > "$scratch/inspect.log" 2>&1 ||
    fail "tinfer-inspect $model from the prefix failed: $(tail -n 5 "$scratch/inspect.log")"
echo "install: SONAME, shared consumers without the dependencies' files, static consumers" \
     "(${expect_cuda#CUDA backend }), programs from the prefix: ok"
