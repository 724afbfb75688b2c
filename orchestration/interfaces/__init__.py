"""Remote callers' doors to the running actor system: REST (`rest`) and MCP (`mcp`). They reach
the tree only through `orchestration.runtime.Runtime`."""
