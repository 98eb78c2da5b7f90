"""Fixtures of the binding's tests.

The package is imported from bindings/python/src (put first on sys.path), so the tests check the
working tree and need no install. The shared library comes from TINFER_LIBRARY; when that is
unset, from $TINFER_BUILD_DIR/lib (default build/ at the repository root). scripts/test.sh sets
TINFER_LIBRARY, TINFER_BUILD_DIR and TINFER_DEFAULT_MODEL.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))


def build_dir() -> Path:
    return Path(os.environ.get("TINFER_BUILD_DIR", ROOT / "build")).resolve()


if os.environ.get("TINFER_LIBRARY") and Path(os.environ["TINFER_LIBRARY"]).exists():
    # absolute, so the subprocesses some tests start (in other directories) find it too
    os.environ["TINFER_LIBRARY"] = str(Path(os.environ["TINFER_LIBRARY"]).resolve())
elif not os.environ.get("TINFER_LIBRARY"):
    candidate = build_dir() / "lib" / "libtinfer.so.0"
    if candidate.exists():
        os.environ["TINFER_LIBRARY"] = str(candidate)

import tinfer  # noqa: E402  (after sys.path and TINFER_LIBRARY are set)

DEFAULT_MODEL = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
TOKENIZER_DATA = ROOT / "tests" / "data" / "tokenizers"
TOKENIZER_NAMES = ["gemma3", "llama2", "llama3", "qwen3"]


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    path = Path(os.environ.get("TINFER_DEFAULT_MODEL", DEFAULT_MODEL))
    if not path.is_file():
        pytest.skip(f"default model not found at {path}: scripts/bootstrap.sh installs it, "
                    "or set TINFER_DEFAULT_MODEL")
    return path


@pytest.fixture(scope="session")
def default_model(default_model_path: Path):
    with tinfer.Model(default_model_path) as model:
        yield model


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_model import write_tiny_model

    path = tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf"
    write_tiny_model(path)
    return path


def require_context_api() -> None:
    if not tinfer.has_context_api():
        pytest.skip(f"{tinfer.library_path()} does not export the context API "
                    "(tinfer_context_create …): the binding's Context is unavailable")


@pytest.fixture
def context_api() -> None:
    require_context_api()
