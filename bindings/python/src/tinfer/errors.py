"""Exceptions: one TinferError subclass per C status, each carrying the status and the library's
message (tinfer_last_error() of the thread that made the failing call)."""

from __future__ import annotations

import enum
import errno
import os
from typing import Dict, Optional, Type

from tinfer import _capi

class Status(enum.IntEnum):
    """tinfer_status: the C library's status codes (values are pinned; tests/test_header_coverage
    checks them against TINFER_STATUS_MAP)."""

    OK = 0
    E_INVALID_ARG = 1
    E_IO = 2
    E_FORMAT = 3
    E_UNSUPPORTED = 4
    E_NOMEM = 5
    E_BUFFER_TOO_SMALL = 6
    E_CONTEXT_FULL = 7
    E_DEVICE = 8
    E_NOT_FOUND = 9
    E_TYPE = 10
    E_ABORTED = 11


class TinferError(Exception):
    """A libtinfer call failed. `status` is the C status, `message` the library's explanation."""

    status: "Status | int"
    message: str

    def __init__(self, status: "Status | int", message: str) -> None:
        try:
            status = Status(status)
            name = f"TINFER_{status.name}"
        except ValueError:
            name = f"status {int(status)}"
        super().__init__(f"{name}: {message}" if message else name)
        self.status = status
        self.message = message


class InvalidArgumentError(TinferError, ValueError):
    """TINFER_E_INVALID_ARG: an argument is out of range or malformed."""


class TinferIOError(TinferError, OSError):
    """TINFER_E_IO: a file could not be opened or read. Also an OSError, so `except OSError`
    catches it; `errno` is set when the library's message names a known cause (ENOENT), and
    `filename` is the path the failing call was given, when it took one."""

    def __init__(self, status: "Status | int", message: str,
                 filename: Optional[str] = None) -> None:
        super().__init__(status, message)
        self.errno = _errno_of(message)
        self.strerror = message
        self.filename = filename

    def __str__(self) -> str:  # OSError's "[Errno 2] ..." would hide the status name
        return str(self.args[0]) if self.args else ""


class TinferFileNotFoundError(TinferIOError, FileNotFoundError):
    """TINFER_E_IO for a path that does not exist (the library's message carries ENOENT's text:
    "No such file or directory"). A TinferIOError and a FileNotFoundError."""


def _errno_of(message: str) -> Optional[int]:
    """ENOENT when the message says so (the library quotes strerror, or writes it in lower
    case); None otherwise."""
    return errno.ENOENT if os.strerror(errno.ENOENT).lower() in message.lower() else None


class FormatError(TinferError):
    """TINFER_E_FORMAT: a file is malformed."""


class UnsupportedError(TinferError):
    """TINFER_E_UNSUPPORTED: valid input that this library cannot handle."""


class OutOfMemoryError(TinferError, MemoryError):
    """TINFER_E_NOMEM: an allocation failed."""


class BufferTooSmallError(TinferError):
    """TINFER_E_BUFFER_TOO_SMALL: never escapes the binding, which sizes its buffers itself."""


class ContextFullError(TinferError):
    """TINFER_E_CONTEXT_FULL: a sequence would grow past the context's n_ctx."""


class DeviceError(TinferError):
    """TINFER_E_DEVICE: the GPU backend failed."""


class NotFoundError(TinferError, LookupError):
    """TINFER_E_NOT_FOUND: a metadata key, tensor or special token is absent."""


class TypeMismatchError(TinferError, TypeError):
    """TINFER_E_TYPE: a metadata value does not have the requested type."""


class AbortedError(TinferError):
    """TINFER_E_ABORTED: the context's abort callback stopped a step; the cache is unchanged."""


class FeatureUnavailableError(TinferError, NotImplementedError):
    """The loaded libtinfer does not export a function this call needs (an older build)."""

    def __init__(self, message: str) -> None:
        super().__init__(Status.E_UNSUPPORTED, message)


ERROR_CLASSES: Dict[Status, Type[TinferError]] = {
    Status.E_INVALID_ARG: InvalidArgumentError,
    Status.E_IO: TinferIOError,
    Status.E_FORMAT: FormatError,
    Status.E_UNSUPPORTED: UnsupportedError,
    Status.E_NOMEM: OutOfMemoryError,
    Status.E_BUFFER_TOO_SMALL: BufferTooSmallError,
    Status.E_CONTEXT_FULL: ContextFullError,
    Status.E_DEVICE: DeviceError,
    Status.E_NOT_FOUND: NotFoundError,
    Status.E_TYPE: TypeMismatchError,
    Status.E_ABORTED: AbortedError,
}


def error_for(status: int, message: str) -> TinferError:
    """The exception for a failed status (TinferError itself for a value not in the map;
    TinferFileNotFoundError for an E_IO whose message says the path does not exist)."""
    try:
        cls = ERROR_CLASSES.get(Status(status), TinferError)
    except ValueError:
        cls = TinferError
    if cls is TinferIOError and _errno_of(message) == errno.ENOENT:
        cls = TinferFileNotFoundError
    return cls(status, message)


def last_error() -> str:
    """tinfer_last_error() for the calling thread, as text."""
    raw: "bytes | None" = _capi.api().tinfer_last_error()
    return raw.decode("utf-8", errors="replace") if raw else ""


def check(status: int) -> None:
    """Raises the matching TinferError when status is not TINFER_OK."""
    if status != 0:
        raise error_for(status, last_error())


def check_path(status: int, path: "str | os.PathLike[str]") -> None:
    """check() for a call that opened `path`: an OSError it raises carries the path as
    `filename`."""
    if status != 0:
        err = error_for(status, last_error())
        if isinstance(err, OSError):
            err.filename = os.fspath(path)
        raise err
