"""The gateway: the tree's one door for processes that serve remote clients.

``actor`` is the gateway actor the root supervises; ``link`` is a serving process's end of it
(opened through ``Runtime.link``). Import the module you need: the CLI and the interfaces may use
``link`` but never ``actor`` (they reach the tree only through the Runtime).
"""

__all__: list[str] = []
