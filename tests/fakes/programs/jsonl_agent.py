"""A small program that speaks the jsonl protocol, for subprocess-agent tests.

It answers each turn word by word (``echo N: <content>``, N counting its turns, so a test can
tell one long-lived process from a restarted one). Words in the content script it:
``crash`` (stderr line, exit 3), ``bye`` (reply, then exit 0), ``garbage`` (a non-JSON line
first), ``hang`` (never answer), ``log=N`` (N stderr lines first), ``fail`` (an error line).
A SIGTERM makes it write ``got SIGTERM`` to stderr and exit 0, unless ``--ignore-term``.
With ``--linger`` it stays after its stdin closes, until a signal ends it.
"""

from __future__ import annotations

import json
import signal
import sys
import time


def say(**message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def on_term(signum: int, frame: object) -> None:
    print("got SIGTERM", file=sys.stderr, flush=True)
    sys.exit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN if "--ignore-term" in sys.argv else on_term)
    turns = 0
    for line in sys.stdin:
        turns += 1
        content = json.loads(line)["content"]
        words = content.split()
        for word in words:
            if word.startswith("log="):
                for index in range(int(word[4:])):
                    print(f"log line {index}", file=sys.stderr, flush=True)
        if "crash" in words:
            print("something broke", file=sys.stderr, flush=True)
            sys.exit(3)
        if "hang" in words:
            time.sleep(3600)
        if "garbage" in words:
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
            continue
        if "fail" in words:
            say(type="error", error="the model is tired")
            continue
        for index, word in enumerate(f"echo {turns}: {content}".split(" ")):
            say(type="delta", text=word if index == 0 else " " + word)
        say(type="final", text=f"echo {turns}: {content}")
        if "bye" in words:
            sys.exit(0)
    if "--linger" in sys.argv:
        time.sleep(3600)


if __name__ == "__main__":
    main()
