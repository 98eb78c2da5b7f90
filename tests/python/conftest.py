"""Fixtures shared by the Python tests: where the built programs are, how to run tinfer-inspect,
and where the default model is.

TINFER_BUILD_DIR names the build tree (default: build/ at the repository root);
TINFER_DEFAULT_MODEL names the default model (default: models/gemma-3-270m-q4_k_m.gguf).
TINFER_LIBRARY is the library the Python binding loads where a test uses it for references
(default: the one in the build tree; scripts/test.sh names the normal build's, which a sanitized
build's programs are tested beside). scripts/test.sh sets all three."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
PROGRAM_TIMEOUT_S = 120


def build_dir() -> Path:
    return Path(os.environ.get("TINFER_BUILD_DIR", ROOT / "build")).resolve()


os.environ.setdefault("TINFER_LIBRARY", str(build_dir() / "lib" / "libtinfer.so.0"))


class Inspect:
    """Runs tinfer-inspect and hands back exit status, stdout and stderr as text."""

    def __init__(self, program: Path):
        self.program = program

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.program), *[str(a) for a in args]],
            capture_output=True,
            timeout=PROGRAM_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )

    def json(self, path, full: bool = True) -> dict:
        """inspect --json [--full] PATH, which must succeed silently on stderr."""
        args = ["--json", "--full", path] if full else ["--json", path]
        result = self.run(*args)
        assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
        assert result.stderr == "", f"unexpected stderr: {result.stderr}"
        return json.loads(result.stdout)


@pytest.fixture(scope="session")
def inspect() -> Inspect:
    program = build_dir() / "examples" / "tinfer-inspect"
    if not os.access(program, os.X_OK):
        pytest.fail(
            f"{program} is missing: build first (scripts/test.sh does) or set TINFER_BUILD_DIR"
        )
    return Inspect(program)


@pytest.fixture(scope="session")
def default_model() -> Path:
    path = Path(os.environ.get("TINFER_DEFAULT_MODEL", DEFAULT_MODEL))
    if not path.is_file():
        pytest.skip(
            f"default model not found at {path}: scripts/bootstrap.sh installs it "
            "(it said why it could not), or set TINFER_DEFAULT_MODEL"
        )
    return path
