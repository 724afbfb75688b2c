"""Every change we make to Thespian's TCP transport, in one place.

Thespian listens on every interface and unpickles whatever reaches an actor's socket, so any
local process could run code as the daemon's user. We bind to loopback (`bind_to_loopback`)
and authenticate every frame with the installation's cookie (`authenticate_frames`, see
`orchestration.frames`). Both are installed by
`orchestration.daemon.actor_system.join_environment` in every process that joins the actor
system: the daemon (whose forks, the actor processes, inherit them), and each client (CLI,
``serve``, ``mcp``, Python). There is no switch to turn them off.

Thespian internals touched, checked against thespian `CHECKED_THESPIAN` (a test fails when the
installed version or these files change, until this list is checked again):

- ``IPBase.IPActorAddress.__init__``: wrapped, so an endpoint bound to all interfaces binds
  to 127.0.0.1 instead.
- ``TCPTransport.serializer`` (the module global, ``pickle``): replaced by a `FrameCodec`.
  ``TCPTransport.serializer(intent)`` frames ``serializer.dumps((address, message))``, which
  now is a signed body; ``serializer.loads`` is what it passes to ``ReceiveBuffer``.
- ``TCPTransport.ReceiveBuffer`` (imported from ``streamBuffer``): replaced by a factory of
  `FrameBuffer`. Thespian makes one per incoming frame (``TCPIncoming_Common.__init__``) and
  per awaited acknowledgement (``_next_XMIT_3``, ``_check_XMIT_4_done``). A refused
  acknowledgement reads as ``ackDataErrPacket``, so the send fails as a bad packet. Its
  ``remainingAmount`` asks for 4 KiB, not 20 bytes, until the length is known: bytes read past
  an acknowledgement are the peer's next frame, which ``_check_XMIT_4_done`` and
  ``_queue_intent_extra`` hand on. (Past an incoming message, ``_addedDataToIncoming`` would
  drop them, but a peer sends nothing more before our acknowledgement.)
- ``TCPTransport.ackMsg`` and ``TCPTransport.ackDataErrMsg`` (built with plain pickle when
  ``streamBuffer`` is imported): replaced by signed frames.
- ``TCPTransport.TCPIncoming_Common.addData``: wrapped. After a refused frame it logs the peer
  (at most once a minute per peer, never the frame's content), sends the refusal notice and
  raises, so ``_handleReadableIncoming`` closes the connection.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from pathlib import Path
from typing import Any

from orchestration.errors import DaemonError
from orchestration.frames import (
    PROTOCOL_VERSION,
    REFUSAL_FRAME,
    RESTART_HINT,
    FrameBuffer,
    FrameCodec,
    FrameRefused,
    PeerProtocolMismatch,
    PeerRefused,
    RefusalLog,
)
from orchestration.private_files import touch_private

__all__ = [
    "CHECKED_FILES",
    "CHECKED_THESPIAN",
    "LOG_FORMAT",
    "LOOPBACK",
    "authenticate_frames",
    "bind_to_loopback",
    "probe_cookie",
]

CHECKED_THESPIAN = "4.0.1"
CHECKED_FILES = {
    "system/transport/IPBase.py": "ff75cc8eb35019a3",
    "system/transport/TCPTransport.py": "303b9a9b3871ca94",
    "system/transport/streamBuffer.py": "3aa2191109c9aec9",
}
"""The start of the SHA-256 of each Thespian file whose internals we touch, as of
`CHECKED_THESPIAN`."""
LOOPBACK = "127.0.0.1"

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_refusals = RefusalLog()
_security_log = logging.Logger("orchestration.security")
"""Not in `logging`'s registry: Thespian resets that in every actor process, and forwards
records to its logger process only when the actor next runs. This one writes straight to the
file, from any process."""


def bind_to_loopback() -> None:
    """Make Thespian's TCP endpoints listen on 127.0.0.1 instead of every interface."""
    from thespian.system.transport.IPBase import IPActorAddress

    if getattr(IPActorAddress, "_loopback_only", False):
        return
    original = IPActorAddress.__init__

    def loopback_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.bindname[0] == "" and self.sockname[0] == LOOPBACK:
            self.bindname = (LOOPBACK, self.bindname[1])

    IPActorAddress.__init__ = loopback_init
    IPActorAddress._loopback_only = True  # type: ignore[attr-defined]


