"""Actors of the tree: agents, conversation routers, and the worker plumbing they share."""
