"""The rules a room's router applies to turns: pure functions, no actors, no I/O.

- Who answers a message (`responders`): ``always`` every agent it was delivered to;
  ``self_select`` the same, but each may pass; ``round_robin`` only the next agent in member
  order, so the floor goes round.
- The pass rule of ``self_select`` (`is_pass`): a reply that is ``PASS``, ``[pass]`` or starts
  with ``PASS:`` (any case; a reason may follow the colon) is a pass. It is journaled as a
  ``turn_passed`` event, not as a message, so nobody hears it and it triggers no turn.
- Addressing (`mentions`): a message that starts with ``@name`` (one or more, such as
  ``@critic @user: ...``) is addressed to those members or groups, which the ``filtered`` and
  ``hierarchical`` topologies read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orchestration.messages import RespondPolicy

__all__ = ["MENTIONS", "PASS", "SELF_SELECT_INSTRUCTIONS", "is_pass", "mentions", "responders"]

PASS = re.compile(r"\s*\[?pass\]?\s*(?:[:.!\-].*)?", re.IGNORECASE | re.DOTALL)
MENTIONS = re.compile(r"\s*((?:@[a-z0-9][a-z0-9_.-]*[\s,]*)+)[:\s]")
SELF_SELECT_INSTRUCTIONS = (
    "You are in a conversation with several members. Answer only if you have something"
    " useful to add; otherwise reply with exactly PASS."
)


def is_pass(text: str) -> bool:
    """Whether a reply in a ``self_select`` room declines to speak."""
    return PASS.fullmatch(text) is not None


def mentions(text: str, names: Sequence[str]) -> tuple[str, ...]:
    """The members or groups (among ``names``) a message's leading ``@name``s address."""
    found = MENTIONS.match(text + " ")
    if found is None:
        return ()
    tagged = re.findall(r"@([a-z0-9][a-z0-9_.-]*)", found.group(1))
    return tuple(name for name in dict.fromkeys(tagged) if name in names)


def responders(
    policy: RespondPolicy, candidates: Sequence[str], agents: Sequence[str], last: str | None
) -> list[str]:
    """The agents that take a turn on a message delivered to ``candidates`` (the agents that
    heard it, not its sender): all of them, or for ``round_robin`` the first one after
    ``last`` (the agent that last got the floor) in the member order ``agents``."""
    if policy != "round_robin":
        return list(candidates)
    if not candidates:
        return []
    start = agents.index(last) + 1 if last in agents else 0
    order = [*agents[start:], *agents[:start]]
    return [next(agent for agent in order if agent in candidates)]
