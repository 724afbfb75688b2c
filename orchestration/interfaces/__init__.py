"""Remote callers' doors to the running actor system: REST (`rest`, with its agents, rooms and
workflows routes), WebSocket (`ws`), MCP (`mcp`) and Google ADK workflows (`adk`). They reach
the tree only through `orchestration.runtime.Runtime`."""

__all__: list[str] = []
