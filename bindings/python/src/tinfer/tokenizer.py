"""Tokenizer: text ↔ token ids, chat templates, and streaming detokenization."""

from __future__ import annotations

import ctypes
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from tinfer import _capi
from tinfer._handle import Handle, Owner
from tinfer._util import (PathLike, as_int32, int32_array, path_bytes, read_text_bytes, to_bytes,
                          to_text)
from tinfer.errors import Status, check, check_path

Message = Union[Mapping[str, str], Tuple[str, str]]


class Tokenizer(Owner):
    """A tokenizer: from a model (`model.tokenizer`) or alone (`Tokenizer.load(path)`).

    Immutable and safe to use from several threads at once. One that came from a model keeps
    the model's C object alive for as long as it is open.
    """

    _kind = "tokenizer"

    def __init__(self, _handle: Handle) -> None:
        """Internal: use Tokenizer.load(path) or Model.tokenizer."""
        self._own(_handle)

    @classmethod
    def load(cls, path: PathLike) -> "Tokenizer":
        """Loads a tokenizer without weights: a tokenizer.json (optionally .zst), a directory
        holding one (with tokenizer_config.json when present), or a .gguf file."""
        api = _capi.api()
        out = _capi.tokenizer_p()
        check_path(api.tinfer_tokenizer_load(path_bytes(path), ctypes.byref(out)), path)
        return cls(Handle(out, api.tinfer_tokenizer_free, "tokenizer"))

    @property
    def n_vocab(self) -> int:
        """Number of token ids (one past the largest)."""
        return int(_capi.api().tinfer_tokenizer_n_vocab(self._ptr()))

    def encode(self, text: Union[str, bytes], *, add_special: bool = True,
               parse_special: bool = True) -> List[int]:
        """Token ids of `text` (str, or bytes that may be invalid UTF-8).

        The defaults behave as Hugging Face's `Tokenizer.encode(text)`: BOS/EOS added as the
        tokenizer's configuration says, and special-token text such as "<bos>" read as the
        special token. Text from apply_chat_template() already holds BOS: encode it with
        add_special=False."""
        api = _capi.api()
        data = to_bytes(text)
        ptr = self._ptr()
        flags = (_capi.TOKENIZE_ADD_SPECIAL if add_special else 0) | (
            _capi.TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        cap = int(api.tinfer_tokenize_bound(ptr, len(data)))
        ids = (ctypes.c_int32 * max(cap, 1))()
        n = ctypes.c_size_t(0)
        check(api.tinfer_tokenize(ptr, data, len(data), flags, ids, cap, ctypes.byref(n)))
        return ids[: n.value]

    def decode_bytes(self, ids: Sequence[int], *, skip_special: bool = False) -> bytes:
        """The bytes decode() returns as text (possibly invalid UTF-8 for a partial character)."""
        api = _capi.api()
        values = list(ids)
        array = int32_array(values)
        ptr = self._ptr()
        flags = _capi.DETOKENIZE_SKIP_SPECIAL if skip_special else 0
        first = 4 * len(values) + 16
        return read_text_bytes(
            lambda buf, cap, n: api.tinfer_detokenize(ptr, array, len(values), flags, buf, cap,
                                                      ctypes.byref(n)), first)

    def decode(self, ids: Sequence[int], *, skip_special: bool = False) -> str:
        """Text of `ids`, as Hugging Face's decode does (skip_special=True leaves out special
        tokens, like its skip_special_tokens=True). Bytes that are not UTF-8 become U+FFFD."""
        return to_text(self.decode_bytes(ids, skip_special=skip_special))

    def token_piece(self, token: int) -> bytes:
        """The bytes one token contributes to decoded text (maybe part of a UTF-8 character)."""
        api = _capi.api()
        ptr = self._ptr()
        tok = as_int32(token)
        return read_text_bytes(
            lambda buf, cap, n: api.tinfer_token_piece(ptr, tok, buf, cap, ctypes.byref(n)), 64)

    def _special(self, which: int) -> Optional[int]:
        out = ctypes.c_int32(-1)
        status = _capi.api().tinfer_tokenizer_special(self._ptr(), which, ctypes.byref(out))
        if status == Status.E_NOT_FOUND:
            return None
        check(status)
        return int(out.value)

    @property
    def bos(self) -> Optional[int]:
        """Id of the beginning-of-sequence token, or None."""
        return self._special(_capi.ENUMS["tinfer_special_token"]["TOKEN_BOS"])

    @property
    def eos(self) -> Optional[int]:
        """Id of the end-of-sequence token, or None."""
        return self._special(_capi.ENUMS["tinfer_special_token"]["TOKEN_EOS"])

    @property
    def pad(self) -> Optional[int]:
        """Id of the padding token, or None."""
        return self._special(_capi.ENUMS["tinfer_special_token"]["TOKEN_PAD"])

    @property
    def unk(self) -> Optional[int]:
        """Id of the unknown token, or None."""
        return self._special(_capi.ENUMS["tinfer_special_token"]["TOKEN_UNK"])

    def is_eog(self, token: int) -> bool:
        """True when `token` ends a generation (EOS or an end-of-turn token)."""
        return bool(_capi.api().tinfer_tokenizer_is_eog(self._ptr(), as_int32(token)))

    def apply_chat_template(self, messages: Sequence[Message], *,
                            add_generation_prompt: bool = True) -> str:
        """Renders a conversation with the tokenizer's chat template, byte for byte as Jinja
        would. Each message is {"role": ..., "content": ...} or a (role, content) pair; roles
        are "system", "user", "assistant". The result starts with BOS: encode it with
        add_special=False."""
        api = _capi.api()
        pairs = [_role_content(m) for m in messages]
        keep = [(to_bytes(role), to_bytes(content)) for role, content in pairs]
        msgs = (_capi.ChatMsg * max(len(keep), 1))(*[_capi.ChatMsg(r, c) for r, c in keep])
        ptr = self._ptr()
        raw = read_text_bytes(
            lambda buf, cap, n: api.tinfer_chat_apply(ptr, msgs, len(keep),
                                                      ctypes.sizeof(_capi.ChatMsg),
                                                      add_generation_prompt, buf, cap,
                                                      ctypes.byref(n)),
            sum(len(r) + len(c) for r, c in keep) + 256)
        return to_text(raw)

    def stream(self, *, skip_special: bool = False) -> "DetokStream":
        """An incremental detokenizer: push() ids one at a time, get text as it is certain."""
        return DetokStream(self, skip_special=skip_special)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"n_vocab={self.n_vocab}"
        return f"<tinfer.Tokenizer {state}>"


def _role_content(message: Message) -> Tuple[str, str]:
    if isinstance(message, tuple):
        role, content = message
        return role, content
    return message["role"], message["content"]


class DetokStream(Owner):
    """Streaming detokenizer: never yields a broken UTF-8 character. Keeps its tokenizer alive;
    one user thread at a time."""

    _kind = "detokenizer stream"

    def __init__(self, tokenizer: Tokenizer, *, skip_special: bool = False) -> None:
        api = _capi.api()
        out = _capi.stream_p()
        flags = _capi.DETOKENIZE_SKIP_SPECIAL if skip_special else 0
        check(api.tinfer_detok_stream_create(tokenizer._ptr(), flags, ctypes.byref(out)))
        self._own(Handle(out, api.tinfer_detok_stream_free, self._kind,
                         parents=[tokenizer._handle]))

    def push(self, token: int) -> str:
        """Adds one token; returns the text that became certain (maybe "")."""
        api = _capi.api()
        ptr = self._ptr()
        tok = as_int32(token)
        raw = read_text_bytes(
            lambda buf, cap, n: api.tinfer_detok_stream_push(ptr, tok, buf, cap,
                                                             ctypes.byref(n)), 64)
        return to_text(raw)

    def flush(self) -> str:
        """Ends the stream: returns what was held back (a partial character as U+FFFD)."""
        api = _capi.api()
        ptr = self._ptr()
        raw = read_text_bytes(
            lambda buf, cap, n: api.tinfer_detok_stream_flush(ptr, buf, cap, ctypes.byref(n)), 64)
        return to_text(raw)
