"""Ownership of C objects: freed exactly once, and never before the objects that depend on them.

A Handle holds one C pointer and a count of users. The Python object that created it is the
first user; everything that borrows from it (a Tokenizer from a Model, a Context over a Model, a
logits view of a Context) acquires it too. The C free function runs when the last user releases,
so closing a Model while a Context still uses it only drops the Model's claim; the weights are
freed with the Context. Each user releases through a weakref.finalize, which runs at most once
(explicitly from close(), or when the user is collected, or at interpreter exit).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Optional, Sequence, TypeVar


class Handle:
    """A C pointer, the function that frees it, and the handles it keeps alive."""

    def __init__(self, ptr: Any, free: Optional[Callable[[Any], None]], what: str,
                 parents: Sequence["Handle"] = ()) -> None:
        self._lock = threading.Lock()
        self._ptr = ptr
        self._free = free
        self._users = 1
        self.what = what
        self._parents = list(parents)
        for parent in self._parents:
            parent.acquire()

    @property
    def freed(self) -> bool:
        return self._ptr is None

    def acquire(self) -> None:
        with self._lock:
            if self._ptr is None:
                raise ValueError(f"the {self.what} is already freed")
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._ptr is None:
                return
            ptr, self._ptr = self._ptr, None
        if self._free is not None:
            self._free(ptr)
        parents, self._parents = self._parents, []
        for parent in parents:
            parent.release()

    @property
    def ptr(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise ValueError(f"the {self.what} is already freed")
        return ptr


OwnerT = TypeVar("OwnerT", bound="Owner")


class Owner:
    """Base of the public classes that own one Handle: close(), `with`, and a finalizer."""

    _handle: Handle
    _finalizer: "weakref.finalize[..., Any]"
    _kind = "object"

    def _own(self, handle: Handle) -> None:
        self._handle = handle
        self._finalizer = weakref.finalize(self, handle.release)

    def close(self) -> None:
        """Gives up this object's claim on the C object now (idempotent). The C object is freed
        at once unless something made from it (a tokenizer, a context, a logits view) still
        uses it; then it is freed when the last of those goes."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()

    @property
    def closed(self) -> bool:
        """True after close()."""
        finalizer = getattr(self, "_finalizer", None)
        return finalizer is None or not finalizer.alive

    def _ptr(self) -> Any:
        if self.closed:
            raise ValueError(f"operation on a closed {self._kind}")
        return self._handle.ptr

    def __enter__(self: "OwnerT") -> "OwnerT":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
