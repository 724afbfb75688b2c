"""WebSocket ``/v1/ws/conversations/{id}``: a conversation live, as JSON frames, and a human
member's input. ``id`` is ``dm:AGENT`` (an agent's direct conversation) or ``room:NAME``.

Query parameters: ``after`` (a message id: resume after it), ``as`` (the human member the
client speaks as; default ``user``) and ``token`` (when the server has a token and the client
cannot send ``Authorization: Bearer``).

Server to client, each a JSON object with a ``type``:

- ``{"type": "message", "id": ID, "cursor": ID, "message": ENVELOPE}``: a message or event of
  the conversation, or a supervision event about one of its agents (``agent_restarted``...),
  once each. ``cursor`` is what to pass as ``after`` to resume after this frame: the message's
  own id for the conversation's journaled messages; for a supervision event (journaled apart,
  and not replayed) the id of the conversation message before it. Frames carry message ids,
  not journal seqs: resuming uses ids.
- ``{"type": "started" | "delta" | "finished" | "failed", ...}``: a turn's stream message
  (`TurnStarted`, `TurnDelta`, `TurnFinished`, `TurnFailed` as JSON), for every turn of the
  conversation, whoever started it. A turn opens with ``started`` (a client that joins
  mid-turn gets the rest of it), its deltas join to the final text, and a ``finished`` turn's
  reply follows as a ``message``.
- ``{"type": "ready", "conversation": ID, "resumed_from": ID | null, "replayed": N}``: the
  client is subscribed and caught up (``replayed`` messages were sent from the journal first).
- ``{"type": "pong"}``, the answer to a ping.
- ``{"type": "error", "problem": PROBLEM}``: an RFC 9457 problem. After a refused frame the
  connection stays open; otherwise the close follows.

Client to server:

- ``{"type": "say", "content": TEXT, "to": [MEMBER, ...]}``: in a room, said as the ``as``
  member (to ``to``, or to all); in ``dm:AGENT``, sent to the agent (``to`` is ignored). The
  message and the reply arrive as frames.
- ``{"type": "ping"}``.

Resuming: the server follows the conversation first (through the gateway actor), then sends the
journaled messages after ``after`` (from the conversation's history), then the live ones,
dropping repeats by message id; a client that reconnects passes the ``cursor`` of the last
``message`` frame it got.

Close codes:

- 4401: no token, or a wrong one;
- 4404: an unknown conversation, or ``after`` not in it;
- 4429: over the rate limit (each handshake and each ``say`` counts as a request; a ``say``
  over it gets an error frame and the connection stays open);
- 1013: the client reads too slowly (more than `QUEUE_LIMIT` frames behind);
- 1012: the server's link to the gateway ended (the gateway restarted, or cut this server off
  as too slow): reconnect with ``after``;
- 1011: another failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import Field, TypeAdapter, ValidationError

from orchestration.conversation_ids import ConversationId
from orchestration.errors import DaemonError
from orchestration.gateway.link import Deliver, End, Follower, LinkLost
from orchestration.interfaces.agents_api import Strict
from orchestration.interfaces.problems import Problem, from_error, problem_response
from orchestration.interfaces.security import RateLimiter, TokenGuard
from orchestration.interfaces.ws_frames import FEED, OWN, Frames
from orchestration.messages import DEFAULT_HUMAN, Envelope, HistoryPage
from orchestration.runtime import Runtime
from orchestration.streams import OrchestrationError

__all__ = ["Conversation", "Feed", "Own", "Ping", "Say", "Socket", "ws_router"]

QUEUE_LIMIT = 1000
"""Frames a client may fall behind before it is cut off (close 1013)."""
HISTORY_PAGE = 500
CLOSE_CODES = {401: 4401, 404: 4404, 429: 4429}
"""Close code of a refusal, by the problem's status; others close with 1011."""


class Say(Strict):
    type: Literal["say"]
    content: str
    to: list[str] = Field(default_factory=list)


class Ping(Strict):
    type: Literal["ping"]


ClientFrame: TypeAdapter[Say | Ping] = TypeAdapter(
    Annotated[Say | Ping, Field(discriminator="type")]
)


