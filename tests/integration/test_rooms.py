"""Rooms: several agents and humans in one conversation, in a real daemon."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from orchestration.messages import Envelope, TurnDelta, TurnFinished, TurnStarted
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.settings import Settings
from orchestration.streams import Subscription
from tests.fakes import Directive, FakeLLMServer


def until_event(feed: Subscription, event: str) -> list[Any]:
    """What ``feed`` brings up to and including the first ``event`` (it has a deadline)."""
    seen: list[Any] = []
    for message in feed:
        seen.append(message)
        if isinstance(message, Envelope) and message.event == event:
            return seen
    raise AssertionError(f"no {event} before the deadline; saw {seen}")


def turns_finished(feed: Subscription, count: int) -> list[TurnFinished]:
    """The next ``count`` turns that end in ``feed``."""
    finished: list[TurnFinished] = []
    for message in feed:
        if isinstance(message, TurnFinished):
            finished.append(message)
            if len(finished) == count:
                return finished
    raise AssertionError(f"{len(finished)} of {count} turns finished before the deadline")


def chat(messages: list[Envelope]) -> list[tuple[str, str]]:
    return [(m.sender, m.content) for m in messages if m.kind == "chat"]


def test_round_robin_takes_turns_in_member_order_until_max_turns(runtime: Runtime) -> None:
    runtime.spawn("planner", provider="scripted", model="echo")
    runtime.spawn("critic", provider="scripted", model="echo")
    runtime.create_room("standup", agents=["planner", "critic"], respond="round_robin", max_turns=4)

    with runtime.observe_room("standup", timeout=30) as feed:
        said = runtime.say("standup", "Plan a launch")
        seen = until_event(feed, "conversation_ended")

    assert said.delivered_to == ("planner", "critic")
    history = runtime.room_history("standup")
    speakers = [sender for sender, _ in chat(history)]
    assert speakers == ["user", "planner", "critic", "planner", "critic"]
    ended = [m for m in history if m.event == "conversation_ended"]
    assert [e.data["reason"] for e in ended] == ["max_turns"]
    assert len([m for m in seen if isinstance(m, TurnFinished)]) == 4
    assert runtime.room("standup").state == "ended"


def test_two_agents_on_different_providers_talk_for_exactly_max_turns(
    claude: Runtime, fake: FakeLLMServer
) -> None:
    claude.spawn("claude", provider="anthropic", model="claude-test")
    claude.spawn("gpt", provider="openai", model="gpt-test")
    claude.create_room(
        "duo", agents=["claude", "gpt"], respond="always", topology="filtered", max_turns=5
    )

    with claude.observe_room("duo", timeout=30) as feed:
        claude.say("duo", "Hello both", to=["claude"])
        until_event(feed, "conversation_ended")

    history = claude.room_history("duo")
    replies = [m for m in history if m.kind == "chat" and m.sender != "user"]
    assert [m.sender for m in replies] == ["claude", "gpt", "claude", "gpt", "claude"]
    assert [m.data["reason"] for m in history if m.event == "conversation_ended"] == ["max_turns"]
    apis = [request.api for request in fake.requests]
    assert apis == ["anthropic", "openai", "anthropic", "openai", "anthropic"]
    # Each sees the other by name and its own replies as its own; gpt never heard the
    # message addressed to claude alone (filtered).
    assert fake.requests[1].messages == [("user", "[claude] You said: Hello both")]
    assert fake.requests[2].messages == [
        ("user", "Hello both"),
        ("assistant", "You said: Hello both"),
        ("user", "[gpt] You said: [claude] You said: Hello both"),
    ]


def replies(history: list[Envelope], *, skip: tuple[str, ...] = ("user",)) -> list[str]:
    """The senders of the room's chat messages, leaving out ``skip``."""
    return [m.sender for m in history if m.kind == "chat" and m.sender not in skip]


def events(history: list[Envelope], name: str) -> list[Envelope]:
    return [m for m in history if m.event == name]


def spawn_scripted(runtime: Runtime, *names: str, model: str = "echo") -> None:
    for name in names:
        runtime.spawn(name, provider="scripted", model=model)


