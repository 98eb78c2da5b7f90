"""The README's Python quick-start runs as written: its ```python block is executed in a fresh
interpreter from the repository root, with the library from TINFER_LIBRARY."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import tinfer
from conftest import HERE, ROOT

QUICKSTART_MODEL = ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"


def quickstart_code() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python quick-start", 1)
    assert len(section) == 2, "README.md has no 'Python quick-start' section"
    body = section[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    assert len(blocks) == 1, "the quick-start section should hold one python block"
    return blocks[0]


def test_quickstart_runs_as_written():
    code = quickstart_code()
    if not QUICKSTART_MODEL.is_file():
        pytest.skip(f"the quick-start's model {QUICKSTART_MODEL} is absent: "
                    "scripts/bootstrap.sh installs it")
    if not tinfer.has_context_api():
        pytest.skip("the library lacks the context API, so model.generate cannot run")
    env = dict(os.environ, TINFER_LIBRARY=tinfer.library_path(),
               PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"),
                                           os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, timeout=300,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "gemma3 18 layers"
    assert lines[1].startswith("[2, ") and "'<bos>The capital of France is'" in lines[1]
    assert len(lines[2].strip()) > 10  # generated text


def test_binding_readme_walkthrough_runs_as_written():
    """bindings/python/README.md's ```python blocks, run in order as one script from the
    repository root: each chat/complete call returns what the text says it does."""
    readme = (HERE.parent / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 4
    if not QUICKSTART_MODEL.is_file():
        pytest.skip(f"the walkthrough's model {QUICKSTART_MODEL} is absent")
    if not tinfer.has_context_api():
        pytest.skip("the library lacks the context API")
    env = dict(os.environ, TINFER_LIBRARY=tinfer.library_path(),
               PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"),
                                           os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=ROOT, env=env,
                            timeout=300, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "'prompt_tokens'" in out and "'total_tokens'" in out
    assert "\n[stop]\n" in out or "\n[length]\n" in out
    # the forks/snapshots block: a resumed context computes what the original does
    assert "same logits: True" in out and "mean log-likelihood -" in out
