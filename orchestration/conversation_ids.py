"""Conversation ids: what a conversation is, from its id, and the id of each conversation.

An id is text, stored as such in the journal, in one of four forms: ``dm:AGENT`` (an agent's
direct conversation with its users), ``room:NAME`` (a room), ``workflow:NAME:RUN`` (one run of
a workflow) and ``system`` (the event bus). `ConversationId` parses and builds them, so no
caller splits or prefixes the text itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["EVENTS_CONVERSATION", "ConversationId", "ConversationKind", "kind_of"]

ConversationKind = Literal["dm", "room", "workflow", "events"]
EVENTS_CONVERSATION = "system"
"""The event bus's id."""
_FORMS = "dm:AGENT, room:NAME, workflow:NAME:RUN or system"
_TAKES = {
    "dm": "an agent's name",
    "room": "a room's name",
    "workflow": "a workflow's name and a run",
    "events": "no name and no run",
}


@dataclass(frozen=True)
class ConversationId:
    """A parsed conversation id: its ``kind``, the ``name`` of its agent, room or workflow, and
    the ``run`` of a workflow (``str()`` gives back the id's text)."""

    kind: ConversationKind
    name: str = ""
    run: str = ""

    def __post_init__(self) -> None:
        named, run = self.kind != "events", self.kind == "workflow"
        if self.kind not in _TAKES or bool(self.name) != named or bool(self.run) != run:
            raise ValueError(
                f"a {self.kind!r} conversation id takes {_TAKES.get(self.kind, 'no such kind')}"
                f" (got name {self.name!r}, run {self.run!r}; ids are {_FORMS})"
            )

    @classmethod
    def dm(cls, agent: str) -> ConversationId:
        """Agent ``agent``'s direct conversation."""
        return cls("dm", agent)

    @classmethod
    def room(cls, room: str) -> ConversationId:
        """Room ``room``'s conversation."""
        return cls("room", room)

    @classmethod
    def workflow(cls, workflow: str, run: str) -> ConversationId:
        """The conversation of run ``run`` of workflow ``workflow``."""
        return cls("workflow", workflow, run)

    @classmethod
    def events(cls) -> ConversationId:
        """The event bus."""
        return cls("events")

    @classmethod
    def prefix(cls, kind: Literal["dm", "room", "workflow"]) -> str:
        """What every id of ``kind`` starts with (to select them in the journal)."""
        return f"{kind}:"

    @classmethod
    def parse(cls, text: str) -> ConversationId:
        """The id ``text`` names; `ValueError` saying the forms if it is none of them."""
        found = cls.try_parse(text)
        if found is None:
            raise ValueError(f"{text!r} is not a conversation id (ids are {_FORMS})")
        return found

    @classmethod
    def try_parse(cls, text: str) -> ConversationId | None:
        """The id ``text`` names, or None if it is none (a service's name, say)."""
        if text == EVENTS_CONVERSATION:
            return cls.events()
        kind, colon, rest = text.partition(":")
        if not colon or not rest:
            return None
        if kind == "dm":
            return cls.dm(rest)
        if kind == "room":
            return cls.room(rest)
        if kind == "workflow":
            workflow, colon, run = rest.rpartition(":")
            return cls.workflow(workflow, run) if workflow and run else None
        return None

    def __str__(self) -> str:
        if self.kind == "events":
            return EVENTS_CONVERSATION
        if self.kind == "workflow":
            return f"workflow:{self.name}:{self.run}"
        return f"{self.kind}:{self.name}"


def kind_of(text: str) -> ConversationKind | None:
    """The kind of conversation ``text`` names, or None if it names none."""
    found = ConversationId.try_parse(text)
    return found.kind if found is not None else None
