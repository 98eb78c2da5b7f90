#!/usr/bin/env python3
"""How far llama.cpp and tinfer each are from an exact forward pass of the default model.

A developer script, not run in CI (needs `gguf`, `numpy`, `llama-cpp-python`, and a built
tinfer whose shared library path is given). It runs Gemma 3 in float64 with numpy over the
file's dequantized weights (no activation quantization, no float16 anywhere), then reports, per
position, the largest top-10 logit error of:
  - llama.cpp evaluating the tokens as one batch,
  - llama.cpp evaluating them one at a time,
  - tinfer (one token per tinfer_prefill call).
This is the yardstick behind the tolerance of tests/unit/test_forward_golden.c.

    python tests/conformance/llamacpp/float64_reference.py MODEL.gguf build/lib/libtinfer.so
"""
import ctypes
import sys

import gguf
import llama_cpp
import numpy as np
from gguf.quants import dequantize

TOKENS = [2, 818, 5279, 529, 7001, 563, 506, 5279, 529, 506]  # "The capital of France is the …"


def gemma3_float64(path, tokens):
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}

    def field(key):
        return reader.fields[key].contents()

    n_embd = field("gemma3.embedding_length")
    n_layer = field("gemma3.block_count")
    n_head = field("gemma3.attention.head_count")
    n_kv = field("gemma3.attention.head_count_kv")
    hd = field("gemma3.attention.key_length")
    eps = field("gemma3.attention.layer_norm_rms_epsilon")
    base_global = field("gemma3.rope.freq_base")

    def weight(name, width):
        t = tensors[name]
        return dequantize(t.data, t.tensor_type).astype(np.float64).reshape(-1, width)

    def vec(name):
        t = tensors[name]
        return dequantize(t.data, t.tensor_type).astype(np.float64).reshape(-1)

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x, pos, base):  # NEOX pairs (i, i + hd/2)
        half = hd // 2
        ang = pos[:, None] * base ** (-np.arange(half) * 2.0 / hd)[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., :half], x[..., half:]
        return np.concatenate([x0 * c - x1 * s, x0 * s + x1 * c], -1)

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    emb = weight("token_embd.weight", n_embd)
    n = len(tokens)
    x = emb[tokens] * np.sqrt(n_embd)
    pos = np.arange(n, dtype=np.float64)
    causal = np.triu(np.full((n, n), -np.inf), 1)
    for il in range(n_layer):
        p = f"blk.{il}."
        base = 10000.0 if (il + 1) % 6 != 0 else base_global
        h = rms(x, vec(p + "attn_norm.weight"))
        q = (h @ weight(p + "attn_q.weight", n_embd).T).reshape(n, n_head, hd)
        k = (h @ weight(p + "attn_k.weight", n_embd).T).reshape(n, n_kv, hd)
        v = (h @ weight(p + "attn_v.weight", n_embd).T).reshape(n, n_kv, hd)
        q = rope(rms(q, vec(p + "attn_q_norm.weight")), pos, base)
        k = rope(rms(k, vec(p + "attn_k_norm.weight")), pos, base)
        att = np.zeros((n, n_head, hd))
        for head in range(n_head):
            kv = head // (n_head // n_kv)
            s = q[:, head, :] @ k[:, kv, :].T / np.sqrt(hd) + causal
            s = np.exp(s - s.max(-1, keepdims=True))
            att[:, head, :] = (s / s.sum(-1, keepdims=True)) @ v[:, kv, :]
        o = att.reshape(n, -1) @ weight(p + "attn_output.weight", n_head * hd).T
        x = x + rms(o, vec(p + "post_attention_norm.weight"))
        h = rms(x, vec(p + "ffn_norm.weight"))
        g = h @ weight(p + "ffn_gate.weight", n_embd).T
        u = h @ weight(p + "ffn_up.weight", n_embd).T
        f = (gelu(g) * u) @ weight(p + "ffn_down.weight", g.shape[1]).T
        x = x + rms(f, vec(p + "post_ffw_norm.weight"))
    return rms(x, vec("output_norm.weight")) @ emb.T


def llamacpp_logits(path, tokens, batch):
    llm = llama_cpp.Llama(path, n_ctx=256, logits_all=True, verbose=False)
    if batch:
        llm.eval(tokens)
    else:
        for t in tokens:
            llm.eval([t])
    return np.array(llm.scores[:len(tokens)])


def tinfer_logits(path, lib_path, tokens):
    lib = ctypes.CDLL(lib_path)

    class ContextParams(ctypes.Structure):
        _fields_ = [("n_ctx", ctypes.c_uint32), ("n_seq_max", ctypes.c_uint32),
                    ("n_threads", ctypes.c_uint32), ("kv_dtype", ctypes.c_int),
                    ("n_batch", ctypes.c_uint32)]

    lib.tinfer_context_default_params.restype = ContextParams
    lib.tinfer_logits.restype = ctypes.POINTER(ctypes.c_float)
    lib.tinfer_context_n_vocab.restype = ctypes.c_size_t
    model, ctx = ctypes.c_void_p(), ctypes.c_void_p()
    assert lib.tinfer_model_load(path.encode(), None, ctypes.byref(model)) == 0
    params = lib.tinfer_context_default_params()
    params.n_ctx = 256
    assert lib.tinfer_context_create(model, ctypes.byref(params), ctypes.byref(ctx)) == 0
    n_vocab = lib.tinfer_context_n_vocab(ctx)
    rows = []
    for t in tokens:
        one = (ctypes.c_int32 * 1)(t)
        assert lib.tinfer_prefill(ctx, 0, one, ctypes.c_size_t(1)) == 0
        rows.append(np.ctypeslib.as_array(lib.tinfer_logits(ctx, 0), (n_vocab,)).copy())
    lib.tinfer_context_free(ctx)
    lib.tinfer_model_free(model)
    return np.array(rows)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_path, lib_path = sys.argv[1], sys.argv[2]
    exact = gemma3_float64(model_path, TOKENS)
    runs = [("llama.cpp, one batch", llamacpp_logits(model_path, TOKENS, True)),
            ("llama.cpp, token by token", llamacpp_logits(model_path, TOKENS, False)),
            ("tinfer, token by token", tinfer_logits(model_path, lib_path, TOKENS))]
    for name, logits in runs:
        errors = []
        for p in range(len(TOKENS)):
            top = np.argsort(-exact[p])[:10]
            errors.append(float(np.abs(logits[p][top] - exact[p][top]).max()))
        print(f"{name:28s} max top-10 error per position: {np.round(errors, 3)}, "
              f"mean {np.mean(errors):.3f}")


if __name__ == "__main__":
    main()
