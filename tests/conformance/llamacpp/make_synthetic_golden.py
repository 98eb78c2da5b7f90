#!/usr/bin/env python3
"""Regenerates tests/data/golden/synthetic_logits.json: llama.cpp's logits for tiny random-weight
models of each architecture we run (gemma3, llama, qwen2, qwen3), in every weight dtype tinfer
supports, and the k-quant models under tests/data/synthetic/.

A developer script, not run in CI; needs `llama-cpp-python`, `gguf` and `numpy`.

    python tests/conformance/llamacpp/make_synthetic_golden.py tests/data/golden/synthetic_logits.json

The weights are not random numbers but a hash of (tensor name, element index), computed in
float32, and the matrices are stored in F32, F16, BF16 or quantized by gguf-py (Q4_0, Q4_1,
Q5_0, Q5_1, Q8_0), so tests/unit/synthetic_model.h rebuilds bit-identical models in C and these
models need not be committed (the JSON records a hash of each one's tensor data, which the test
checks). Keep the two in step: SPECS, the hash, the scales, the tensor list and the quantizers.

gguf-py cannot write k-quants (Q2_K..Q6_K), and their quantizers are too intricate to copy into
the test, so for those one llama model with 256-wide rows (the k-quant block) is written in F32,
quantized by llama.cpp itself (llama_model_quantize, `pure`: every matrix, token_embd included,
in the one type; 1-D tensors stay F32) and committed under tests/data/synthetic/.
"""
import ctypes
import json
import os
import sys
import tempfile
from collections import namedtuple

import gguf
import llama_cpp
import numpy as np

T = gguf.GGMLQuantizationType
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

Dims = namedtuple("Dims", "n_vocab n_embd n_head n_head_kv head_dim n_ff")
DIMS = Dims(n_vocab=64, n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=96)
# The k-quant model: every row a multiple of 256 (n_embd, n_head · head_dim, n_ff). One layer
# keeps the five committed files at about 1.2 MB; each more layer would add about 1.1 MB.
KQ_DIMS = Dims(n_vocab=64, n_embd=256, n_head=4, n_head_kv=2, head_dim=64, n_ff=256)

# Matrix dtypes that gguf-py writes and synthetic_model.h reproduces byte for byte.
F32_Q8_0 = [("f32", T.F32), ("q8_0", T.Q8_0)]
LEGACY_TYPES = [("f32", T.F32), ("f16", T.F16), ("bf16", T.BF16), ("q4_0", T.Q4_0),
                ("q4_1", T.Q4_1), ("q5_0", T.Q5_0), ("q5_1", T.Q5_1), ("q8_0", T.Q8_0)]
# k-quant dtype -> the llama_ftype whose default type it is (with `pure`, the only type used).
KQUANT_FTYPES = [("q2_k", T.Q2_K, llama_cpp.LLAMA_FTYPE_MOSTLY_Q2_K),
                 ("q3_k", T.Q3_K, llama_cpp.LLAMA_FTYPE_MOSTLY_Q3_K_S),
                 ("q4_k", T.Q4_K, llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_S),
                 ("q5_k", T.Q5_K, llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_S),
                 ("q6_k", T.Q6_K, llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K)]

# name, arch, n_layer, sliding window, rope base, linear RoPE factor (0: none), rope_freqs
# tensor (Llama 3 style divisors; hash values in [1, 8]), matrix dtypes. The RoPE variants test
# positions, not weights: F32 and Q8_0 are enough for them.
SPECS = [
    ("gemma3", "gemma3", 7, 4, 1000000.0, 0.0, False, LEGACY_TYPES),
    ("llama", "llama", 2, 0, 10000.0, 0.0, False, LEGACY_TYPES),
    ("qwen2", "qwen2", 2, 0, 1000000.0, 0.0, False, LEGACY_TYPES),
    ("qwen3", "qwen3", 2, 0, 1000000.0, 0.0, False, LEGACY_TYPES),
    ("gemma3_linear", "gemma3", 7, 4, 1000000.0, 8.0, False, F32_Q8_0),
    ("llama_freqs", "llama", 2, 0, 500000.0, 0.0, True, F32_Q8_0),
]
KQ_SPEC = ("llama_kq", "llama", 1, 0, 10000.0, 0.0, False)
TOKENS = [1, 7, 22, 3, 45, 13, 60, 8, 31, 2, 17, 40]


