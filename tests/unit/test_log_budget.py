"""A subprocess agent's stderr budget, on an injected clock: at most LOG_LINES_PER_SECOND lines
a second, a note for the first line over, nothing after it, and a fresh budget each second."""

from __future__ import annotations

from orchestration.actors.programs.agent import LOG_LINES_PER_SECOND, LogBudget


def test_lines_over_the_budget_are_dropped_after_one_note_until_the_next_second() -> None:
    now = [100.2]
    budget = LogBudget(clock=lambda: now[0])

    first = [budget.take(f"line {n}") for n in range(LOG_LINES_PER_SECOND + 3)]
    now[0] = 100.99  # the same second
    late = budget.take("still this second")
    now[0] = 101.0  # the next one
    fresh = budget.take("a new second")

    assert first[:LOG_LINES_PER_SECOND] == [f"line {n}" for n in range(LOG_LINES_PER_SECOND)]
    assert "dropped" in (first[LOG_LINES_PER_SECOND] or "")
    assert first[LOG_LINES_PER_SECOND + 1 :] == [None, None]
    assert late is None and fresh == "a new second"
