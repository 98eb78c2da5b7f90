"""One version: include/tinfer/tinfer.h's TINFER_VERSION_* macros. The package's version
(tinfer/_version.py, which pyproject.toml reads) must equal them, and the loader refuses a
library of another ABI (another major version; 0.0 and 0.1 before 1.0) or an older minor."""

from __future__ import annotations

import re

import pytest

import tinfer
from tinfer import _loader
from conftest import ROOT


def header_version() -> str:
    text = (ROOT / "include" / "tinfer" / "tinfer.h").read_text()
    parts = [re.search(rf"^#define TINFER_VERSION_{part} (\d+)$", text, flags=re.M)
             for part in ("MAJOR", "MINOR", "PATCH")]
    assert all(parts), "tinfer.h lacks a TINFER_VERSION_MAJOR/MINOR/PATCH line"
    return ".".join(m.group(1) for m in parts)


def test_package_version_is_the_header_version():
    assert tinfer.__version__ == header_version()


def test_pyproject_reads_the_version_from_the_package():
    text = (ROOT / "bindings" / "python" / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', text, flags=re.M)
    assert 'version = { attr = "tinfer._version.__version__" }' in text
    assert not re.search(r'^version = "', text, flags=re.M)


def test_the_loaded_library_has_the_package_version():
    assert tinfer.version() == tinfer.__version__


class FakeLibrary:
    """Stands in for a ctypes.CDLL whose tinfer_version_number returns `number`."""

    def __init__(self, number: int) -> None:
        def tinfer_version_number() -> int:
            return number

        self.tinfer_version_number = tinfer_version_number


def binding_number(major: int, minor: int, patch: int) -> int:
    return major * 10000 + minor * 100 + patch


@pytest.mark.parametrize("delta", [(0, 0, 1), (0, 0, 0), (0, 1, 0), (0, 5, 3)])
def test_a_library_of_the_same_abi_and_no_older_minor_is_accepted(delta):
    major, minor, patch = _loader.BINDING_VERSION
    _loader.check_version(
        FakeLibrary(binding_number(major, minor + delta[1], patch + delta[2])), "lib.so")


@pytest.mark.parametrize("other", [(1, 0, 0), (0, 1, 9), (0, 2, 5), (0, 0, 3), (2, 3, 0)])
def test_a_library_of_another_abi_or_an_older_minor_is_refused(monkeypatch, other):
    monkeypatch.setattr(_loader, "BINDING_VERSION", (0, 3, 0))
    with pytest.raises(ImportError) as caught:
        _loader.check_version(FakeLibrary(binding_number(*other)), "/x/libtinfer.so.0")
    message = str(caught.value)
    assert "/x/libtinfer.so.0" in message
    assert "libtinfer {}.{}.{}".format(*other) in message
    assert "needs libtinfer 0.3 or a later 0.x" in message


def test_before_0_2_each_minor_is_its_own_abi(monkeypatch):
    monkeypatch.setattr(_loader, "BINDING_VERSION", (0, 1, 0))
    _loader.check_version(FakeLibrary(binding_number(0, 1, 4)), "lib.so")
    with pytest.raises(ImportError):
        _loader.check_version(FakeLibrary(binding_number(0, 2, 0)), "lib.so")


def test_after_1_0_only_the_major_counts(monkeypatch):
    monkeypatch.setattr(_loader, "BINDING_VERSION", (1, 2, 0))
    _loader.check_version(FakeLibrary(binding_number(1, 5, 3)), "lib.so")
    with pytest.raises(ImportError, match=r"libtinfer 2\.0\.0.*needs libtinfer 1\.2 or a later 1\.x"):
        _loader.check_version(FakeLibrary(binding_number(2, 0, 0)), "lib.so")
    with pytest.raises(ImportError, match=r"libtinfer 1\.1\.0"):
        _loader.check_version(FakeLibrary(binding_number(1, 1, 0)), "lib.so")


def test_a_library_without_a_version_function_is_refused():
    with pytest.raises(ImportError, match="does not export tinfer_version_number"):
        _loader.check_version(object(), "/x/libother.so")  # type: ignore[arg-type]
