"""One Context used from two threads at once: the binding serializes every call into the C
context (Context.lock), so two threads generating on their own sequences of one context get
exactly what serial runs get. (Before the lock, the two threads' steps overlapped inside the C
context, whose scratch is shared, and the text came out garbled.)"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List

import numpy as np
import pytest

import tinfer
from conftest import require_context_api

PROMPTS = ["the cat sat on the mat", "Hello world, a dog"]


def greedy(context: tinfer.Context, seq: int, prompt_ids: List[int], n: int) -> List[int]:
    """n greedy tokens on sequence seq (cleared first), EOS ignored so both runs are long."""
    context.kv_clear(seq)
    context.prefill(prompt_ids, seq)
    out = []
    for _ in range(n):
        token = int(np.argmax(context.logits(seq)))
        out.append(token)
        context.decode(token, seq)
    return out


def run_two_threads(context: tinfer.Context, prompts: List[List[int]], n: int,
                    rounds: int) -> List[List[List[int]]]:
    results: List[List[List[int]]] = [[], []]
    errors: List[BaseException] = []
    barrier = threading.Barrier(2)

    def work(seq: int) -> None:
        try:
            for _ in range(rounds):
                barrier.wait()
                results[seq].append(greedy(context, seq, prompts[seq], n))
        except BaseException as err:  # noqa: B902  (reported by the main thread)
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(seq,)) for seq in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    return results


def check_model(model: tinfer.Model, n: int, rounds: int) -> None:
    prompts = [model.tokenizer.encode(p) for p in PROMPTS]
    with tinfer.Context(model, n_ctx=64 + n, n_seq_max=2) as context:
        serial = [greedy(context, seq, prompts[seq], n) for seq in (0, 1)]
        assert serial[0] != serial[1]
        results = run_two_threads(context, prompts, n, rounds)
    for seq in (0, 1):
        assert results[seq] == [serial[seq]] * rounds, f"sequence {seq} differs from serial"


def test_two_threads_on_one_context_equal_serial_runs(tiny_model_path: Path):
    require_context_api()
    with tinfer.Model(tiny_model_path) as model:
        check_model(model, n=48, rounds=20)


def test_two_threads_on_one_context_default_model(default_model: tinfer.Model):
    require_context_api()
    check_model(default_model, n=12, rounds=2)


def test_lock_is_reentrant_and_held_around_several_calls(tiny_model_path: Path):
    require_context_api()
    with tinfer.Model(tiny_model_path) as model, tinfer.Context(model, n_ctx=32) as context:
        with context.lock:  # a caller's own critical section can call the context
            context.prefill([1, 5, 6])
            row = np.array(context.logits(0))
            assert context.kv_len(0) == 3
        assert row.shape == (context.n_vocab,)