@dataclass(frozen=True)
class Conversation:
    """A conversation a socket follows: an agent's direct one, or a room."""

    id: str
    agent: str | None = None
    room: str | None = None

    @classmethod
    def parse(cls, id: str) -> Conversation:
        found = ConversationId.try_parse(id)
        if found is not None and found.kind == "dm":
            return cls(str(found), agent=found.name)
        if found is not None and found.kind == "room":
            return cls(str(found), room=found.name)
        raise Problem(
            404, "unknown_conversation", f"no conversation {id!r}", "dm:AGENT or room:NAME"
        )

    def follow(self, runtime: Runtime, deliver: Deliver, end: End) -> Follower:
        if self.agent is not None:
            return runtime.follow(self.agent, deliver, end)
        assert self.room is not None
        return runtime.follow_room(self.room, deliver, end)

    def page(self, runtime: Runtime, after_seq: int, after_id: str | None) -> HistoryPage:
        if self.agent is not None:
            return runtime.history_page(
                self.agent, limit=HISTORY_PAGE, after_seq=after_seq, after_id=after_id
            )
        assert self.room is not None
        return runtime.room_history_page(
            self.room, limit=HISTORY_PAGE, after_seq=after_seq, after_id=after_id
        )

    def missed(self, runtime: Runtime, after: str) -> list[Envelope]:
        """The journaled messages after message ``after``, oldest first (blocking; an id not
        in the conversation raises ``unknown_message``)."""
        page = self.page(runtime, 0, after)
        found = list(page.messages)
        while page.more or len(page.messages) == HISTORY_PAGE:
            page = self.page(runtime, page.last_seq, None)
            found.extend(page.messages)
        return found

    def say(self, runtime: Runtime, frame: Say, sender: str, hand: Deliver) -> None:
        """Say the frame's text (blocking: in a direct conversation, until the turn ends, its
        stream handed to ``hand`` as it comes: the speaker's own reply takes the shortest
        path, while the gateway feed brings the same turn to every other client)."""
        if self.room is not None:
            runtime.say(self.room, frame.content, sender=sender, to=frame.to)
            return
        assert self.agent is not None
        with runtime.send(self.agent, frame.content, sender=sender) as turn:
            for event in turn:
                hand(event)


@dataclass(frozen=True)
class Own:
    """An item of the client's own turn, which reaches it straight from the turn's stream."""

    item: Any


class Feed:
    """A conversation followed through the server's gateway link. The link's thread hands
    each item to the event loop through a bounded queue; a full queue sets ``overflowed`` and
    the client is cut off: a slow client never makes the link, or the tree, wait."""

    def __init__(self, follow: Callable[[Deliver, End], Follower], limit: int) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue(limit)
        self.overflowed = asyncio.Event()
        self._follow = follow
        self._loop = asyncio.get_running_loop()
        self._follower: Follower | None = None

    async def start(self) -> None:
        """Follow; returns once the feed is live, raises what following raised."""
        self._follower = await asyncio.to_thread(self._follow, self._deliver, self._deliver)

    async def stop(self) -> None:
        if self._follower is not None:
            await asyncio.to_thread(self._follower.close)

    def _deliver(self, item: Any) -> None:  # on the link's thread; an Exception ends the feed
        with contextlib.suppress(RuntimeError):  # the event loop is gone
            self._loop.call_soon_threadsafe(self._offer, item)

    def own(self, item: Any) -> None:
        """Queue an item of the client's own turn (from any thread)."""
        self._deliver(Own(item))

    def _offer(self, item: Any) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.items.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed.set()


class Socket:
    """One client's connection: frames out (one writer at a time), frames in."""

    def __init__(self, websocket: WebSocket, limiter: RateLimiter | None) -> None:
        self.websocket = websocket
        self._limiter = limiter
        self._lock = asyncio.Lock()

    def count_request(self) -> None:
        """Count a handshake or a ``say`` against the client's rate (raises the 429)."""
        if self._limiter is not None:
            client = self.websocket.client
            self._limiter.take(client.host if client else "unknown")

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.websocket.send_json(frame)

    async def error(self, problem: Problem) -> None:
        await self.send({"type": "error", "problem": json.loads(problem_response(problem).body)})

    async def refuse(self, problem: Problem) -> None:
        """Send the problem, then close with its code."""
        await self.error(problem)
        await self.websocket.close(CLOSE_CODES.get(problem.status, 1011), problem.code)