def test_always_never_loops_forever_and_runs_one_turn_per_agent_at_a_time(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "a", "b", "c")
    runtime.create_room("loop", agents=["a", "b", "c"], respond="always", max_turns=9)

    with runtime.observe_room("loop", timeout=60) as feed:
        runtime.say("loop", "go")
        seen = until_event(feed, "conversation_ended")

    history = runtime.room_history("loop")
    assert len(replies(history)) == 9
    assert [e.data["reason"] for e in events(history, "conversation_ended")] == ["max_turns"]
    info = runtime.room("loop")
    assert info.state == "ended" and info.turns == 9 and info.busy == []
    # No agent's turns overlap: each TurnFinished of an agent follows its previous one.
    finished = [m for m in seen if isinstance(m, TurnFinished)]
    assert len(finished) == 9 and {m.agent for m in finished} == {"a", "b", "c"}


def test_self_select_agents_pass_by_the_pass_rule_and_a_pass_reaches_nobody(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "planner")
    spawn_scripted(runtime, "critic", model="echo?reply=PASS")
    runtime.create_room("sel", agents=["planner", "critic"], respond="self_select", max_turns=6)

    with runtime.observe_room("sel", timeout=30) as feed:
        runtime.say("sel", "ideas?")
        until_event(feed, "turn_passed")
        until_event(feed, "turn_passed")  # once on the user's message, once on planner's

    history = runtime.room_history("sel")
    assert replies(history) == ["planner"], "a pass is not a message"
    passed = events(history, "turn_passed")
    assert [e.data["agent"] for e in passed] == ["critic", "critic"]
    assert runtime.room("sel").turns == 1, "passes do not use up turns"


def test_cooldown_spaces_an_agents_turns_and_queued_messages_are_never_dropped(
    claude: Runtime, fake: FakeLLMServer
) -> None:
    claude.spawn("solo", provider="anthropic", model="claude-test")
    claude.create_room("cool", agents=["solo"], cooldown=0.6, max_turns=5)

    with claude.observe_room("cool", timeout=30) as feed:
        for text in ("one", "two", "three"):
            claude.say("cool", text)
        finished = turns_finished(feed, 2)

    first, second = (m.message for m in finished)
    assert (second.created_at - first.created_at).total_seconds() >= 0.6
    # "two" waited in the journal and reached the agent with its next turn, merged into it.
    assert fake.requests[-1].messages == [
        ("user", "one"),
        ("assistant", "You said: one"),
        ("user", "two"),
        ("user", "three"),
    ]
    history = claude.room_history("cool")
    assert [c for s, c in chat(history) if s == "user"] == ["one", "two", "three"]


def test_a_stop_command_ends_the_conversation_and_resume_gives_it_new_turns(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "a", "b", model="echo?delay=0.05")
    runtime.create_room("talk", agents=["a", "b"], respond="round_robin", max_turns=50)

    with runtime.observe_room("talk", timeout=30) as feed:
        runtime.say("talk", "chat away")
        turns_finished(feed, 1)  # the first reply has landed
        stopped = runtime.room("talk", "stop")
        until_event(feed, "conversation_ended")

    assert stopped.state == "ended" and stopped.ended_reason == "stopped"
    with pytest.raises(OrchestrationError) as refused:
        runtime.say("talk", "anyone?")
    assert refused.value.code == "room_closed" and "room resume talk" in refused.value.hint
    turns = runtime.room("talk").turns
    assert turns < 50

    resumed = runtime.room("talk", "resume")
    assert resumed.state == "active"
    said = runtime.say("talk", "back again")
    assert said.delivered_to == ("a", "b")


def test_a_members_stop_phrase_ends_the_conversation(runtime: Runtime) -> None:
    spawn_scripted(runtime, "planner")
    spawn_scripted(runtime, "closer", model="echo?reply=All good. DONE.")
    runtime.create_room(
        "phrase",
        agents=["planner", "closer"],
        respond="round_robin",
        max_turns=20,
        stop_phrase="done.",
    )

    with runtime.observe_room("phrase", timeout=30) as feed:
        runtime.say("phrase", "status?")
        until_event(feed, "conversation_ended")

    history = runtime.room_history("phrase")
    assert replies(history) == ["planner", "closer"]
    ended = events(history, "conversation_ended")
    assert [e.data["reason"] for e in ended] == ["stop_phrase"]
    assert "closer said the stop phrase" in ended[0].content