def fnv1a(data):
    h = 2166136261
    for byte in data.encode() if isinstance(data, str) else data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def data_fnv1a(path):
    """FNV-1a of the file's data section: synthetic_model.h's rebuild must give the same bytes."""
    with open(path, "rb") as f:
        return fnv1a(f.read()[gguf.GGUFReader(path).data_offset:])


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


def tensors(dims, arch, n_layer, rope_freqs):
    """(name, n_rows, row_elems, is_vector, scale, offset) in the order C writes them."""
    q_rows, kv_rows = dims.n_head * dims.head_dim, dims.n_head_kv * dims.head_dim
    n_embd, n_ff = dims.n_embd, dims.n_ff
    out = [("token_embd.weight", dims.n_vocab, n_embd, False, 1.0, 0.0),
           ("output_norm.weight", 1, n_embd, True, 0.1, 1.0)]
    if rope_freqs:
        out.append(("rope_freqs.weight", 1, dims.head_dim // 2, True, 3.5, 4.5))
    w = 1.0 / np.sqrt(n_embd)
    for l in range(n_layer):
        p = f"blk.{l}."
        out += [(p + "attn_norm.weight", 1, n_embd, True, 0.1, 1.0),
                (p + "attn_q.weight", q_rows, n_embd, False, w, 0.0),
                (p + "attn_k.weight", kv_rows, n_embd, False, w, 0.0),
                (p + "attn_v.weight", kv_rows, n_embd, False, w, 0.0),
                (p + "attn_output.weight", n_embd, q_rows, False, 1.0 / np.sqrt(q_rows), 0.0)]
        if arch == "qwen2":
            out += [(p + "attn_q.bias", 1, q_rows, True, 0.1, 0.0),
                    (p + "attn_k.bias", 1, kv_rows, True, 0.1, 0.0),
                    (p + "attn_v.bias", 1, kv_rows, True, 0.1, 0.0)]
        if arch in ("gemma3", "qwen3"):
            out += [(p + "attn_q_norm.weight", 1, dims.head_dim, True, 0.1, 1.0),
                    (p + "attn_k_norm.weight", 1, dims.head_dim, True, 0.1, 1.0)]
        out += [(p + "ffn_norm.weight", 1, n_embd, True, 0.1, 1.0),
                (p + "ffn_gate.weight", n_ff, n_embd, False, w, 0.0),
                (p + "ffn_up.weight", n_ff, n_embd, False, w, 0.0),
                (p + "ffn_down.weight", n_embd, n_ff, False, 1.0 / np.sqrt(n_ff), 0.0)]
        if arch == "gemma3":
            out += [(p + "post_attention_norm.weight", 1, n_embd, True, 0.1, 1.0),
                    (p + "post_ffw_norm.weight", 1, n_embd, True, 0.1, 1.0)]
    return out


def write_model(path, dims, arch, n_layer, window, rope_base, linear, rope_freqs, matrix_type):
    w = gguf.GGUFWriter(path, arch)
    w.add_context_length(4096)
    w.add_embedding_length(dims.n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(dims.n_ff)
    w.add_head_count(dims.n_head)
    w.add_head_count_kv(dims.n_head_kv)
    w.add_key_length(dims.head_dim)
    w.add_value_length(dims.head_dim)
    if window:
        w.add_sliding_window(window)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(rope_base)
    if linear:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(linear)
    # A minimal SentencePiece vocabulary: llama.cpp needs one to run; tinfer ignores it.
    w.add_tokenizer_model("llama")
    w.add_token_list([f"<t{i}>" for i in range(dims.n_vocab)])
    w.add_token_scores([0.0] * dims.n_vocab)
    w.add_token_types([1] * dims.n_vocab)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for name, rows, cols, is_vector, scale, offset in tensors(dims, arch, n_layer, rope_freqs):
        data = values(name, rows * cols, scale, offset)
        if is_vector:
            w.add_tensor(name, data)
        elif matrix_type == T.F32:
            w.add_tensor(name, data.reshape(rows, cols))
        else:
            q = gguf.quants.quantize(data.reshape(rows, cols), matrix_type)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=matrix_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize_with_llamacpp(in_path, out_path, ftype, expect_type):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.pure = True
    params.nthread = 1
    if llama_cpp.llama_model_quantize(in_path.encode(), out_path.encode(), ctypes.byref(params)):
        sys.exit(f"llama_model_quantize failed for {out_path}")
    for t in gguf.GGUFReader(out_path).tensors:
        want = T.F32 if len(t.shape) == 1 else expect_type
        if t.tensor_type != want:
            sys.exit(f"{out_path}: {t.name} is {t.tensor_type.name}, expected {want.name}")


def run_llamacpp(path):
    # F32 K/V so that the comparison is not dominated by the cache's float16 rounding.
    llm = llama_cpp.Llama(path, n_ctx=64, n_batch=64, logits_all=True, verbose=False,
                          type_k=0, type_v=0, n_threads=os.cpu_count())
    # One token per eval, as tinfer's test feeds them (tinfer_prefill of one token): llama.cpp's
    # float order in attention and the k-quant matmuls depends on the batch size, and single
    # tokens make the two engines' orders the same.
    for token in TOKENS:
        llm.eval([token])
    return np.array(llm.scores[:len(TOKENS)], dtype=np.float32)


def entry(name, arch, n_layer, window, rope_base, linear, rope_freqs, type_name, logits):
    print(name, type_name, "logit range", float(logits.min()), float(logits.max()))
    return {"name": name, "arch": arch, "n_layer": n_layer, "sliding_window": window,
            "rope_freq_base": rope_base, "rope_scaling_linear": linear, "rope_freqs": rope_freqs,
            "matrix_type": type_name,
            "logits": [[round(float(v), 5) for v in row] for row in logits]}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch, n_layer, window, rope_base, linear, rope_freqs, types in SPECS:
            for type_name, qtype in types:
                path = os.path.join(tmp, f"{name}_{type_name}.gguf")
                write_model(path, DIMS, arch, n_layer, window, rope_base, linear, rope_freqs,
                            qtype)
                e = entry(name, arch, n_layer, window, rope_base, linear, rope_freqs, type_name,
                          run_llamacpp(path))
                e["data_fnv1a"] = data_fnv1a(path)
                models.append(e)
        name, arch, n_layer, window, rope_base, linear, rope_freqs = KQ_SPEC
        f32_path = os.path.join(tmp, f"{name}_f32.gguf")
        write_model(f32_path, KQ_DIMS, arch, n_layer, window, rope_base, linear, rope_freqs, T.F32)
        for type_name, qtype, ftype in KQUANT_FTYPES:
            file = f"tests/data/synthetic/{name}_{type_name}.gguf"
            path = os.path.join(REPO, file)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            quantize_with_llamacpp(f32_path, path, ftype, qtype)
            e = entry(name, arch, n_layer, window, rope_base, linear, rope_freqs, type_name,
                      run_llamacpp(path))
            e.update(KQ_DIMS._asdict())
            e["file"] = file
            models.append(e)
    golden = {"reference": "llama.cpp via llama-cpp-python " + llama_cpp.__version__,
              "settings": "F32 K/V cache, no flash attention, one token per eval",
              **DIMS._asdict(), "tokens": TOKENS, "models": models}
    with open(sys.argv[1], "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
