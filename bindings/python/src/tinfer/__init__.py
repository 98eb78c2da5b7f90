"""tinfer: Python binding of libtinfer (LLM inference in C), through ctypes — nothing to compile.

    import tinfer
    with tinfer.Model("gemma-3-270m-q4_k_m.gguf") as model:
        print(model.tokenizer.encode("Hello"))
        for piece in model.generate("The capital of France is", max_tokens=16, temperature=0):
            print(piece, end="")
        reply = model.chat([{"role": "user", "content": "Hi!"}], max_tokens=32, stop=["."])
        print(reply["choices"][0]["message"]["content"])

The shared library is found through TINFER_LIBRARY, then a copy next to this package, then the
system loader (see tinfer._loader). Every library failure raises a TinferError subclass that
carries the C status and message.
"""

from tinfer import _capi
from tinfer._version import __version__
from tinfer._capi import TOKENIZE_ADD_SPECIAL, TOKENIZE_PARSE_SPECIAL, DETOKENIZE_SKIP_SPECIAL
from tinfer.errors import (
    AbortedError,
    BufferTooSmallError,
    ContextFullError,
    DeviceError,
    FeatureUnavailableError,
    FormatError,
    InvalidArgumentError,
    NotFoundError,
    OutOfMemoryError,
    Status,
    TinferError,
    TinferFileNotFoundError,
    TinferIOError,
    TypeMismatchError,
    UnsupportedError,
)
from tinfer.model import Metadata, Model, ModelInfo, TensorInfo
from tinfer.tokenizer import DetokStream, Tokenizer
from tinfer.sampler import SEED_RANDOM, Sampler
from tinfer.context import Context, has_context_api

_api = _capi.api()  # loads the library now, so a missing one (or another ABI) fails at import


def version() -> str:
    """Version of the loaded C library ("MAJOR.MINOR.PATCH")."""
    return str(_api.tinfer_version_string().decode())


def version_number() -> int:
    """Version of the loaded C library as MAJOR*10000 + MINOR*100 + PATCH."""
    return int(_api.tinfer_version_number())


def library_path() -> str:
    """Where the loaded libtinfer came from."""
    return _api.path


def has_cuda() -> bool:
    """True when the loaded library was built with the CUDA backend."""
    return bool(_api.tinfer_has_cuda())


def cpu_kernels() -> str:
    """The CPU kernel build new contexts use: "avx512", "x86-64-v3" or "generic" (the fastest this
    CPU supports unless TINFER_CPU=generic|avx2|avx512 or TINFER_FORCE_GENERIC=1 says otherwise);
    all give bit-identical results."""
    return str(_api.tinfer_cpu_kernels().decode())


def cuda_device_count() -> int:
    """CUDA devices usable now (0 without a GPU or CUDA support)."""
    return int(_api.tinfer_cuda_device_count())


def status_name(status: int) -> str:
    """The C name of a status ("TINFER_E_FORMAT")."""
    return str(_api.tinfer_status_str(int(status)).decode())


def dtype_name(dtype: int) -> "str | None":
    """The name of a tensor element type id ("Q4_K"), or None for an unknown id."""
    raw = _api.tinfer_dtype_name(int(dtype))
    return raw.decode() if raw else None


__all__ = [
    "AbortedError", "BufferTooSmallError", "ContextFullError", "Context", "DETOKENIZE_SKIP_SPECIAL",
    "DetokStream", "DeviceError", "FeatureUnavailableError", "FormatError",
    "InvalidArgumentError", "Metadata", "Model", "ModelInfo", "NotFoundError", "OutOfMemoryError",
    "SEED_RANDOM", "Sampler", "Status", "TOKENIZE_ADD_SPECIAL", "TOKENIZE_PARSE_SPECIAL",
    "TensorInfo",
    "TinferError", "TinferFileNotFoundError", "TinferIOError", "Tokenizer", "TypeMismatchError",
    "UnsupportedError",
    "cpu_kernels", "cuda_device_count", "dtype_name", "has_context_api", "has_cuda", "library_path",
    "status_name", "version", "version_number",
]
