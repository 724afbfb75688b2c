"""The daemon that hosts the actor system, in one place.

- `actor_system`: how a process joins the daemon's actor system;
- `record`: the daemon's record file, and whether a daemon of ours runs;
- `launch`: start it, attach to it, reap it (what the Runtime does);
- `main`: the daemon process itself (``python -m orchestration.daemon``);
- `foreground`: ``orchestration up --foreground``, a daemon owned by its starter.

This package imports none of them, so that reading the record loads no actor module.
"""

__all__: list[str] = []