def authenticate_frames(cookie: bytes, max_frame_bytes: int, log_file: Path) -> None:
    """Sign every frame this process sends with ``cookie`` and refuse every frame it receives
    that is not signed with it, or is over ``max_frame_bytes``; log refusals to ``log_file``.
    Calling it again replaces the cookie: a process speaks to one installation at a time."""
    from thespian.system.transport import TCPTransport as tcp
    from thespian.system.transport.streamBuffer import ackDataErrPacket, ackPacket

    codec = FrameCodec(cookie, max_frame_bytes)

    def receive_buffer(_deserialize: object = None) -> FrameBuffer:
        return codec.buffer(on_refusal=ackDataErrPacket)

    tcp.serializer = codec
    tcp.ReceiveBuffer = receive_buffer
    tcp.ackMsg = codec.frame(ackPacket)
    tcp.ackDataErrMsg = codec.frame(ackDataErrPacket)
    _log_to(log_file)
    incoming = tcp.TCPIncoming_Common
    if not getattr(incoming, "_refuses_frames", False):
        incoming.addData = _refusing(incoming.addData)
        incoming._refuses_frames = True  # type: ignore[attr-defined]


def _log_to(log_file: Path) -> None:
    for handler in list(_security_log.handlers):
        _security_log.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(touch_private(log_file), delay=True)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    _security_log.addHandler(handler)


def _refusing(add_data: Any) -> Any:
    def add_checked_data(self: Any, data: bytes) -> None:
        add_data(self, data)
        refusal = getattr(self._rData, "refusal", None)
        if refusal is not None:
            _refuse(self.socket, refusal)
            raise refusal

    return add_checked_data


def _refuse(connection: socket.socket, refusal: FrameRefused) -> None:
    """Log the refusal (rate-limited per peer) and tell the peer, which then sees why."""
    try:
        host, port = connection.getpeername()[:2]
        local = connection.getsockname()[1]
    except OSError:
        host, port, local = "?", 0, 0
    unreported = _refusals.report(host)
    if unreported is not None:
        since = f" ({unreported} more since the last report)" if unreported else ""
        _security_log.warning(
            "refused a frame from %s:%s on port %s: %s%s", host, port, local, refusal, since
        )
    with contextlib.suppress(OSError):
        connection.send(REFUSAL_FRAME)


def probe_cookie(
    port: int, cookie: bytes, max_frame_bytes: int, timeout: float = 2.0
) -> bool | None:
    """Whether the actor system listening on ``port`` accepts ``cookie``: ``False`` when it
    sends the refusal notice, ``None`` when it gives no answer we can read. Raises
    `DaemonError` when it speaks another protocol version, naming both.

    The probe is a signed acknowledgement where a message belongs: an actor system with this
    cookie drops it and answers with a signed data-error acknowledgement."""
    from thespian.system.transport.streamBuffer import ackPacket

    codec = FrameCodec(cookie, max_frame_bytes)
    reply = codec.buffer(on_refusal=None)
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as connection:
            connection.sendall(codec.frame(ackPacket))
            while not reply.isDone():
                connection.settimeout(max(deadline - time.monotonic(), 0.001))
                data = connection.recv(reply.remainingAmount())
                if not data:
                    return None
                reply.addMore(data)
    except OSError:
        return None
    if reply.refusal is None:
        return True
    if isinstance(reply.refusal, PeerProtocolMismatch):
        raise DaemonError(
            f"the actor system on port {port} speaks protocol version {reply.refusal.theirs}"
            f" and this client version {PROTOCOL_VERSION}",
            hint=RESTART_HINT,
        )
    return False if isinstance(reply.refusal, PeerRefused) else None
