"""The version of this package: the libtinfer version it binds, MAJOR.MINOR.PATCH.

It must equal TINFER_VERSION_MAJOR/MINOR/PATCH of include/tinfer/tinfer.h, the one place the
version is written: CMake refuses to configure otherwise (cmake/tinfer_version.cmake) and
tests/test_version.py checks it. pyproject.toml reads it from here, and the loader refuses a
library of another ABI (another major version; before 1.0, another minor too)."""

__version__ = "0.3.0"
