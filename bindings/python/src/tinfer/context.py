"""Context: the KV cache, scratch and logits of up to n_seq_max sequences over one model."""

from __future__ import annotations

import ctypes
import traceback
import threading
import weakref
from typing import Any, Callable, Dict, Optional, Sequence, Union

from tinfer import _capi
from tinfer._handle import Handle, Owner
from tinfer._util import as_int32, int32_array
from tinfer.errors import check
from tinfer.model import Model

try:
    import numpy as _np_module

    _np: Any = _np_module
except ImportError:  # NumPy is optional: logits() gives a memoryview then
    _np = None

_KV_DTYPES = {"f16": _capi.ENUMS["tinfer_kv_dtype"]["KV_F16"],
              "f32": _capi.ENUMS["tinfer_kv_dtype"]["KV_F32"],
              "q8_0": _capi.ENUMS["tinfer_kv_dtype"]["KV_Q8_0"]}
_HEAD_SUMS = {"exact": _capi.ENUMS["tinfer_head_sum"]["HEAD_SUM_EXACT"],
              "fast": _capi.ENUMS["tinfer_head_sum"]["HEAD_SUM_FAST"]}
_PROMPT_SUMS = {"exact": _capi.ENUMS["tinfer_prompt_sum"]["PROMPT_SUM_EXACT"],
                "fast": _capi.ENUMS["tinfer_prompt_sum"]["PROMPT_SUM_FAST"]}


def has_context_api() -> bool:
    """True when the loaded libtinfer exports the context API (tinfer_context_create …)."""
    api = _capi.api()
    return all(api.has(name) for name in _capi.FUNCTIONS if name.startswith(
        _capi.OPTIONAL_PREFIXES))


