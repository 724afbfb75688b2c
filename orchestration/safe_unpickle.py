"""Restricted unpickling: a frame may name only the classes our messages are made of.

Defence in depth behind the frame's signature (`orchestration.frames`): even a correctly signed
pickle cannot reach ``os.system``, ``builtins.eval`` or any other callable. A global is allowed
when it is

- a class of ours (``orchestration.*``) that is a message: a Pydantic model, an enum, a
  dataclass or an exception;
- a class of Thespian's core (``thespian.actors``, ``thespian.system.*``): addresses and
  system messages;
- one of the standard-library and Pydantic types that messages hold (`ALLOWED`).

Everything else raises `ForbiddenGlobal`, which names the refused global.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import importlib
import io
import pickle
from functools import cache
from typing import Any

from pydantic import BaseModel

__all__ = ["ForbiddenGlobal", "allowed_global", "loads"]

ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        *(("builtins", name) for name in ("set", "frozenset", "bytearray", "complex", "slice")),
        *(("builtins", name) for name in ("range", "object")),
        *(("datetime", name) for name in ("datetime", "date", "time", "timedelta", "timezone")),
        ("uuid", "UUID"),
        ("uuid", "SafeUUID"),
        ("collections", "OrderedDict"),
        ("collections", "deque"),
        ("decimal", "Decimal"),
        ("pathlib", "PosixPath"),
        ("pathlib", "PurePosixPath"),
        ("socket", "AddressFamily"),  # in Thespian's TCP addresses
        ("socket", "SocketKind"),
        ("copyreg", "_reconstructor"),  # objects pickled with protocol 0 or 1
        ("logging", "LogRecord"),  # actors' log lines, on their way to Thespian's logger
        ("pydantic.types", "SecretStr"),
        ("pydantic.types", "SecretBytes"),
        ("pydantic_core._pydantic_core", "TzInfo"),  # a parsed datetime's offset
    }
)
OUR_PACKAGE = "orchestration"
THESPIAN_CORE = ("thespian.actors", "thespian.system")


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"refused global {module}.{name}")
        self.refused = f"{module}.{name}"


def loads(data: bytes | memoryview) -> Any:
    """Unpickle ``data``, resolving only allowed globals; raise `ForbiddenGlobal` otherwise,
    or `pickle.UnpicklingError` (and friends) for a corrupt pickle."""
    return _Unpickler(io.BytesIO(data)).load()


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return allowed_global(module, name)


@cache
def allowed_global(module: str, name: str) -> Any:
    """The object ``module.name`` names, if a frame may name it."""
    if (module, name) in ALLOWED:
        return _resolve(module, name)
    if module == "builtins":
        found = getattr(builtins, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
        raise ForbiddenGlobal(module, name)
    if _is_ours(module):
        found = _class_of(module, name)
        if found is not None and _is_message_class(found):
            return found
    elif _is_thespian_core(module):
        found = _class_of(module, name)
        if found is not None:
            return found
    raise ForbiddenGlobal(module, name)


def _is_ours(module: str) -> bool:
    return module == OUR_PACKAGE or module.startswith(OUR_PACKAGE + ".")


def _is_thespian_core(module: str) -> bool:
    return any(module == core or module.startswith(core + ".") for core in THESPIAN_CORE)


def _class_of(module: str, name: str) -> type | None:
    """The class ``name`` defined in ``module`` itself (not one it imported), or ``None``."""
    if module.rsplit(".", 1)[-1] == "__main__":
        return None
    try:
        found = _resolve(module, name)
    except Exception:  # no such module or name, or a module that fails to import
        return None
    if isinstance(found, type) and found.__module__ == module and found.__qualname__ == name:
        return found
    return None


def _is_message_class(found: type) -> bool:
    return issubclass(found, BaseModel | enum.Enum | BaseException) or dataclasses.is_dataclass(
        found
    )


def _resolve(module: str, name: str) -> Any:
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found
