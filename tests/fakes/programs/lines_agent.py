"""A plain-text program for the lines protocol: answers each line with ``heard: <line>`` and
``and nothing else``, then the sentinel ``<<<END>>>`` (or, with ``--no-sentinel``, nothing:
the turn then ends when it falls silent)."""

from __future__ import annotations

import sys


def main() -> None:
    sentinel = "--no-sentinel" not in sys.argv
    for line in sys.stdin:
        print(f"heard: {line.strip()}", flush=True)
        print("and nothing else", flush=True)
        if sentinel:
            print("<<<END>>>", flush=True)


if __name__ == "__main__":
    main()
