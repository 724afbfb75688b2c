"""Supervised teams of LLM agents on Thespian actors, with Erlang/OTP semantics."""

__all__: list[str] = []
