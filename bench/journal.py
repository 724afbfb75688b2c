"""Journal appends per second, against the target of 20,000/s.

Single appends (each its own commit) on a new journal, `append_many` of 100, single appends
once the journal holds 220,000 messages, and repeats of stored ids. Then where a single append's
time goes. Last, the same at-scale figure with time-ordered ids (UUIDv7-like) instead of
`new_id`'s random uuid4: random keys scatter the writes of the UNIQUE index on ``id`` over the
whole file, and each WAL checkpoint must copy and fsync those pages.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchestration.journal import Journal, _row
from orchestration.messages import Envelope, new_id

TARGET = 20_000
SINGLE = 20_000
BATCHED = 200_000
BATCH = 100


def _time_ordered_id() -> str:
    return f"{time.time_ns():016x}{os.urandom(8).hex()}"


def _messages(count: int, conversation: str, make_id: Callable[[], str]) -> list[Envelope]:
    return [
        Envelope(
            id=make_id(),
            conversation=conversation,
            sender="alice",
            recipients=("bob",) if i % 2 else (),
            content=f"message {i}: " + "lorem ipsum " * 10,
            data={"i": i},
        )
        for i in range(count)
    ]


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _report(label: str, count: int, seconds: float) -> None:
    rate = count / seconds
    verdict = "meets" if rate >= TARGET else "MISSES"
    print(f"  {label:<40} {rate:>9,.0f}/s {1e6 / rate:6.1f} us each  {verdict} {TARGET:,}/s")


def _batched(journal: Journal, make_id: Callable[[], str]) -> float:
    chunks = [_messages(BATCH, f"batch-{i}", make_id) for i in range(BATCHED // BATCH)]
    return _seconds(lambda: [journal.append_many(chunk) for chunk in chunks])


def _latencies(journal: Journal, messages: list[Envelope]) -> list[float]:
    latencies = []
    for message in messages:
        start = time.perf_counter()
        journal.append(message)
        latencies.append(time.perf_counter() - start)
    return latencies


def main() -> None:
    print(f"journal appends (SQLite {sqlite3.sqlite_version}, WAL, synchronous=NORMAL)")
    scale = f"after {SINGLE + BATCHED:,} messages"
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "journal.db") as journal:
        single = _messages(SINGLE, "single", new_id)
        _report(
            "single, new journal", SINGLE, _seconds(lambda: [journal.append(m) for m in single])
        )
        _report(f"append_many of {BATCH}", BATCHED, _batched(journal, new_id))
        later = _messages(SINGLE, "later", new_id)
        latencies = _latencies(journal, later)
        _report(f"single, {scale}", SINGLE, sum(latencies))
        seconds = _seconds(lambda: [journal.append(m) for m in single])
        _report("single, repeated ids (stores nothing)", SINGLE, seconds)

        print("where a single append's time goes:")
        row = _seconds(lambda: [_row(m) for m in later]) / SINGLE
        print(f"  row from envelope (model_dump, JSON): {row * 1e6:.1f} us")
        latencies.sort()
        mean, p50 = statistics.mean(latencies), latencies[SINGLE // 2]
        p99, worst = latencies[SINGLE * 99 // 100], latencies[-1]
        print(
            f"  append latency {scale}: mean {mean * 1e6:.1f} us, p50 {p50 * 1e6:.1f} us,"
            f" p99 {p99 * 1e6:.1f} us, max {worst * 1e3:.1f} ms (the tail: WAL checkpoints)"
        )
        print(f"  journal file: {journal.path.stat().st_size / 1e6:.0f} MB")

    print("with time-ordered ids instead of uuid4:")
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "journal.db") as journal:
        journal.append_many(_messages(SINGLE, "single", _time_ordered_id))
        _report(f"append_many of {BATCH}", BATCHED, _batched(journal, _time_ordered_id))
        later = _messages(SINGLE, "later", _time_ordered_id)
        _report(f"single, {scale}", SINGLE, sum(_latencies(journal, later)))


if __name__ == "__main__":
    main()
