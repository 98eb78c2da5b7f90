"""examples/walkthrough.c (doc/walkthrough.md's program, built as tinfer-walkthrough) runs on a
tiny synthetic Llama without a chat template (plain-text prompt), the same with a Llama 2 chat
template, and the default model when present: its prompt ids count and greedy tokens equal
tinfer-run's for the same prompt (--chat where the model has a template), it stops where
tinfer-run stops, and after truncating it gets the same first token again."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROGRAM_TIMEOUT_S, ROOT, build_dir

sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))
from tiny_model import write_tiny_model  # noqa: E402

LLAMA2_TEMPLATE = json.loads(
    (ROOT / "tests" / "data" / "chat" / "llama2_chat_template.json").read_text())["chat_template"]


def program(name: str) -> Path:
    path = build_dir() / "examples" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first or set TINFER_BUILD_DIR")
    return path


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          errors="replace", timeout=PROGRAM_TIMEOUT_S, stdin=subprocess.DEVNULL)


def walkthrough(model: Path, prompt: str, n: int) -> dict:
    result = run(program("tinfer-walkthrough"), model, prompt, n)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    parts = re.fullmatch(r"(prompt: .*?)\n--- reply ---\n(.*)\n--- end ---\n(.*)\n", out,
                         flags=re.S)
    assert parts, out
    tail = parts.group(3).split("\n")
    assert len(tail) == 5 and tail[0].startswith("ids:"), tail
    prompt_line = re.fullmatch(r"prompt: (\d+) tokens \((chat template|plain text)\)",
                               parts.group(1))
    stopped = re.fullmatch(r"stopped: (eog|max_tokens) after (\d+) tokens", tail[1])
    fork = re.fullmatch(r"fork: pool space taken (\d+) tokens; first token: (\d+) "
                        r"\((same as|unlike) the reply's\)", tail[2])
    snapshot = re.fullmatch(r"snapshot: (\d+) tokens in (\d+) bytes; logits after loading: (\w+)",
                            tail[3])
    truncate = re.fullmatch(r"truncate: logits (\w+); first token again: (\d+)", tail[4])
    assert prompt_line and stopped and fork and snapshot and truncate, out
    ids = [int(x) for x in tail[0].split()[1:]]
    assert int(stopped.group(2)) == len(ids)
    return {"text": parts.group(2), "n_prompt": int(prompt_line.group(1)),
            "chat": prompt_line.group(2) == "chat template", "ids": ids,
            "stopped": stopped.group(1), "logits": truncate.group(1),
            "fork_taken": int(fork.group(1)), "fork_first": int(fork.group(2)),
            "fork_same": fork.group(3) == "same as", "snapshot_tokens": int(snapshot.group(1)),
            "snapshot_bytes": int(snapshot.group(2)), "snapshot_logits": snapshot.group(3),
            "again": int(truncate.group(2))}


def tinfer_run(model: Path, prompt: str, n: int, chat: bool) -> dict:
    args = ["-m", model, "-p", prompt, "-n", n, "--temp", 0, "--json"]
    result = run(program("tinfer-run"), *args, *(["--chat"] if chat else []))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_against_tinfer_run(model: Path, prompt: str, n: int, chat: bool) -> dict:
    got = walkthrough(model, prompt, n)
    assert got["chat"] == chat
    expected = tinfer_run(model, prompt, n, chat)
    assert got["n_prompt"] == len(expected["prompt_ids"])
    assert got["ids"] == expected["generated_ids"]
    assert got["stopped"] == {"eog": "eog", "n_predict": "max_tokens"}[expected["stop_reason"]]
    if got["stopped"] == "max_tokens":
        assert len(got["ids"]) == n
    assert got["logits"] == "dropped"
    # the fork shares the prompt's blocks and stands where the reply began (greedy: same token)
    assert got["fork_taken"] == 0 and got["fork_same"]
    if got["ids"]:
        assert got["fork_first"] == got["ids"][0]
    # the snapshot holds what sequence 0 held: the last generated token is decoded only when the
    # reply ended at an end token (which itself is not decoded)
    decoded = len(got["ids"]) - (1 if got["stopped"] == "max_tokens" else 0)
    assert got["snapshot_tokens"] == got["n_prompt"] + decoded
    assert got["snapshot_logits"] == "identical" and got["snapshot_bytes"] > 0
    if got["ids"]:
        assert got["again"] == got["ids"][0]  # greedy after the same prompt
        assert got["text"] != "" or all(i < 3 for i in got["ids"])
    return got


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("walkthrough")
    plain, chat = folder / "tiny-llama.gguf", folder / "tiny-llama-chat.gguf"
    write_tiny_model(plain)
    write_tiny_model(chat, chat_template=LLAMA2_TEMPLATE)
    return {"plain": plain, "chat": chat}


@pytest.mark.parametrize("prompt", ["the cat sat on", "Hello world"])
def test_plain_prompt_on_the_tiny_model(tiny_models, prompt):
    check_against_tinfer_run(tiny_models["plain"], prompt, 20, chat=False)


@pytest.mark.parametrize("prompt", ["the cat sat on", "a dog"])
def test_chat_template_on_the_tiny_model(tiny_models, prompt):
    got = check_against_tinfer_run(tiny_models["chat"], prompt, 20, chat=True)
    # "<s>[INST] the cat sat on [/INST]": BOS once, from the template (parsed, not added)
    plain = walkthrough(tiny_models["plain"], f"<s>[INST] {prompt} [/INST]", 1)
    assert got["n_prompt"] == plain["n_prompt"] - 1  # the plain path adds BOS to the "<s>"


def test_default_model(default_model: Path):
    got = check_against_tinfer_run(default_model, "What is the capital of France?", 24,
                                   chat=True)
    assert got["n_prompt"] > 8 and len(got["text"]) > 0


def test_bad_arguments_are_usage_errors(tiny_models):
    for args in ([], [tiny_models["plain"]], [tiny_models["plain"], "x", "0"]):
        result = run(program("tinfer-walkthrough"), *args)
        assert result.returncode == 2 and "MAX_TOKENS" in result.stderr
    result = run(program("tinfer-walkthrough"), tiny_models["plain"].parent / "absent.gguf", "x")
    assert result.returncode == 1 and "No such file" in result.stderr


def test_the_docs_code_blocks_are_quoted_from_the_program():
    doc = (ROOT / "doc" / "walkthrough.md").read_text()
    source = (ROOT / "examples" / "walkthrough.c").read_text()
    blocks = re.findall(r"```c\n(.*?)```", doc, flags=re.S)
    assert len(blocks) >= 8
    for block in blocks:
        assert block in source, f"doc/walkthrough.md quotes code not in walkthrough.c:\n{block}"
