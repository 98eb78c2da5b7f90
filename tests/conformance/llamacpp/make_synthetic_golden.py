#!/usr/bin/env python3
"""Regenerates tests/data/golden/synthetic_logits.json: llama.cpp's logits for tiny random-weight
models of each architecture we run (gemma3, llama, qwen2, qwen3), with F32 and Q8_0 matrices.

A developer script, not run in CI; needs `llama-cpp-python`, `gguf` and `numpy`.

    python tests/conformance/llamacpp/make_synthetic_golden.py tests/data/golden/synthetic_logits.json

The weights are not random numbers but a hash of (tensor name, element index), computed in
float32, so tests/unit/synthetic_model.h rebuilds bit-identical models in C and the models need
not be committed. Keep the two in step: SPECS, the hash, the scales and the tensor list.
"""
import json
import os
import sys
import tempfile

import gguf
import llama_cpp
import numpy as np

# name, arch, n_layer, sliding window, rope base, linear RoPE factor (0: none), rope_freqs
# tensor (Llama 3 style divisors; hash values in [1, 8]); shared widths below.
SPECS = [
    ("gemma3", "gemma3", 7, 4, 1000000.0, 0.0, False),
    ("llama", "llama", 2, 0, 10000.0, 0.0, False),
    ("qwen2", "qwen2", 2, 0, 1000000.0, 0.0, False),
    ("qwen3", "qwen3", 2, 0, 1000000.0, 0.0, False),
    ("gemma3_linear", "gemma3", 7, 4, 1000000.0, 8.0, False),
    ("llama_freqs", "llama", 2, 0, 500000.0, 0.0, True),
]
N_VOCAB, N_EMBD, N_HEAD, N_HEAD_KV, HEAD_DIM, N_FF = 64, 64, 4, 2, 16, 96
TOKENS = [1, 7, 22, 3, 45, 13, 60, 8, 31, 2, 17, 40]
MATRIX_TYPES = [("f32", gguf.GGMLQuantizationType.F32), ("q8_0", gguf.GGMLQuantizationType.Q8_0)]


def fnv1a(text):
    h = 2166136261
    for byte in text.encode():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def hash32(x):
    """lowbias32 on a uint32 numpy array."""
    x = x.astype(np.uint64)
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def values(name, n, scale, offset):
    """float32(offset) + float32((h % 2001) - 1000) * (float32(scale) / 1000), as in C."""
    j = np.arange(n, dtype=np.uint64)
    h = hash32((fnv1a(name) + j * 0x9E3779B9) & 0xFFFFFFFF)
    ints = (h % 2001).astype(np.int64) - 1000
    step = np.float32(scale) / np.float32(1000)
    return (np.float32(offset) + ints.astype(np.float32) * step).astype(np.float32)


