"""Sampler: picks the next token from a row of logits (penalties → top-k → top-p → min-p →
temperature → draw), the same chain and random numbers as the C library's."""

from __future__ import annotations

import ctypes
from typing import Any, Dict, List, Optional, Sequence, Union

from tinfer import _capi
from tinfer._handle import Handle, Owner
from tinfer._util import as_int32
from tinfer.errors import check

try:
    import numpy as _np_module

    _np: Any = _np_module
except ImportError:  # NumPy is optional
    _np = None

Logits = Union[Sequence[float], memoryview, Any]  # also a NumPy float32 array
_PARAM_NAMES = [field[0] for field in _capi.SamplerParams._fields_]


def _default_struct() -> _capi.SamplerParams:
    raw = _capi.SamplerParams()
    _capi.api().tinfer_sampler_params_init(ctypes.byref(raw), ctypes.sizeof(raw))
    return raw


def default_params() -> Dict[str, Any]:
    """The library's defaults (llama.cpp's common ones): temperature 0.8, top_k 40, …"""
    raw = _default_struct()
    return {name: getattr(raw, name) for name in _PARAM_NAMES}


def _params(overrides: Dict[str, Any]) -> _capi.SamplerParams:
    unknown = set(overrides) - set(_PARAM_NAMES)
    if unknown:
        raise TypeError(f"unknown sampler parameter(s): {', '.join(sorted(unknown))} "
                        f"(known: {', '.join(_PARAM_NAMES)})")
    raw = _default_struct()
    for name, value in overrides.items():
        if value is not None:
            setattr(raw, name, value)
    return raw


def _create(params: _capi.SamplerParams, n_vocab: int) -> Any:
    out = _capi.sampler_p()
    check(_capi.api().tinfer_sampler_create(ctypes.byref(params), ctypes.sizeof(params), n_vocab,
                                            ctypes.byref(out)))
    return out


def _float_pointer(logits: Logits) -> "tuple[Any, int, Any]":
    """(pointer to n float32, n, object that keeps the memory alive)."""
    if _np is not None and isinstance(logits, _np.ndarray):
        array = _np.ascontiguousarray(logits, dtype=_np.float32)
        if array.ndim != 1:
            raise ValueError(f"logits must be one row, got shape {array.shape}")
        return array.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), array.shape[0], array
    if isinstance(logits, memoryview) and logits.format == "f" and logits.c_contiguous:
        n = logits.nbytes // 4
        buffer = (ctypes.c_float * n).from_buffer_copy(logits) if logits.readonly else \
            (ctypes.c_float * n).from_buffer(logits)
        return buffer, n, buffer
    values = list(logits)
    buffer = (ctypes.c_float * len(values))(*values)
    return buffer, len(values), buffer


