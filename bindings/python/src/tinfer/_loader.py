"""Finds and loads the libtinfer shared library.

Lookup order (the first that loads wins):
  1. the path in the TINFER_LIBRARY environment variable (when set, nothing else is tried, so a
     wrong path is reported instead of silently using another copy);
  2. a copy next to this package (tinfer/libtinfer.so.0, .so, .dylib or tinfer.dll), which is
     where a wheel that bundles the library puts it;
  3. the system loader: ctypes.util.find_library("tinfer") and then the plain SONAME, which
     honours LD_LIBRARY_PATH, ldconfig and /etc/ld.so.conf.
When none loads, ImportError says what to set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import List, Tuple

ENV_VAR = "TINFER_LIBRARY"
SONAME_MAJOR = 0

if sys.platform == "darwin":
    _FILE_NAMES = [f"libtinfer.{SONAME_MAJOR}.dylib", "libtinfer.dylib"]
elif sys.platform == "win32":
    _FILE_NAMES = ["tinfer.dll", "libtinfer.dll"]
else:
    _FILE_NAMES = [f"libtinfer.so.{SONAME_MAJOR}", "libtinfer.so"]


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def _try_load(name: str, tried: List[Tuple[str, str]]) -> "ctypes.CDLL | None":
    try:
        return ctypes.CDLL(name)
    except OSError as exc:
        tried.append((name, str(exc)))
        return None


def load_library() -> Tuple[ctypes.CDLL, str]:
    """Loads libtinfer and returns it with the path (or name) it was loaded from."""
    tried: List[Tuple[str, str]] = []
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        lib = _try_load(explicit, tried)
        if lib is None:
            raise ImportError(
                f"tinfer: {ENV_VAR}={explicit!r} could not be loaded ({tried[0][1]}); "
                f"point {ENV_VAR} at a built libtinfer shared library "
                f"(e.g. build/lib/libtinfer.so.{SONAME_MAJOR}) or unset it"
            )
        return lib, explicit
    for file_name in _FILE_NAMES:
        candidate = _package_dir() / file_name
        if candidate.exists():
            lib = _try_load(str(candidate), tried)
            if lib is not None:
                return lib, str(candidate)
    system_names = [n for n in [ctypes.util.find_library("tinfer")] if n] + _FILE_NAMES
    for name in system_names:
        lib = _try_load(name, tried)
        if lib is not None:
            return lib, name
    details = "; ".join(f"{name}: {why}" for name, why in tried) or "nothing found"
    raise ImportError(
        "tinfer: the libtinfer shared library was not found. Set "
        f"{ENV_VAR}=/path/to/libtinfer.so.{SONAME_MAJOR} (cmake --build puts it in "
        f"<build>/lib/), or copy it next to the package ({_package_dir()}), or install it where "
        f"the system loader looks (LD_LIBRARY_PATH, ldconfig). Tried: {details}"
    )