class Context(Owner):
    """Context(model, *, n_ctx=4096, n_seq_max=1, threads=0, kv_dtype="f16", n_batch=512,
    n_kv_tokens=0)

    The mutable half of inference. Sequences are numbered 0 .. n_seq_max-1; each holds up to
    n_ctx tokens. It keeps its model alive. n_kv_tokens sizes the cache's block pool, shared by
    all sequences and their forks (kv_copy); 0 = n_seq_max × n_ctx.

    Thread safety: the C context is one thread at a time, so every call into it holds this
    object's `lock` (a re-entrant lock): two threads using one Context take turns call by call.
    That keeps each sequence right when each thread drives its own sequence; a thread that
    needs several calls to happen together (decode, then read the logits before another thread
    decodes the same sequence) holds `with context.lock:` around them."""

    _kind = "context"

    def __init__(self, model: Model, *, n_ctx: Optional[int] = None,
                 n_seq_max: Optional[int] = None, threads: Optional[int] = None,
                 kv_dtype: Optional[str] = None, n_batch: Optional[int] = None,
                 abort: Optional[Callable[[], bool]] = None,
                 n_kv_tokens: Optional[int] = None,
                 logits_rows: Optional[int] = None,
                 head_sum: Optional[str] = None,
                 prefault: bool = False,
                 prompt_sum: Optional[str] = None) -> None:
        """abort: called between layers of every prefill and decode; returning True stops the
        step, which raises AbortedError and leaves the cache as it was. An exception raised
        inside it is printed and counts as False. logits_rows: rows of logits the output head
        computes at once (n_logits_max; default 8): more is faster for prefill_logits, each
        row takes n_vocab floats of scratch. head_sum: "exact" (default: llama.cpp's bits) or
        "fast" (TINFER_HEAD_SUM_FAST: logits within 1e-3, several sequences per step faster).
        prompt_sum: "exact" (default) or "fast" (TINFER_PROMPT_SUM_FAST: prefill over Q5_0 and
        Q8_0 matrices faster on x86-64-v3, other rounding within doc/architecture.md's bounds).
        prefault: make the context's memory (KV cache, scratch, logits rows) resident now,
        fixed from the start, rather than as steps first reach it."""
        api = _capi.api()
        create = api.function("tinfer_context_create")
        params = _capi.ContextParams()
        api.function("tinfer_context_params_init")(ctypes.byref(params), ctypes.sizeof(params))
        for field, value in (("n_ctx", n_ctx), ("n_seq_max", n_seq_max), ("n_threads", threads),
                             ("n_batch", n_batch), ("n_kv_tokens", n_kv_tokens),
                             ("n_logits_max", logits_rows)):
            if value is not None:
                setattr(params, field, _uint32(field, value))
        params.prefault = bool(prefault)
        if head_sum is not None:
            if head_sum not in _HEAD_SUMS:
                raise ValueError(f"head_sum must be one of {sorted(_HEAD_SUMS)}, not {head_sum!r}")
            params.head_sum = _HEAD_SUMS[head_sum]
        if prompt_sum is not None:
            if prompt_sum not in _PROMPT_SUMS:
                raise ValueError(
                    f"prompt_sum must be one of {sorted(_PROMPT_SUMS)}, not {prompt_sum!r}")
            params.prompt_sum = _PROMPT_SUMS[prompt_sum]
        if kv_dtype is not None:
            if kv_dtype not in _KV_DTYPES:
                raise ValueError(f"kv_dtype must be one of {sorted(_KV_DTYPES)}, not {kv_dtype!r}")
            params.kv_dtype = _KV_DTYPES[kv_dtype]
        # kept on the object: the C library calls it for as long as the context lives
        self._abort_fn = _capi.AbortFn(_abort_adapter(abort)) if abort else None
        if self._abort_fn:
            params.abort_callback = self._abort_fn
        self.lock = threading.RLock()
        out = _capi.context_p()
        check(create(model._ptr(), ctypes.byref(params), ctypes.sizeof(params), ctypes.byref(out)))
        self._own(Handle(out, api.tinfer_context_free, self._kind, parents=[model._handle]))
        self.model = model
        self.n_ctx = int(params.n_ctx)
        self.n_seq_max = int(params.n_seq_max)

    @property
    def info(self) -> Dict[str, int]:
        """n_ctx, n_seq_max, n_batch, n_threads, device, device_index, kv_bytes,
        scratch_bytes and n_kv_tokens (the block pool's size) of this context
        (tinfer_context_get_info)."""
        out = _capi.ContextInfo()
        with self.lock:
            check(_capi.api().function("tinfer_context_get_info")(
                self._ptr(), ctypes.byref(out), ctypes.sizeof(out)))
        return {name: int(getattr(out, name)) for name, _ in out._fields_}

    @property
    def n_vocab(self) -> int:
        """Length of a logits row."""
        with self.lock:
            return int(_capi.api().tinfer_context_n_vocab(self._ptr()))

    def prefill(self, tokens: Sequence[int], seq: int = 0) -> None:
        """Appends tokens (at least one) to sequence seq and runs them through the model; the
        last one's logits are then in logits(seq)."""
        values = list(tokens)
        array = int32_array(values)
        with self.lock:
            check(_capi.api().tinfer_prefill(self._ptr(), as_int32(seq, "sequence"), array,
                                             len(values)))

    def decode(self, tokens: Union[int, Sequence[int]],
               seqs: Union[int, Sequence[int], None] = None) -> None:
        """Advances sequences by one token each in one pass: tokens[i] goes to seqs[i].
        decode(token) advances sequence 0; decode(token, seq) one sequence; decode([a, b])
        sequences 0 and 1."""
        token_list = [tokens] if isinstance(tokens, int) else list(tokens)
        if seqs is None:
            seq_list = list(range(len(token_list)))
        else:
            seq_list = [seqs] if isinstance(seqs, int) else list(seqs)
        if len(seq_list) != len(token_list):
            raise ValueError(f"{len(token_list)} tokens for {len(seq_list)} sequences")
        seq_array, token_array = int32_array(seq_list, "sequence"), int32_array(token_list)
        with self.lock:
            check(_capi.api().tinfer_decode(self._ptr(), seq_array, token_array,
                                            len(token_list)))

    def logits(self, seq: int = 0) -> Any:
        """The n_vocab logits of seq's last token, without copying: a read-only NumPy float32
        array when NumPy is installed, else a read-only memoryview of format "f". The values
        change with the next prefill/decode/KV call on seq; copy them to keep them. Raises
        ValueError when seq has no logits yet. The view keeps the context's memory alive."""
        api = _capi.api()
        seq_id = as_int32(seq, "sequence")
        with self.lock:
            ptr = self._ptr()
            row = api.tinfer_logits(ptr, seq_id)
            if not row:
                raise ValueError(f"sequence {seq} has no logits (bad id, or nothing run yet)")
            n = int(api.tinfer_context_n_vocab(ptr))
            array = (ctypes.c_float * n).from_address(ctypes.addressof(row.contents))
            _hold(array, self._handle)
        if _np is not None:
            view = _np.frombuffer(array, dtype=_np.float32)
            view.flags.writeable = False
            return view
        return memoryview(array).cast("B").cast("f").toreadonly()

    # ---- 0.3 scoring block: logits of any or every prompt token (tinfer_prefill_logits) ----
    def prefill_logits(self, tokens: Sequence[int], seq: int = 0,
                       want: Optional[Sequence[bool]] = None) -> Any:
        """As prefill(), and returns the logits of the tokens it processes as a new float32
        NumPy array of shape (n, n_vocab): row i for tokens[i], or with want (one flag per
        token) only the flagged tokens' rows, in order. Row i is bit-identical to logits()
        after a prefill that ended at token i with the same passes (see tinfer_prefill_logits;
        exact for every token with n_batch=1 or for tokens ending a pass). logits(seq) holds
        the last token's row afterwards."""
        if _np is None:
            raise ImportError("prefill_logits needs NumPy")
        values = list(tokens)
        array = int32_array(values)
        flags = None
        n_rows = len(values)
        if want is not None:
            marks = [bool(w) for w in want]
            if len(marks) != len(values):
                raise ValueError(f"want has {len(marks)} flags for {len(values)} tokens")
            flags = (ctypes.c_uint8 * len(marks))(*marks)
            n_rows = sum(marks)
        with self.lock:
            ptr = self._ptr()
            n_vocab = int(_capi.api().tinfer_context_n_vocab(ptr))
            out = _np.empty((n_rows, n_vocab), dtype=_np.float32)
            check(_capi.api().function("tinfer_prefill_logits")(
                ptr, as_int32(seq, "sequence"), array, len(values), flags,
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), out.size))
        return out

    def score(self, tokens: Sequence[int], seq: int = 0) -> Any:
        """The log-likelihood of each token after the first given the ones before it: prefills
        tokens into seq (which should be empty for a whole text) and returns a float64 NumPy
        array of len(tokens) - 1 values, log softmax(logits of token i)[token i + 1], computed
        in double from prefill_logits' rows."""
        values = list(tokens)
        if len(values) < 2:
            raise ValueError("score needs at least two tokens")
        rows = self.prefill_logits(values, seq, want=[True] * (len(values) - 1) + [False])
        return _log_softmax_at(rows, values[1:])
    # ---- end of the 0.3 scoring block ----

    def kv_len(self, seq: int = 0) -> int:
        """Number of tokens held for seq."""
        n = ctypes.c_size_t()
        seq_id = as_int32(seq, "sequence")
        with self.lock:
            check(_capi.api().tinfer_kv_seq_len(self._ptr(), seq_id, ctypes.byref(n)))
        return int(n.value)

    def kv_truncate(self, seq: int, n: int) -> None:
        """Keeps the first n tokens of seq and forgets the rest (and its logits)."""
        if n < 0:
            raise ValueError(f"n = {n} is negative")
        seq_id = as_int32(seq, "sequence")
        with self.lock:
            check(_capi.api().tinfer_kv_seq_truncate(self._ptr(), seq_id, n))

    def kv_clear(self, seq: int = 0) -> None:
        """Forgets every token of seq."""
        seq_id = as_int32(seq, "sequence")
        with self.lock:
            check(_capi.api().tinfer_kv_seq_clear(self._ptr(), seq_id))

    # ---- KV forks (issue 14): begin ----

    def kv_copy(self, src: int, dst: int) -> None:
        """Forks sequence src into dst: dst's previous contents are released, then it holds
        src's tokens (and logits) and both go on independently. The cached blocks are shared,
        copied only when a partly filled one is written; kv_copy(s, s) does nothing."""
        src_id, dst_id = as_int32(src, "sequence"), as_int32(dst, "sequence")
        with self.lock:
            check(_capi.api().tinfer_kv_seq_copy(self._ptr(), src_id, dst_id))

    def kv_free_tokens(self) -> int:
        """Tokens the block pool's free blocks hold (32 per block): what can still be appended
        over all sequences (a sequence's own partly filled last block holds a few more; a shared
        one needs a block for its copy)."""
        n = ctypes.c_size_t()
        with self.lock:
            check(_capi.api().tinfer_kv_free_tokens(self._ptr(), ctypes.byref(n)))
        return int(n.value)

    # ---- KV forks: end ----
    # ---- snapshots (tinfer/snapshot.h, since 0.3): one block, so other additions merge beside it
    def save_state(self, seq: int = -1, level: int = 3, *, logits: bool = True) -> bytes:
        """The state of sequence seq (-1: every sequence) — its cached keys and values and its
        last logits row (unless logits=False) — as zstd-compressed snapshot bytes at the given
        zstd level (-7 .. 19). load_state puts it back, here or in another context of the same
        model with the same kv_dtype."""
        api = _capi.api()
        params = _snapshot_params(level, logits)
        seq_id = as_int32(seq, "sequence")
        bound, written = ctypes.c_size_t(), ctypes.c_size_t()
        with self.lock:
            check(api.function("tinfer_snapshot_bound")(self._ptr(), seq_id, ctypes.byref(params),
                                                        ctypes.sizeof(params),
                                                        ctypes.byref(bound)))
            buf = ctypes.create_string_buffer(bound.value)
            check(api.function("tinfer_snapshot_save")(self._ptr(), seq_id, ctypes.byref(params),
                                                       ctypes.sizeof(params), buf, bound.value,
                                                       ctypes.byref(written)))
        return ctypes.string_at(buf, written.value)

    def load_state(self, data: bytes, seq: int = -1) -> None:
        """Loads snapshot bytes from save_state into sequence seq (a one-sequence snapshot) or,
        with seq = -1, into the whole context (a whole-context snapshot). Raises FormatError for
        damaged bytes, UnsupportedError for another model or kv_dtype, ContextFullError when the
        context is too small; the context is then unchanged."""
        if isinstance(data, bytes):  # passed in place
            raw: Any = data
            n = len(data)
        else:
            view = memoryview(data).cast("B")
            n = len(view)
            raw = (ctypes.c_char * n).from_buffer_copy(view) if n else None
        seq_id = as_int32(seq, "sequence")
        with self.lock:
            check(_capi.api().function("tinfer_snapshot_load")(self._ptr(), seq_id, raw, n))

    def save_state_file(self, path: Any, seq: int = -1, level: int = 3, *,
                        logits: bool = True) -> None:
        """save_state into a file (written to a temporary name and renamed into place)."""
        from tinfer._util import path_bytes
        from tinfer.errors import check_path

        params = _snapshot_params(level, logits)
        seq_id = as_int32(seq, "sequence")
        with self.lock:
            check_path(_capi.api().function("tinfer_snapshot_save_file")(
                self._ptr(), seq_id, ctypes.byref(params), ctypes.sizeof(params),
                path_bytes(path)), path)

    def load_state_file(self, path: Any, seq: int = -1) -> None:
        """load_state from a file."""
        from tinfer._util import path_bytes
        from tinfer.errors import check_path

        seq_id = as_int32(seq, "sequence")
        with self.lock:
            check_path(_capi.api().function("tinfer_snapshot_load_file")(
                self._ptr(), seq_id, path_bytes(path)), path)
    # ---- end of snapshots

    def close(self) -> None:
        """As Owner.close(), after any call another thread is making into the context ends."""
        lock = getattr(self, "lock", None)
        if lock is None:  # creation failed before the lock existed
            super().close()
            return
        with lock:
            super().close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"n_ctx={self.n_ctx}, n_seq_max={self.n_seq_max}"
        return f"<tinfer.Context {state}>"


