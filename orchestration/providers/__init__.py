"""LLM providers behind one protocol, found through the ``orchestration.providers`` entry points."""

__all__: list[str] = []
