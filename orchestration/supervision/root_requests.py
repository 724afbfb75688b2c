"""The root's answers to the Runtime's requests, and what it passes on.

`RootRequests` is the layer of the root supervisor that answers from its registry (``list``,
which pings the live agents first, ``tree``, lookups, ``status``), records workflow runs, and
passes direct sends, cancels and room creations on to whoever answers them: an agent's router,
the agent, or the rooms supervisor once the room's agents are known to exist. The other room
commands go from the Runtime to the rooms supervisor, and history reads to the journal: they
never queue here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from thespian.actors import WakeupMessage

from orchestration.conversation_ids import ConversationId, kind_of
from orchestration.messages import (
    ROOT_SUPERVISOR,
    AgentInfo,
    AgentList,
    AgentStuck,
    Cancel,
    CreateRoom,
    DaemonStatus,
    DeclareWorkflows,
    GetTree,
    ListAgents,
    ListRuns,
    ListWorkflows,
    Ok,
    Ping,
    Pong,
    Record,
    Resolve,
    Resolved,
    RunList,
    Send,
    Status,
    SupervisorInfo,
    WorkflowList,
    new_id,
    utc_now,
)
from orchestration.supervision import refusals
from orchestration.supervision.root_services import ROOMS, RootServices

__all__ = ["LIST_DEADLINE", "ListQuery", "RootRequests"]

LIST_DEADLINE = 1.0
"""Seconds ``list`` waits for the live agents' pongs before it answers with what it has."""
_LIST = "list"


@dataclass
class ListQuery:
    """A ``list`` waiting for the pongs of the agents named in ``waiting``."""

    requester: Any
    waiting: set[str]


