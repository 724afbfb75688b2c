"""Supervisors: the root, the rooms supervisor, tree supervisors and their OTP rules (specs,
strategies, restart intensity)."""

__all__: list[str] = []
