"""Restart intensity: OTP's ``add_restart``, ported literally.

From ``supervisor.erl``::

    add_restart(State) ->
        I = State#state.intensity,
        P = State#state.period,
        R = State#state.restarts,
        Now = erlang:monotonic_time(1),
        R1 = add_restart([Now|R], Now, P),
        State1 = State#state{restarts = R1},
        case length(R1) of
            CurI when CurI =< I -> {ok, State1};
            _ -> {terminate, State1}
        end.

    add_restart(Restarts0, Now, Period) ->
        Threshold = Now - Period,
        Restarts1 = lists:takewhile(fun (R) -> R >= Threshold end, Restarts0),
        Restarts1.

Timestamps are whole seconds of a monotonic clock, newest first, and the window's boundary is
inclusive: a restart exactly ``period`` seconds old still counts. With intensity 0 the first
restart already terminates the supervisor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["RestartIntensity"]


class RestartIntensity:
    """The restart window of one supervisor."""

    def __init__(
        self, intensity: int, period: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if intensity < 0:
            raise ValueError(f"intensity must be 0 or more, got {intensity}")
        if period < 1:
            raise ValueError(f"period must be at least 1 second, got {period}")
        self.intensity = intensity
        self.period = period
        self._clock = clock
        self.restarts: list[int] = []  # newest first, as in OTP

    def add_restart(self) -> bool:
        """Record a restart now. True: go ahead; False: the limit is exceeded (terminate)."""
        now = math.floor(self._clock())
        threshold = now - self.period
        kept: list[int] = []
        for stamp in [now, *self.restarts]:
            if stamp < threshold:
                break  # lists:takewhile
            kept.append(stamp)
        self.restarts = kept
        return len(kept) <= self.intensity
