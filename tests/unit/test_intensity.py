"""Restart intensity, tested the way OTP's supervisor_SUITE does, with an injected clock."""

from __future__ import annotations

import pytest

from orchestration.supervision.intensity import RestartIntensity


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_n_restarts_within_the_period_pass_and_the_next_one_terminates() -> None:
    clock = Clock()
    window = RestartIntensity(intensity=3, period=10, clock=clock)

    allowed = []
    for _ in range(4):
        allowed.append(window.add_restart())
        clock.now += 1

    assert allowed == [True, True, True, False]


def test_restarts_older_than_the_period_drop_out_of_the_window() -> None:
    clock = Clock()
    window = RestartIntensity(intensity=2, period=5, clock=clock)
    assert window.add_restart() and window.add_restart()

    clock.now += 6

    assert window.add_restart()
    assert window.restarts == [1006]


def test_the_window_boundary_is_inclusive() -> None:
    clock = Clock()
    window = RestartIntensity(intensity=1, period=5, clock=clock)
    assert window.add_restart()

    clock.now += 5  # exactly `period` later: the first restart still counts

    assert not window.add_restart()


def test_one_second_past_the_boundary_the_old_restart_is_forgotten() -> None:
    clock = Clock()
    window = RestartIntensity(intensity=1, period=5, clock=clock)
    assert window.add_restart()

    clock.now += 6

    assert window.add_restart()


def test_time_is_counted_in_whole_seconds() -> None:
    clock = Clock(1000.9)
    window = RestartIntensity(intensity=1, period=5, clock=clock)
    assert window.add_restart()  # stamped 1000

    clock.now = 1005.99  # floor 1005: 1000 >= 1005 - 5, still inside

    assert not window.add_restart()
    assert window.restarts == [1005, 1000]


def test_intensity_zero_terminates_on_the_first_restart() -> None:
    assert not RestartIntensity(intensity=0, period=5, clock=Clock()).add_restart()


def test_a_terminating_restart_is_still_recorded_like_otp() -> None:
    clock = Clock()
    window = RestartIntensity(intensity=1, period=60, clock=clock)
    window.add_restart()
    clock.now += 1
    window.add_restart()

    assert window.restarts == [1001, 1000]


def test_the_default_otp_flags_allow_one_restart_in_five_seconds() -> None:
    clock = Clock()
    window = RestartIntensity(intensity=1, period=5, clock=clock)

    assert window.add_restart()
    clock.now += 4
    assert not window.add_restart()


@pytest.mark.parametrize(("intensity", "period"), [(-1, 5), (1, 0)])
def test_impossible_flags_are_refused(intensity: int, period: int) -> None:
    with pytest.raises(ValueError, match=r"intensity|period"):
        RestartIntensity(intensity=intensity, period=period)
