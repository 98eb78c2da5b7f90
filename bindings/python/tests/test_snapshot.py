"""KV snapshots through the binding (Context.save_state / load_state and the file variants): a
round trip gives the same greedy continuation, bit-identical logits, in this process and in
another one; damaged bytes raise FormatError and leave the context as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinfer
from conftest import HERE

PROMPT = [1, 5, 9, 3, 7, 2, 8, 4, 6, 10, 11, 12, 13, 3, 5, 7]


def greedy(context: tinfer.Context, n: int, seq: int = 0):
    """n tokens by argmax from seq's current logits; the logits rows seen on the way."""
    out, rows = [], []
    for _ in range(n):
        row = np.array(context.logits(seq))
        rows.append(row)
        token = int(np.argmax(row))
        out.append(token)
        context.decode(token, seq)
    return out, rows


@pytest.mark.usefixtures("context_api")
def test_round_trip_gives_the_same_greedy_continuation(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        with tinfer.Context(model, n_ctx=128) as a, tinfer.Context(model, n_ctx=128) as b:
            a.prefill(PROMPT)
            state = a.save_state(0)
            assert isinstance(state, bytes) and state[:8] == b"TFKVSNAP"
            b.load_state(state, 0)
            assert b.kv_len(0) == len(PROMPT)
            want_tokens, want_rows = greedy(a, 12)
            got_tokens, got_rows = greedy(b, 12)
            assert got_tokens == want_tokens
            for want, got in zip(want_rows, got_rows):
                assert want.tobytes() == got.tobytes()


@pytest.mark.usefixtures("context_api")
def test_whole_context_and_levels(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        with tinfer.Context(model, n_ctx=64, n_seq_max=2, kv_dtype="f32") as a:
            a.prefill(PROMPT, 0)
            a.prefill(PROMPT[:5], 1)
            sizes = {level: len(a.save_state(-1, level)) for level in (1, 3, 19)}
            assert all(size > 0 for size in sizes.values())
            state = a.save_state()
            with tinfer.Context(model, n_ctx=64, n_seq_max=2, kv_dtype="f32") as b:
                b.load_state(state)
                assert (b.kv_len(0), b.kv_len(1)) == (len(PROMPT), 5)
                for seq in (0, 1):
                    assert np.array_equal(a.logits(seq), b.logits(seq))
            with tinfer.Context(model, n_ctx=64, n_seq_max=2) as f16:
                with pytest.raises(tinfer.UnsupportedError):
                    f16.load_state(state)
            with pytest.raises(tinfer.InvalidArgumentError):
                a.save_state(0, level=42)


@pytest.mark.usefixtures("context_api")
def test_damaged_bytes_raise_format_error_and_change_nothing(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        with tinfer.Context(model, n_ctx=64) as a, tinfer.Context(model, n_ctx=64) as b:
            a.prefill(PROMPT)
            state = bytearray(a.save_state(0))
            b.prefill(PROMPT[:3])
            before = np.array(b.logits(0))
            for damaged in (bytes(state[:-1]), bytes(state[:50]), b"", b"not a snapshot"):
                with pytest.raises(tinfer.FormatError):
                    b.load_state(damaged, 0)
            for i in (20, 100, len(state) // 2, len(state) - 3):
                bad = bytearray(state)
                bad[i] ^= 0x10
                with pytest.raises(tinfer.FormatError) as info:
                    b.load_state(bytes(bad), 0)
                assert "snapshot" in info.value.message
            assert b.kv_len(0) == 3
            assert np.array_equal(before, b.logits(0))


@pytest.mark.usefixtures("context_api")
def test_file_round_trip_in_another_process(tiny_model_path: Path, tmp_path: Path):
    """A child process prefills the prompt and saves to a file; this one loads it and continues
    as it would have itself."""
    path = tmp_path / "state.tfkv"
    script = (
        "import sys; sys.path[:0] = [sys.argv[3], sys.argv[4]]\n"
        "import tinfer\n"
        "with tinfer.Model(sys.argv[1]) as m, tinfer.Context(m, n_ctx=128) as c:\n"
        f"    c.prefill({PROMPT!r})\n"
        "    c.save_state_file(sys.argv[2], 0, level=5)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tiny_model_path), str(path),
                    str(HERE.parent / "src"), str(HERE)], check=True)
    with tinfer.Model(tiny_model_path) as model:
        with tinfer.Context(model, n_ctx=128) as here, tinfer.Context(model, n_ctx=128) as there:
            here.prefill(PROMPT)
            there.load_state_file(path, 0)
            assert greedy(there, 8)[0] == greedy(here, 8)[0]
            with pytest.raises(tinfer.TinferIOError):
                there.load_state_file(tmp_path / "missing.tfkv", 0)
