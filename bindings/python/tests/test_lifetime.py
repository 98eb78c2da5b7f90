"""Ownership: deterministic frees, keep-alive (tokenizer → model, context → model, logits view →
context), no double free whatever order things go in, no memory growth over 1,000
create/free cycles, and use from two threads at once."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import tinfer
from conftest import require_context_api

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CYCLES = 1000
WARMUP_CYCLES = 100
# The bound on RSS growth over the 900 measured cycles (measured: under 0.1 MiB). A leaked
# context (KV cache 2 layers × 64 tokens × 16 × 2 × 2 bytes = 8 KiB, plus scratch and logits)
# would add ≥ 7 MiB, a leaked model (its tokenizer tables alone ≈ 1.5 MB) over 1 GB.
RSS_GROWTH_BOUND_BYTES = 2 * 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


def test_close_frees_at_once_when_nothing_depends(tiny_model_path: Path):
    model = tinfer.Model(tiny_model_path)
    handle = model._handle
    assert not handle.freed
    model.close()
    assert handle.freed
    model.close()
    assert handle.freed


def test_with_block_frees(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        handle = model._handle
    assert handle.freed and model.closed


def test_close_frees_when_the_tokenizer_was_only_used_inside(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        assert model.tokenizer.encode("a")[0] == 1
        handle = model._handle
    assert handle.freed


def test_tokenizer_keeps_its_model_alive(tiny_model_path: Path):
    model = tinfer.Model(tiny_model_path)
    tokenizer = model.tokenizer
    expected = tokenizer.encode("the cat sat")
    handle = model._handle
    model.close()
    assert model.closed and not handle.freed
    assert tokenizer.encode("the cat sat") == expected  # still works: the model is alive
    tokenizer.close()
    assert handle.freed


def test_dropping_the_model_object_first_is_safe(tiny_model_path: Path):
    model = tinfer.Model(tiny_model_path)
    tokenizer = model.tokenizer
    handle = model._handle
    del model
    gc.collect()
    assert not handle.freed
    assert tokenizer.decode(tokenizer.encode("a dog")) == "<s> a dog"
    del tokenizer
    gc.collect()
    assert handle.freed


def test_context_keeps_its_model_alive(tiny_model_path: Path):
    require_context_api()
    model = tinfer.Model(tiny_model_path)
    model_handle = model._handle
    context = tinfer.Context(model, n_ctx=32)
    model.close()
    assert not model_handle.freed
    context.prefill([1, 260, 261])  # runs on weights the closed Model no longer claims
    assert context.kv_len() == 3
    context_handle = context._handle
    context.close()
    assert context_handle.freed and model_handle.freed


def test_logits_view_keeps_the_context_alive(tiny_model_path: Path):
    require_context_api()
    with tinfer.Model(tiny_model_path) as model:
        context = tinfer.Context(model, n_ctx=32)
        context.prefill([1, 260])
        view = context.logits()
        assert isinstance(view, np.ndarray) and view.dtype == np.float32
        assert not view.flags.writeable and view.shape == (context.n_vocab,)
        saved = view.copy()
        handle = context._handle
        context.close()
        assert not handle.freed
        np.testing.assert_array_equal(view, saved)
        del view
        gc.collect()
        assert handle.freed


def test_finalizers_in_any_order_free_each_object_once(tiny_model_path: Path):
    require_context_api()
    freed = []
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]):
        model = tinfer.Model(tiny_model_path)
        objects = [model, model.tokenizer, tinfer.Context(model, n_ctx=16)]
        handles = [model._handle, objects[2]._handle]
        for index in order:
            objects[index] = None
            gc.collect()
        del model
        gc.collect()
        freed.append(all(h.freed for h in handles))
    assert all(freed)


def one_cycle(path: Path, with_context: bool) -> None:
    with tinfer.Model(path) as model:
        ids = model.tokenizer.encode("the cat sat on a mat")
        if with_context:
            with tinfer.Context(model, n_ctx=64) as context:
                context.prefill(ids)
                tinfer.Sampler(context.n_vocab, temperature=0).sample(context.logits())
                handle = context._handle
            assert handle.freed


def test_1000_cycles_do_not_grow_rss(tiny_model_path: Path):
    with_context = tinfer.has_context_api()
    for _ in range(WARMUP_CYCLES):
        one_cycle(tiny_model_path, with_context)
    gc.collect()
    before = rss_bytes()
    for _ in range(CYCLES - WARMUP_CYCLES):
        one_cycle(tiny_model_path, with_context)
    gc.collect()
    growth = rss_bytes() - before
    assert growth < RSS_GROWTH_BOUND_BYTES, (
        f"RSS grew by {growth} bytes over {CYCLES - WARMUP_CYCLES} model"
        f"{'+context' if with_context else ''} cycles")


def test_the_rss_measurement_sees_a_leak(tiny_model_path: Path):
    """Models kept instead of freed (each holds its weights and tokenizer tables, about 1.5 MB):
    RSS must cross the bound above well before 300 of them, so the bound can fail. (Memory that
    earlier tests freed is reused first, so how many it takes varies.)"""
    kept = []
    gc.collect()
    before = rss_bytes()
    try:
        while len(kept) < 300 and rss_bytes() - before <= RSS_GROWTH_BOUND_BYTES:
            kept.extend(tinfer.Model(tiny_model_path, use_mmap=False) for _ in range(10))
        assert rss_bytes() - before > RSS_GROWTH_BOUND_BYTES
    finally:
        for model in kept:
            model.close()


def greedy_ids(context: tinfer.Context, prompt, n: int):
    context.kv_clear(0)
    context.prefill(prompt)
    out = []
    for _ in range(n):
        token = int(np.argmax(context.logits(0)))
        out.append(token)
        context.decode(token)
    return out


def test_two_threads_one_context_each(tiny_model_path: Path):
    require_context_api()
    prompts = [[1, 260, 261, 262], [1, 263, 264, 265, 266]]
    with tinfer.Model(tiny_model_path) as model:
        expected = [greedy_ids(tinfer.Context(model, n_ctx=128), p, 24) for p in prompts]
        results = {}
        errors = []
        barrier = threading.Barrier(2)

        def worker(index: int) -> None:
            try:
                with tinfer.Context(model, n_ctx=128) as context:
                    barrier.wait()
                    for _ in range(20):
                        results.setdefault(index, []).append(
                            greedy_ids(context, prompts[index], 24))
                        assert model.tokenizer.decode(model.tokenizer.encode("the cat")) \
                            == "<s> the cat"
            except BaseException as exc:  # reported below, from the main thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        for index in range(2):
            assert all(run == expected[index] for run in results[index])


def test_errors_stay_in_their_thread(tiny_model_path: Path):
    """tinfer_last_error is per thread: one thread's failure text never shows in another's."""
    messages = {}
    barrier = threading.Barrier(2)

    def fail(index: int) -> None:
        barrier.wait()
        for _ in range(200):
            try:
                tinfer.Model(tiny_model_path.parent / f"missing-{index}.gguf")
            except tinfer.TinferIOError as exc:
                messages.setdefault(index, set()).add(exc.message)

    threads = [threading.Thread(target=fail, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(2):
        assert messages[index] and all(f"missing-{index}.gguf" in m for m in messages[index])