def tensors(arch, n_layer, rope_freqs):
    """(name, n_rows, row_elems, is_vector, scale, offset) in the order C writes them."""
    q_rows, kv_rows = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM
    out = [("token_embd.weight", N_VOCAB, N_EMBD, False, 1.0, 0.0),
           ("output_norm.weight", 1, N_EMBD, True, 0.1, 1.0)]
    if rope_freqs:
        out.append(("rope_freqs.weight", 1, HEAD_DIM // 2, True, 3.5, 4.5))
    w = 1.0 / np.sqrt(N_EMBD)
    for l in range(n_layer):
        p = f"blk.{l}."
        out += [(p + "attn_norm.weight", 1, N_EMBD, True, 0.1, 1.0),
                (p + "attn_q.weight", q_rows, N_EMBD, False, w, 0.0),
                (p + "attn_k.weight", kv_rows, N_EMBD, False, w, 0.0),
                (p + "attn_v.weight", kv_rows, N_EMBD, False, w, 0.0),
                (p + "attn_output.weight", N_EMBD, q_rows, False, 1.0 / np.sqrt(q_rows), 0.0)]
        if arch == "qwen2":
            out += [(p + "attn_q.bias", 1, q_rows, True, 0.1, 0.0),
                    (p + "attn_k.bias", 1, kv_rows, True, 0.1, 0.0),
                    (p + "attn_v.bias", 1, kv_rows, True, 0.1, 0.0)]
        if arch in ("gemma3", "qwen3"):
            out += [(p + "attn_q_norm.weight", 1, HEAD_DIM, True, 0.1, 1.0),
                    (p + "attn_k_norm.weight", 1, HEAD_DIM, True, 0.1, 1.0)]
        out += [(p + "ffn_norm.weight", 1, N_EMBD, True, 0.1, 1.0),
                (p + "ffn_gate.weight", N_FF, N_EMBD, False, w, 0.0),
                (p + "ffn_up.weight", N_FF, N_EMBD, False, w, 0.0),
                (p + "ffn_down.weight", N_EMBD, N_FF, False, 1.0 / np.sqrt(N_FF), 0.0)]
        if arch == "gemma3":
            out += [(p + "post_attention_norm.weight", 1, N_EMBD, True, 0.1, 1.0),
                    (p + "post_ffw_norm.weight", 1, N_EMBD, True, 0.1, 1.0)]
    return out


def write_model(path, arch, n_layer, window, rope_base, linear, rope_freqs, matrix_type):
    w = gguf.GGUFWriter(path, arch)
    w.add_context_length(4096)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    if window:
        w.add_sliding_window(window)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(rope_base)
    if linear:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(linear)
    # A minimal SentencePiece vocabulary: llama.cpp needs one to run; tinfer ignores it.
    w.add_tokenizer_model("llama")
    w.add_token_list([f"<t{i}>" for i in range(N_VOCAB)])
    w.add_token_scores([0.0] * N_VOCAB)
    w.add_token_types([1] * N_VOCAB)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for name, rows, cols, is_vector, scale, offset in tensors(arch, n_layer, rope_freqs):
        data = values(name, rows * cols, scale, offset)
        if is_vector:
            w.add_tensor(name, data)
        elif matrix_type == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, data.reshape(rows, cols))
        else:
            q = gguf.quants.quantize(data.reshape(rows, cols), matrix_type)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=matrix_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def run_llamacpp(path):
    # F32 K/V so that the comparison is not dominated by the cache's float16 rounding.
    llm = llama_cpp.Llama(path, n_ctx=64, n_batch=64, logits_all=True, verbose=False,
                          type_k=0, type_v=0, n_threads=os.cpu_count())
    llm.eval(TOKENS)
    return np.array(llm.scores[:len(TOKENS)], dtype=np.float32)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch, n_layer, window, rope_base, linear, rope_freqs in SPECS:
            for type_name, qtype in MATRIX_TYPES:
                path = os.path.join(tmp, f"{name}_{type_name}.gguf")
                write_model(path, arch, n_layer, window, rope_base, linear, rope_freqs, qtype)
                logits = run_llamacpp(path)
                models.append({"name": name, "arch": arch, "n_layer": n_layer,
                               "sliding_window": window, "rope_freq_base": rope_base,
                               "rope_scaling_linear": linear, "rope_freqs": rope_freqs,
                               "matrix_type": type_name,
                               "logits": [[round(float(v), 5) for v in row] for row in logits]})
                print(name, type_name, "logit range", float(logits.min()), float(logits.max()))
    golden = {"reference": "llama.cpp via llama-cpp-python " + llama_cpp.__version__,
              "settings": "F32 K/V cache, no flash attention, all tokens as one batch",
              "n_vocab": N_VOCAB, "n_embd": N_EMBD, "n_head": N_HEAD, "n_head_kv": N_HEAD_KV,
              "head_dim": HEAD_DIM, "n_ff": N_FF, "tokens": TOKENS, "models": models}
    with open(sys.argv[1], "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
