#!/usr/bin/env python3
"""Random-weight GGUF models shaped like real small models, for benchmarks/compare_llamacpp.py.

The default model (Gemma 3 270M) spends most of a decode step in its 262k-row output head, so
speed figures on it alone say little about the layers. These two files have the shapes of models
people run — the weights are random (normal, σ 0.02), so their text is noise, but every matrix,
cache row and head costs what it costs in the real model:

  qwen2.5-0.5b-shape: qwen2, 24 layers, n_embd 896, 14 heads / 2 KV heads of 64, n_ff 4864,
                      vocabulary 151,936, tied output head, Q/K/V biases (Qwen2.5-0.5B);
  smollm2-360m-shape: llama, 32 layers, n_embd 960, 15 heads / 5 KV heads of 64, n_ff 2560,
                      vocabulary 49,152, tied output head (SmolLM2-360M).

Each is written in F16 by gguf-py, then quantized by llama.cpp itself (llama_model_quantize, its
usual mixes, not `pure`) to Q4_K_M and Q8_0, as a user's files would be:

    /work/llama-venv/bin/pip install gguf      # once: llama-cpp-python's venv, plus gguf-py
    /work/llama-venv/bin/python benchmarks/make_shaped_models.py models/shaped
    .venv/bin/python benchmarks/compare_llamacpp.py -m models/shaped/qwen2.5-0.5b-shape-q4_k_m.gguf

A developer script (minutes, about 1 GB of temporary disk); the files are not committed.
"""
import ctypes
import os
import sys
from collections import namedtuple

import gguf
import llama_cpp
import numpy as np

Shape = namedtuple("Shape", "name arch n_layer n_embd n_head n_head_kv head_dim n_ff n_vocab "
                            "rope_base biases")
SHAPES = [
    Shape("qwen2.5-0.5b-shape", "qwen2", 24, 896, 14, 2, 64, 4864, 151936, 1000000.0, True),
    Shape("smollm2-360m-shape", "llama", 32, 960, 15, 5, 64, 2560, 49152, 100000.0, False),
]
QUANTS = [("q4_k_m", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M), ("q8_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0)]
SIGMA = 0.02


def matrices(s):
    """(name, shape as [rows, cols] or [n]) in file order."""
    q, kv = s.n_head * s.head_dim, s.n_head_kv * s.head_dim
    out = [("token_embd.weight", [s.n_vocab, s.n_embd]), ("output_norm.weight", [s.n_embd])]
    for layer in range(s.n_layer):
        p = f"blk.{layer}."
        out += [(p + "attn_norm.weight", [s.n_embd]), (p + "attn_q.weight", [q, s.n_embd]),
                (p + "attn_k.weight", [kv, s.n_embd]), (p + "attn_v.weight", [kv, s.n_embd]),
                (p + "attn_output.weight", [s.n_embd, q])]
        if s.biases:
            out += [(p + "attn_q.bias", [q]), (p + "attn_k.bias", [kv]), (p + "attn_v.bias", [kv])]
        out += [(p + "ffn_norm.weight", [s.n_embd]), (p + "ffn_gate.weight", [s.n_ff, s.n_embd]),
                (p + "ffn_up.weight", [s.n_ff, s.n_embd]), (p + "ffn_down.weight", [s.n_embd, s.n_ff])]
    return out


def write_f16(path, s, rng):
    w = gguf.GGUFWriter(path, s.arch)
    w.add_name(s.name)
    w.add_context_length(32768)
    w.add_embedding_length(s.n_embd)
    w.add_block_count(s.n_layer)
    w.add_feed_forward_length(s.n_ff)
    w.add_head_count(s.n_head)
    w.add_head_count_kv(s.n_head_kv)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(s.rope_base)
    # A SentencePiece-style vocabulary of the right size: llama.cpp needs one to load the file;
    # the benchmark feeds token ids, never text.
    w.add_tokenizer_model("llama")
    w.add_token_list([f"<t{i}>" for i in range(s.n_vocab)])
    w.add_token_scores([0.0] * s.n_vocab)
    w.add_token_types([1] * s.n_vocab)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    for name, shape in matrices(s):
        if name.endswith("norm.weight"):
            data = np.ones(shape, dtype=np.float32)  # norms stay F32, as converters write them
        elif len(shape) == 1:
            data = (rng.standard_normal(shape, dtype=np.float32) * SIGMA).astype(np.float32)
        else:
            data = (rng.standard_normal(shape, dtype=np.float32) * SIGMA).astype(np.float16)
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize(in_path, out_path, ftype):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = os.cpu_count() or 1
    if llama_cpp.llama_model_quantize(in_path.encode(), out_path.encode(), ctypes.byref(params)):
        sys.exit(f"make_shaped_models: llama_model_quantize failed for {out_path}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20261206)
    for s in SHAPES:
        f16 = os.path.join(out_dir, f"{s.name}-f16.gguf")
        write_f16(f16, s, rng)
        for label, ftype in QUANTS:
            out = os.path.join(out_dir, f"{s.name}-{label}.gguf")
            quantize(f16, out, ftype)
            print(f"make_shaped_models: wrote {out} ({os.path.getsize(out) / 2**20:.0f} MiB)")
        os.remove(f16)


if __name__ == "__main__":
    main()
