"""Model: weights, hyper-parameters, metadata and tensors of a GGUF / safetensors / HF model."""

from __future__ import annotations

import ctypes
import os
import weakref
from dataclasses import dataclass
from typing import (Any, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple,
                    Union, overload)

from tinfer import _capi
from tinfer._handle import Handle, Owner
from tinfer._util import PathLike, path_bytes, read_text_bytes, to_text
from tinfer.errors import Status, check, check_path
from tinfer.tokenizer import Message, Tokenizer

_META = _capi.ENUMS["tinfer_meta_type"]
_INT_TYPES = {_META[k] for k in ("META_U8", "META_I8", "META_U16", "META_I16", "META_U32",
                                 "META_I32", "META_U64", "META_I64")}
_FLOAT_TYPES = {_META["META_F32"], _META["META_F64"]}
_FORMATS = {v: k[len("FORMAT_"):].lower() for k, v in _capi.ENUMS["tinfer_file_format"].items()}


@dataclass(frozen=True)
class ModelInfo:
    """Architecture and hyper-parameters (tinfer_model_info); a model lacking one gives 0."""

    architecture: str
    name: str
    format: str  # "gguf" or "safetensors"
    gguf_version: int
    n_tensors: int
    n_params: int
    weight_bytes: int
    n_vocab: int
    n_ctx_train: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    head_dim_v: int
    n_ff: int
    sliding_window: int
    rms_norm_eps: float
    rope_freq_base: float
    rope_freq_base_local: float


@dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor table; shape is row-major, outermost first (as NumPy)."""

    name: str
    dtype: str
    shape: Tuple[int, ...]
    n_elements: int
    n_bytes: int
    file_offset: int


class Metadata(Mapping[str, Any]):
    """The model's metadata as a read-only mapping: key → str, int, float, bool, or a list
    (arrays; elements as text for strings and nested arrays, numbers as numbers)."""

    def __init__(self, model: "Model") -> None:
        self._model = model

    def __len__(self) -> int:
        return int(_capi.api().tinfer_model_meta_count(self._model._ptr()))

    def __iter__(self) -> Iterator[str]:
        api = _capi.api()
        for i in range(len(self)):
            key = api.tinfer_model_meta_key(self._model._ptr(), i)
            if key is not None:
                yield to_text(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._index(key) is not None

    def _index(self, key: str) -> Optional[int]:
        index = ctypes.c_size_t(0)
        status = _capi.api().tinfer_model_meta_find(self._model._ptr(), key.encode(),
                                                    ctypes.byref(index))
        if status == Status.E_NOT_FOUND:
            return None
        check(status)
        return index.value

    def __getitem__(self, key: str) -> Any:
        index = self._index(key)
        if index is None:
            raise KeyError(key)
        return self._value(key, index)

    def _types(self, index: int) -> Tuple[int, int, int]:
        kind, elem, count = ctypes.c_int(), ctypes.c_int(), ctypes.c_uint64()
        check(_capi.api().tinfer_model_meta_type(self._model._ptr(), index, ctypes.byref(kind),
                                                 ctypes.byref(elem), ctypes.byref(count)))
        return kind.value, elem.value, count.value

    def _value(self, key: str, index: int) -> Any:
        api = _capi.api()
        ptr = self._model._ptr()
        kind, elem, count = self._types(index)
        if kind == _META["META_STRING"]:
            return to_text(api.tinfer_model_meta_str(ptr, key.encode()) or b"")
        if kind == _META["META_BOOL"] or kind in _INT_TYPES:
            value = ctypes.c_int64()
            status = api.tinfer_model_meta_int(ptr, key.encode(), ctypes.byref(value))
            if status == Status.E_TYPE:  # a u64 above int64's range: exact through its text
                return int(self.format(key))
            check(status)
            return bool(value.value) if kind == _META["META_BOOL"] else value.value
        if kind in _FLOAT_TYPES:
            real = ctypes.c_double()
            check(api.tinfer_model_meta_float(ptr, key.encode(), ctypes.byref(real)))
            return real.value
        return [_parse_elem(self._elem(index, j), elem) for j in range(count)]

    def _elem(self, index: int, j: int) -> str:
        api = _capi.api()
        ptr = self._model._ptr()
        return to_text(read_text_bytes(
            lambda buf, cap, n: api.tinfer_model_meta_array_elem(ptr, index, j, buf, cap,
                                                                 ctypes.byref(n)), 64))

    def get_int(self, key: str) -> int:
        """An integer or bool value as int: NotFoundError when absent, TypeMismatchError when
        it is not an integer or does not fit in int64."""
        value = ctypes.c_int64()
        check(_capi.api().tinfer_model_meta_int(self._model._ptr(), key.encode(),
                                                ctypes.byref(value)))
        return value.value

    def get_float(self, key: str) -> float:
        """A number as float (integers converted): NotFoundError when absent,
        TypeMismatchError when it is not a number."""
        value = ctypes.c_double()
        check(_capi.api().tinfer_model_meta_float(self._model._ptr(), key.encode(),
                                                  ctypes.byref(value)))
        return value.value

    def format(self, key: str, max_elems: int = 16) -> str:
        """The entry as the library renders it (arrays longer than max_elems shortened)."""
        index = self._index(key)
        if index is None:
            raise KeyError(key)
        api = _capi.api()
        ptr = self._model._ptr()
        return to_text(read_text_bytes(
            lambda buf, cap, n: api.tinfer_model_meta_format(ptr, index, max_elems, buf, cap,
                                                             ctypes.byref(n))))


def _parse_elem(text: str, elem_type: int) -> Any:
    if elem_type == _META["META_BOOL"]:
        return text == "true"
    if elem_type in _INT_TYPES:
        return int(text)
    if elem_type in _FLOAT_TYPES:
        return float(text)
    return text


class Model(Owner):
    """A loaded model. `with tinfer.Model(path) as model: ...` frees it at the end.

    Immutable: one model may be used from any number of threads, and shared by any number of
    contexts. Its tokenizer and contexts keep its C object alive after close()."""

    _kind = "model"

    def __init__(self, path: PathLike, *, use_mmap: bool = True) -> None:
        """Loads a .gguf file, a .safetensors file, or a Hugging Face directory. use_mmap=False
        reads the files into memory instead of mapping them."""
        api = _capi.api()
        params = _capi.ModelParams()
        api.tinfer_model_params_init(ctypes.byref(params), ctypes.sizeof(params))
        params.use_mmap = use_mmap
        out = _capi.model_p()
        check_path(api.tinfer_model_load(path_bytes(path), ctypes.byref(params),
                                         ctypes.sizeof(params), ctypes.byref(out)), path)
        self._own(Handle(out, api.tinfer_model_free, self._kind))
        self.path = os.fspath(path)
        # weak, so close() frees the model at once when nobody kept its tokenizer
        self._tokenizer: "Optional[weakref.ref[Tokenizer]]" = None

    @property
    def info(self) -> ModelInfo:
        """Architecture and hyper-parameters."""
        raw = _capi.ModelInfo()
        check(_capi.api().tinfer_model_get_info(self._ptr(), ctypes.byref(raw),
                                                ctypes.sizeof(raw)))
        values: Dict[str, Any] = {}
        for field in _capi.ModelInfo._fields_:
            value = getattr(raw, field[0])
            values[field[0]] = to_text(value) if isinstance(value, bytes) else value
        values["architecture"] = values["architecture"] or ""
        values["name"] = values["name"] or ""
        values["format"] = _FORMATS.get(raw.format, str(raw.format))
        return ModelInfo(**values)

    @property
    def metadata(self) -> Metadata:
        """Metadata key → value (GGUF key names, also for safetensors / config.json)."""
        return Metadata(self)

    @property
    def tensors(self) -> List[TensorInfo]:
        """Every tensor of the model, in table order."""
        api = _capi.api()
        ptr = self._ptr()
        result = []
        for i in range(int(api.tinfer_model_tensor_count(ptr))):
            raw = _capi.TensorInfo()
            check(api.tinfer_model_tensor(ptr, i, ctypes.byref(raw), ctypes.sizeof(raw)))
            dtype = api.tinfer_dtype_name(raw.dtype)
            result.append(TensorInfo(
                name=to_text(raw.name or b""),
                dtype=to_text(dtype) if dtype else str(raw.dtype),
                shape=tuple(raw.shape[: raw.n_dims]),
                n_elements=raw.n_elements, n_bytes=raw.n_bytes, file_offset=raw.file_offset))
        return result

    @property
    def tokenizer(self) -> Optional[Tokenizer]:
        """The tokenizer that came with the model, or None. It keeps the model alive."""
        model_ptr = self._ptr()
        tokenizer = self._tokenizer() if self._tokenizer is not None else None
        if tokenizer is None or tokenizer.closed:
            ptr = _capi.api().tinfer_model_tokenizer(model_ptr)
            if not ptr:
                return None
            tokenizer = Tokenizer(Handle(ptr, None, "tokenizer", parents=[self._handle]))
            self._tokenizer = weakref.ref(tokenizer)
        return tokenizer

    @overload
    def generate(self, prompt: str, *, max_tokens: Optional[int] = ..., chat: bool = ...,
                 stream: Literal[True] = ..., **sampling: Any) -> Iterator[str]: ...

    @overload
    def generate(self, prompt: str, *, max_tokens: Optional[int] = ..., chat: bool = ...,
                 stream: Literal[False], **sampling: Any) -> str: ...

    def generate(self, prompt: str, *, max_tokens: Optional[int] = 128, chat: bool = False,
                 stream: bool = True, **sampling: Any) -> Union[Iterator[str], str]:
        """Generates text after `prompt`: an iterator of text pieces (stream=True) or the whole
        text. chat=True wraps the prompt as one user turn of the model's chat template.
        Stops at an end-of-generation token or after max_tokens (None: when the context is
        full). sampling: Sampler's keywords (temperature=0 is greedy), plus n_ctx for the
        context's size. Needs a library with the context API."""
        from tinfer.generate import generate

        pieces = generate(self, prompt, max_tokens=max_tokens, chat=chat, **sampling)
        return pieces if stream else "".join(pieces)

    @property
    def name(self) -> str:
        """The name completions report as "model": the file (or directory) name it came from."""
        return os.path.basename(os.path.normpath(self.path))

    @overload
    def chat(self, messages: Sequence[Message], *, stream: Literal[False] = ...,
             **options: Any) -> Dict[str, Any]: ...

    @overload
    def chat(self, messages: Sequence[Message], *, stream: Literal[True],
             **options: Any) -> Iterator[Dict[str, Any]]: ...

    def chat(self, messages: Sequence[Message], *, max_tokens: Optional[int] = None,
             temperature: Optional[float] = None, top_p: Optional[float] = None,
             top_k: Optional[int] = None, seed: Optional[int] = None,
             stop: "Union[str, Sequence[str], None]" = None, stream: bool = False,
             n_ctx: Optional[int] = None,
             **sampling: Any) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """The assistant's reply to a conversation, as an OpenAI chat completion.

        messages: [{"role": "system" | "user" | "assistant", "content": str}, ...] (or
        (role, content) pairs), rendered by the model's own chat template in the C library
        (UnsupportedError for a model without a recognised one). Returns
        {"id", "object": "chat.completion", "created", "model", "choices": [{"index": 0,
        "message": {"role": "assistant", "content"}, "logprobs": None, "finish_reason"}],
        "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}. With stream=True,
        an iterator of "chat.completion.chunk" dicts: the first delta {"role": "assistant",
        "content": ""}, then {"content": text} pieces, then an empty delta with the
        finish_reason (and usage).

        finish_reason is "stop" at an end-of-generation token (EOS, end of turn) or a stop
        string, "length" after max_tokens tokens (None: until the context is full). stop: a
        string or a list of them; the text ends just before the first one (which is not
        returned), also when it spans tokens. temperature (0 = greedy), top_p, top_k, seed and
        Sampler's other keywords (min_p, repeat_penalty, ...) choose the sampling; None keeps
        the library's defaults. n_ctx sizes the context (default: prompt + max_tokens, or
        4096 more than the prompt, within the model's training length). completion_tokens
        counts the tokens sampled, the end-of-generation token excepted.

        logprobs=True (with top_logprobs=n, 0..20) fills "logprobs" as OpenAI does:
        {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob",
        "bytes"}]}]} (per chunk when streamed), the log-probabilities of the model's own
        distribution (log softmax of the raw logits, before bias, penalties, filters and
        temperature; tinfer_sampler_logprobs). logit_bias={token id: amount} is added to those
        logits before sampling (-inf bans a token). seed=tinfer.SEED_RANDOM draws a seed from
        the operating system."""
        from tinfer.completion import chat_completion

        return chat_completion(self, messages, max_tokens=max_tokens, temperature=temperature,
                               top_p=top_p, top_k=top_k, seed=seed, stop=stop, stream=stream,
                               n_ctx=n_ctx, **sampling)

    create_chat_completion = chat  # the name llama-cpp-python and OpenAI's client use

    @overload
    def complete(self, prompt: str, *, stream: Literal[False] = ...,
                 **options: Any) -> Dict[str, Any]: ...

    @overload
    def complete(self, prompt: str, *, stream: Literal[True],
                 **options: Any) -> Iterator[Dict[str, Any]]: ...

    def complete(self, prompt: str, *, max_tokens: Optional[int] = 16,
                 temperature: Optional[float] = None, top_p: Optional[float] = None,
                 top_k: Optional[int] = None, seed: Optional[int] = None,
                 stop: "Union[str, Sequence[str], None]" = None, stream: bool = False,
                 n_ctx: Optional[int] = None,
                 **sampling: Any) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """The continuation of plain text, as an OpenAI text completion: {"id", "object":
        "text_completion", "created", "model", "choices": [{"index": 0, "text", "logprobs":
        None, "finish_reason"}], "usage"}; with stream=True an iterator of dicts of the same
        shape, each with a piece of the text, the last with the finish_reason (and usage).
        The prompt is tokenized as Tokenizer.encode does by default (BOS added as the model
        says). Options as chat(); max_tokens defaults to 16 as OpenAI's. With logprobs (True,
        or an int n as the legacy API: n top tokens), "logprobs" is {"tokens",
        "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}."""
        from tinfer.completion import text_completion

        return text_completion(self, prompt, max_tokens=max_tokens, temperature=temperature,
                               top_p=top_p, top_k=top_k, seed=seed, stop=stop, stream=stream,
                               n_ctx=n_ctx, **sampling)

    create_completion = complete

    def __repr__(self) -> str:
        if self.closed:
            return "<tinfer.Model closed>"
        info = self.info
        return f"<tinfer.Model {info.architecture} {info.n_layer} layers, {info.n_params} params>"

