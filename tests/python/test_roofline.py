"""tinfer-roofline on a tiny model: the bytes per token it prints are those of the file (every
tensor once, the tied head being the embedding, plus one embedding row, plus the KV rows of the
position), the roofline is bandwidth over bytes, and the achieved column comes from a real
tinfer-bench-decode JSON."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import PROGRAM_TIMEOUT_S, ROOT, build_dir

sys.path.insert(0, str(ROOT / "bindings" / "python" / "tests"))
from tiny_model import write_tiny_model  # noqa: E402

import gguf  # noqa: E402


def program(name: str, folder: str) -> Path:
    path = build_dir() / folder / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first or set TINFER_BUILD_DIR")
    return path


def run(path: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(path), *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=PROGRAM_TIMEOUT_S, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("roofline") / "tiny-llama.gguf"
    write_tiny_model(path)
    return path


def table(stdout: str) -> dict:
    rows = {}
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["position"])
    names = lines[header].split()
    for line in lines[header + 1:]:
        fields = line.split()
        if not fields or not fields[0].isdigit():
            break
        rows[int(fields[0])] = dict(zip(names, fields))
    return rows


def test_bytes_and_roofline_of_a_tiny_model(tiny_model, tmp_path):
    bench = program("tinfer-bench-decode", "examples")
    decode_json = tmp_path / "decode.json"
    result = run(bench, "-m", tiny_model, "--positions", "1,8", "--repeats", "2",
                 "--json", decode_json)
    assert result.returncode == 0, result.stderr
    result = run(program("tinfer-roofline", "benchmarks"), "-m", tiny_model, "--threads", "2",
                 "--buffer-mib", "16", "--positions", "1,8", "--decode-json", decode_json)
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)
    assert sorted(rows) == [1, 8]

    reader = gguf.GGUFReader(tiny_model)
    tensors = {t.name: t for t in reader.tensors}
    embd = tensors["token_embd.weight"]
    # every tensor once, but of the embedding only one row, unless it is also the (tied) head
    weight_bytes = sum(int(t.n_bytes) for t in reader.tensors)
    if "output.weight" in tensors:
        weight_bytes -= int(embd.n_bytes)
    weight_bytes += int(embd.n_bytes) // int(embd.shape[-1])  # ne[1] rows
    field = lambda key: int(reader.fields[key].parts[-1][0])  # noqa: E731
    arch = "llama"
    n_layer = field(f"{arch}.block_count")
    kv_width = field(f"{arch}.attention.head_count_kv") * (
        field(f"{arch}.embedding_length") // field(f"{arch}.attention.head_count"))
    for position, row in rows.items():
        kv_bytes = n_layer * (position + 1) * 2 * kv_width * 2  # K and V, F16
        assert float(row["weight_MB"]) == pytest.approx(weight_bytes / 1e6, abs=0.0006)
        assert float(row["kv_MB"]) == pytest.approx(kv_bytes / 1e6, abs=0.0006)
        for threads in (1, 2):
            assert float(row[f"roof_tps@{threads}"]) > 0
        assert float(row["tps"]) > 0
        assert row["fraction"].endswith("%")
    assert "GB/s" in result.stdout.splitlines()[0]


def test_bad_arguments_are_usage_errors(tiny_model):
    roofline = program("tinfer-roofline", "benchmarks")
    for args in (["--threads", "0"], ["--positions", "x"], ["--buffer-mib", "1"], ["--bogus", "1"],
                 ["--threads"], ["--kv-dtype", "q4_0"]):
        result = run(roofline, "-m", tiny_model, *args)
        assert result.returncode == 2, args
        assert "usage:" in result.stderr