def test_a_human_message_mid_exchange_reaches_every_agents_context(
    claude: Runtime, fake: FakeLLMServer
) -> None:
    fake.default = Directive(delay=0.02)
    claude.spawn("claude", provider="anthropic", model="claude-test")
    claude.spawn("gpt", provider="openai", model="gpt-test")
    claude.create_room("mix", agents=["claude", "gpt"], respond="round_robin", max_turns=6)

    with claude.observe_room("mix", timeout=30) as feed:
        claude.say("mix", "Plan a launch")
        turns_finished(feed, 1)
        claude.say("mix", "Keep it under budget")
        until_event(feed, "conversation_ended")

    after = [r for r in fake.requests if ("user", "Keep it under budget") in r.messages]
    assert {r.api for r in after} == {"anthropic", "openai"}, "both agents heard the human"
    last = {r.api: r for r in fake.requests}
    for request in last.values():
        assert ("user", "Keep it under budget") in request.messages


def test_moderated_replies_wait_for_approval_which_approves_edits_or_skips(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "planner", "critic")
    runtime.create_room(
        "mod", agents=["planner", "critic"], respond="round_robin", mode="moderated", max_turns=3
    )

    with runtime.observe_room("mod", timeout=30) as feed:
        runtime.say("mod", "draft a plan")
        until_event(feed, "approval_needed")
        waiting = runtime.room("mod")
        assert [p.agent for p in waiting.pending] == ["planner"]
        assert replies(runtime.room_history("mod")) == [], "a draft reaches nobody"

        runtime.approve("mod")
        until_event(feed, "approval_needed")  # critic's draft, on planner's reply
        runtime.approve("mod", "edit", content="Edited by the human")
        until_event(feed, "approval_needed")  # planner again, on the edited reply
        runtime.approve("mod", "skip")
        until_event(feed, "conversation_ended")

    history = runtime.room_history("mod")
    spoken = [(m.sender, m.content, m.data.get("moderation")) for m in history if m.kind == "chat"]
    assert spoken == [
        ("user", "draft a plan", None),
        ("planner", "You said: draft a plan", "approved"),
        ("critic", "Edited by the human", "edited"),
    ]
    skipped = [e for e in events(history, "approval_given") if e.data["action"] == "skip"]
    assert len(skipped) == 1
    with pytest.raises(OrchestrationError) as nothing:
        runtime.approve("mod")
    assert nothing.value.code == "nothing_pending"


