"""Supervisors: the root supervisor now; specs, strategies and restart intensity next."""