class Sampler(Owner):
    """Sampler(n_vocab=None, *, temperature=0.8, top_k=40, top_p=0.95, min_p=0.05,
    repeat_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0, penalty_last_n=64, seed=0)

    temperature=0 is greedy. Every parameter is checked at once (InvalidArgumentError names a
    bad one). With n_vocab=None the C sampler is made at the first sample(), for the length of
    that row. One thread at a time."""

    _kind = "sampler"

    def __init__(self, n_vocab: Optional[int] = None, **params: Any) -> None:
        self._params = _params(params)
        self._pending: List[int] = []
        self._closed_unstarted = False
        api = _capi.api()
        if n_vocab is None:
            api.tinfer_sampler_free(_create(self._params, 1))  # checks the parameters now
            self._n_vocab: Optional[int] = None
        else:
            self._start(int(n_vocab))

    def _start(self, n_vocab: int) -> None:
        if self._closed_unstarted:
            raise ValueError("operation on a closed sampler")
        api = _capi.api()
        self._own(Handle(_create(self._params, n_vocab), api.tinfer_sampler_free, self._kind))
        self._n_vocab = n_vocab
        if getattr(self, "_bias", None):
            self.set_logit_bias(dict(self._bias))
        pending, self._pending = self._pending, []
        for token in pending:
            self.accept(token)

    @property
    def closed(self) -> bool:
        if self._n_vocab is None:
            return self._closed_unstarted
        return super().closed

    def close(self) -> None:
        if self._n_vocab is None:
            self._closed_unstarted = True
        super().close()

    @property
    def params(self) -> Dict[str, Any]:
        """The parameters in effect (defaults filled in)."""
        return {name: getattr(self._params, name) for name in _PARAM_NAMES}

    @property
    def n_vocab(self) -> Optional[int]:
        """Length of the logits rows, None until the first sample() when not given."""
        return self._n_vocab

    def accept(self, token: int) -> None:
        """Adds token to the history the repetition penalties look at."""
        token = as_int32(token)
        if self._n_vocab is None:
            if self._closed_unstarted:
                raise ValueError("operation on a closed sampler")
            self._pending.append(token)
            return
        check(_capi.api().tinfer_sampler_accept(self._ptr(), token))

    def sample(self, logits: Logits) -> int:
        """The next token for one row of logits (NumPy array, float memoryview or a sequence of
        floats; not modified)."""
        pointer, n, keep = _float_pointer(logits)
        if self._n_vocab is None:
            self._start(n)
        out = ctypes.c_int32()
        check(_capi.api().tinfer_sampler_sample(self._ptr(), pointer, n, ctypes.byref(out)))
        del keep
        return int(out.value)

    # ---- 0.3 sampler additions: seed in use, logit bias ----
    @property
    def seed(self) -> Optional[int]:
        """The seed the random numbers start from: the one given, or the one drawn from the
        operating system for seed=SEED_RANDOM (None until the sampler exists, for n_vocab=None).
        Passing it back as seed repeats the run."""
        if self._n_vocab is None:
            given = int(self._params.seed)
            return None if given == _capi.SEED_RANDOM else given
        return int(_capi.api().function("tinfer_sampler_get_seed")(self._ptr()))

    def set_logit_bias(self, bias: "Optional[Dict[int, float]]") -> None:
        """Replaces the logit bias: {token: amount added to its logit before the penalties}
        (-inf bans the token); None or {} removes it. Checked by the library (a token outside
        the vocabulary or a NaN amount raises InvalidArgumentError, keeping the previous
        bias)."""
        items = sorted((bias or {}).items())
        self._bias = items
        if self._n_vocab is None:
            return
        tokens = (ctypes.c_int32 * len(items))(*[as_int32(t) for t, _ in items])
        amounts = (ctypes.c_float * len(items))(*[float(b) for _, b in items])
        check(_capi.api().function("tinfer_sampler_set_logit_bias")(
            self._ptr(), tokens, amounts, len(items)))
    # ---- end of the 0.3 sampler additions ----

    def reset(self) -> None:
        """Forgets the history and restarts the random numbers from the seed."""
        if self._n_vocab is None:
            self._pending.clear()
            return
        _capi.api().tinfer_sampler_reset(self._ptr())

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in self.params.items())
        return f"<tinfer.Sampler {shown}>"


# ---- 0.3: log-probabilities of a row of logits (tinfer_sampler_logprobs) ----
SEED_RANDOM = _capi.SEED_RANDOM


def logprobs(logits: Logits, token: Optional[int] = None,
             top: int = 0) -> "tuple[Optional[float], List[tuple[int, float]]]":
    """(log-probability of token or None, [(token, logprob)] of the `top` most probable tokens,
    most probable first): log softmax of the raw logits, the model's distribution before any
    bias, penalty, filter or temperature (as OpenAI and llama-cpp-python report)."""
    if int(top) < 0:
        raise ValueError(f"top = {top} is negative")
    pointer, n, keep = _float_pointer(logits)
    top_array = (_capi.TokenLogprob * max(int(top), 1))()
    chosen = ctypes.c_float()
    check(_capi.api().function("tinfer_sampler_logprobs")(
        pointer, n, as_int32(token if token is not None else 0), int(top), top_array,
        ctypes.byref(chosen) if token is not None else None))
    del keep
    return (float(chosen.value) if token is not None else None,
            [(int(top_array[i].token), float(top_array[i].logprob)) for i in range(int(top))])
