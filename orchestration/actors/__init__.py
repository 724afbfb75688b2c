"""Actors of the tree: agents, the direct and room routers, and the worker plumbing they share."""

__all__: list[str] = []
