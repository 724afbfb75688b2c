"""`RateLimiter`: a bucket per client, and a bounded table of clients."""

from __future__ import annotations

import pytest

from orchestration.interfaces.problems import Problem
from orchestration.interfaces.security import RateLimiter


def test_a_client_over_its_budget_is_refused_and_others_are_not() -> None:
    limiter = RateLimiter(2)
    limiter.take("a")
    limiter.take("a")

    with pytest.raises(Problem) as refused:
        limiter.take("a")
    limiter.take("b")

    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "30"


def test_a_full_table_forgets_the_client_seen_longest_ago() -> None:
    limiter = RateLimiter(1)
    limiter.MAX_CLIENTS = 2
    limiter.take("a")
    limiter.take("b")
    with pytest.raises(Problem):
        limiter.take("a")  # seen again: now "b" is the one seen longest ago
    limiter.take("c")  # the table is full: "b" goes

    with pytest.raises(Problem):
        limiter.take("a")  # still tracked, its bucket still empty
    limiter.take("b")  # forgotten: a fresh bucket
