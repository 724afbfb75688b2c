"""Wall time of CLI commands against a running daemon, as ratios to ``import pydantic``.

Each command runs as a subprocess, about ten times, in rotating order:

- ``python -c pass``: the interpreter's own start-up, the floor;
- ``python -c "import pydantic"``: the yardstick;
- ``python -m orchestration.cli list`` and the installed ``orchestration list`` script;
- ``orchestration send NAME TEXT``: the time until its first printed token (stdout read as it
  comes) and until it exits. The agent is scripted to stream 5 words at once.

Target: ``list`` and ``send`` at most 3x ``import pydantic``, at the median. For scale, it also
times the libraries alone (typer, Rich, Thespian and one pydantic model validated): what any
command pays before it runs a line of ours. Then ``python -X
importtime`` of ``list``: its heaviest imports, and whether a provider SDK (anthropic, openai,
httpx2) is imported by the CLI (it must not be).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench._common import ROOT, Stats, alternate, private_daemon, verdict

TARGET = 3.0
"""The most a command may take, as a multiple of ``python -c "import pydantic"``."""
ROUNDS = 10
AGENT = "talker"
WORDS = 5
WORD_DELAY = 0.0
SDKS = ("anthropic", "openai", "httpx2")
LIBRARIES = (
    "import typer, typer._adapters, rich.console, thespian.actors\n"
    "from pydantic import BaseModel\n"
    "class Ping(BaseModel):\n"
    "    seq: int = 0\n"
    "Ping()"
)
"""What any command of this CLI loads before any code of ours: its libraries, and one model
validated (so pydantic builds its validator machinery)."""
TIMEOUT = 60.0


def _script() -> Path | None:
    candidates = (Path(sys.executable).parent / "orchestration", ROOT / ".venv/bin/orchestration")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _run(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


class SendRun:
    """``send`` as the user sees it: first printed token, then the whole reply."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.first: list[float] = []
        self.total: list[float] = []
        self.expected = " ".join(f"word{i}" for i in range(WORDS))

    def text(self) -> str:
        return f"hello [[scripted: reply={self.expected}; delay={WORD_DELAY}]]"

    def __call__(self) -> list[float]:
        start = time.perf_counter()
        process = subprocess.Popen(
            [*self.command, self.text()], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None
        first = None
        output = b""
        try:
            while chunk := os.read(process.stdout.fileno(), 65536):
                if first is None and chunk.strip():
                    first = time.perf_counter()
                output += chunk
            stderr = process.stderr.read() if process.stderr else b""
            code = process.wait(TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        end = time.perf_counter()
        if code != 0 or output.decode().strip() != self.expected or first is None:
            raise RuntimeError(f"send failed ({code}): {output[-200:]!r} {stderr[-300:]!r}")
        self.first.append(first - start)
        self.total.append(end - start)
        return []


@dataclass
class ImportProfile:
    """What ``python -X importtime`` says about one command."""

    seconds: float = 0.0  # all imports together
    packages: Counter[str] = field(default_factory=Counter)  # own (self) time per package, us
    top: list[tuple[int, str]] = field(default_factory=list)  # (cumulative us, module)
    sdks: set[str] = field(default_factory=set)  # provider SDK modules imported


def _importtime(command: list[str]) -> ImportProfile:
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    profile = ImportProfile()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        module = name.strip()
        profile.packages[module.split(".")[0]] += int(own)
        if module.split(".")[0] in SDKS:
            profile.sdks.add(module)
        if not name.startswith("  "):  # imported by the program itself, not by a module
            profile.top.append((int(cumulative), module))
            profile.seconds += int(cumulative) / 1e6
    profile.top.sort(reverse=True)
    return profile


def _print_imports(profile: ImportProfile, slow: bool) -> None:
    count = 10 if slow else 5
    print(f"imports of `list` (python -X importtime): {profile.seconds:.3f} s in all")
    print(f"  heaviest first-level imports (cumulative), top {count}:")
    for cumulative, module in profile.top[:count]:
        print(f"    {cumulative / 1e3:7.1f} ms  {module}")
    print(f"  heaviest packages (their modules' own time), top {count}:")
    for package, own in profile.packages.most_common(count):
        print(f"    {own / 1e3:7.1f} ms  {package}")
    if profile.sdks:
        shown = ", ".join(sorted(profile.sdks)[:5])
        print(f"  PROVIDER SDK IMPORTED by the CLI: {shown}...  (it must not be)")
    else:
        print(f"  no provider SDK imported by the CLI ({', '.join(SDKS)}): as required")


def _in_process(settings: object, count: int) -> dict[str, list[float]]:
    """What `list` does after its imports, timed in this process: connect, list, close."""
    from orchestration.daemon.record import daemon_running
    from orchestration.runtime import Runtime

    phases: dict[str, list[float]] = {"check": [], "connect": [], "list": [], "close": []}
    for _ in range(count):
        start = time.perf_counter()
        daemon_running(settings)  # type: ignore[arg-type]
        checked = time.perf_counter()
        runtime = Runtime.connect(settings, start=False)  # type: ignore[arg-type]
        connected = time.perf_counter()
        runtime.list()
        listed = time.perf_counter()
        runtime.close()
        closed = time.perf_counter()
        phases["check"].append(checked - start)
        phases["connect"].append(connected - checked)
        phases["list"].append(listed - connected)
        phases["close"].append(closed - listed)
    return phases


def main() -> None:
    print("cli: wall time of CLI commands with the daemon running (subprocesses)")
    python = sys.executable
    module = [python, "-m", "orchestration.cli"]
    script = _script()
    with private_daemon() as runtime:
        # as on a user's machine, the warm-up runs leave bytecode for the timed ones to load
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        runtime.spawn(AGENT, provider="scripted", model="echo")
        send = SendRun([*module, "send", AGENT])
        commands = {
            "python -c pass": [python, "-c", "pass"],
            "python -c 'import pydantic'": [python, "-c", "import pydantic"],
            "libraries alone (typer, rich, thespian, a model)": [python, "-c", LIBRARIES],
            "python -m orchestration.cli list": [*module, "list"],
        }
        if script is not None:
            commands["orchestration list (console script)"] = [str(script), "list"]
        loops = {name: (lambda c=command: [_run(c)]) for name, command in commands.items()}
        loops["send"] = send
        for loop in loops.values():  # warm-up: the OS file cache, the daemon's code paths
            loop()
        send.first.clear()
        send.total.clear()
        samples = alternate(ROUNDS, loops)
        profile = _importtime([*module, "list"])
        phases = _in_process(runtime.settings, ROUNDS)

    print("wall time, from the start of the process:")
    figures = {name: Stats.of(samples[name]) for name in commands}
    for name, stats in figures.items():
        print(stats.row(name, 40))
    first, total = Stats.of(send.first), Stats.of(send.total)
    print(first.row(f"send {AGENT} TEXT: first token", 40))
    print(total.row(f"send {AGENT} TEXT: exit", 40))
    print(f"  (the reply: {WORDS} words, {WORD_DELAY * 1e3:g} ms apart)")
    floor = figures["python -c pass"].median
    yardstick = figures["python -c 'import pydantic'"].median
    libraries = figures["libraries alone (typer, rich, thespian, a model)"].median
    print(
        f"  the libraries alone: {libraries:.3f} s median, {libraries / yardstick:.2f}x import "
        "pydantic: the floor of any command, before any code of ours"
    )
    timed = {name: stats.median for name, stats in figures.items() if "orchestration" in name}
    timed[f"send {AGENT} TEXT (exit)"] = total.median
    for name, median in timed.items():
        ratio = median / yardstick
        print(
            f"  {name}: {median:.3f} s median, {ratio:.2f}x import pydantic "
            f"({median - floor:.3f} s above python -c pass); target <= {TARGET:g}x"
            f"  {verdict(ratio <= TARGET)}"
        )
    print(f"  send's first token: {first.median - floor:.3f} s above python -c pass")
    _print_imports(profile, slow=any(m / yardstick > TARGET for m in timed.values()))
    print("`list` after its imports, timed in this process:")
    labels = {
        "check": "daemon_running() (port probe, record check)",
        "connect": "Runtime.connect(start=False)",
        "list": "runtime.list() (root pings each agent)",
        "close": "runtime.close()",
    }
    for name, label in labels.items():
        print(Stats.of(phases[name]).row(label, 44, tails=False))


if __name__ == "__main__":
    main()
