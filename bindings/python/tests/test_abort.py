"""Context(abort=...): the callback is asked between layers; returning True raises AbortedError
and the cache is as it was, so the same step run again gives the uninterrupted logits."""
import numpy as np
import pytest

import tinfer

from tiny_model import write_tiny_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("abort") / "tiny.gguf"
    write_tiny_model(path)
    with tinfer.Model(str(path)) as m:
        yield m


def test_abort_stops_a_prefill_and_keeps_the_cache(model):
    calls = []
    limit = {"at": 3}

    def stop():
        calls.append(1)
        return len(calls) == limit["at"]

    # two tokens a pass: four passes, n_layer questions each; stop inside the second pass
    n_layer = model.info.n_layer
    limit["at"] = n_layer + 1
    ctx = tinfer.Context(model, n_ctx=64, n_batch=2, abort=stop)
    plain = tinfer.Context(model, n_ctx=64, n_batch=2)
    prompt = [1, 5, 9, 13, 17, 21, 25, 29]
    with pytest.raises(tinfer.AbortedError) as raised:
        ctx.prefill(prompt)
    assert raised.value.status == tinfer.Status.E_ABORTED
    assert len(calls) == n_layer + 1
    assert ctx.kv_len(0) == 0
    limit["at"] = 0  # never again
    ctx.prefill(prompt)
    plain.prefill(prompt)
    assert np.array_equal(np.asarray(ctx.logits(0)), np.asarray(plain.logits(0)))
    ctx.decode(7)
    plain.decode(7)
    assert np.array_equal(np.asarray(ctx.logits(0)), np.asarray(plain.logits(0)))
    assert ctx.kv_len(0) == len(prompt) + 1


def test_a_failing_callback_does_not_stop(model):
    def broken():
        raise RuntimeError("bug in the callback")

    ctx = tinfer.Context(model, n_ctx=64, abort=broken)
    ctx.prefill([1, 2, 3])
    assert ctx.kv_len(0) == 3


def test_context_info_reports_the_cache(model):
    ctx = tinfer.Context(model, n_ctx=100, n_seq_max=2, threads=1)
    info = ctx.info
    assert (info["n_ctx"], info["n_seq_max"], info["n_threads"]) == (100, 2, 1)
    assert info["kv_bytes"] > 0 and info["scratch_bytes"] >= 2 * ctx.n_vocab * 4
    bigger = tinfer.Context(model, n_ctx=1000, n_seq_max=2, threads=1).info
    assert bigger["kv_bytes"] > info["kv_bytes"]
