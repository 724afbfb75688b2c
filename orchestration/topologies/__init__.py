"""Topologies: who in a conversation receives a message (pure functions; no actors, no I/O)."""
