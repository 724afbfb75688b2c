"""Server-Sent Events: what the streaming endpoints (a turn, a workflow run) share."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

__all__ = ["STREAMED", "event", "event_response", "wants_events"]

MEDIA_TYPE = "text/event-stream"
STREAMED = {200: {"content": {MEDIA_TYPE: {}}}}
"""The OpenAPI ``responses`` of an endpoint that may answer with events."""


def wants_events(request: Request, stream: bool) -> bool:
    """Whether the client asked for events: ``?stream=true`` or ``Accept: text/event-stream``."""
    return stream or MEDIA_TYPE in request.headers.get("accept", "")


def event_response(events: AsyncIterator[str]) -> StreamingResponse:
    """``events`` sent as they come, past any proxy buffer."""
    return StreamingResponse(
        events,
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def event(name: str, data: Any) -> str:
    """One event: its name, and its data as compact JSON."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
