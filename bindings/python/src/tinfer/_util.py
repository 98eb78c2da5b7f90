"""Small helpers shared by the classes: output buffers that grow, text in and out."""

from __future__ import annotations

import ctypes
import os
from typing import Callable, Sequence, Union

from tinfer.errors import Status, check

PathLike = Union[str, "os.PathLike[str]"]
FIRST_BUFFER_BYTES = 256


def read_text_bytes(call: "Callable[[ctypes.Array[ctypes.c_char], int, ctypes.c_size_t], int]",
                    first_cap: int = FIRST_BUFFER_BYTES) -> bytes:
    """Runs a C call that writes NUL-terminated text into (buf, cap, *len), growing the buffer
    once to the size it reports when TINFER_E_BUFFER_TOO_SMALL comes back."""
    cap = max(first_cap, 1)
    length = ctypes.c_size_t(0)
    buf = ctypes.create_string_buffer(cap)
    status = call(buf, cap, length)
    if status == Status.E_BUFFER_TOO_SMALL:
        cap = length.value + 1
        buf = ctypes.create_string_buffer(cap)
        status = call(buf, cap, length)
    check(status)
    return buf.raw[: length.value]


def to_bytes(text: Union[str, bytes]) -> bytes:
    """UTF-8 bytes of a str; bytes pass through unchanged (they may be invalid UTF-8)."""
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        return text.encode("utf-8")
    raise TypeError(f"expected str or bytes, got {type(text).__name__}")


def path_bytes(path: PathLike) -> bytes:
    """A file-system path as the bytes the C library opens."""
    return os.fsencode(os.fspath(path))


def to_text(raw: bytes) -> str:
    """C text as str; bytes that are not UTF-8 become U+FFFD."""
    return raw.decode("utf-8", errors="replace")


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def as_int32(value: int, what: str = "token id") -> int:
    """value as a C int32_t; ctypes would wrap a larger one silently, so refuse it here with the
    library's own exception for a bad argument."""
    number = int(value)
    if not INT32_MIN <= number <= INT32_MAX:
        from tinfer.errors import InvalidArgumentError, Status

        raise InvalidArgumentError(Status.E_INVALID_ARG, f"{what} {number} is not an int32")
    return number


def int32_array(values: "Sequence[int]", what: str = "token id") -> "ctypes.Array[ctypes.c_int32]":
    """A C int32_t array of values (at least one element, so the pointer is never NULL)."""
    checked = [as_int32(v, what) for v in values]
    return (ctypes.c_int32 * max(len(checked), 1))(*checked)
