"""Generation through the binding: Context + Sampler + model.generate, on the tiny synthetic
model and the default one. Greedy output must equal an argmax loop over the raw logits."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tinfer
from tinfer.generate import generate_tokens, prompt_tokens
from conftest import ROOT, build_dir


def argmax_continuation(model: tinfer.Model, prompt_ids, n: int):
    """Greedy by hand: NumPy argmax over each row of logits (lowest id on ties, as the
    sampler's greedy rule)."""
    with tinfer.Context(model, n_ctx=len(prompt_ids) + n + 1) as context:
        context.prefill(prompt_ids)
        out = []
        for _ in range(n):
            token = int(np.argmax(context.logits(0)))
            if model.tokenizer.is_eog(token):
                break
            out.append(token)
            context.decode(token)
        return out


@pytest.mark.usefixtures("context_api")
@pytest.mark.parametrize("prompt", ["the cat sat", "Hello world", "a"])
def test_greedy_equals_argmax_on_the_tiny_model(tiny_model_path: Path, prompt: str):
    with tinfer.Model(tiny_model_path) as model:
        ids = prompt_tokens(model.tokenizer, prompt, chat=False)
        expected = argmax_continuation(model, ids, 40)
        got = [t for t, _ in generate_tokens(model, prompt, max_tokens=40, temperature=0)
               if t is not None]
        assert got == expected and len(got) > 0


@pytest.mark.usefixtures("context_api")
def test_greedy_text_on_the_default_model(default_model: tinfer.Model):
    prompt = "The capital of France is"
    ids = default_model.tokenizer.encode(prompt)
    expected_ids = argmax_continuation(default_model, ids, 24)
    pieces = list(default_model.generate(prompt, max_tokens=24, temperature=0))
    assert all(isinstance(p, str) and p for p in pieces)
    text = "".join(pieces)
    assert text == default_model.tokenizer.decode(expected_ids, skip_special=True)
    assert default_model.generate(prompt, max_tokens=24, temperature=0, stream=False) == text
    assert "Paris" in text or len(text) > 20  # the model says something, in words


@pytest.mark.usefixtures("context_api")
def test_seeded_sampling_repeats_and_seeds_differ(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        def run(seed: int) -> list:
            return [t for t, _ in generate_tokens(model, "the", max_tokens=30, temperature=1.5,
                                                  top_k=0, top_p=1.0, min_p=0.0, seed=seed)]
        first = run(7)
        assert run(7) == first
        assert any(run(seed) != first for seed in (8, 9, 10))


@pytest.mark.usefixtures("context_api")
def test_max_tokens_and_stop(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        assert model.generate("the cat", max_tokens=0, stream=False) == ""
        n = sum(1 for t, _ in generate_tokens(model, "the cat", max_tokens=5, temperature=0)
                if t is not None)
        assert n == 5
        # max_tokens=None runs until EOS or the context is full (n_ctx given small here)
        n = sum(1 for t, _ in generate_tokens(model, "the cat", max_tokens=None, n_ctx=12,
                                              temperature=0) if t is not None)
        assert 0 < n <= 12


@pytest.mark.usefixtures("context_api")
def test_bad_arguments_raise_before_iteration(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        with pytest.raises(tinfer.InvalidArgumentError, match="temperature"):
            model.generate("x", temperature=-2)
        with pytest.raises(TypeError, match="temp"):
            model.generate("x", temp=0)
        with pytest.raises(tinfer.UnsupportedError, match="chat template"):
            model.generate("x", chat=True)


@pytest.mark.usefixtures("context_api")
def test_abandoned_generation_frees_its_context(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        stream = model.generate("the cat", max_tokens=50, temperature=0)
        next(stream)
        stream.close()  # GeneratorExit runs the finally: context and sampler closed
    assert model._handle.freed


@pytest.mark.usefixtures("context_api")
def test_sampler_greedy_and_views(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model, tinfer.Context(model, n_ctx=16) as ctx:
        ctx.prefill([1, 260])
        logits = ctx.logits()
        greedy = tinfer.Sampler(temperature=0)
        assert greedy.n_vocab is None
        assert greedy.sample(logits) == int(np.argmax(logits))
        assert greedy.n_vocab == ctx.n_vocab
        assert greedy.sample(list(map(float, logits))) == int(np.argmax(logits))
        assert greedy.sample(memoryview(np.array(logits))) == int(np.argmax(logits))
        ctx.decode(5)
        assert ctx.kv_len() == 3
        ctx.kv_truncate(0, 1)
        assert ctx.kv_len() == 1
        with pytest.raises(ValueError):
            ctx.logits()  # truncation forgets the logits
        ctx.kv_clear()
        assert ctx.kv_len() == 0


@pytest.mark.usefixtures("context_api")
def test_two_sequences_decode_together(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path) as model:
        with tinfer.Context(model, n_ctx=32, n_seq_max=2) as both:
            both.prefill([1, 260, 261], seq=0)
            both.prefill([1, 262], seq=1)
            both.decode([263, 264])  # seq 0 gets 263, seq 1 gets 264
            together = [both.logits(0).copy(), both.logits(1).copy()]
        for seq_tokens, row in (([1, 260, 261, 263], together[0]), ([1, 262, 264], together[1])):
            with tinfer.Context(model, n_ctx=32) as alone:
                alone.prefill(seq_tokens)
                np.testing.assert_allclose(alone.logits(), row, rtol=1e-4, atol=1e-4)


def run_tinfer_run(model_path: Path, prompt: str, n: int) -> dict:
    """tinfer-run's --json record of a greedy run."""
    program = build_dir() / "examples" / "tinfer-run"
    if not os.access(program, os.X_OK):
        pytest.skip(f"{program} is not built")
    done = subprocess.run([str(program), "-m", str(model_path), "-p", prompt, "-n", str(n),
                           "--temp", "0", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def binding_greedy(model: tinfer.Model, prompt: str, n: int):
    pairs = list(generate_tokens(model, prompt, max_tokens=n, temperature=0))
    return ([t for t, _ in pairs if t is not None], "".join(piece for _, piece in pairs))


@pytest.mark.usefixtures("context_api")
@pytest.mark.parametrize("prompt", ["the cat sat", "Hello world"])
def test_equal_to_tinfer_run_on_the_tiny_model(tiny_model_path: Path, prompt: str):
    record = run_tinfer_run(tiny_model_path, prompt, 24)
    with tinfer.Model(tiny_model_path) as model:
        ids, text = binding_greedy(model, prompt, 24)
        assert record["prompt_ids"] == prompt_tokens(model.tokenizer, prompt, chat=False)
    assert record["generated_ids"] == ids and len(ids) > 0
    assert record["text"] == text


@pytest.mark.usefixtures("context_api")
def test_equal_to_tinfer_run_on_the_default_model(default_model: tinfer.Model,
                                                  default_model_path: Path):
    prompt = "The capital of France is"
    record = run_tinfer_run(default_model_path, prompt, 16)
    ids, text = binding_greedy(default_model, prompt, 16)
    assert record["prompt_ids"] == default_model.tokenizer.encode(prompt)
    assert record["generated_ids"] == ids
    assert record["text"] == text


def test_sampler_reset_repeats_and_penalties_see_accepted_tokens():
    logits = np.linspace(0.0, 1.0, 50, dtype=np.float32)
    sampler = tinfer.Sampler(50, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=42)
    first = [sampler.sample(logits) for _ in range(40)]
    sampler.reset()
    assert [sampler.sample(logits) for _ in range(40)] == first
    assert len(set(first)) > 5  # it really draws
    greedy = tinfer.Sampler(50, temperature=0, repeat_penalty=5.0, penalty_last_n=8)
    assert greedy.sample(logits) == 49
    greedy.accept(49)  # the penalty divides the top logit by 5: 49 is no longer the best
    assert greedy.sample(logits) == 48
    lazy = tinfer.Sampler(temperature=0, repeat_penalty=5.0)
    lazy.accept(49)  # kept until the first row tells the vocabulary size
    assert lazy.sample(logits) == 48 and lazy.n_vocab == 50


@pytest.mark.usefixtures("context_api")
def test_generic_kernels_give_the_same_logits(tiny_model_path: Path, monkeypatch):
    """TINFER_FORCE_GENERIC=1 switches contexts created afterwards to the portable kernels;
    their logits equal the auto-selected kernels' bit for bit."""
    assert tinfer.cpu_kernels() in ("avx512", "x86-64-v3", "generic")
    rows = {}
    with tinfer.Model(tiny_model_path) as model:
        ids = model.tokenizer.encode("the quick brown fox")
        for force in ("0", "1"):
            monkeypatch.setenv("TINFER_FORCE_GENERIC", force)
            if force == "1":
                assert tinfer.cpu_kernels() == "generic"
            with tinfer.Context(model, n_ctx=64) as context:
                context.prefill(ids)
                first = np.array(context.logits(0))
                context.decode(int(np.argmax(first)))
                rows[force] = (first, np.array(context.logits(0)))
    for a, b in zip(rows["0"], rows["1"]):
        assert a.tobytes() == b.tobytes()
