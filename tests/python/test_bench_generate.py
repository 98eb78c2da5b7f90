"""tinfer-bench on a tiny synthetic Llama (bindings/python/tests/tiny_model.py: 2 layers, no chat
template): the JSON validates against benchmarks/schema/bench_generate.schema.json and agrees with
the table and the Markdown; --profile writes a Chrome trace that parses, with an event of every op
of every layer for every step, and a per-op summary; bad options are usage errors."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from conftest import PROGRAM_TIMEOUT_S, ROOT, build_dir

sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))
from tiny_model import N_LAYER, write_tiny_model  # noqa: E402

SCHEMA = ROOT / "benchmarks" / "schema" / "bench_generate.schema.json"
LAYER_OPS = ["attn_norm", "attn_qkv", "rope_q", "rope_k", "kv_store",
             "attention", "attn_output", "attn_residual", "ffn_norm", "ffn_gate_up",
             "ffn_act", "ffn_down", "ffn_residual"]
OUTSIDE_OPS = ["embed", "output_gather", "output_norm", "output"]
GEN_LEN = 5


@pytest.fixture(scope="module")
def program() -> Path:
    path = build_dir() / "examples" / "tinfer-bench"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first or set TINFER_BUILD_DIR")
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "tiny-llama.gguf"
    write_tiny_model(path)
    return path


def run(program: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(program), *[str(a) for a in args]], capture_output=True,
                          text=True, timeout=PROGRAM_TIMEOUT_S, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def profiled_run(program, tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_out") / "nested"
    result = run(program, "-m", tiny_model, "--max-gen-len", GEN_LEN, "--runs", 2,
                 "--tests", "short_en,long_ko", "--json", "--markdown", "--profile",
                 "--output-dir", out)
    assert result.returncode == 0, result.stderr
    return result, out


def test_json_validates_and_matches_the_table(profiled_run):
    result, out = profiled_run
    data = json.loads((out / "bench_generate.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert [t["name"] for t in data["tests"]] == ["short_en", "long_ko"]
    assert data["config"] == {"max_gen_len": GEN_LEN, "runs": 2, "temperature": 0.0, "seed": 0}
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| Test | Prompt len | Gen tokens | Time (s) | Tokens/sec")
    for test, line in zip(data["tests"], lines[2:4]):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == test["name"]
        assert int(cells[1]) == test["prompt_tokens"]
        assert int(cells[2]) == test["generated_tokens"] == GEN_LEN
        assert len(test["runs"]["total_s"]) == 2
        assert test["chat_template"] is False  # the tiny model has none
        lat = test["token_latency_ms"]
        assert lat["p50"] <= lat["p95"] <= lat["p99"]
    short, long = data["tests"]
    assert long["prompt_tokens"] > 10 * short["prompt_tokens"]
    markdown = (out / "bench_generate.md").read_text()
    assert "| short_en |" in markdown and "| long_ko |" in markdown
    cores = os.sysconf("SC_NPROCESSORS_ONLN")
    assert data["schema_version"] == 2 and "threads" not in data["context"]
    assert data["context"]["threads_requested"] == cores  # --threads 0: one per core
    assert data["context"]["threads_used"] == cores  # the library's count: the pool's threads
    assert f"{cores} thread(s) used ({cores} requested)" in markdown


def test_threads_used_is_reported_apart_from_the_request(program, tiny_model, tmp_path):
    result = run(program, "-m", tiny_model, "--max-gen-len", 2, "--runs", 1, "--tests",
                 "short_en", "--threads", 3, "--json", "--markdown", "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "bench_generate.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert (data["context"]["threads_requested"], data["context"]["threads_used"]) == (3, 3)
    assert "3 thread(s) used (3 requested)" in (tmp_path / "bench_generate.md").read_text()


def test_trace_has_every_op_of_every_layer_per_step(profiled_run):
    _, out = profiled_run
    trace = json.loads((out / "trace.json").read_text())
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    for e in events:
        assert {"name", "ts", "dur", "pid", "tid", "args"} <= e.keys()
        assert e["dur"] >= 0 and "layer" in e["args"] and len(e["args"]["shape"]) == 2
    steps = [e for e in events if e["cat"] == "step"]
    # 2 tests x 2 runs x (prefill passes + GEN_LEN - 1 decode steps); the warm-up is not
    # recorded. long_ko is longer than a 256-token batch, so its prefill takes several passes.
    kinds = Counter(e["name"] for e in steps)
    assert kinds["decode"] == 4 * (GEN_LEN - 1)
    assert kinds["prefill"] > 4 and set(kinds) == {"prefill", "decode"}
    assert {e["args"]["shape"][0] for e in steps if e["name"] == "decode"} == {1}
    per_op = Counter((e["name"], e["args"]["layer"]) for e in events if e["cat"] == "op")
    for layer in range(N_LAYER):
        for op in LAYER_OPS:
            assert per_op[(op, layer)] == len(steps), (op, layer)
    assert per_op[("embed", -1)] == len(steps)
    for op in ("output_gather", "output_norm", "output"):  # only a prefill's last pass has logits
        assert per_op[(op, -1)] == 4 + kinds["decode"], op
    assert all(layer in (-1, *range(N_LAYER)) for _, layer in per_op)
    # each decode step's ops lie inside it, on one thread
    for step in steps:
        inside = [e for e in events if e["cat"] == "op" and step["ts"] - 1e-3 <= e["ts"]
                  and e["ts"] + e["dur"] <= step["ts"] + step["dur"] + 1e-3]
        expected = len(LAYER_OPS) * N_LAYER + 1 + (3 if step["name"] == "decode" else 0)
        if step["name"] == "decode":
            assert len(inside) == expected
        else:
            assert expected <= len(inside) <= expected + 3
    assert {e["tid"] for e in events} == {1}
    names = [e for e in trace["traceEvents"] if e["ph"] == "M"]
    assert any(e["name"] == "thread_name" for e in names)


def test_profile_stats_lists_every_op(profiled_run):
    _, out = profiled_run
    lines = (out / "profile_stats.txt").read_text().splitlines()
    assert lines[0].startswith("# step time")
    assert lines[1].split() == ["op", "total_ms", "%step", "calls", "mean_us"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == set(LAYER_OPS) | set(OUTSIDE_OPS)
    n_with_logits = 4 * GEN_LEN  # per test and run: the last prefill pass + GEN_LEN - 1 steps
    assert int(rows["attention"][3]) == N_LAYER * int(rows["embed"][3])
    assert int(rows["embed"][3]) > n_with_logits
    assert int(rows["output"][3]) == n_with_logits
    assert sum(float(r[2]) for r in rows.values()) <= 100.5


@pytest.mark.parametrize("args", [["--runs", "0"], ["--max-gen-len", "0"], ["--temp", "-1"],
                                  ["--tests", "short_en,nope"], ["--tests", ""], ["--bogus"]])
def test_bad_options_are_usage_errors(program, tiny_model, args):
    result = run(program, "-m", tiny_model, *args)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr


def test_unwritable_output_dir_fails(program, tiny_model, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run(program, "-m", tiny_model, "--max-gen-len", 2, "--tests", "short_en", "--json",
                 "--output-dir", blocker / "sub")
    assert result.returncode == 1
    assert "cannot" in result.stderr