class RootRequests(RootServices):
    """The root's queries, and the commands it passes on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started_at: datetime = utc_now()
        self.queries: dict[str, ListQuery] = {}
        self.handlers.update(
            {
                ListAgents: self._list,
                GetTree: self._tree,
                DeclareWorkflows: self._declare_workflows,
                Record: self._record_run,
                ListRuns: lambda message, sender: self.send(
                    sender,
                    RunList(runs=self._journal().conversations(ConversationId.prefix("workflow"))),
                ),
                ListWorkflows: lambda message, sender: self.send(
                    sender, WorkflowList(workflows=self._journal().workflows())
                ),
                Resolve: self._resolve,
                Send: self._forward_send,
                Cancel: self._forward_cancel,
                Status: self._status,
                AgentStuck: self._stuck_below,
                CreateRoom: self._create_room,
            }
        )

    def _stuck_below(self, message: AgentStuck, sender: Any) -> None:
        """A router says an agent's turn ran past its turn_timeout: its supervisor decides."""
        entry = self.registry.agents.get(message.name)
        if entry is None or entry.parent == ROOT_SUPERVISOR:
            self._stuck(message, sender)
            return
        parent = self.registry.supervisors.get(entry.parent)
        if parent is not None and parent.address is not None:
            self.send(parent.address, message)

    def _status(self, message: Status, sender: Any) -> None:
        self.send(
            sender,
            DaemonStatus(
                pid=os.getppid(),
                started_at=self.started_at,
                agents=len(self.registry.agents),
                data_dir=str(self._settings().home),
                restart_intensity=self._settings().restart_intensity,
                restart_period=self._settings().restart_period,
            ),
        )

    def _list(self, message: ListAgents, sender: Any) -> None:
        live = {n: e for n, e in self.registry.agents.items() if e.address and e.info.pid}
        if not live:
            self._answer_list(ListQuery(sender, set()))
            return
        query_id = new_id()
        self.queries[query_id] = ListQuery(sender, set(live))
        for entry in live.values():
            self.send(entry.address, Ping())
        self.wakeupAfter(LIST_DEADLINE, payload=(_LIST, query_id))

    def _pong(self, message: Pong, sender: Any) -> None:
        if self._services().answered(self.health, message, sender):
            return
        super()._pong(message, sender)
        entry = self.registry.agents.get(message.name)
        if entry is not None and entry.address == sender and isinstance(entry.info, AgentInfo):
            live = entry.info.state in ("idle", "processing")
            update = {"turns": message.turns, "last_activity": message.last_activity}
            entry.info = entry.info.model_copy(
                update={**update, "state": message.state} if live else update
            )
        for query_id, query in list(self.queries.items()):
            query.waiting.discard(message.name)
            if not query.waiting:
                self._answer_list(self.queries.pop(query_id))

    def _answer_list(self, query: ListQuery) -> None:
        agents = [e.info for e in self.registry.agents.values()]
        self.send(query.requester, AgentList(agents=agents))

    def _wakeup(self, message: WakeupMessage, sender: Any) -> None:
        payload = message.payload
        if isinstance(payload, tuple) and payload[0] == _LIST:
            if payload[1] in self.queries:
                self._answer_list(self.queries.pop(payload[1]))
            return
        super()._wakeup(message, sender)

    def _record_run(self, message: Record, sender: Any) -> None:
        said = message.message
        if kind_of(said.conversation) != "workflow":
            self.send(sender, refusals.not_a_run(said.conversation))
            return
        self._journal().append(said)
        for follower in self.feeds.get(said.conversation, []):
            self.send(follower.subscriber, said)
        self.send(sender, Ok())

    def _declare_workflows(self, message: DeclareWorkflows, sender: Any) -> None:
        self._journal().save_workflows(message.tree, message.workflows)
        self.send(sender, Ok(detail=f"{len(message.workflows)} workflow(s) of {message.tree}"))

    def _tree(self, message: GetTree, sender: Any) -> None:
        assert self.node is not None
        root = SupervisorInfo(
            name=ROOT_SUPERVISOR,
            parent=None,
            strategy="one_for_one",
            intensity=self.node.intensity,
            period=self.node.period,
            state="stopping" if self.exiting else "running",
            pid=os.getpid(),
        )
        self.send(sender, self.registry.snapshot(root))

    def _resolve(self, message: Resolve, sender: Any) -> None:
        entry = self.registry.agents.get(message.name)
        if entry is None:
            self.send(sender, refusals.unknown_agent(self.registry, message.name))
            return
        router = self._services().get(str(ConversationId.dm(message.name)))
        self.send(
            sender,
            Resolved(
                agent=entry.info,
                router=router.address if router else None,
                agent_address=entry.address,
                router_started_at=router.started_at if router else None,
            ),
        )

    def _forward_send(self, message: Send, sender: Any) -> None:
        """Pass a direct message to its agent's router, which answers the sender (a room's
        messages go from the Runtime to the rooms supervisor)."""
        conversation = message.message.conversation
        said = ConversationId.try_parse(conversation)
        kind = said.kind if said is not None else None
        name = said.name if said is not None and kind == "dm" else conversation
        entry = self.registry.agents.get(name)
        router = self._services().get(conversation)
        if entry is None or router is None or kind != "dm":
            self.send(sender, refusals.unknown_agent(self.registry, name))
            return
        if entry.info.state in ("failed", "terminated"):
            self.send(sender, refusals.agent_down(entry.info))
            return
        if router.given_up:
            self.send(sender, refusals.service_failed(router))
            return
        self.send(
            router.address, message.model_copy(update={"reply_to": message.reply_to or sender})
        )

    def _create_room(self, message: CreateRoom, sender: Any) -> None:
        """Pass a new room on to the rooms supervisor, which answers the caller, once its
        agents are known to exist (and the rooms supervisor has heard where they are)."""
        missing = [name for name in message.spec.agents if name not in self.registry.agents]
        if missing:
            self.send(
                sender, refusals.unknown_room_agents(self.registry, message.spec.name, missing)
            )
            return
        rooms = self._services().get(ROOMS)
        assert rooms is not None
        caller = message.reply_to or sender
        if rooms.given_up:
            self.send(caller, refusals.service_failed(rooms))
        else:
            self.send(rooms.address, message.model_copy(update={"reply_to": caller}))

    def _forward_cancel(self, message: Cancel, sender: Any) -> None:
        entry = self.registry.agents.get(message.agent or "")
        if entry is not None and entry.address is not None:
            self.send(entry.address, message)
