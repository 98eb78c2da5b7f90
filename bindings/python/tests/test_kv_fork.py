"""Context.kv_copy (tinfer_kv_seq_copy) and the shared block pool (n_kv_tokens): a fork's greedy
continuation equals a fresh run's, both ways from one prompt; the pool's size shows in
Context.info and kv_free_tokens; a full pool raises ContextFullError and changes nothing."""
import numpy as np
import pytest

import tinfer

from tiny_model import write_tiny_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("kv_fork") / "tiny.gguf"
    write_tiny_model(path)
    with tinfer.Model(str(path)) as m:
        yield m


PROMPT = [1] + [(i * 7 + 3) % 50 + 3 for i in range(44)]  # 45 tokens: inside the second block


def fresh_run(model, first, steps):
    """Prompt, then `first`, then greedy for steps tokens, in a one-sequence context."""
    ctx = tinfer.Context(model, n_ctx=128, n_batch=8)
    ctx.prefill(PROMPT)
    tokens = [first]
    ctx.decode(first)
    for _ in range(steps):
        tokens.append(int(np.argmax(ctx.logits(0))))
        ctx.decode(tokens[-1])
    return tokens, np.array(ctx.logits(0))


def test_forks_continue_like_fresh_runs(model):
    ctx = tinfer.Context(model, n_ctx=128, n_seq_max=2, n_batch=8)
    ctx.prefill(PROMPT)
    ctx.kv_copy(0, 1)
    assert ctx.kv_len(1) == len(PROMPT)
    assert np.array_equal(ctx.logits(0), ctx.logits(1))
    ranked = np.argsort(-np.asarray(ctx.logits(0)), kind="stable")
    firsts = [int(ranked[0]), int(ranked[1])]  # greedy, and the runner-up
    tokens = [[firsts[0]], [firsts[1]]]
    ctx.decode(firsts, [0, 1])
    for _ in range(6):
        nxt = [int(np.argmax(ctx.logits(s))) for s in (0, 1)]
        for s in (0, 1):
            tokens[s].append(nxt[s])
        ctx.decode(nxt, [0, 1])
    for s in (0, 1):
        expected_tokens, expected_logits = fresh_run(model, firsts[s], 6)
        assert tokens[s] == expected_tokens
        assert np.array_equal(np.asarray(ctx.logits(s)), expected_logits)
    assert tokens[0] != tokens[1]
    ctx.kv_copy(1, 1)  # the same sequence: nothing happens
    assert ctx.kv_len(1) == len(PROMPT) + 7


def test_the_pool_is_sized_by_n_kv_tokens(model):
    whole = tinfer.Context(model, n_ctx=256, n_seq_max=4)
    pooled = tinfer.Context(model, n_ctx=256, n_seq_max=4, n_kv_tokens=300)
    assert whole.info["n_kv_tokens"] == 4 * 256
    assert pooled.info["n_kv_tokens"] == 320  # whole 32-token blocks
    # the tiny llama has no sliding window: every layer's storage is the pool
    assert pooled.info["kv_bytes"] * 1024 == whole.info["kv_bytes"] * 320
    assert pooled.kv_free_tokens() == 320
    pooled.prefill(PROMPT)  # 2 blocks
    assert pooled.kv_free_tokens() == 320 - 64
    for s in (1, 2, 3):
        pooled.kv_copy(0, s)
    assert pooled.kv_free_tokens() == 320 - 64  # forks share the blocks
    pooled.decode([5, 6, 7, 8], [0, 1, 2, 3])  # 3 copies of the shared half-full block
    assert pooled.kv_free_tokens() == 320 - 64 - 3 * 32
    assert [pooled.kv_len(s) for s in range(4)] == [len(PROMPT) + 1] * 4


def test_a_full_pool_raises_and_changes_nothing(model):
    ctx = tinfer.Context(model, n_ctx=128, n_seq_max=3, n_kv_tokens=96)
    ctx.prefill(PROMPT)
    ctx.kv_copy(0, 1)
    ctx.kv_copy(0, 2)
    assert ctx.kv_free_tokens() == 32
    before = np.array(ctx.logits(2))
    with pytest.raises(tinfer.ContextFullError):
        ctx.decode([5, 6], [1, 2])  # each needs a copy of the shared block; one is free
    assert ctx.kv_free_tokens() == 32
    assert [ctx.kv_len(s) for s in range(3)] == [len(PROMPT)] * 3
    assert np.array_equal(ctx.logits(2), before)
    with pytest.raises(tinfer.InvalidArgumentError, match="dst 3 is outside"):
        ctx.kv_copy(0, 3)
    with pytest.raises(tinfer.InvalidArgumentError, match="n_kv_tokens"):
        tinfer.Context(model, n_ctx=64, n_seq_max=1, n_kv_tokens=65)
