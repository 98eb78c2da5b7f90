"""Every failure maps to its TinferError subclass, with the C status and the library's message.
Each status the library can be made to return from here is triggered for real; E_NOMEM,
E_BUFFER_TOO_SMALL (the binding sizes its buffers) and E_DEVICE (CUDA) are checked through the
mapping alone."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

import tinfer
from tinfer import _capi
from tinfer.errors import ERROR_CLASSES, error_for
from conftest import TOKENIZER_DATA, require_context_api


def expect(exc_class, status, fragment, call):
    with pytest.raises(exc_class) as caught:
        call()
    err = caught.value
    assert isinstance(err, tinfer.TinferError)
    assert err.status == status and isinstance(err.status, tinfer.Status)
    assert fragment in err.message, err.message
    assert str(err).startswith(f"TINFER_{status.name}: ")
    return err


def test_every_status_has_its_own_class():
    S = tinfer.Status
    assert set(ERROR_CLASSES) == set(S) - {S.OK}
    assert len(set(ERROR_CLASSES.values())) == len(ERROR_CLASSES)
    for status, cls in ERROR_CLASSES.items():
        err = error_for(int(status), "detail")
        assert type(err) is cls and err.status is status and err.message == "detail"
        assert tinfer.status_name(status) == f"TINFER_{status.name}"
    unknown = error_for(99, "odd")
    assert type(unknown) is tinfer.TinferError and unknown.status == 99
    assert tinfer.status_name(99) == "TINFER_E_UNKNOWN"
    # Python's own families, so generic handlers work too
    assert issubclass(tinfer.InvalidArgumentError, ValueError)
    assert issubclass(tinfer.NotFoundError, LookupError)
    assert issubclass(tinfer.OutOfMemoryError, MemoryError)
    assert issubclass(tinfer.TypeMismatchError, TypeError)


def test_model_load_errors(tmp_path: Path):
    S = tinfer.Status
    expect(tinfer.TinferIOError, S.E_IO, "No such file",
           lambda: tinfer.Model(tmp_path / "absent.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all")
    expect(tinfer.FormatError, S.E_FORMAT, "GGUF", lambda: tinfer.Model(junk))
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16)
    expect(tinfer.FormatError, S.E_FORMAT, "", lambda: tinfer.Model(truncated))
    expect(tinfer.TinferIOError, S.E_IO, "config.json", lambda: tinfer.Model(tmp_path))


def test_unsupported_architecture_and_tokenizer(tmp_path: Path, tiny_model_path: Path):
    from gguf import GGUFWriter
    import numpy as np

    path = tmp_path / "odd.gguf"
    writer = GGUFWriter(str(path), "mamba9")
    writer.add_tokenizer_model("wordpiece")
    writer.add_token_list(["a", "b"])
    writer.add_tensor("token_embd.weight", np.zeros((2, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    S = tinfer.Status
    expect(tinfer.UnsupportedError, S.E_UNSUPPORTED, "wordpiece",
           lambda: tinfer.Tokenizer.load(path))
    try:
        model = tinfer.Model(path)
    except tinfer.UnsupportedError:
        return  # a library that refuses the tokenizer already at load: also the right class
    with model:
        if tinfer.has_context_api():
            expect(tinfer.UnsupportedError, S.E_UNSUPPORTED, "mamba9",
                   lambda: tinfer.Context(model))


def test_metadata_errors(tiny_model_path: Path):
    S = tinfer.Status
    with tinfer.Model(tiny_model_path) as model:
        meta = model.metadata
        expect(tinfer.NotFoundError, S.E_NOT_FOUND, "nope", lambda: meta.get_int("nope"))
        expect(tinfer.TypeMismatchError, S.E_TYPE, "general.name",
               lambda: meta.get_int("general.name"))
        expect(tinfer.TypeMismatchError, S.E_TYPE, "general.name",
               lambda: meta.get_float("general.name"))
        with pytest.raises(KeyError):
            meta["nope"]
        assert meta.get_int("llama.block_count") == 2


def test_tokenizer_errors(tiny_model_path: Path):
    S = tinfer.Status
    expect(tinfer.TinferIOError, S.E_IO, "absent",
           lambda: tinfer.Tokenizer.load(tiny_model_path.parent / "absent"))
    with tinfer.Model(tiny_model_path) as model:
        tok = model.tokenizer
        expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "100000",
               lambda: tok.decode([100000]))
        expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "", lambda: tok.token_piece(-1))
        # wider than int32: refused by the binding before ctypes could wrap it
        expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "int32",
               lambda: tok.decode([2**32 + 5]))
        expect(tinfer.UnsupportedError, S.E_UNSUPPORTED, "chat template",
               lambda: tok.apply_chat_template([("user", "hi")]))
    with tinfer.Tokenizer.load(TOKENIZER_DATA / "qwen3") as qwen:
        expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "robot",
               lambda: qwen.apply_chat_template([("robot", "hi")]))
        assert qwen.pad is not None or qwen.pad is None  # property works either way
    with pytest.raises(UnicodeEncodeError):
        tinfer.Tokenizer.load(TOKENIZER_DATA / "qwen3").encode("lone \ud800 surrogate")


def test_sampler_errors():
    S = tinfer.Status
    expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "temperature",
           lambda: tinfer.Sampler(temperature=-1.0))
    expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "top_p",
           lambda: tinfer.Sampler(8, top_p=float("nan")))
    expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "",
           lambda: tinfer.Sampler(4).sample([float("-inf")] * 4))
    expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "",
           lambda: tinfer.Sampler(4).sample([0.0] * 5))
    expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "",
           lambda: tinfer.Sampler(4).accept(4))
    with pytest.raises(TypeError, match="top_q"):
        tinfer.Sampler(top_q=0.5)


def test_context_errors(tiny_model_path: Path):
    require_context_api()
    S = tinfer.Status
    with tinfer.Model(tiny_model_path) as model:
        expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "n_ctx",
               lambda: tinfer.Context(model, n_ctx=0))
        expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "",
               lambda: tinfer.Context(model, n_ctx=2**24, n_seq_max=4096))
        with pytest.raises(ValueError, match="kv_dtype"):
            tinfer.Context(model, kv_dtype="q8")
        with pytest.raises(ValueError, match="head_sum"):
            tinfer.Context(model, head_sum="approximate")
        with pytest.raises(ValueError, match="prompt_sum"):
            tinfer.Context(model, prompt_sum="approximate")
        with tinfer.Context(model, n_ctx=4, n_seq_max=2) as ctx:
            expect(tinfer.ContextFullError, S.E_CONTEXT_FULL, "n_ctx",
                   lambda: ctx.prefill([1, 5, 6, 7, 8]))
            assert ctx.kv_len(0) == 0  # a failed step leaves the cache as it was
            expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "100000",
                   lambda: ctx.prefill([100000]))
            expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "seq",
                   lambda: ctx.kv_len(2))
            expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "",
                   lambda: ctx.decode([1, 1], [0, 0]))
            expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "",
                   lambda: ctx.kv_truncate(0, 3))
            expect(tinfer.InvalidArgumentError, S.E_INVALID_ARG, "",
                   lambda: ctx.prefill([]))
            with pytest.raises(ValueError, match="no logits"):
                ctx.logits(0)
            ctx.prefill([1, 5, 6])
            expect(tinfer.ContextFullError, S.E_CONTEXT_FULL, "",
                   lambda: ctx.prefill([7, 8]))
            assert ctx.kv_len(0) == 3


def test_closed_objects_raise_value_error(tiny_model_path: Path):
    model = tinfer.Model(tiny_model_path)
    model.close()
    model.close()  # idempotent
    assert model.closed
    with pytest.raises(ValueError, match="closed model"):
        model.info
    with pytest.raises(ValueError, match="closed model"):
        model.tokenizer
    tokenizer = tinfer.Tokenizer.load(TOKENIZER_DATA / "llama3")
    tokenizer.close()
    with pytest.raises(ValueError, match="closed tokenizer"):
        tokenizer.encode("x")
    sampler = tinfer.Sampler()
    sampler.close()
    with pytest.raises(ValueError, match="closed sampler"):
        sampler.sample([1.0, 2.0])


def test_message_is_the_failing_threads_last_error(tiny_model_path: Path):
    with pytest.raises(tinfer.TinferIOError) as caught:
        tinfer.Model(tiny_model_path.parent / "gone.gguf")
    assert caught.value.message == _capi.api().tinfer_last_error().decode()
    # a later successful call clears nothing the exception already holds
    with tinfer.Model(tiny_model_path):
        pass
    assert "gone.gguf" in caught.value.message


def test_missing_function_raises_feature_unavailable(monkeypatch):
    api = _capi.api()
    monkeypatch.setattr(api, "missing", api.missing + ["tinfer_context_create"])
    with pytest.raises(tinfer.FeatureUnavailableError, match="tinfer_context_create") as caught:
        api.function("tinfer_context_create")
    assert isinstance(caught.value, NotImplementedError)
    assert not tinfer.has_context_api()


def test_out_of_range_uint32_parameters_are_refused(tiny_model_path: Path):
    require_context_api()
    with tinfer.Model(tiny_model_path) as model:
        with pytest.raises(ValueError, match="n_ctx"):
            tinfer.Context(model, n_ctx=2**32)
        with pytest.raises(ValueError, match="n_ctx"):
            tinfer.Context(model, n_ctx=-1)


def test_argtypes_refuse_wrong_python_types():
    api = _capi.api()
    with pytest.raises(ctypes.ArgumentError):
        api.tinfer_model_load("a str, not bytes", None, 0, None)


def test_io_errors_are_oserrors_and_a_missing_path_is_file_not_found(tmp_path: Path):
    """A missing model or tokenizer path gives TINFER_E_IO whose message carries ENOENT's text
    ("cannot open: No such file or directory" from the mapped-file reader, "no such file or
    directory" from the tokenizer loader): the binding raises TinferFileNotFoundError, which is
    a TinferIOError, a FileNotFoundError and an OSError, with errno and filename set."""
    import errno

    S = tinfer.Status
    missing = tmp_path / "absent.gguf"
    for call in (lambda: tinfer.Model(missing), lambda: tinfer.Tokenizer.load(missing)):
        with pytest.raises(FileNotFoundError) as caught:
            call()
        err = caught.value
        assert isinstance(err, tinfer.TinferFileNotFoundError)
        assert isinstance(err, tinfer.TinferIOError) and isinstance(err, OSError)
        assert err.status == S.E_IO and err.errno == errno.ENOENT
        assert err.filename == str(missing) and str(missing) in err.message
        assert str(err).startswith("TINFER_E_IO: ")  # not OSError's "[Errno 2] ..."
    # E_IO for a path that exists: an OSError, not FileNotFoundError
    with pytest.raises(OSError) as caught:
        tinfer.Model(tmp_path)  # a directory without config.json
    err = caught.value
    assert type(err) is tinfer.TinferIOError and not isinstance(err, FileNotFoundError)
    assert err.errno is None and err.filename == str(tmp_path)
    # every E_IO is catchable as OSError, also one made from a status alone
    assert isinstance(error_for(int(S.E_IO), "disk on fire"), OSError)
    assert type(error_for(int(S.E_IO), "x: cannot open: No such file or directory")) is \
        tinfer.TinferFileNotFoundError
