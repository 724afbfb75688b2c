"""Who hears and who speaks in a conversation: topologies (`routing`), respond policies
(`turn_policy`), a room's floor (`floor`) and its rebuilding from the journal (`room_replay`).
All pure: no actors, no I/O."""

__all__: list[str] = []
