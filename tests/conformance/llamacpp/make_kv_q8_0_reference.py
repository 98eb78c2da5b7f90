#!/usr/bin/env python3
"""Writes tests/data/perplexity/kv_q8_0_reference.json: how far llama.cpp's Q8_0 KV cache moves
the default model's next-token distributions from its F16 cache, on the perplexity text — the
yardstick tests/python/test_kv_q8_0.py holds TINFER_KV_Q8_0 to.

Windows of the tokenized text (BOS added, special text not parsed, the first token of each window
replaced by BOS, as make_perplexity_reference.py cuts them): the four 128-token windows, and one
window of 600 tokens (past the sliding window of 512 and over several of tinfer's 256-key
ranges). Each window is evaluated from a fresh context in one batch with logits for every token,
once with the F16 cache (llama.cpp's default, flash attention off: the logits tinfer's exact path
reproduces bit for bit) and once with type_k = type_v = GGML_TYPE_Q8_0 (which needs flash
attention). Recorded per window and overall: the mean over its positions of
KL(softmax(f16) || softmax(q8_0)) in float64, the share of positions whose greedy token agrees,
and the mean negative log-likelihood of the next token under each cache.

A developer script, not run in CI: llama-cpp-python 0.3.36 built as make_golden.py says
(GGML_NATIVE=OFF), and numpy:

    /work/llama-venv-v3/bin/python tests/conformance/llamacpp/make_kv_q8_0_reference.py \\
        models/gemma-3-270m-q4_k_m.gguf tests/data/perplexity/public_domain.txt \\
        tests/data/perplexity/kv_q8_0_reference.json
"""
import json
import sys

import llama_cpp
import numpy as np

from make_perplexity_reference import provenance  # this directory: the script's own path

WINDOWS = [(0, 128), (128, 128), (256, 128), (384, 128), (0, 600)]  # (first token, length)

def log_softmax(rows):
    rows = rows.astype(np.float64)
    rows = rows - rows.max(axis=1, keepdims=True)
    return rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))


def evaluate(model_path, window, q8_0):
    cache = dict(type_k=8, type_v=8, flash_attn=True) if q8_0 else {}
    n = len(window)
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=n, n_batch=n, n_ubatch=n, logits_all=True,
                          n_threads=2, verbose=False, **cache)
    llm.reset()
    llm.eval(window)
    return np.asarray(llm.scores[:n], dtype=np.float32)


def main():
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} MODEL TEXT OUT.json")
    model_path, text_path, out_path = sys.argv[1:]
    with open(text_path, "rb") as f:
        text = f.read()
    probe = llama_cpp.Llama(model_path=model_path, n_ctx=64, verbose=False)
    tokens = probe.tokenize(text, add_bos=True, special=False)
    bos = probe.token_bos()
    windows = []
    for first, length in WINDOWS:
        window = list(tokens[first:first + length])
        if len(window) != length:
            sys.exit(f"{len(tokens)} tokens: too few for a window of {length} at {first}")
        window[0] = bos
        f16 = log_softmax(evaluate(model_path, window, False))
        q8 = log_softmax(evaluate(model_path, window, True))
        kl = (np.exp(f16) * (f16 - q8)).sum(axis=1)
        nexts = np.array(window[1:])
        windows.append({
            "first": first, "length": length,
            "kl_mean": float(kl.mean()),
            "greedy_agree": float((f16.argmax(axis=1) == q8.argmax(axis=1)).mean()),
            "nll_mean_f16": float(-f16[np.arange(length - 1), nexts].mean()),
            "nll_mean_q8_0": float(-q8[np.arange(length - 1), nexts].mean()),
        })
        print(windows[-1], file=sys.stderr)
    positions = sum(w["length"] for w in windows)
    reference = {
        **provenance("tests/conformance/llamacpp/make_kv_q8_0_reference.py", model_path,
                     text_path),
        "kl_mean": sum(w["kl_mean"] * w["length"] for w in windows) / positions,
        "greedy_agree": sum(w["greedy_agree"] * w["length"] for w in windows) / positions,
        "windows": windows,
        "tokens": list(map(int, tokens)),
    }
    with open(out_path, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
