"""What the benchmarks share: a private daemon that is always stopped, and latency figures.

`private_daemon` runs a daemon of its own on a free port with a temporary ``ORCH_HOME``, no
provider credentials from the caller's shell and no user settings file. On the way out it stops
the daemon and kills whatever of its process tree outlives the stop, as the tests'
``stop_everything`` does, and it restores ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CREDENTIAL_PREFIXES = ("ANTHROPIC_", "OPENAI_", "ORCH_")
LOOPBACK = "127.0.0.1,localhost"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def bench_environment(
    home: Path, port: int, extra: Mapping[str, str] | None = None
) -> Iterator[None]:
    """``os.environ`` for a private daemon (inherited by it and by CLI subprocesses); restored
    afterwards."""
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.startswith(CREDENTIAL_PREFIXES):
                del os.environ[name]
        pythonpath = os.environ.get("PYTHONPATH")
        os.environ.update(
            {
                "ORCH_HOME": str(home),
                "ORCH_ADMIN_PORT": str(port),
                "XDG_CONFIG_HOME": str(home / "xdg-config"),  # no user settings file
                "NO_PROXY": LOOPBACK,
                "no_proxy": LOOPBACK,
                # The admin imports actor classes by name (bench.hop.EchoActor) from its cwd.
                "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p),
                **(extra or {}),
            }
        )
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def private_daemon(extra_env: Mapping[str, str] | None = None) -> Iterator[object]:
    """A `Runtime` on a fresh daemon of its own; the daemon and its tree are always stopped."""
    from orchestration.runtime import Runtime
    from orchestration.settings import Settings

    if (Path.cwd() / "orchestration.toml").is_file():
        raise SystemExit("run the benchmarks from a directory without an orchestration.toml")
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        home = Path(tmp) / "home"
        with bench_environment(home, free_port(), extra_env):
            settings = Settings()
            runtime = None
            try:
                started = time.perf_counter()
                runtime = Runtime.connect(settings)
                print(
                    f"  (daemon on port {settings.admin_port} started in "
                    f"{time.perf_counter() - started:.1f} s)"
                )
                yield runtime
            finally:
                stop_daemon(settings, runtime)


def stop_daemon(settings: object, runtime: object | None) -> None:
    """Stop the daemon gracefully, then kill any process of its tree that outlives the stop."""
    from orchestration.daemon.record import DaemonRecord
    from orchestration.processes.pids import ProcessId, descendants, wait_gone
    from orchestration.runtime import Runtime

    record = DaemonRecord.read(settings)  # type: ignore[arg-type]
    if record is None:
        if runtime is not None:
            with contextlib.suppress(Exception):
                runtime.close()  # type: ignore[attr-defined]
        return
    tree = descendants(record.pid)
    admin = ProcessId.of(record.pid)
    with contextlib.suppress(Exception):  # whatever failed, the kill below still runs
        if runtime is None:
            runtime = Runtime.connect(settings, start=False)  # type: ignore[arg-type]
        runtime.stop_daemon(grace=1.0)  # type: ignore[attr-defined]
    for process in wait_gone([p for p in [admin, *tree] if p], timeout=5.0):
        process.kill()
    DaemonRecord.remove(settings)  # type: ignore[arg-type]


# --- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Latency figures of one series of samples (seconds)."""

    n: int
    median: float
    p90: float
    p99: float
    mean: float
    low: float

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        ordered = sorted(samples)
        n = len(ordered)

        def pct(q: float) -> float:
            return ordered[min(n - 1, round(q * (n - 1)))]

        return cls(
            n=n,
            median=statistics.median(ordered),
            p90=pct(0.90),
            p99=pct(0.99),
            mean=statistics.fmean(ordered),
            low=ordered[0],
        )

    def row(self, label: str, width: int = 44, tails: bool = True) -> str:
        text = f"  {label:<{width}} median {ms(self.median)}"
        if tails:
            text += f"  p90 {ms(self.p90)}  p99 {ms(self.p99)}"
        return text + f"  min {ms(self.low)}  N={self.n}"


def timed(call: Callable[[int], object], count: int) -> list[float]:
    """How long each of ``count`` calls took (seconds); ``call`` gets the call's index."""
    samples = []
    for index in range(count):
        start = time.perf_counter()
        call(index)
        samples.append(time.perf_counter() - start)
    return samples


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.2f} ms"


def verdict(ok: bool) -> str:
    return "MEETS target" if ok else "MISSES target"


def ratio_row(label: str, ours: Stats, base: Stats, target: float, digits: int = 2) -> str:
    """``label (median): 1.23x  target <= 2x  MEETS target`` for ``ours`` against ``base``."""
    ratio = ours.median / base.median
    return (
        f"  {label} (median): {ratio:.{digits}f}x  target <= {target:g}x  "
        f"{verdict(ratio <= target)}"
    )


def alternate(
    rounds: int, loops: Mapping[str, Callable[[], list[float]]]
) -> dict[str, list[float]]:
    """Run each loop once per round, the order reversed every other round, so machine noise
    hits every loop alike; return each loop's samples, concatenated."""
    samples: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            samples[name].extend(loops[name]())
    return samples
