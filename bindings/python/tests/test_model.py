"""Model, metadata and tensors through the binding, compared with what gguf-py's GGUFReader
(an independent reader) sees in the same file; and the library lookup order."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader

import tinfer
from conftest import HERE
from tiny_model import N_CTX_TRAIN, N_EMBD, N_FF, N_HEAD, N_HEAD_KV, N_LAYER


def test_info_of_the_tiny_model(tiny_model_path: Path):
    with tinfer.Model(tiny_model_path, use_mmap=False) as model:
        info = model.info
        assert (info.architecture, info.name, info.format) == ("llama", "tiny test llama", "gguf")
        assert (info.n_layer, info.n_embd, info.n_head, info.n_head_kv, info.n_ff) == (
            N_LAYER, N_EMBD, N_HEAD, N_HEAD_KV, N_FF)
        assert info.n_ctx_train == N_CTX_TRAIN and info.gguf_version == 3
        assert info.n_vocab == model.tokenizer.n_vocab == 272
        assert abs(info.rms_norm_eps - 1e-5) < 1e-9 and info.rope_freq_base == 10000.0


def test_metadata_and_tensors_equal_gguf_py(tiny_model_path: Path):
    reader = GGUFReader(str(tiny_model_path))
    with tinfer.Model(tiny_model_path) as model:
        meta = model.metadata
        keys = [k for k in reader.fields if not k.startswith("GGUF.")]
        assert list(meta) == keys and len(meta) == len(keys)
        assert meta["general.architecture"] == "llama"
        assert meta["llama.block_count"] == N_LAYER
        assert meta["tokenizer.ggml.add_bos_token"] is True
        assert meta["tokenizer.ggml.tokens"][:4] == ["<unk>", "<s>", "</s>", "<0x00>"]
        assert meta["tokenizer.ggml.scores"][-1] == -12.0
        assert "llama.block_count" in meta and "nope" not in meta
        assert meta.format("general.architecture") == '"llama"' or "llama" in \
            meta.format("general.architecture")
        tensors = model.tensors
        assert [t.name for t in tensors] == [t.name for t in reader.tensors]
        for ours, theirs in zip(tensors, reader.tensors):
            assert ours.shape == tuple(int(d) for d in reversed(theirs.shape))
            assert ours.dtype == "F32" and ours.n_bytes == theirs.n_bytes
            assert ours.n_elements == theirs.n_elements
            assert ours.file_offset == theirs.data_offset


def test_default_model_info(default_model: tinfer.Model):
    info = default_model.info
    assert info.architecture == "gemma3" and info.n_layer == 18 and info.n_tensors == 236
    assert info.n_vocab == 262144 == default_model.tokenizer.n_vocab
    assert default_model.metadata["gemma3.context_length"] == info.n_ctx_train
    assert "Q4_K" in {t.dtype for t in default_model.tensors}
    assert "gemma3" in repr(default_model)


def test_library_functions():
    assert tinfer.dtype_name(12) == "Q4_K" and tinfer.dtype_name(5) is None
    assert isinstance(tinfer.has_cuda(), bool) and tinfer.cuda_device_count() >= 0
    defaults = tinfer.sampler.default_params()
    assert defaults["top_k"] == 40 and tinfer.Sampler(top_k=3).params["top_k"] == 3


def run_import(env_changes: dict, cwd: Path, package_root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TINFER_LIBRARY", "LD_LIBRARY_PATH")}
    env.update(env_changes)
    env["PYTHONPATH"] = str(package_root)
    return subprocess.run([sys.executable, "-c", "import tinfer; print(tinfer.library_path())"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_lookup_order(tmp_path: Path):
    library = Path(tinfer.library_path()).resolve()
    package = tmp_path / "site"
    shutil.copytree(HERE.parent / "src" / "tinfer", package / "tinfer",
                    ignore=shutil.ignore_patterns("__pycache__", "libtinfer*"))
    # nothing anywhere: ImportError that says what to set
    result = run_import({}, tmp_path, package)
    assert result.returncode != 0 and "TINFER_LIBRARY" in result.stderr
    assert "ImportError" in result.stderr
    # through the system loader (LD_LIBRARY_PATH)
    result = run_import({"LD_LIBRARY_PATH": str(library.parent)}, tmp_path, package)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("libtinfer.so.0", "libtinfer.so") or \
        "libtinfer" in result.stdout
    # a copy next to the package wins over the system loader
    shutil.copy(library, package / "tinfer" / "libtinfer.so.0")
    result = run_import({"LD_LIBRARY_PATH": str(library.parent)}, tmp_path, package)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(package / "tinfer" / "libtinfer.so.0")
    # TINFER_LIBRARY wins over both, and a wrong one is reported, not skipped
    result = run_import({"TINFER_LIBRARY": str(library)}, tmp_path, package)
    assert result.stdout.strip() == str(library)
    result = run_import({"TINFER_LIBRARY": str(tmp_path / "nope.so")}, tmp_path, package)
    assert result.returncode != 0 and "nope.so" in result.stderr
    assert "TINFER_LIBRARY" in result.stderr
    gc.collect()


def test_logits_memoryview_without_numpy(tiny_model_path: Path, tmp_path: Path):
    """With NumPy unavailable Context.logits() is a read-only memoryview of floats."""
    if not tinfer.has_context_api():
        pytest.skip("the library lacks the context API")
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import tinfer\n"
        f"m = tinfer.Model({str(tiny_model_path)!r})\n"
        "c = tinfer.Context(m, n_ctx=8); c.prefill([1, 260])\n"
        "v = c.logits(); assert isinstance(v, memoryview) and v.readonly and v.format == 'f'\n"
        "assert len(v) == c.n_vocab\n"
        "t = tinfer.Sampler(temperature=0).sample(v)\n"
        "assert t == max(range(len(v)), key=lambda i: (v[i], -i)), t\n"
        "print('ok')\n")
    env = dict(os.environ, TINFER_LIBRARY=tinfer.library_path(),
               PYTHONPATH=str(HERE.parent / "src"))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
    assert np is not None


def test_hugging_face_directory(tmp_path: Path):
    """A config.json + model.safetensors directory (written with the PyPI safetensors package)
    loads into the same info, with the tokenizer.json next to it."""
    import zstandard
    from safetensors.numpy import save_file

    from conftest import TOKENIZER_DATA

    n_vocab = 128256  # the llama3 tokenizer's vocabulary
    width, layers, heads, kv_heads, ff = 16, 1, 2, 1, 32
    head_dim = width // heads
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
              "hidden_size": width, "num_hidden_layers": layers, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "intermediate_size": ff, "vocab_size": n_vocab,
              "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
              "tie_word_embeddings": True, "torch_dtype": "float16"}
    (tmp_path / "config.json").write_text(__import__("json").dumps(config))
    rng = np.random.default_rng(3)

    def m(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * 0.1).astype(np.float16)

    tensors = {"model.embed_tokens.weight": m(n_vocab, width),
               "model.norm.weight": np.ones(width, dtype=np.float16)}
    for layer in range(layers):
        p = f"model.layers.{layer}."
        tensors.update({
            p + "input_layernorm.weight": np.ones(width, dtype=np.float16),
            p + "post_attention_layernorm.weight": np.ones(width, dtype=np.float16),
            p + "self_attn.q_proj.weight": m(heads * head_dim, width),
            p + "self_attn.k_proj.weight": m(kv_heads * head_dim, width),
            p + "self_attn.v_proj.weight": m(kv_heads * head_dim, width),
            p + "self_attn.o_proj.weight": m(width, heads * head_dim),
            p + "mlp.gate_proj.weight": m(ff, width),
            p + "mlp.up_proj.weight": m(ff, width),
            p + "mlp.down_proj.weight": m(width, ff)})
    save_file(tensors, str(tmp_path / "model.safetensors"))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        packed = (TOKENIZER_DATA / "llama3" / f"{name}.zst").read_bytes()
        (tmp_path / name).write_bytes(
            zstandard.ZstdDecompressor().decompress(packed, max_output_size=1 << 28))
    with tinfer.Model(tmp_path) as model:
        info = model.info
        assert (info.format, info.architecture, info.n_layer, info.n_embd) == (
            "safetensors", "llama", layers, width)
        assert info.gguf_version == 0 and info.n_tensors == len(tensors)
        assert model.metadata["llama.embedding_length"] == width
        assert {t.name for t in model.tensors} == set(tensors)
        with tinfer.Tokenizer.load(TOKENIZER_DATA / "llama3") as alone:
            assert model.tokenizer.encode("Hello, world") == alone.encode("Hello, world")
        assert model.tokenizer.n_vocab == n_vocab
        if tinfer.has_context_api():
            with tinfer.Context(model, n_ctx=8) as context:
                context.prefill(model.tokenizer.encode("Hello"))
                assert np.isfinite(context.logits()).all()
