"""OS processes, below the actors: PIDs and process trees (``pids``) and the PID files of
agents' programs with the sweep of their strays (``pidfiles``). Import the module you need."""

__all__: list[str] = []
