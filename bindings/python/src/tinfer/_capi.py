"""The C ABI of libtinfer as ctypes sees it: every struct, enum value, flag and function of
include/tinfer/*.h, declared in this one module and nowhere else.

tests/test_header_coverage.py parses the headers and fails when a TINFER_API function is neither
in FUNCTIONS nor in NOT_BOUND, when a declaration here disagrees with the header (return type,
argument types, struct fields), or when an enum value or flag differs.

Functions the loaded library does not export (an older build, or one without the context API)
are left out of `lib`'s bound set and listed in MISSING; the Python classes that need them raise
FeatureUnavailableError with the function's name instead of failing at import.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
)
from typing import Any, Dict, List, Optional, Tuple

from tinfer._loader import load_library
from tinfer._version import __version__

# ---- enums: C enums are int-sized on every ABI we target, so they travel as c_int ----
c_enum = c_int

STATUS_VALUES = {
    "OK": 0,
    "E_INVALID_ARG": 1,
    "E_IO": 2,
    "E_FORMAT": 3,
    "E_UNSUPPORTED": 4,
    "E_NOMEM": 5,
    "E_BUFFER_TOO_SMALL": 6,
    "E_CONTEXT_FULL": 7,
    "E_DEVICE": 8,
    "E_NOT_FOUND": 9,
    "E_TYPE": 10,
    "E_ABORTED": 11,
}

# Every enum of the headers, by C type name: constant name (without TINFER_) → value.
ENUMS: Dict[str, Dict[str, int]] = {
    "tinfer_status": STATUS_VALUES,
    "tinfer_dtype": {
        "DTYPE_F32": 0, "DTYPE_F16": 1, "DTYPE_Q4_0": 2, "DTYPE_Q4_1": 3, "DTYPE_Q5_0": 6,
        "DTYPE_Q5_1": 7, "DTYPE_Q8_0": 8, "DTYPE_Q8_1": 9, "DTYPE_Q2_K": 10, "DTYPE_Q3_K": 11,
        "DTYPE_Q4_K": 12, "DTYPE_Q5_K": 13, "DTYPE_Q6_K": 14, "DTYPE_Q8_K": 15, "DTYPE_I8": 24,
        "DTYPE_I16": 25, "DTYPE_I32": 26, "DTYPE_I64": 27, "DTYPE_F64": 28, "DTYPE_BF16": 30,
    },
    "tinfer_file_format": {"FORMAT_GGUF": 1, "FORMAT_SAFETENSORS": 2},
    "tinfer_meta_type": {
        "META_U8": 0, "META_I8": 1, "META_U16": 2, "META_I16": 3, "META_U32": 4, "META_I32": 5,
        "META_F32": 6, "META_BOOL": 7, "META_STRING": 8, "META_ARRAY": 9, "META_U64": 10,
        "META_I64": 11, "META_F64": 12,
    },
    "tinfer_special_token": {"TOKEN_BOS": 0, "TOKEN_EOS": 1, "TOKEN_PAD": 2, "TOKEN_UNK": 3},
    "tinfer_kv_dtype": {"KV_F16": 0, "KV_F32": 1, "KV_Q8_0": 2},
    "tinfer_device_kind": {"DEVICE_CPU": 0, "DEVICE_CUDA": 1},
    "tinfer_head_sum": {"HEAD_SUM_EXACT": 0, "HEAD_SUM_FAST": 1},
    "tinfer_prompt_sum": {"PROMPT_SUM_EXACT": 0, "PROMPT_SUM_FAST": 1},
}

# The ABI this binding was written for: the header's version (tinfer/_version.py).
_VERSION_PARTS = [int(part) for part in __version__.split(".")]

# #define constants of the headers (without TINFER_), checked against them by the tests.
DEFINES: Dict[str, int] = {
    "VERSION_MAJOR": _VERSION_PARTS[0],
    "VERSION_MINOR": _VERSION_PARTS[1],
    "VERSION_PATCH": _VERSION_PARTS[2],
    "MAX_DIMS": 4,
    "TOKENIZE_ADD_SPECIAL": 0x1,
    "TOKENIZE_PARSE_SPECIAL": 0x2,
    "TOKENIZE_DEFAULT": 0x3,
    "DETOKENIZE_SKIP_SPECIAL": 0x1,
}
TOKENIZE_ADD_SPECIAL = DEFINES["TOKENIZE_ADD_SPECIAL"]
TOKENIZE_PARSE_SPECIAL = DEFINES["TOKENIZE_PARSE_SPECIAL"]
DETOKENIZE_SKIP_SPECIAL = DEFINES["DETOKENIZE_SKIP_SPECIAL"]
MAX_DIMS = DEFINES["MAX_DIMS"]


# ---- opaque handles: only ever seen through pointers ----
class Model(Structure):
    """struct tinfer_model (opaque)."""


class Tokenizer(Structure):
    """struct tinfer_tokenizer (opaque)."""


class DetokStream(Structure):
    """struct tinfer_detok_stream (opaque)."""


class Sampler(Structure):
    """struct tinfer_sampler (opaque)."""


class Context(Structure):
    """struct tinfer_context (opaque)."""


OPAQUE: Dict[str, type] = {
    "tinfer_model": Model,
    "tinfer_tokenizer": Tokenizer,
    "tinfer_detok_stream": DetokStream,
    "tinfer_sampler": Sampler,
    "tinfer_context": Context,
}

# Function-pointer types of the headers.
AbortFn = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p)
FUNCTION_POINTERS: Dict[str, type] = {"tinfer_abort_fn": AbortFn}


# ---- structs, field for field as in the headers. Params and info structs are passed with
# ctypes.sizeof of these classes, and chat messages with their stride, as C programs pass sizeof:
# a newer library keeps working with this binding's (older, smaller) structs. ----
class ModelParams(Structure):
    _fields_ = [("use_mmap", c_bool)]


class ModelInfo(Structure):
    _fields_ = [
        ("architecture", c_char_p),
        ("name", c_char_p),
        ("format", c_enum),
        ("gguf_version", c_uint32),
        ("n_tensors", c_uint64),
        ("n_params", c_uint64),
        ("weight_bytes", c_uint64),
        ("n_vocab", c_uint32),
        ("n_ctx_train", c_uint32),
        ("n_embd", c_uint32),
        ("n_layer", c_uint32),
        ("n_head", c_uint32),
        ("n_head_kv", c_uint32),
        ("head_dim", c_uint32),
        ("head_dim_v", c_uint32),
        ("n_ff", c_uint32),
        ("sliding_window", c_uint32),
        ("rms_norm_eps", c_float),
        ("rope_freq_base", c_float),
        ("rope_freq_base_local", c_float),
    ]


class TensorInfo(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("dtype", c_enum),
        ("n_dims", c_uint32),
        ("shape", c_int64 * MAX_DIMS),
        ("n_elements", c_uint64),
        ("n_bytes", c_uint64),
        ("file_offset", c_uint64),
        ("data", ctypes.c_void_p),
    ]


class ChatMsg(Structure):
    _fields_ = [("role", c_char_p), ("content", c_char_p)]


class SamplerParams(Structure):
    _fields_ = [
        ("temperature", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("min_p", c_float),
        ("repeat_penalty", c_float),
        ("presence_penalty", c_float),
        ("frequency_penalty", c_float),
        ("penalty_last_n", c_int32),
        ("seed", c_uint64),
    ]


class ContextParams(Structure):
    _fields_ = [
        ("n_ctx", c_uint32),
        ("n_seq_max", c_uint32),
        ("n_threads", c_uint32),
        ("kv_dtype", c_enum),
        ("n_batch", c_uint32),
        ("device", c_enum),
        ("device_index", c_int32),
        ("abort_callback", AbortFn),
        ("abort_user_data", ctypes.c_void_p),
        ("n_kv_tokens", c_uint32),  # 0.3 (KV forks)
        ("n_logits_max", c_uint32),  # 0.3 (scoring: tinfer_prefill_logits)
        ("head_sum", c_int),  # 0.3 (tinfer_head_sum)
        ("prefault", c_bool),  # 0.3 (memory resident from creation)
        ("prompt_sum", c_int),  # 0.3 (tinfer_prompt_sum)
    ]


class ContextInfo(Structure):
    _fields_ = [
        ("n_ctx", c_uint32),
        ("n_seq_max", c_uint32),
        ("n_batch", c_uint32),
        ("n_threads", c_uint32),
        ("device", c_enum),
        ("device_index", c_int32),
        ("kv_bytes", c_uint64),
        ("scratch_bytes", c_uint64),
        ("n_kv_tokens", c_uint32),  # 0.3 (KV forks)
    ]


class StepBytes(Structure):
    _fields_ = [
        ("weights", c_uint64),
        ("kv", c_uint64),
    ]


# ---- 0.3 scoring and sampler additions (logits of every token, logit bias, logprobs, seed) ----
class TokenLogprob(Structure):
    _fields_ = [("token", c_int32), ("logprob", c_float)]


# TINFER_SEED_RANDOM (UINT64_MAX in the header, so not in DEFINES' numeric table).
SEED_RANDOM = 2**64 - 1
SCORING_FUNCTIONS: Dict[str, Tuple[Any, List[Any]]] = {
    "tinfer_prefill_logits": (c_enum, [POINTER(Context), c_int32, POINTER(c_int32), c_size_t,
                                       POINTER(ctypes.c_uint8), POINTER(c_float), c_size_t]),
    "tinfer_sampler_get_seed": (c_uint64, [POINTER(Sampler)]),
    "tinfer_sampler_set_logit_bias": (c_enum, [POINTER(Sampler), POINTER(c_int32),
                                               POINTER(c_float), c_size_t]),
    "tinfer_sampler_logprobs": (c_enum, [POINTER(c_float), c_size_t, c_int32, c_size_t,
                                         POINTER(TokenLogprob), POINTER(c_float)]),
}
# ---- end of the 0.3 scoring block ----


STRUCTS: Dict[str, type] = {
    "tinfer_model_params": ModelParams,
    "tinfer_model_info": ModelInfo,
    "tinfer_tensor_info": TensorInfo,
    "tinfer_chat_msg": ChatMsg,
    "tinfer_sampler_params": SamplerParams,
    "tinfer_context_params": ContextParams,
    "tinfer_step_bytes": StepBytes,
    "tinfer_context_info": ContextInfo,
    "tinfer_token_logprob": TokenLogprob,  # 0.3 scoring block
}

P = POINTER
status = c_enum
size_p = P(c_size_t)
char_buf = P(c_char)  # a caller-owned output buffer (char *)
model_p = P(Model)
tokenizer_p = P(Tokenizer)
stream_p = P(DetokStream)
sampler_p = P(Sampler)
context_p = P(Context)

# name → (restype, argtypes). Grouped as the headers are.
FUNCTIONS: Dict[str, Tuple[Any, List[Any]]] = {
    # tinfer.h: version, status, dtype
    "tinfer_version_number": (c_int, []),
    "tinfer_version_string": (c_char_p, []),
    "tinfer_cpu_kernels": (c_char_p, []),
    "tinfer_status_str": (c_char_p, [status]),
    "tinfer_last_error": (c_char_p, []),
    "tinfer_dtype_name": (c_char_p, [c_enum]),
    # tinfer.h: model
    "tinfer_model_params_init": (None, [P(ModelParams), c_size_t]),
    "tinfer_model_load": (status, [c_char_p, P(ModelParams), c_size_t, P(model_p)]),
    "tinfer_model_free": (None, [model_p]),
    "tinfer_model_get_info": (status, [model_p, P(ModelInfo), c_size_t]),
    "tinfer_model_meta_count": (c_size_t, [model_p]),
    "tinfer_model_meta_key": (c_char_p, [model_p, c_size_t]),
    "tinfer_model_meta_find": (status, [model_p, c_char_p, size_p]),
    "tinfer_model_meta_type": (status, [model_p, c_size_t, P(c_enum), P(c_enum), P(c_uint64)]),
    "tinfer_model_meta_str": (c_char_p, [model_p, c_char_p]),
    "tinfer_model_meta_int": (status, [model_p, c_char_p, P(c_int64)]),
    "tinfer_model_meta_float": (status, [model_p, c_char_p, P(c_double)]),
    "tinfer_model_meta_array_elem": (
        status, [model_p, c_size_t, c_uint64, char_buf, c_size_t, size_p]),
    "tinfer_model_meta_format": (status, [model_p, c_size_t, c_size_t, char_buf, c_size_t, size_p]),
    "tinfer_model_tensor_count": (c_size_t, [model_p]),
    "tinfer_model_tensor": (status, [model_p, c_size_t, P(TensorInfo), c_size_t]),
    "tinfer_model_tensor_find": (status, [model_p, c_char_p, size_p]),
    # tinfer.h: backends
    "tinfer_has_cuda": (c_bool, []),
    "tinfer_cuda_device_count": (c_int, []),
    # tokenizer.h
    "tinfer_tokenizer_load": (status, [c_char_p, P(tokenizer_p)]),
    "tinfer_tokenizer_free": (None, [tokenizer_p]),
    "tinfer_model_tokenizer": (tokenizer_p, [model_p]),
    "tinfer_tokenizer_n_vocab": (c_size_t, [tokenizer_p]),
    "tinfer_tokenize_bound": (c_size_t, [tokenizer_p, c_size_t]),
    "tinfer_tokenize": (
        status, [tokenizer_p, c_char_p, c_size_t, c_uint32, P(c_int32), c_size_t, size_p]),
    "tinfer_detokenize": (
        status, [tokenizer_p, P(c_int32), c_size_t, c_uint32, char_buf, c_size_t, size_p]),
    "tinfer_token_piece": (status, [tokenizer_p, c_int32, char_buf, c_size_t, size_p]),
    "tinfer_tokenizer_special": (status, [tokenizer_p, c_enum, P(c_int32)]),
    "tinfer_tokenizer_is_eog": (c_bool, [tokenizer_p, c_int32]),
    "tinfer_detok_stream_create": (status, [tokenizer_p, c_uint32, P(stream_p)]),
    "tinfer_detok_stream_push": (status, [stream_p, c_int32, char_buf, c_size_t, size_p]),
    "tinfer_detok_stream_flush": (status, [stream_p, char_buf, c_size_t, size_p]),
    "tinfer_detok_stream_free": (None, [stream_p]),
    "tinfer_chat_apply": (
        status, [tokenizer_p, P(ChatMsg), c_size_t, c_size_t, c_bool, char_buf, c_size_t, size_p]),
    # sampler.h
    "tinfer_sampler_params_init": (None, [P(SamplerParams), c_size_t]),
    "tinfer_sampler_create": (status, [P(SamplerParams), c_size_t, c_size_t, P(sampler_p)]),
    "tinfer_sampler_accept": (status, [sampler_p, c_int32]),
    "tinfer_sampler_sample": (status, [sampler_p, P(c_float), c_size_t, P(c_int32)]),
    "tinfer_sampler_reset": (None, [sampler_p]),
    "tinfer_sampler_free": (None, [sampler_p]),
    # context.h
    "tinfer_context_params_init": (None, [P(ContextParams), c_size_t]),
    "tinfer_context_create": (status, [model_p, P(ContextParams), c_size_t, P(context_p)]),
    "tinfer_context_free": (None, [context_p]),
    "tinfer_prefill": (status, [context_p, c_int32, P(c_int32), c_size_t]),
    "tinfer_decode": (status, [context_p, P(c_int32), P(c_int32), c_size_t]),
    "tinfer_logits": (P(c_float), [context_p, c_int32]),
    "tinfer_context_n_vocab": (c_size_t, [context_p]),
    "tinfer_context_get_info": (status, [context_p, P(ContextInfo), c_size_t]),
    "tinfer_context_estimate": (status, [model_p, P(ContextParams), c_size_t, P(ContextInfo),
                                         c_size_t]),
    "tinfer_kv_seq_len": (status, [context_p, c_int32, size_p]),
    "tinfer_kv_seq_truncate": (status, [context_p, c_int32, c_size_t]),
    "tinfer_kv_seq_clear": (status, [context_p, c_int32]),
    # ---- KV forks (issue 14): begin ----
    "tinfer_kv_seq_copy": (status, [context_p, c_int32, c_int32]),
    "tinfer_kv_free_tokens": (status, [context_p, size_p]),
    # ---- KV forks: end ----
    # experimental.h (TINFER_EXPERIMENTAL): may change between minor versions
    "tinfer_kv_seq_fill_random": (status, [context_p, c_int32, c_size_t, c_uint64]),
    "tinfer_profile_begin": (status, [context_p]),
    "tinfer_profile_end": (status, [context_p, c_char_p, c_char_p]),
    "tinfer_context_step_bytes": (status, [context_p, c_size_t, P(StepBytes), c_size_t]),
    **SCORING_FUNCTIONS,  # 0.3 scoring block (above)
}

# The functions of include/tinfer/experimental.h: bound like the rest, but they may change between
# minor versions, so nothing of the package's own API is built on them.
EXPERIMENTAL = frozenset({"tinfer_kv_seq_fill_random", "tinfer_profile_begin",
                          "tinfer_profile_end", "tinfer_context_step_bytes"})

# TINFER_API functions deliberately without a binding, each with the reason. Empty today: every
# public function is bound. An entry here must name a function the headers declare.
NOT_BOUND: Dict[str, str] = {}

# Functions a usable library must export; the rest (the context API, added in 0.1 after the
# others) may be missing from an older build.
OPTIONAL_PREFIXES = ("tinfer_context_", "tinfer_prefill", "tinfer_decode", "tinfer_logits",
                     "tinfer_kv_", "tinfer_profile_")

# ---- snapshot.h (since 0.3): KV snapshots. One block, so other additions merge beside it. ----
class SnapshotParams(Structure):
    _fields_ = [("zstd_level", c_int32), ("include_logits", c_bool)]


STRUCTS["tinfer_snapshot_params"] = SnapshotParams
FUNCTIONS.update({
    "tinfer_snapshot_params_init": (None, [P(SnapshotParams), c_size_t]),
    "tinfer_snapshot_bound": (status, [context_p, c_int32, P(SnapshotParams), c_size_t, size_p]),
    "tinfer_snapshot_save": (status, [context_p, c_int32, P(SnapshotParams), c_size_t,
                                      ctypes.c_void_p, c_size_t, size_p]),
    "tinfer_snapshot_load": (status, [context_p, c_int32, ctypes.c_void_p, c_size_t]),
    "tinfer_snapshot_save_file": (status, [context_p, c_int32, P(SnapshotParams), c_size_t,
                                           c_char_p]),
    "tinfer_snapshot_load_file": (status, [context_p, c_int32, c_char_p]),
})
OPTIONAL_PREFIXES += ("tinfer_snapshot_",)  # a 0.2 library has none of them
# ---- end of snapshot.h ----


def _is_optional(name: str) -> bool:
    return name.startswith(OPTIONAL_PREFIXES)


class CApi:
    """The loaded library with every declared function bound as an attribute."""

    def __init__(self) -> None:
        self.cdll, self.path = load_library()
        self.missing: List[str] = []
        for name, (restype, argtypes) in FUNCTIONS.items():
            try:
                fn = getattr(self.cdll, name)
            except AttributeError:
                if not _is_optional(name):
                    raise ImportError(
                        f"tinfer: {self.path} does not export {name}: it is older than this "
                        "binding; rebuild libtinfer or point TINFER_LIBRARY at a newer build"
                    ) from None
                self.missing.append(name)
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

    def __getattr__(self, name: str) -> Any:
        """Only reached for a name that was not bound: a function the library lacks."""
        if name in FUNCTIONS:
            return self.function(name)
        raise AttributeError(name)

    def has(self, name: str) -> bool:
        """True when the loaded library exports the declared function `name`."""
        return name in FUNCTIONS and name not in self.missing

    def function(self, name: str) -> Any:
        """The bound function, or FeatureUnavailableError when the library lacks it."""
        if name not in FUNCTIONS or name in self.missing:
            from tinfer.errors import FeatureUnavailableError

            raise FeatureUnavailableError(
                f"{self.path} does not export {name}; build a libtinfer that has it"
            )
        return self.__dict__[name]


_api: Optional[CApi] = None


def api() -> CApi:
    """The process-wide CApi, loaded on first use."""
    global _api
    if _api is None:
        _api = CApi()
    return _api
