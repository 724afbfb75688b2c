"""Soak: the chaos run of `bench._chaos` for minutes on end, with the admin killed too.

The load and faults of the chaos suite (20 agents, client threads, random ``kill -9`` and
``SIGSTOP`` of every kind of process but the admin, provider faults) run in phases of
``--phase`` minutes. Between phases the admin itself is killed, and the time until the next
CLI-style call (attach, starting a new daemon, then ``list``) succeeds is its time to heal.

The report: messages sent, kills per kind, time to healed per kind (p50, p99: from the kill
until the next call that needs that process succeeds), and lost and duplicated messages, which
must be 0. Targets: p99 <= 1 s for every kind but the admin; 0 lost, 0 duplicated.

Run: ``uv run python -m bench soak --minutes 30 [--phase 5] [--clients 8] [--fault-every 0.7]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

from bench._chaos import ENV, Chaos, Report, build, percentile, processes, summary
from bench._common import bench_environment, free_port, stop_daemon, verdict


def _admin_healed(settings: object) -> tuple[float, object]:
    """Kill the admin; seconds until a new Runtime answers ``list``, and that Runtime."""
    from orchestration.runtime import Runtime

    runtime = Runtime.connect(settings, start=False)  # type: ignore[arg-type]
    admin = processes(runtime)["admin"][0]
    runtime.close()
    killed = time.monotonic()
    os.kill(admin, signal.SIGKILL)
    while True:
        try:
            fresh = Runtime.connect(settings)  # type: ignore[arg-type]
            fresh.list()
            return time.monotonic() - killed, fresh
        except Exception:
            if time.monotonic() - killed > 60:
                raise


def _merge(total: Report, part: Report) -> None:
    total.sent += part.sent
    total.accepted += part.accepted
    total.kills.update(part.kills)
    total.stops.update(part.stops)
    for kind, samples in part.healed.items():
        total.healed[kind].extend(samples)
    total.lost += part.lost
    total.duplicated += part.duplicated
    total.unanswered += part.unanswered
    total.out_of_order += part.out_of_order
    total.errors.update(part.errors)


def _soak(minutes: float, phase: float, clients: int, fault_every: float) -> Report:
    """The phases of load and faults, with an admin kill between two; the merged report."""
    from orchestration.runtime import Runtime
    from orchestration.settings import Settings

    total = Report()
    settings = Settings()
    runtime: object = Runtime.connect(settings)
    try:
        build(runtime)  # type: ignore[arg-type]
        end = time.monotonic() + minutes * 60
        seed = 0
        while (left := end - time.monotonic()) > 1:
            seed += 1
            chaos = Chaos(runtime, seed=seed)  # type: ignore[arg-type]
            _merge(total, chaos.run(0, clients, fault_every, seconds=min(left, phase * 60)))
            if end - time.monotonic() > 1:
                runtime.close()  # type: ignore[attr-defined]
                healed, runtime = _admin_healed(settings)
                total.kills["admin"] += 1
                total.healed["admin"].append(healed)
    finally:
        stop_daemon(settings, runtime)
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--phase", type=float, default=5.0, help="minutes between admin kills")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-every", type=float, default=0.7)
    args = parser.parse_args(argv)
    print(f"soak: {args.minutes:g} min of load and faults; the admin killed every {args.phase:g}")
    with (
        tempfile.TemporaryDirectory(prefix="orch-soak-") as tmp,
        bench_environment(Path(tmp) / "home", free_port(), ENV),
    ):
        total = _soak(args.minutes, args.phase, args.clients, args.fault_every)
    for line in summary(total):
        print("  " + line)
    slow = [k for k, v in total.healed.items() if k != "admin" and percentile(v, 0.99) > 1.0]
    clean = not (total.lost or total.duplicated or total.unanswered or total.out_of_order)
    print(f"  target: p99 <= 1 s for every kind but the admin: {verdict(not slow)} {slow or ''}")
    print(f"  target: 0 lost, 0 duplicated, 0 unanswered, in order: {verdict(clean)}")
