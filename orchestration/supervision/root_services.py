"""The root's services, and who follows each conversation.

`RootServices` is the layer of the root supervisor that keeps the runtime's own actors alive:
one router per agent, the rooms supervisor and the gateway, each a child in its `Services`
table, restarted when it exits or stops answering (a restarted router learns where its agent is,
the supervisors above the agent learn where the router is, with `RouterMoved`). It also keeps
the feeds, who follows each conversation, so that a restarted router or rooms supervisor gets
its subscribers back, and the event bus (journal first, then subscribers).
"""

from __future__ import annotations

import logging
from typing import Any

from thespian.actors import ActorExitRequest, ChildActorExited, DeadEnvelope

from orchestration.actors.direct_router import DirectRouter
from orchestration.actors.subscribers import Subscribers
from orchestration.conversation_ids import ConversationId, kind_of
from orchestration.messages import (
    AgentMoved,
    AgentSpec,
    Approve,
    Envelope,
    GatewayAddress,
    InitRooms,
    InitRouter,
    JoinRoom,
    ListRooms,
    LocateGateway,
    LocateRooms,
    MemberMoved,
    Ok,
    Publish,
    RoomCommand,
    RoomsAddress,
    RouterMoved,
    Send,
    ServiceReady,
    SetMode,
    SetTopology,
    Subscribe,
    Unsubscribe,
)
from orchestration.settings import Settings, load_settings
from orchestration.supervision import refusals
from orchestration.supervision.registry import Registry
from orchestration.supervision.services import Service, Services
from orchestration.supervision.supervisor import UNEXPECTED_EXIT, Supervisor

__all__ = ["ASKED_DIRECTLY", "GATEWAY", "ROOMS", "RootServices"]

log = logging.getLogger(__name__)

GATEWAY = "gateway"
"""The gateway's name in the events about it, and in the root's services."""
ROOMS = "rooms"
"""The rooms supervisor's name in the root's services."""
ASKED_DIRECTLY = (ListRooms, RoomCommand, SetTopology, SetMode, JoinRoom, Approve, Send)
"""The commands a Runtime asks of the rooms supervisor itself (with no ``reply_to``): one that
finds it dead comes back to the Runtime at once, which asks the next incarnation."""


