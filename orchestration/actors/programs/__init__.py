"""Agents backed by a long-lived program: the actor (``agent``, `SubprocessAgent`) and the
program it runs, read without blocking (``session``, `ProcessSession`). The wire protocols
live with the providers (`orchestration.providers.program`)."""

__all__: list[str] = []
