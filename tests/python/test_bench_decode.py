"""tinfer-bench-decode on a tiny synthetic model (bindings/python/tests/tiny_model.py, written
with the PyPI gguf package; training context 256): its JSON validates against
benchmarks/schema/bench_decode.schema.json, the default positions at the edges (L - P below 1,
exactly 1, a power of two, a non-power-of-two end), explicit lists, the CUDA refusal and the
--profile files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from conftest import PROGRAM_TIMEOUT_S, ROOT, build_dir

sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))
from tiny_model import N_CTX_TRAIN, N_LAYER, write_tiny_model  # noqa: E402

SCHEMA = ROOT / "benchmarks" / "schema" / "bench_decode.schema.json"
sys.path.insert(0, str(ROOT / "benchmarks"))
import plot_decode  # noqa: E402


@pytest.fixture(scope="module")
def program() -> Path:
    path = build_dir() / "examples" / "tinfer-bench-decode"
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


def bench_json(program, model, tmp_path, *args) -> dict:
    out = tmp_path / "bench.json"
    result = run(program, "-m", model, "--repeats", "2", "--json", out, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


def table_positions(stdout: str) -> list:
    table = stdout.split("\n\n")[0]
    rows = table.splitlines()[2:]
    return [int(row.split("|")[0]) for row in rows]


def test_json_validates_and_matches_the_table(program, tiny_model, tmp_path):
    out = tmp_path / "bench.json"
    result = run(program, "-m", tiny_model, "--max-cache-len", 64, "--prefill-len", 8,
                 "--repeats", 3, "--json", out)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert data["config"]["positions"] == [1, 2, 4, 8, 16, 32, 56]
    assert [row["position"] for row in data["decode"]] == data["config"]["positions"]
    assert table_positions(result.stdout) == data["config"]["positions"]
    assert result.stdout.startswith("Position | ")
    assert "position 56" in result.stderr  # progress goes to stderr
    for row in data["decode"]:
        assert len(row["samples_ms"]) == 3
        assert row["tps"] == pytest.approx(1000 / row["median_ms"])
        assert sorted(row["samples_ms"])[1] == pytest.approx(row["median_ms"])
    context = data["context"]
    assert context["architecture"] == "llama"
    assert context["n_ctx_train"] == N_CTX_TRAIN
    assert context["weight_dtypes"] == {"F32": 2 + 9 * 2 + 1}
    assert context["kv_dtype"] == "F16" and context["backend"] == "cpu"
    assert data["schema_version"] == 2 and "threads" not in context
    assert context["threads_requested"] == os.sysconf("SC_NPROCESSORS_ONLN")  # --threads 0
    # the library's count: the CPU backend's pool runs as many threads as asked
    assert context["threads_used"] == context["threads_requested"]
    assert len(data["ttft"]["samples_ms"]) == 3 and data["ttft"]["prefill_len"] == 8


def test_default_cache_length_is_the_training_context(program, tiny_model, tmp_path):
    data = bench_json(program, tiny_model, tmp_path, "--prefill-len", 100)
    assert data["config"]["max_cache_len"] == N_CTX_TRAIN
    assert data["config"]["positions"] == [1, 2, 4, 8, 16, 32, 64, 128, N_CTX_TRAIN - 100]


@pytest.mark.parametrize("cache_len, prefill_len, positions", [
    (20, 3, [1, 2, 4, 8, 16, 17]),  # a non-power-of-two end is the last point
    (20, 4, [1, 2, 4, 8, 16]),      # a power-of-two end appears once
    (9, 8, [1]),                    # L - P = 1
    (10, 7, [1, 2, 3]),
])
def test_default_positions_at_the_edges(program, tiny_model, tmp_path, cache_len, prefill_len,
                                        positions):
    data = bench_json(program, tiny_model, tmp_path, "--max-cache-len", cache_len,
                      "--prefill-len", prefill_len)
    assert data["config"]["positions"] == positions


@pytest.mark.parametrize("cache_len, prefill_len", [(8, 8), (8, 20)])
def test_no_room_for_positions_is_a_usage_error(program, tiny_model, cache_len, prefill_len):
    result = run(program, "-m", tiny_model, "--max-cache-len", cache_len, "--prefill-len",
                 prefill_len)
    assert result.returncode == 2
    assert "L - P must be at least 1" in result.stderr
    assert result.stdout == ""


def test_explicit_positions(program, tiny_model, tmp_path):
    data = bench_json(program, tiny_model, tmp_path, "--max-cache-len", 64, "--prefill-len", 8,
                      "--positions", "0,5,63")
    assert [row["position"] for row in data["decode"]] == [0, 5, 63]


@pytest.mark.parametrize("positions", ["64", "1,,2", "-1", "a", ""])
def test_bad_explicit_positions_are_usage_errors(program, tiny_model, positions):
    result = run(program, "-m", tiny_model, "--max-cache-len", 64, "--prefill-len", 8,
                 "--positions", positions)
    assert result.returncode == 2, result.stderr
    assert "--positions" in result.stderr


@pytest.mark.parametrize("args", [["--repeats", "0"], ["--device", "tpu"], ["--prefill-len", "0"],
                                  ["--bogus", "1"], ["--threads"]])
def test_bad_options_are_usage_errors(program, tiny_model, args):
    result = run(program, "-m", tiny_model, *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_cuda_is_refused_clearly(program, tiny_model):
    result = run(program, "-m", tiny_model, "--device", "cuda")
    assert result.returncode == 1
    # the library's reason: built without CUDA, no device, or no CUDA forward pass yet
    assert "TINFER_DEVICE_CUDA" in result.stderr and "TINFER_E_UNSUPPORTED" in result.stderr


def test_missing_model_fails(program, tmp_path):
    result = run(program, "-m", tmp_path / "absent.gguf")
    assert result.returncode == 1
    assert "loading the model" in result.stderr


def test_plot_writes_pngs_for_one_and_two_runs(program, tiny_model, tmp_path):
    first = tmp_path / "a.json"
    second = tmp_path / "b.json"
    for out, positions in ((first, "0,1,2,4"), (second, "1,2,3")):
        result = run(program, "-m", tiny_model, "--max-cache-len", 16, "--prefill-len", 4,
                     "--repeats", 2, "--positions", positions, "--json", out)
        assert result.returncode == 0, result.stderr
    plot = ROOT / "benchmarks" / "plot_decode.py"
    for inputs, png in (([first], tmp_path / "one.png"), ([first, second], tmp_path / "two.png")):
        result = subprocess.run([sys.executable, str(plot), *map(str, inputs), "-o", str(png)],
                                capture_output=True, text=True, timeout=PROGRAM_TIMEOUT_S)
        assert result.returncode == 0, result.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    not_bench = tmp_path / "other.json"
    not_bench.write_text('{"program": "tinfer-run"}')
    result = subprocess.run([sys.executable, str(plot), str(not_bench), "-o",
                             str(tmp_path / "x.png")], capture_output=True, text=True,
                            timeout=PROGRAM_TIMEOUT_S)
    assert result.returncode == 1 and "not a tinfer-bench-decode" in result.stderr


def test_threads_used_is_reported_apart_from_the_request(program, tiny_model, tmp_path):
    out = tmp_path / "bench.json"
    result = run(program, "-m", tiny_model, "--max-cache-len", 16, "--prefill-len", 4,
                 "--repeats", 1, "--positions", "1", "--threads", 3, "--json", out)
    assert result.returncode == 0, result.stderr
    assert "threads: 3 used (3 requested)" in result.stdout
    data = json.loads(out.read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert (data["context"]["threads_requested"], data["context"]["threads_used"]) == (3, 3)
    assert ", 3 threads, " in plot_decode.title([data])
    data["context"]["threads_used"] = 1  # a run that got fewer than it asked for
    assert ", 1 thread (3 requested), " in plot_decode.title([data])
    data["context"]["threads_requested"] = 1
    assert ", 1 thread, " in plot_decode.title([data])
    # a schema_version 1 file says only what was requested, and the title says so
    old = dict(data, schema_version=1)
    old["context"] = {k: v for k, v in data["context"].items() if not k.startswith("threads_")}
    old["context"]["threads"] = 3
    assert "3 threads requested (schema 1: used not recorded)" in plot_decode.title([old])


def test_batch_decodes_several_sequences_per_step(program, tiny_model):
    """--batch B: each timed step decodes B sequences (TPS counts all of them), in a context with
    room for B sequences at the last position; JSON (schema 2) has no batch, so --json refuses."""
    result = run(program, "-m", tiny_model, "--max-cache-len", 64, "--prefill-len", 8,
                 "--repeats", 2, "--positions", "5,40", "--batch", 3)
    assert result.returncode == 0, result.stderr
    assert table_positions(result.stdout) == [5, 40]
    for row in result.stdout.split("\n\n")[0].splitlines()[2:]:
        tps, step = float(row.split("|")[1]), float(row.split("|")[2].split("±")[0])
        assert abs(tps * step - 3 * 1000) <= tps * 0.0005 + 1  # step ms printed to 0.001
    assert "batch: 3 sequences per step" in result.stdout
    for bad in (["--batch", 0], ["--batch", 257], ["--batch", 2, "--json", "x.json"]):
        refused = run(program, "-m", tiny_model, *bad)
        assert refused.returncode == 2 and "--batch" in refused.stderr + refused.stdout


def test_profile_covers_decode_steps_and_prompts(program, tiny_model, tmp_path):
    """--profile: per position a summary of its timed steps and, for the TTFT prompts, one of the
    prompts and their first steps; beside each a Chrome trace with every layer's ops."""
    result = run(program, "-m", tiny_model, "--max-cache-len", 64, "--prefill-len", 8,
                 "--positions", "1,16", "--repeats", 2, "--profile", tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["profile_pos1.txt", "profile_pos16.txt", "profile_prefill8.txt",
                     "trace_pos1.json", "trace_pos16.json", "trace_prefill8.json"]
    for what, tokens in (("pos1", {1}), ("pos16", {1}), ("prefill8", {8, 1})):
        summary = (tmp_path / f"profile_{what}.txt").read_text().splitlines()
        assert summary[1].split()[:2] == ["op", "total_ms"]
        calls = {line.split()[0]: int(line.split()[3]) for line in summary[2:]}
        # two timed passes (two prompts each with its first step: four) through every layer
        passes = 2 * len(tokens)
        assert calls["attn_qkv"] == calls["ffn_down"] == passes * N_LAYER
        events = json.loads((tmp_path / f"trace_{what}.json").read_text())["traceEvents"]
        down = [e for e in events if e.get("name") == "ffn_down"]
        assert sorted({e["args"]["layer"] for e in down}) == list(range(N_LAYER))
        assert {e["args"]["shape"][0] for e in down} == tokens