class RootServices(Supervisor):
    """The root's services (routers, the rooms supervisor, the gateway) and feeds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registry = Registry()
        self.services: Services | None = None
        self.feeds: dict[str, list[Subscribe]] = {}
        """Who follows each conversation (DMs and rooms), handed to a restarted router."""
        self.subscribers = Subscribers()
        self.handlers.update(
            {
                LocateGateway: self._locate_gateway,
                LocateRooms: self._locate_rooms,
                ChildActorExited: self._child_exited,
                ServiceReady: lambda message, sender: self._services().ready(
                    message.name, sender, message.pid
                ),
                ActorExitRequest: self._on_exit,
                DeadEnvelope: self._dead_letter,
                Publish: lambda message, sender: self._publish(message.event),
                Subscribe: self._subscribe,
                Unsubscribe: self._subscribe,
            }
        )

    def _init_rooms(self, restart: bool) -> InitRooms:
        """The rooms supervisor's init: where the agents are now, who follows which room."""
        settings = self._settings()
        return InitRooms(
            journal_path=str(settings.journal_path),
            max_message_chars=settings.max_message_chars,
            max_payload_bytes=settings.max_payload_bytes,
            health_interval=settings.health_interval,
            agents=[self._member(n, e.address, "up") for n, e in self.registry.agents.items()],
            subscribers=[s for c, subs in self.feeds.items() if kind_of(c) == "room" for s in subs],
        )

    def _services(self) -> Services:
        assert self.services is not None, "started up before any handler (receiveMessage)"
        return self.services

    def _service_address(self, name: str) -> Any:
        service = self._services().get(name)
        return service.address if service is not None else None

    def _locate_gateway(self, message: LocateGateway, sender: Any) -> None:
        gateway = self._services().get(GATEWAY)
        assert gateway is not None
        if gateway.given_up:  # else it runs: a restart replaces it at once
            self.send(sender, refusals.gateway_failed(gateway.window))
        else:
            self.send(sender, GatewayAddress(address=gateway.address))

    def _locate_rooms(self, message: LocateRooms, sender: Any) -> None:
        rooms = self._services().get(ROOMS)
        assert rooms is not None
        if rooms.given_up:  # else it runs: a restart replaces it at once
            self.send(sender, refusals.service_failed(rooms))
        else:
            self.send(sender, RoomsAddress(address=rooms.address))

    def _on_exit(self, message: ActorExitRequest, sender: Any) -> None:
        self.exiting = True  # the system shuts down: its services are not restarted

    def _child_exited(self, message: ChildActorExited, sender: Any) -> None:
        service = self._services().find(message.childAddress)
        if service is None:
            self._exited(message, sender)
        elif not self.exiting:
            self._service_gone(service, UNEXPECTED_EXIT)

    def _service_gone(self, service: Service, why: str) -> None:
        """A service exited (or stopped answering and was killed): start its next incarnation
        and tell whoever needs its new address; or give it up."""
        old = service.address
        self._drop_subscriber(old)
        self._services().exited(old, why)
        kind = service.name.split(":")[0]  # dm, room, rooms, gateway
        if service.given_up:
            log.error("%s given up: %s", service.name, service.given_up)
            self._event("restart_limit_exceeded", service.name, service.given_up, service=kind)
            return
        log.warning("%s exited (%s); started a new one", service.name, why)
        if service.name == GATEWAY:
            self._event(
                "gateway_restarted",
                GATEWAY,
                "the gateway exited and was restarted; remote clients reconnect",
            )
            return
        self._event(
            "service_restarted",
            service.name,
            f"{service.name} exited ({why}) and was restarted from the journal",
            service=kind,
            restarts=service.restarts,
        )
        served = ConversationId.try_parse(service.name)
        if served is not None and served.kind == "dm":
            self._router_restarted(served.name, service.address)

    def _router_restarted(self, agent: str, router: Any) -> None:
        """Agent ``agent``'s new router: the supervisors above the agent keep its address, and
        it hears where the agent is."""
        self.send(self.myAddress, RouterMoved(name=agent, address=router))
        entry = self.registry.agents.get(agent)
        if entry is not None and entry.address is not None:
            self.send(router, AgentMoved(name=agent, address=entry.address, reason="up"))

    def _drop_subscriber(self, address: Any) -> None:
        """A service that followed conversations (the gateway) is gone: from every feed."""
        if address is None:
            return
        gone = Unsubscribe(subscriber=address)
        self.subscribers.handle(self, gone, address)
        for conversation, subscriptions in list(self.feeds.items()):
            if any(s.subscriber == address for s in subscriptions):
                self._follow(gone.model_copy(update={"conversation": conversation}), address)

    def _dead_letter(self, message: DeadEnvelope, sender: Any) -> None:
        """A message reached a service in the few ms between its death and its exit notice:
        it goes to the incarnation that replaces it, so no caller waits in vain (the rooms
        supervisor does the same for its rooms' routers). The dead letters of agents and
        others are dropped: their callers hear of the exit from the routers; so are a Runtime's
        asks of the rooms supervisor, which the Runtime sends again to the next incarnation. A
        workflow run's follower that is gone is forgotten (the root feeds runs itself)."""
        service = self._services().owner_of(message.deadAddress)
        lost = message.deadMessage
        if isinstance(lost, Envelope) and kind_of(lost.conversation) == "workflow":
            self._follow(Unsubscribe(conversation=lost.conversation), message.deadAddress)
            return
        if service is None:
            rooms = self._service_address(ROOMS)
            if rooms is not None:
                self.send(rooms, message)
            return
        if (
            service.name == ROOMS
            and isinstance(lost, ASKED_DIRECTLY)
            and getattr(lost, "reply_to", None) is None
        ):
            return  # a Runtime's ask, which it sends again to the next incarnation
        if service.name != GATEWAY and not self._services().hold_or_pass(
            service, lost, message.deadAddress
        ):
            caller = getattr(lost, "reply_to", None)
            if caller is not None:
                self.send(caller, refusals.service_failed(service))

    def _check_health(self, health: Any) -> None:
        super()._check_health(health)
        for service, reason in self._services().check(health):
            self._service_gone(service, reason)

    def _router_for(self, spec: AgentSpec) -> Any:
        """Start agent ``spec``'s router, a service of the root; its address."""
        settings = self._settings()
        chars = int(spec.settings.get("max_message_chars", settings.max_message_chars))

        def init(restart: bool) -> InitRouter:
            return InitRouter(
                conversation=spec.conversation,
                journal_path=str(settings.journal_path),
                agent=spec.name,
                max_message_chars=chars,
                turn_timeout=spec.turn_timeout,
                subscribers=list(self.feeds.get(spec.conversation, [])),
            )

        return self._services().start(spec.conversation, DirectRouter, init).address

    def _agent_moved(self, name: str, address: Any, reason: str) -> None:
        rooms = self._service_address(ROOMS)
        if rooms is not None:
            self.send(rooms, self._member(name, address, reason))

    def _member(self, name: str, address: Any, reason: str) -> MemberMoved:
        entry = self.registry.agents.get(name)
        timeout = entry.info.spec.turn_timeout if entry is not None else None
        return MemberMoved(name=name, address=address, reason=reason, turn_timeout=timeout)

    def _subscribe(self, message: Subscribe | Unsubscribe, sender: Any) -> None:
        """The event bus, or a conversation's feed (kept here, and passed to its router)."""
        if message.conversation is None:
            self.subscribers.handle(self, message, sender)
        else:
            self._follow(message, message.subscriber or sender)

    def _follow(self, message: Subscribe | Unsubscribe, subscriber: Any) -> None:
        """Keep ``subscriber``'s (un)subscription to a conversation, and pass it on to the
        conversation's router (a room's: through the rooms supervisor)."""
        conversation = message.conversation or ""
        addressed = message.model_copy(update={"subscriber": subscriber})
        kept = [s for s in self.feeds.get(conversation, []) if s.subscriber != subscriber]
        if isinstance(addressed, Subscribe):
            kept.append(addressed)
        if kept:
            self.feeds[conversation] = kept
        else:
            self.feeds.pop(conversation, None)
        followed = ConversationId.try_parse(conversation)
        kind = followed.kind if followed is not None else None
        if kind == "workflow":  # no router: the root itself feeds it
            if isinstance(addressed, Subscribe):
                self.send(subscriber, Ok())
            return
        if kind == "room":
            target = self._service_address(ROOMS)
        else:
            target = self._service_address(conversation)
            if target is None and isinstance(addressed, Subscribe):
                self.feeds.pop(conversation, None)
                name = followed.name if followed is not None and kind == "dm" else conversation
                self.send(subscriber, refusals.unknown_agent(self.registry, name))
                return
        if target is not None:
            self.send(target, addressed)

    def _publish(self, event: Envelope) -> None:
        self._journal().append(event)
        self.subscribers.publish(self, event)

    def _settings(self) -> Settings:
        if self.settings is None:  # a command before Boot
            self.settings = load_settings()
        return self.settings
