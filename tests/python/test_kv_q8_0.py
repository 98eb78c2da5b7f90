"""TINFER_KV_Q8_0 against llama.cpp's own Q8_0 KV cache, on the default model.

A Q8_0 cache rounds every cached key and value to 8 bits per element, which moves a small model's
logits by more than any float reordering does (on Gemma 3 270M single logits move by up to ~4,
with llama.cpp's Q8_0 cache as with ours; an F32 cache against the F16 one moves them as much),
so it cannot be held to the exact path logit by logit. It is held to what llama.cpp's Q8_0 cache
does to the same model on the same text instead (tests/data/perplexity/kv_q8_0_reference.json,
made by tests/conformance/llamacpp/make_kv_q8_0_reference.py with llama.cpp's x86-64-v3 build,
whose F16 logits tinfer's exact path reproduces bit for bit): over the same windows, the mean
KL divergence of each position's next-token distribution from the F16 cache's, the share of
positions whose greedy token stays, and the mean log-likelihood of the text.

The per-window figures are noisy: this model's logits swing with any change of rounding in
attention, so a window of 128 positions can land far from llama.cpp's own figure without the
cache being worse. An F32 cache, strictly finer than the F16 one, measured a KL from F16 of
0.0731 on window 256+128 (llama.cpp's Q8_0: 0.0214, 3.4x) and 0.0268-0.0507 on the others;
rounding the Q8_0 scores' query to 16-bit codes moved that window from 0.0218 to 0.0417. So the
per-window bound only catches a broken cache; the mean over every window is the quality bound.

Measured here: KL 0.0501 (llama.cpp 0.0465), greedy agreement 0.913 (0.924), mean NLL 1.736
(llama.cpp's Q8_0 figure 1.749). (0.0469 / 0.919 / 1.731 before the softmax sums of each key
range went from one running float sum to eight lanes: a change of rounding alone.) The bounds below leave room for another CPU's kernels, not for
a worse cache: a cache that kept F16 underneath would fail the lower KL bound, a broken one the
upper.
"""

import json
import sys

import numpy as np
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))

REFERENCE = ROOT / "tests" / "data" / "perplexity" / "kv_q8_0_reference.json"
KL_MAX_RATIO = 1.25        # our mean KL from F16 over llama.cpp's, all windows
KL_MAX_RATIO_WINDOW = 4.0  # the same per window: an F32 cache reaches 3.4 (docstring)
KL_MIN_RATIO = 0.25        # the cache does quantize
AGREE_SLACK = 0.03         # greedy agreement at most this far below llama.cpp's
NLL_REL = 0.025            # mean NLL under Q8_0 within this of llama.cpp's Q8_0 figure


def log_softmax(rows):
    rows = np.asarray(rows, dtype=np.float64)
    rows = rows - rows.max(axis=1, keepdims=True)
    return rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))


def test_q8_0_cache_moves_the_model_as_llama_cpp_does(default_model):
    import tinfer

    reference = json.loads(REFERENCE.read_text())
    tokens = reference["tokens"]
    kl_total = agree_total = nll_total = nll_reference = 0.0
    positions = 0
    with tinfer.Model(default_model) as model:
        assert model.tokenizer.encode((ROOT / "tests" / "data" / "perplexity" /
                                       reference["text"]).read_text(), parse_special=False) \
            == tokens, "tokenization differs from llama.cpp's"
        for window in reference["windows"]:
            n = window["length"]
            ids = tokens[window["first"]:window["first"] + n]
            ids[0] = tokens[0]  # BOS, as the reference cuts windows
            rows = {}
            for kv in ("f16", "q8_0"):
                with tinfer.Context(model, n_ctx=n, n_batch=n, kv_dtype=kv, threads=2) as ctx:
                    rows[kv] = log_softmax(ctx.prefill_logits(ids))
            f16, q8 = rows["f16"], rows["q8_0"]
            kl = (np.exp(f16) * (f16 - q8)).sum(axis=1)
            agree = float((f16.argmax(axis=1) == q8.argmax(axis=1)).mean())
            nexts = np.array(ids[1:])
            nll = float(-q8[np.arange(n - 1), nexts].mean())
            label = f"window {window['first']}+{n}"
            assert kl.mean() <= KL_MAX_RATIO_WINDOW * window["kl_mean"], \
                f"{label}: KL {kl.mean():.4f}, llama.cpp {window['kl_mean']:.4f}"
            kl_total += kl.sum()
            agree_total += agree * n
            nll_total += nll * n
            nll_reference += window["nll_mean_q8_0"] * n
            positions += n
    kl_mean, agree_mean = kl_total / positions, agree_total / positions
    print(f"KL {kl_mean:.4f} (llama.cpp {reference['kl_mean']:.4f}), greedy agreement "
          f"{agree_mean:.3f} ({reference['greedy_agree']:.3f}), mean NLL "
          f"{nll_total / positions:.4f} ({nll_reference / positions:.4f})")
    assert KL_MIN_RATIO * reference["kl_mean"] <= kl_mean <= KL_MAX_RATIO * reference["kl_mean"]
    assert agree_mean >= reference["greedy_agree"] - AGREE_SLACK
    assert nll_total / positions == pytest.approx(nll_reference / positions, rel=NLL_REL)
