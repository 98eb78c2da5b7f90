"""How tinfer-run and tinfer-inspect end, on the tiny synthetic Llama of
bindings/python/tests/tiny_model.py (2 layers, SentencePiece-style vocabulary):

- output that cannot be written (stdout is /dev/full) is a failure: exit status 1 and one line on
  stderr, for the text, --json and --help outputs of both programs;
- tinfer-run whose context (--ctx) fills during generation stops there, with its text, summary
  and stop_reason "context_full", and exit status 0; a prompt that does not fit at all is a
  failure with one clear line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROGRAM_TIMEOUT_S, ROOT, build_dir

sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))
from tiny_model import write_tiny_model  # noqa: E402

PROMPT = "the cat sat"


def program(name: str) -> Path:
    path = build_dir() / "examples" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first or set TINFER_BUILD_DIR")
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("exit") / "tiny-llama.gguf"
    write_tiny_model(path)
    return path


def run(name: str, *args, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([str(program(name)), *[str(a) for a in args]], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=PROGRAM_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)


def run_to_dev_full(name: str, *args) -> subprocess.CompletedProcess:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        return run(name, *args, stdout=full)


def greedy(model, *args):
    return ("-m", model, "-p", PROMPT, "--temp", 0, *args)


def n_prompt_tokens(model) -> int:
    result = run("tinfer-run", *greedy(model, "-n", 1, "--json"))
    assert result.returncode == 0, result.stderr
    return len(json.loads(result.stdout)["prompt_ids"])


# ---------------------------------------------------------------- output that cannot be written


@pytest.mark.parametrize("name, args", [
    ("tinfer-run", ["-n", 8]),
    ("tinfer-run", ["-n", 8, "--json"]),
    ("tinfer-inspect", []),
    ("tinfer-inspect", ["--json", "--full"]),
], ids=["run-text", "run-json", "inspect-text", "inspect-json"])
def test_unwritable_output_fails(tiny_model, name, args):
    if name == "tinfer-run":
        result = run_to_dev_full(name, *greedy(tiny_model, *args))
    else:
        result = run_to_dev_full(name, *args, tiny_model)
    assert result.returncode == 1, result.stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith(f"{name}: ")]
    assert failures == [f"{name}: writing the output failed: No space left on device"], \
        result.stderr


@pytest.mark.parametrize("name", ["tinfer-run", "tinfer-inspect"])
def test_unwritable_help_fails(name):
    result = run_to_dev_full(name, "--help")
    assert result.returncode == 1
    assert result.stderr == f"{name}: writing the output failed: No space left on device\n"


@pytest.mark.parametrize("name", ["tinfer-run", "tinfer-inspect"])
def test_help_succeeds(name):
    result = run(name, "--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(f"usage: {name}")


# ---------------------------------------------------------------- tinfer-run and a full context


def test_context_full_stops_with_summary(tiny_model):
    n_prompt = n_prompt_tokens(tiny_model)
    n_ctx = n_prompt + 3
    result = run("tinfer-run", *greedy(tiny_model, "-n", 50, "--ctx", n_ctx, "--json"))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["stop_reason"] == "context_full" and out["n_ctx"] == n_ctx
    # every position holds a token (prompt, then generated ones); the last sampled token, which
    # there is no room to decode, is still part of the output
    assert len(out["generated_ids"]) == n_ctx - n_prompt + 1
    assert out["timings"]["generate_tokens_per_s"] > 0
    assert f"generation: {n_ctx - n_prompt + 1} tokens" in result.stderr
    assert f"stopped: context full ({n_ctx} positions, --ctx)" in result.stderr
    assert "E_CONTEXT_FULL" not in result.stderr and "decode" not in result.stderr


def test_context_full_text_run_keeps_its_text(tiny_model):
    n_ctx = n_prompt_tokens(tiny_model) + 2
    full = run("tinfer-run", *greedy(tiny_model, "-n", 50, "--ctx", n_ctx))
    assert full.returncode == 0, full.stderr
    assert "stopped: context full" in full.stderr
    json_run = run("tinfer-run", *greedy(tiny_model, "-n", 50, "--ctx", n_ctx, "--json"))
    assert full.stdout == json.loads(json_run.stdout)["text"] + "\n"


def test_run_that_fits_reports_its_stop_reason(tiny_model):
    result = run("tinfer-run", *greedy(tiny_model, "-n", 4, "--json"))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["stop_reason"] in ("n_predict", "eog")
    assert out["stop_reason"] != "n_predict" or len(out["generated_ids"]) == 4
    assert "stopped" not in result.stderr


def test_prompt_longer_than_context_fails_clearly(tiny_model):
    n_prompt = n_prompt_tokens(tiny_model)
    result = run("tinfer-run", *greedy(tiny_model, "-n", 5, "--ctx", n_prompt - 1))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"tinfer-run: the prompt's {n_prompt} tokens do not fit the context "
                             f"of {n_prompt - 1} (--ctx)\n")


@pytest.mark.parametrize("option, bad", [("--head-sum", "fastest"), ("--prompt-sum", "quick")])
def test_run_float_orders_are_checked(tiny_model, option, bad):
    """--head-sum and --prompt-sum take exact or fast (the tiny model's F32 matrices have no fast
    order, so both give its exact text); anything else is a usage error."""
    texts = [json.loads(run("tinfer-run", *greedy(tiny_model, "-n", 4, "--json", option,
                                                  mode)).stdout)["text"]
             for mode in ("exact", "fast")]
    assert texts[0] == texts[1]
    result = run("tinfer-run", *greedy(tiny_model, option, bad))
    assert result.returncode == 2 and "usage:" in result.stderr


def test_run_device_is_checked(tiny_model):
    """--device takes cpu or cuda: cpu gives the default's text; cuda on a machine without a GPU
    (or in a build without CUDA) ends with the library's reason and exit 1; anything else is a
    usage error."""
    default = run("tinfer-run", *greedy(tiny_model, "-n", 4, "--json"))
    on_cpu = run("tinfer-run", *greedy(tiny_model, "-n", 4, "--json", "--device", "cpu"))
    assert json.loads(on_cpu.stdout)["text"] == json.loads(default.stdout)["text"]
    if not os.path.exists("/dev/nvidia0"):
        result = run("tinfer-run", *greedy(tiny_model, "--device", "cuda"))
        assert result.returncode == 1
        assert "TINFER_DEVICE_CUDA" in result.stderr and "TINFER_E_UNSUPPORTED" in result.stderr
    result = run("tinfer-run", *greedy(tiny_model, "--device", "gpu"))
    assert result.returncode == 2 and "usage:" in result.stderr