def test_prompted_agents_wait_for_human_input_between_rounds(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a", "b")
    runtime.create_room("ask", agents=["a", "b"], respond="always", mode="prompted", max_turns=10)

    with runtime.observe_room("ask", timeout=30) as feed:
        runtime.say("ask", "first question")
        until_event(feed, "input_needed")
        after_first = replies(runtime.room_history("ask"))
        runtime.say("ask", "second question")
        until_event(feed, "input_needed")

    assert sorted(after_first) == ["a", "b"], "one round: each answers the human once"
    assert sorted(replies(runtime.room_history("ask"))) == ["a", "a", "b", "b"]
    info = runtime.room("ask")
    assert info.state == "active" and [p.kind for p in info.pending] == ["input"]


def test_every_topology_delivers_to_its_set_and_switches_live_keeping_history(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "lead", "w1", "w2")
    runtime.create_room(
        "team",
        agents=["lead", "w1", "w2"],
        humans=["user", "alice"],
        roles={"lead": "orchestrator", "w1": "worker", "w2": "worker"},
        groups={"w1": ["front"], "w2": ["back"]},
    )
    runtime.room("team", "pause")  # route and journal only: no turns
    pids = {a.spec.name: a.pid for a in runtime.list()}

    def delivered(text: str, to: tuple[str, ...] = (), sender: str = "user") -> tuple[str, ...]:
        return runtime.say("team", text, to=to, sender=sender).delivered_to

    assert delivered("all hands") == ("lead", "w1", "w2", "alice")
    assert delivered("just w1", to=("w1",)) == ("lead", "w1", "w2", "alice")  # broadcast
    runtime.set_topology("team", "filtered")
    assert delivered("just w1", to=("w1",)) == ("w1",)
    assert delivered("@w2 @alice: you two") == ("w2", "alice")
    assert delivered("everyone", sender="alice") == ("lead", "w1", "w2", "user")
    runtime.set_topology("team", "hierarchical")
    assert delivered("front end", to=("front",)) == ("lead", "w1", "alice")
    assert delivered("all of you") == ("lead", "w1", "w2", "alice")

    history = runtime.room_history("team")
    said = [
        (m.content, m.delivered_to, m.topology.get("name")) for m in history if m.kind == "chat"
    ]
    assert said == [
        ("all hands", ("lead", "w1", "w2", "alice"), "broadcast"),
        ("just w1", ("lead", "w1", "w2", "alice"), "broadcast"),
        ("just w1", ("w1",), "filtered"),
        ("@w2 @alice: you two", ("w2", "alice"), "filtered"),
        ("everyone", ("lead", "w1", "w2", "user"), "filtered"),
        ("front end", ("lead", "w1", "alice"), "hierarchical"),
        ("all of you", ("lead", "w1", "w2", "alice"), "hierarchical"),
    ]
    assert [e.data["after"] for e in events(history, "topology_changed")] == [
        "filtered",
        "hierarchical",
    ]
    assert {a.spec.name: a.pid for a in runtime.list()} == pids, "no agent restarted"


CUSTOM_TOPOLOGIES = """
def only_lead(message, members):
    return ["lead"]


def broken(message, members):
    raise RuntimeError("bug in my topology")


def stranger(message, members):
    return ["nobody"]
"""


def test_custom_topologies_route_and_their_errors_say_what_is_wrong(
    runtime: Runtime, tmp_path: Path
) -> None:
    (tmp_path / "my_topologies.py").write_text(CUSTOM_TOPOLOGIES)  # the daemon's directory
    spawn_scripted(runtime, "lead", "w1")
    runtime.create_room("c", agents=["lead", "w1"], topology="custom:my_topologies:only_lead")
    runtime.room("c", "pause")

    assert runtime.say("c", "hi").delivered_to == ("lead",)

    with pytest.raises(OrchestrationError) as missing:
        runtime.set_topology("c", "custom:no_such_module:route")
    assert "cannot import module 'no_such_module'" in str(missing.value)
    with pytest.raises(OrchestrationError) as absent:
        runtime.set_topology("c", "custom:my_topologies:nothing")
    assert "has no attribute 'nothing'" in str(absent.value)
    runtime.set_topology("c", "custom:my_topologies:broken")
    with pytest.raises(OrchestrationError) as raised:
        runtime.say("c", "hi")
    assert "raised RuntimeError('bug in my topology')" in str(raised.value)
    runtime.set_topology("c", "custom:my_topologies:stranger")
    with pytest.raises(OrchestrationError) as unknown:
        runtime.say("c", "hi")
    assert "picked ['nobody'], who are not members" in str(unknown.value)
    assert [c for _, c in chat(runtime.room_history("c"))] == ["hi"], "refused: not journaled"


def test_a_crashed_router_comes_back_from_the_journal_with_its_state(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a", "b", model="echo?delay=0.03")
    runtime.create_room(
        "sturdy", agents=["a", "b"], respond="round_robin", topology="filtered", max_turns=6
    )

    with runtime.observe_room("sturdy", timeout=60) as feed:
        runtime.say("sturdy", "talk")
        turns_finished(feed, 2)
        before = runtime.room("sturdy")
        assert before.pid is not None
        os.kill(before.pid, signal.SIGKILL)
        until_event(feed, "room_restarted")
        after = runtime.room("sturdy")
        until_event(feed, "conversation_ended")  # the same feed goes on after the restart

    assert after.pid != before.pid
    assert after.spec == before.spec and after.turns >= 2
    history = runtime.room_history("sturdy")
    assert len(replies(history)) == 6, "exactly max_turns replies, none lost or repeated"
    assert [e.data["reason"] for e in events(history, "conversation_ended")] == ["max_turns"]


def test_an_agent_killed_mid_turn_fails_that_turn_and_the_floor_moves_on(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "slow", model="echo?delay=0.3")
    spawn_scripted(runtime, "quick")
    runtime.create_room("crashy", agents=["slow", "quick"], respond="round_robin", max_turns=4)
    slow_pid = runtime.resolve("slow").agent.pid
    assert slow_pid is not None

    with runtime.observe_room("crashy", timeout=60) as feed:
        runtime.say("crashy", "go on")
        next(m for m in feed if isinstance(m, TurnDelta) and m.agent == "slow")
        os.kill(slow_pid, signal.SIGKILL)
        seen = until_event(feed, "conversation_ended")
        if not any(isinstance(m, Envelope) and m.event == "agent_restarted" for m in seen):
            seen += until_event(feed, "agent_restarted")  # the bus is a feed of its own

    restarted = [m for m in seen if isinstance(m, Envelope) and m.event == "agent_restarted"]
    assert [e.data["agent"] for e in restarted] == ["slow"]
    history = runtime.room_history("crashy")
    failed = events(history, "turn_failed")
    assert [e.data["agent"] for e in failed] == ["slow"]
    assert replies(history)[0] == "quick", "the floor moved on to the next agent"
    assert "slow" in replies(history), "the restarted agent took part again"
    assert len(failed) + len(replies(history)) == 4


def test_a_pending_approval_survives_a_daemon_restart_and_never_reruns_the_turn(
    daemon_guard: Settings,
) -> None:
    with Runtime.connect(daemon_guard) as runtime:
        spawn_scripted(runtime, "writer")
        runtime.create_room("review", agents=["writer"], mode="moderated", max_turns=3)
        with runtime.observe_room("review", timeout=30) as feed:
            runtime.say("review", "write a haiku")
            until_event(feed, "approval_needed")
        runtime.stop_daemon(grace=1.0)

    with Runtime.connect(daemon_guard) as runtime:
        info = runtime.room("review")
        assert [(p.kind, p.agent) for p in info.pending] == [("approval", "writer")]
        assert info.turns == 1
        runtime.approve("review")
        history = runtime.room_history("review")

    assert replies(history) == ["writer"]
    assert [m.data.get("moderation") for m in history if m.sender == "writer"] == ["approved"]
    assert len(events(history, "approval_needed")) == 1, "the turn did not run again"


def test_pause_holds_turns_and_resume_runs_them(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a")
    runtime.create_room("hold", agents=["a"], max_turns=3)
    runtime.room("hold", "pause")
    runtime.say("hold", "later")
    paused = runtime.room("hold")
    assert paused.state == "paused" and paused.queued == 1
    assert replies(runtime.room_history("hold")) == []

    with runtime.observe_room("hold", timeout=30) as feed:
        runtime.room("hold", "resume")
        turns_finished(feed, 1)
    assert replies(runtime.room_history("hold")) == ["a"]


def test_an_idle_room_ends_by_its_idle_timeout(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a")
    runtime.create_room("quiet", agents=["a"], max_turns=3, idle_timeout=0.5)
    with runtime.observe_room("quiet", timeout=30) as feed:
        runtime.say("quiet", "hello")
        until_event(feed, "conversation_ended")
    history = runtime.room_history("quiet")
    assert [e.data["reason"] for e in events(history, "conversation_ended")] == ["idle"]
    assert replies(history) == ["a"]


def test_deleting_a_room_keeps_its_history_until_it_is_purged(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a")
    runtime.create_room("gone", agents=["a"])
    runtime.room("gone", "pause")
    runtime.say("gone", "remember me")

    runtime.room("gone", "delete")
    assert "gone" not in [r.spec.name for r in runtime.rooms()]
    assert [c for _, c in chat(runtime.room_history("gone"))] == ["remember me"]
    with pytest.raises(OrchestrationError) as unknown:
        runtime.room("gone")
    assert unknown.value.code == "unknown_room" and "room create" in unknown.value.hint

    runtime.create_room("gone", agents=["a"])
    runtime.room("gone", "purge")
    assert runtime.room_history("gone") == []


def test_bad_rooms_and_messages_get_clear_errors(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a")
    with pytest.raises(OrchestrationError) as missing:
        runtime.create_room("r", agents=["a", "ghost"])
    assert missing.value.code == "unknown_agent" and "ghost" in str(missing.value)
    assert "orchestration spawn ghost" in missing.value.hint
    with pytest.raises(OrchestrationError) as invalid:
        runtime.create_room("r", agents=[])
    assert invalid.value.code == "invalid_room" and "at least one agent" in str(invalid.value)
    with pytest.raises(OrchestrationError) as topology:
        runtime.create_room("r", agents=["a"], topology="star")
    assert "unknown topology 'star'" in str(topology.value)

    runtime.create_room("r", agents=["a"])
    with pytest.raises(OrchestrationError) as duplicate:
        runtime.create_room("r", agents=["a"])
    assert duplicate.value.code == "duplicate_room"
    assert runtime.create_room("r", agents=["a"], exist_ok=True).spec.name == "r"
    with pytest.raises(OrchestrationError) as stranger:
        runtime.say("r", "hi", sender="mallory")
    assert "not a human member" in str(stranger.value) and "join" in stranger.value.hint
    with pytest.raises(OrchestrationError) as nobody:
        runtime.say("r", "hi", to=["ghost"])
    assert "not members or groups" in str(nobody.value)
    runtime.join_room("r", "mallory")
    assert runtime.say("r", "hi", sender="mallory").delivered_to == ("a", "user")


def test_an_agent_busy_in_its_direct_conversation_answers_the_room_after(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "shared", model="echo?delay=0.05")
    runtime.create_room("side", agents=["shared"], max_turns=1)

    direct = runtime.send("shared", "a long direct question")
    next(iter(direct))  # its direct turn has started
    with runtime.observe_room("side", timeout=30) as feed:
        runtime.say("side", "room question")
        until_event(feed, "conversation_ended")

    assert direct.result().message.content == "You said: a long direct question"
    history = runtime.room_history("side")
    assert events(history, "turn_failed") == []
    assert chat(history)[-1] == ("shared", "You said: room question")


def test_a_direct_turn_waiting_behind_a_room_turn_is_timed_from_its_start(
    runtime: Runtime,
) -> None:
    runtime.spawn("patient", provider="scripted", model="echo", turn_timeout=2.0)
    runtime.create_room("long", agents=["patient"], max_turns=1)
    slow = "[[scripted: delay=0.15]] " + " ".join(f"w{n}" for n in range(10))  # ~1.5 s

    with runtime.observe_room("long", timeout=30) as feed:
        runtime.say("long", slow)
        next(item for item in feed if isinstance(item, TurnStarted))  # the room's turn runs
        # it waits ~1.5 s behind the room's turn, then takes ~0.6 s: past 2 s in all
        direct = runtime.send("patient", "quick a b c [[scripted: delay=0.2]]")
        until_event(feed, "conversation_ended")
    reply = direct.result()

    assert reply.message.content == "You said: quick a b c"
    assert not [e for e in runtime.events() if e.event == "agent_restarted"]


def test_stopping_a_room_cancels_a_turn_still_waiting_behind_a_direct_one(
    runtime: Runtime,
) -> None:
    spawn_scripted(runtime, "queued", model="echo?delay=0.05")
    runtime.create_room("halted", agents=["queued"], max_turns=3)

    direct = runtime.send("queued", "a long direct question, word by word")
    next(iter(direct))  # its direct turn has started: the room's turn waits behind it
    with runtime.observe_room("halted", timeout=30) as feed:
        runtime.say("halted", "room question")
        runtime.room("halted", "stop")
        until_event(feed, "conversation_ended")
    direct.result()
    runtime.send("queued", "after").result()  # a turn left in the backlog would run before

    history = runtime.room_history("halted")
    assert [speaker for speaker, _ in chat(history)] == ["user"]
    assert [e.data["kind"] for e in events(history, "turn_failed")] == ["cancelled"]


def test_a_router_that_keeps_dying_fails_its_room_until_resumed(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a")
    runtime.create_room("fragile", agents=["a"], mode="moderated", max_turns=5)
    with runtime.observe_room("fragile", timeout=60) as feed:
        runtime.say("fragile", "draft")
        until_event(feed, "approval_needed")
        for _ in range(3):  # ROOM_INTENSITY: 3 restarts within 10 s
            pid = runtime.room("fragile").pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            until_event(feed, "room_restarted")
        pid = runtime.room("fragile").pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        until_event(feed, "room_failed")

    failed = runtime.room("fragile")
    assert failed.state == "failed" and "died more than 3 times" in failed.ended_reason
    with pytest.raises(OrchestrationError) as closed:
        runtime.say("fragile", "hello?")
    assert closed.value.code == "room_closed" and "room resume fragile" in closed.value.hint

    resumed = runtime.room("fragile", "resume")
    assert resumed.state == "active"
    assert [p.kind for p in resumed.pending] == ["approval"], "the pause outlived every restart"
    runtime.approve("fragile")
    history = runtime.room_history("fragile")
    assert replies(history) == ["a"]
    assert len(events(history, "approval_needed")) == 1, "no restart ran the turn again"
    assert len(events(history, "room_failed")) == 1


def test_commands_sent_while_a_router_dies_reach_its_replacement(runtime: Runtime) -> None:
    spawn_scripted(runtime, "a")
    runtime.create_room("relay", agents=["a"], max_turns=10)
    runtime.room("relay", "pause")
    for round_ in range(3):
        pid = runtime.room("relay").pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        said = runtime.say("relay", f"right after the kill {round_}")  # may reach the dead one
        assert said.delivered_to == ("a",)
    texts = [c for s, c in chat(runtime.room_history("relay")) if s == "user"]
    assert texts == [f"right after the kill {n}" for n in range(3)]