def _log_softmax_at(rows: Any, next_tokens: Sequence[int]) -> Any:
    """log softmax(rows[i])[next_tokens[i]] in double (0.3 scoring block)."""
    x = rows.astype(_np.float64)
    top = x.max(axis=1, keepdims=True)
    log_norm = _np.log(_np.exp(x - top).sum(axis=1)) + top[:, 0]
    return x[_np.arange(len(next_tokens)), _np.asarray(next_tokens)] - log_norm
def _snapshot_params(level: int, logits: bool) -> "_capi.SnapshotParams":
    """tinfer_snapshot_params with the library's defaults, then level and logits."""
    params = _capi.SnapshotParams()
    _capi.api().function("tinfer_snapshot_params_init")(ctypes.byref(params),
                                                        ctypes.sizeof(params))
    params.zstd_level = as_int32(level, "zstd level")
    params.include_logits = bool(logits)
    return params


def _abort_adapter(abort: Callable[[], bool]) -> Callable[[Any], bool]:
    """The C callback: abort()'s answer; an exception is printed and counts as False (ctypes
    would otherwise hand C an undefined value)."""
    def call(_user_data: Any) -> bool:
        try:
            return bool(abort())
        except Exception:  # noqa: BLE001 - must not cross into C
            traceback.print_exc()
            return False
    return call


def _uint32(name: str, value: int) -> int:
    number = int(value)
    if not 0 <= number < 2**32:
        raise ValueError(f"{name} = {number} is not a uint32")
    return number


def _hold(array: "ctypes.Array[ctypes.c_float]", handle: Handle) -> None:
    """Makes `array` (a view of C memory) keep the handle's C object alive until it is
    collected."""
    handle.acquire()
    weakref.finalize(array, handle.release)