def ws_router(runtime: Runtime, limiter: RateLimiter | None, token: str | None) -> APIRouter:
    """The WebSocket endpoint on ``runtime``; with a ``token``, clients must present it, and
    with a ``limiter`` each handshake and ``say`` frame counts against the client's rate."""
    router = APIRouter(prefix="/v1/ws", tags=["websocket"])
    guard = None if token is None else TokenGuard(token)

    @router.websocket("/conversations/{id}")
    async def conversation(
        websocket: WebSocket,
        id: str,
        after: str | None = None,
        sender: Annotated[str, Query(alias="as")] = DEFAULT_HUMAN,
    ) -> None:
        await websocket.accept()
        socket = Socket(websocket, limiter)
        try:
            if not _authorized(websocket, guard):
                hint = "send Authorization: Bearer <ORCH_API_TOKEN>, or ?token="
                await socket.refuse(Problem(401, "unauthorized", "a valid token is required", hint))
                return
            socket.count_request()
            await _serve(socket, runtime, Conversation.parse(id), after, sender)
        except Problem as problem:
            await socket.refuse(problem)
        except LinkLost as exc:
            await socket.error(from_error(exc))
            await websocket.close(1012, str(exc)[:120])  # the client reconnects with after=
        except (OrchestrationError, DaemonError) as exc:
            await socket.refuse(from_error(exc))
        except WebSocketDisconnect:
            pass

    return router


def _authorized(websocket: WebSocket, guard: TokenGuard | None) -> bool:
    """Whether the handshake carries the token (``Authorization: Bearer`` or ``?token=``), or
    none is needed."""
    if guard is None:
        return True
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    given = credentials if scheme.lower() == "bearer" else websocket.query_params.get("token", "")
    return guard.accepts(given)


async def _serve(
    socket: Socket, runtime: Runtime, conversation: Conversation, after: str | None, sender: str
) -> None:
    """Subscribe, replay what came after ``after``, then relay both ways until either side
    ends; the subscription is always stopped."""
    feed = Feed(partial(conversation.follow, runtime), QUEUE_LIMIT)
    await feed.start()
    saying: set[asyncio.Task[None]] = set()
    try:
        frames = Frames(conversation.id, after)
        missed = (
            [] if after is None else await asyncio.to_thread(conversation.missed, runtime, after)
        )
        for message in missed:
            for frame in frames.of(message):
                await socket.send(frame)
        ready = {"conversation": conversation.id, "resumed_from": after, "replayed": len(missed)}
        await socket.send({"type": "ready", **ready})

        async def relay() -> None:
            while not isinstance(item := await feed.items.get(), Exception):
                own = isinstance(item, Own)
                for frame in frames.of(item.item if own else item, OWN if own else FEED):
                    await socket.send(frame)
            raise item

        async def listen() -> None:
            while True:
                try:
                    frame = ClientFrame.validate_json(await socket.websocket.receive_text())
                except ValidationError as exc:
                    detail = "; ".join(error["msg"] for error in exc.errors())
                    hint = 'send {"type": "say", "content": "..."} or {"type": "ping"}'
                    await socket.error(Problem(422, "invalid_frame", detail, hint))
                    continue
                if isinstance(frame, Ping):
                    await socket.send({"type": "pong"})
                    continue
                try:
                    socket.count_request()
                except Problem as problem:
                    await socket.error(problem)
                    continue
                said = partial(conversation.say, runtime, frame, sender, feed.own)
                task = asyncio.create_task(_say(socket, said))
                saying.add(task)
                task.add_done_callback(saying.discard)

        tasks = [asyncio.create_task(job) for job in (relay(), listen(), feed.overflowed.wait())]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in [*tasks, *saying]:
            task.cancel()
        if tasks[2] in done:
            reason = f"client too slow: {feed.items.qsize()} messages behind"
            await socket.websocket.close(1013, reason)
        else:
            done.pop().result()  # the client left (WebSocketDisconnect), or the feed failed
    finally:
        await feed.stop()


async def _say(socket: Socket, say: Callable[[], None]) -> None:
    """Say a client's frame; a refusal is an error frame (the connection stays open)."""
    try:
        await asyncio.to_thread(say)
    except (OrchestrationError, DaemonError) as exc:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await socket.error(from_error(exc))
