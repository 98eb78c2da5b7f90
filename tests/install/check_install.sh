#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds and runs a consumer through
# find_package(tinfer) and through pkg-config, and checks the SONAME.
set -euo pipefail
build_dir=$1 source_dir=$2 scratch=$3
prefix=$scratch/prefix
rm -rf "$scratch" && mkdir -p "$scratch"
cmake --install "$build_dir" --prefix "$prefix" > "$scratch/install.log"
lib=$(ls "$prefix"/lib*/libtinfer.so.0 2>/dev/null | head -n1)
[ -n "$lib" ] || { echo "libtinfer.so.0 not installed"; exit 1; }
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = "libtinfer.so.0" ] || { echo "SONAME is '$soname'"; exit 1; }
ls "$prefix"/lib*/libtinfer.a "$prefix"/include/tinfer/tinfer.h "$prefix"/lib*/pkgconfig/tinfer.pc \
   "$prefix"/lib*/cmake/tinfer/tinferConfig.cmake > /dev/null
libdir=$(dirname "$lib")
PKG_CONFIG_PATH=$libdir/pkgconfig cmake -S "$source_dir/tests/install/consumer" -B "$scratch/consumer" \
  -DCMAKE_PREFIX_PATH="$prefix" > "$scratch/configure.log"
cmake --build "$scratch/consumer" > "$scratch/build.log"
LD_LIBRARY_PATH=$libdir "$scratch/consumer/consumer_cmake"
LD_LIBRARY_PATH=$libdir "$scratch/consumer/consumer_pkgconfig"
echo "install, find_package(tinfer) and pkg-config tinfer: ok"
