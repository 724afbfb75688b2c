"""Run benchmarks by name: ``python -m bench journal [hop ...]``; options follow the name of
the benchmark they are for: ``python -m bench fanout --sizes 10,50 --rounds 3``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path


def _runs(args: list[str], available: list[str]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Each benchmark named with the options after it, and the arguments that are neither."""
    runs: list[tuple[str, list[str]]] = []
    unknown = []
    for arg in args:
        if arg in available:
            runs.append((arg, []))
        elif runs and (arg.startswith("-") or runs[-1][1]):
            runs[-1][1].append(arg)
        else:
            unknown.append(arg)
    return runs, unknown


def main() -> int:
    available = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not info.name.startswith("_")
    )
    if not sys.argv[1:]:
        print(f"usage: python -m bench NAME [OPTIONS]...  (available: {', '.join(available)})")
        return 2
    runs, unknown = _runs(sys.argv[1:], available)
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(available)}")
        return 2
    modules = [(importlib.import_module(f"bench.{name}"), options) for name, options in runs]
    rigid = [m.__name__ for m, options in modules if options and not _takes_options(m.main)]
    if rigid:
        print(f"{', '.join(rigid)} take(s) no options")
        return 2
    for module, options in modules:
        if options:
            module.main(options)
        else:
            module.main()
    return 0


def _takes_options(main: Callable[..., object]) -> bool:
    return bool(inspect.signature(main).parameters)


if __name__ == "__main__":
    sys.exit(main())
