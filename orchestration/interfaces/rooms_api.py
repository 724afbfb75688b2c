"""``/v1/rooms``: create, list, show and delete rooms, speak in them, switch their topology
and page through their history."""

from __future__ import annotations

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
)
from orchestration.runtime import Runtime


class CreateRoom(Strict):
    name: str
    agents: list[str]
    humans: list[str] = Field(default_factory=lambda: [DEFAULT_HUMAN])
    topology: str = "broadcast"
    respond: RespondPolicy = "always"
    mode: HumanMode = "free"
    max_turns: int = 20
    cooldown: float = 0.0
    stop_phrase: str | None = None
    idle_timeout: float | None = None
    exist_ok: bool = False


class Say(Strict):
    content: str
    sender: str = DEFAULT_HUMAN
    to: list[str] = Field(default_factory=list)


class Topology(Strict):
    topology: str


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

    @router.get("/{name}/history")
    def history(name: str, limit: Limit = 200, after_seq: AfterSeq = 0) -> Page:
        """The room's messages and events, a page at a time (kept after a delete, until a
        purge)."""
        page = runtime.room_history_page(name, limit=limit, after_seq=after_seq)
        if not page.messages and after_seq == 0:
            runtime.room(name)  # raises for a room that never existed, or was purged
        return Page.of(page, limit)

    return router
