"""History pages read straight from the journal (the Runtime opens it read-only).

The `Runtime` reads a page of any conversation (a DM, a room, a workflow run, the events) here
instead of asking the tree, so a read never waits in the root's mailbox nor holds it up. The
journal is in WAL mode: the reader sees every committed message while the daemon appends.
"""

from __future__ import annotations

from orchestration.errors import OrchestrationError
from orchestration.journal import Journal, within_bytes
from orchestration.messages import History, HistoryPage

__all__ = ["history_page"]


def history_page(journal: Journal, request: History, max_bytes: int) -> HistoryPage:
    """The page of ``journal`` that ``request`` asks for, cut to fit in ``max_bytes`` (a frame
    between actors; see `within_bytes`). An ``after_id`` not in the conversation raises
    ``unknown_message``."""
    after_seq = request.after_seq
    if request.after_id is not None:
        found = journal.seq_of(request.after_id, request.conversation)
        if found is None:
            raise OrchestrationError(
                "unknown_message",
                f"no message {request.after_id!r} in {request.conversation}",
                "pass the id of a message of this conversation (a message frame's cursor)",
            )
        after_seq = found
    rows = journal.history(
        request.conversation, after_seq=after_seq, limit=request.limit, newest=request.newest
    )
    kept = within_bytes([envelope for _, envelope in rows], max_bytes, newest=request.newest)
    last = -1 if request.newest else len(kept) - 1  # kept is rows' tail, or head
    return HistoryPage(
        messages=kept,
        last_seq=rows[last][0] if rows else after_seq,
        more=len(kept) < len(rows),
    )
