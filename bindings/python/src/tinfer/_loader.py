"""Finds and loads the libtinfer shared library.

Lookup order (the first that loads wins):
  1. the path in the TINFER_LIBRARY environment variable (when set, nothing else is tried, so a
     wrong path is reported instead of silently using another copy);
  2. a copy next to this package (tinfer/libtinfer.so.0, .so, .dylib or tinfer.dll), which is
     where a wheel that bundles the library puts it;
  3. the system loader: ctypes.util.find_library("tinfer") and then the plain SONAME, which
     honours LD_LIBRARY_PATH, ldconfig and /etc/ld.so.conf.
When none loads, ImportError says what to set. A library of another ABI is refused with an
ImportError naming both versions and the path: another major version (before 1.0: 0.0 and 0.1
each, 0.2 onward one ABI), or an older minor than the binding's, which lacks functions it calls.
The binding's version is tinfer/_version.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path
from typing import List, Tuple

from tinfer._version import __version__

ENV_VAR = "TINFER_LIBRARY"
BINDING_VERSION = tuple(int(part) for part in __version__.split("."))
SONAME_MAJOR = BINDING_VERSION[0]

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


def _abi(version: Tuple[int, ...]) -> Tuple[int, ...]:
    """The part of a version that names its ABI: the major; before 1.0, 0.0 and 0.1 are ABIs of
    their own and 0.2 onward is one (later minors only add)."""
    if version[0] == 0 and version[1] < 2:
        return tuple(version[:2])
    return tuple(version[:1])


def check_version(lib: ctypes.CDLL, where: str) -> None:
    """ImportError unless the loaded library has this binding's ABI, at this binding's minor
    version or later (an older one lacks functions the binding declares)."""
    try:
        version_number = lib.tinfer_version_number
    except AttributeError:
        raise ImportError(f"tinfer: {where} does not export tinfer_version_number: it is not "
                          "libtinfer") from None
    version_number.restype = ctypes.c_int
    version_number.argtypes = []
    number = int(version_number())
    found = (number // 10000, number // 100 % 100, number % 100)
    if _abi(found) != _abi(BINDING_VERSION) or found[:2] < tuple(BINDING_VERSION[:2]):
        wanted = (f"{BINDING_VERSION[0]}.{BINDING_VERSION[1]} or a later "
                  f"{BINDING_VERSION[0]}.x")
        raise ImportError(
            f"tinfer: {where} is libtinfer {'.'.join(map(str, found))}, but this binding "
            f"(tinfer {__version__}) needs libtinfer {wanted} (same major version, at least "
            f"the binding's minor; before 1.0 the ABI starts at 0.2); point {ENV_VAR} at a "
            f"matching build or install the binding of that version")


def load_library() -> Tuple[ctypes.CDLL, str]:
    """Loads libtinfer and returns it with the path (or name) it was loaded from; ImportError
    when none loads or the one found has another ABI (check_version)."""
    lib, where = _find_library()
    check_version(lib, where)
    return lib, where


def _find_library() -> Tuple[ctypes.CDLL, str]:
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
