"""The Runtime: the one facade over the actor system, for the CLI, REST, MCP and Python users.

- `facade`: `Runtime` itself: connecting, agents and trees, stopping the daemon;
- `rooms`: its calls about rooms;
- `workflows`: its calls about workflows and their runs;
- `connection`: what every call stands on (asks of the root, the gateway link, journal pages).

`orchestration.aio.AsyncRuntime` offers the same calls to asyncio code.
"""

from orchestration.runtime.facade import DaemonError, OrchestrationError, Runtime

__all__ = ["DaemonError", "OrchestrationError", "Runtime"]
