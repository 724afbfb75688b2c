"""Routing: the topology of a conversation picks who receives each message.

A topology is a function ``(message, members) -> names``. A room's router journals a
message first, then calls `route`, which calls the topology and delivers to the names it returns.

The contract for a custom topology (``custom:package.module:function``):

- It is pure and fast: no I/O, no provider calls, no actors, no state kept between calls. It runs
  inside the router for every message, so a slow topology stalls the whole conversation.
- It returns an iterable of member names (a list, a tuple, a set or a generator of ``str``; not a
  single string). Order and duplicates do not matter: `route` delivers in the members' order, once.
- It may include the sender: the router drops it, as no member receives its own message.
- Returning a name that is not a member is an error (`TopologyError`), and so is raising.
- It need not check ``message.recipients``: the router refuses a message addressed to a name that
  is neither a member nor one of the members' ``groups`` before it routes it.

Built in: ``broadcast`` (the default), ``filtered`` and ``hierarchical`` (see `BUILT_IN`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from orchestration.messages import Envelope, Member

__all__ = [
    "BUILT_IN",
    "CUSTOM_FORM",
    "CUSTOM_PREFIX",
    "Topology",
    "TopologyError",
    "broadcast",
    "filtered",
    "hierarchical",
    "load_topology",
    "route",
]

Topology = Callable[[Envelope, Sequence[Member]], Iterable[str]]
"""Picks the names of the members who receive ``message``; see the module docstring."""

CUSTOM_PREFIX = "custom:"
CUSTOM_FORM = "custom:package.module:function"


class TopologyError(Exception):
    """A topology cannot be loaded or misbehaved. ``message`` names the problem, ``hint`` the
    fix."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


# --- built-in topologies -----------------------------------------------------------------------


def broadcast(message: Envelope, members: Sequence[Member]) -> list[str]:
    """Every member but the sender, whoever the message is addressed to."""
    return [member.name for member in members if member.name != message.sender]


def filtered(message: Envelope, members: Sequence[Member]) -> list[str]:
    """The members named in ``recipients``, or every member but the sender for a broadcast.

    Recipients that are not members are ignored (the router refuses them before routing).
    """
    if not message.recipients:
        return broadcast(message, members)
    return [member.name for member in members if member.name in message.recipients]


def hierarchical(message: Envelope, members: Sequence[Member]) -> list[str]:
    """Orchestrators, humans and the system see everything; a worker sees its own scope.

    A worker (or a plain member) sees a message addressed to it by name or to one of its groups,
    and the broadcasts of an orchestrator or a human; not the broadcasts of other workers (nor
    of the system, nor of a sender that is not a member).
    """
    from_lead = any(_leads(member) for member in members if member.name == message.sender)
    return [
        member.name
        for member in members
        if _sees_everything(member) or _in_scope(member, message, from_lead)
    ]


def _leads(member: Member) -> bool:
    return member.role == "orchestrator" or member.kind == "human"


def _sees_everything(member: Member) -> bool:
    return member.role == "orchestrator" or member.kind in ("human", "system")


def _in_scope(member: Member, message: Envelope, from_lead: bool) -> bool:
    if not message.recipients:
        return from_lead
    return member.name in message.recipients or any(
        group in message.recipients for group in member.groups
    )


BUILT_IN: dict[str, Topology] = {
    "broadcast": broadcast,
    "filtered": filtered,
    "hierarchical": hierarchical,
}


# --- loading -----------------------------------------------------------------------------------


def load_topology(name: str) -> Topology:
    """The topology called ``name``: a built-in one, or ``custom:package.module:function``
    (``custom:package.module.function`` also works). Raises `TopologyError` if there is none."""
    if name.startswith(CUSTOM_PREFIX):
        return _load_custom(name)
    if name not in BUILT_IN:
        raise TopologyError(
            f"unknown topology {name!r}",
            f"use one of {', '.join(BUILT_IN)}, or {CUSTOM_FORM} for your own",
        )
    return BUILT_IN[name]


def _load_custom(name: str) -> Topology:
    module_name, attribute = _split_custom(name)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise TopologyError(
            f"topology {name!r}: cannot import module {module_name!r}: {exc!r}",
            "check the module path, and that its package is installed or on the daemon's path",
        ) from exc
    try:
        function = getattr(module, attribute)
    except AttributeError as exc:
        raise TopologyError(
            f"topology {name!r}: module {module_name!r} has no attribute {attribute!r}",
            f"define {attribute}(message, members) in {module_name}, or fix the name",
        ) from exc
    if not callable(function):
        raise TopologyError(
            f"topology {name!r}: {module_name}.{attribute} is a {type(function).__name__},"
            " not a function",
            "point it at a function (message, members) -> names of members",
        )
    return cast(Topology, function)  # a user's function: its signature is theirs to keep


def _split_custom(name: str) -> tuple[str, str]:
    path = name.removeprefix(CUSTOM_PREFIX)
    module_name, colon, attribute = path.partition(":")
    if not colon:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise TopologyError(
            f"topology {name!r} does not name a function", f"write it as {CUSTOM_FORM}"
        )
    return module_name, attribute


# --- routing -----------------------------------------------------------------------------------


def route(
    topology: Topology, message: Envelope, members: Sequence[Member], *, name: str = ""
) -> list[str]:
    """Who receives ``message``: the names ``topology`` picks, in the members' order, once each
    and never the sender. ``name`` labels the topology in errors (default: the function's).

    Raises `TopologyError` if the topology raises, returns something other than an iterable of
    strings, or picks names that are not members.
    """
    label = name or getattr(topology, "__qualname__", repr(topology))
    picked = _call(topology, message, members, label)
    picked.discard(message.sender)
    names = [member.name for member in members]
    unknown = sorted(picked.difference(names))
    if unknown:
        raise TopologyError(
            f"topology {label!r} picked {unknown}, who are not members (members: {names})",
            "return only names of the members the topology is given",
        )
    return [member for member in dict.fromkeys(names) if member in picked]


def _call(topology: Topology, message: Envelope, members: Sequence[Member], label: str) -> set[str]:
    try:
        selected = topology(message, members)
    except Exception as exc:
        raise _raised(label, exc) from exc
    if isinstance(selected, str) or not isinstance(selected, Iterable):
        raise _not_names(label, selected)
    try:
        items = list(selected)
    except Exception as exc:
        raise _raised(label, exc) from exc
    if not all(isinstance(item, str) for item in items):
        raise _not_names(label, items)
    return set(items)


def _raised(label: str, exc: Exception) -> TopologyError:
    return TopologyError(
        f"topology {label!r} raised {exc!r}",
        "fix the topology: it must not raise (a pure function of the message and the members)",
    )


def _not_names(label: str, returned: object) -> TopologyError:
    return TopologyError(
        f"topology {label!r} returned {returned!r}, not an iterable of member names",
        "return a list of the names (str) of the members who receive the message",
    )
