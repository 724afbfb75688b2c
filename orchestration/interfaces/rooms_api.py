"""``/v1/rooms``: create, list, show and delete rooms, speak in them, steer them (pause,
resume, stop, mode, members, approvals), switch their topology and page through their
history."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status
from pydantic import Field

from orchestration.interfaces.agents_api import AfterSeq, Limit, Page, Strict
from orchestration.messages import (
    DEFAULT_HUMAN,
    Envelope,
    HumanMode,
    RespondPolicy,
    RoomInfo,
    RoomList,
    RoomSpec,
    default_of,
)
from orchestration.runtime import Runtime

__all__ = ["Answer", "CreateRoom", "Join", "Mode", "Say", "Topology", "rooms_router"]


class CreateRoom(Strict):
    name: str
    agents: list[str]
    humans: list[str] = Field(default_factory=lambda: [DEFAULT_HUMAN])
    topology: str = default_of(RoomSpec, "topology")
    respond: RespondPolicy = default_of(RoomSpec, "respond")
    mode: HumanMode = default_of(RoomSpec, "mode")
    max_turns: int = default_of(RoomSpec, "max_turns")
    cooldown: float = default_of(RoomSpec, "cooldown")
    stop_phrase: str | None = default_of(RoomSpec, "stop_phrase")
    idle_timeout: float | None = default_of(RoomSpec, "idle_timeout")
    exist_ok: bool = False


class Say(Strict):
    content: str
    sender: str = DEFAULT_HUMAN
    to: list[str] = Field(default_factory=list)


class Topology(Strict):
    topology: str


class Mode(Strict):
    mode: HumanMode


class Join(Strict):
    human: str = DEFAULT_HUMAN


class Answer(Strict):
    """A human's answer to the reply that waits for approval (moderated mode)."""

    action: Literal["approve", "edit", "skip"] = "approve"
    content: str = ""
    """The new text, for ``edit``."""
    pending: str | None = None
    """Which waiting reply (default: the oldest)."""
    by: str = DEFAULT_HUMAN


def rooms_router(runtime: Runtime) -> APIRouter:
    """The room endpoints, on ``runtime``."""
    router = APIRouter(prefix="/rooms", tags=["rooms"])

    @router.post("", status_code=status.HTTP_201_CREATED)
    def create_room(body: CreateRoom) -> RoomInfo:
        """Create a room of existing agents and humans."""
        options = body.model_dump(exclude={"name"})
        return runtime.create_room(body.name, **options)

    @router.get("")
    def list_rooms() -> RoomList:
        return RoomList(rooms=runtime.rooms())

    @router.get("/{name}")
    def get_room(name: str) -> RoomInfo:
        return runtime.room(name)

    @router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_room(name: str, purge: bool = False) -> None:
        """Remove the room; its history stays unless ``purge``."""
        runtime.room(name, "purge" if purge else "delete")

    @router.post("/{name}/messages", status_code=status.HTTP_201_CREATED)
    def say(name: str, body: Say) -> Envelope:
        """Say ``content`` as member ``sender`` (to members ``to``, or to all); the journaled
        message says in ``delivered_to`` who got it. The agents answer by the room's policy."""
        return runtime.say(name, body.content, sender=body.sender, to=body.to)

    @router.put("/{name}/topology")
    def set_topology(name: str, body: Topology) -> RoomInfo:
        return runtime.set_topology(name, body.topology)

    @router.put("/{name}/mode")
    def set_mode(name: str, body: Mode) -> RoomInfo:
        return runtime.set_mode(name, body.mode)

    @router.post("/{name}/members")
    def join(name: str, body: Join) -> RoomInfo:
        """Make ``human`` a member (already one: nothing changes)."""
        return runtime.join_room(name, body.human)

    @router.post("/{name}/approval")
    def approve(name: str, body: Answer) -> RoomInfo:
        """Approve, edit or skip the agent reply that waits for a human (moderated mode)."""
        return runtime.approve(
            name, body.action, content=body.content, pending=body.pending, by=body.by
        )

    @router.post("/{name}/pause")
    def pause(name: str) -> RoomInfo:
        """No new turns until resumed; what is said meanwhile waits in the journal."""
        return runtime.room(name, "pause")

    @router.post("/{name}/resume")
    def resume(name: str) -> RoomInfo:
        """Go on (an ended conversation gets a fresh ``max_turns``)."""
        return runtime.room(name, "resume")

    @router.post("/{name}/stop")
    def stop(name: str) -> RoomInfo:
        """End the conversation now (running turns are cancelled)."""
        return runtime.room(name, "stop")

    @router.get("/{name}/history")
    def history(name: str, limit: Limit = 200, after_seq: AfterSeq = 0) -> Page:
        """The room's messages and events, a page at a time (kept after a delete, until a
        purge)."""
        page = runtime.room_history_page(name, limit=limit, after_seq=after_seq)
        if not page.messages and after_seq == 0:
            runtime.room(name)  # raises for a room that never existed, or was purged
        return Page.of(page, limit)

    return router
