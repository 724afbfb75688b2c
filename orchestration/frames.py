"""Authenticated frames between actor processes: what crosses every actor socket.

A frame keeps Thespian's shape, an ASCII length prefix, ``>``, then the body. Our body is the
header (`VERSION_HEADER`: ``OR``, then `PROTOCOL_VERSION` in 2 bytes, big-endian), the
HMAC-SHA256 tag of the pickle under the installation's cookie (32 bytes), then the pickle.
The receiver:

1. reads the length prefix and refuses it before buffering anything when it is not all digits
   or is over the limit (`FrameBuffer`);
2. refuses a peer of another protocol version (`ProtocolMismatch`), naming both;
3. checks the tag in constant time;
4. unpickles with `orchestration.safe_unpickle`, which resolves only our message classes.

A frame that fails is refused (`FrameRefused`); its sender gets the refusal notice
(`REFUSAL_FRAME`: a body of the header alone, which no signed frame can be) and its connection
is closed. This module is pure: `orchestration.transport` fits it into Thespian.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from orchestration import safe_unpickle

__all__ = [
    "HEADER_BYTES",
    "HEADER_READ",
    "NO_COOKIE",
    "PROTOCOL_VERSION",
    "REFUSAL_FRAME",
    "RESTART_HINT",
    "TAG_BYTES",
    "VERSION_HEADER",
    "VERSION_MARK",
    "FrameBuffer",
    "FrameCodec",
    "FrameRefused",
    "FrameTooLarge",
    "PeerProtocolMismatch",
    "PeerRefused",
    "ProtocolMismatch",
    "RefusalLog",
]

PROTOCOL_VERSION = 2
"""The version of what crosses between processes: this frame layout and the messages in it
(`orchestration.messages`). Raise it with any change a peer running the previous code would
misread; peers of different versions refuse each other's frames."""
VERSION_MARK = b"OR"
"""What starts a header: a body without it is no frame of ours, whatever its version."""
VERSION_HEADER = VERSION_MARK + PROTOCOL_VERSION.to_bytes(2, "big")
TAG_BYTES = 32
HEADER_BYTES = len(VERSION_HEADER)
REFUSAL_FRAME = b"%d>" % HEADER_BYTES + VERSION_HEADER
NO_COOKIE = "a different cookie, or no cookie at all"
RESTART_HINT = (
    "run one version on both sides: stop the daemon with the version that started it "
    "(`orchestration down`), then start it with this one (`orchestration up`)"
)
HEADER_READ = 4096
"""How much a reader takes while the length prefix is unknown. Thespian takes 20 bytes, so
every frame, acknowledgements included, cost two trips through its event loop; with 4 KiB
most frames arrive in one. What is read past a frame is handed on as Thespian's "extra"."""


class FrameRefused(Exception):
    """A frame that must not be unpickled; the message says why, never what it held."""


class PeerRefused(FrameRefused):
    """The refusal notice: the peer dropped the frame we sent it."""


class ProtocolMismatch(FrameRefused):
    """A frame from a peer of another protocol version (``theirs``; this process speaks
    `PROTOCOL_VERSION`): its messages may not mean what ours do."""

    def __init__(self, theirs: int) -> None:
        super().__init__(
            f"the peer speaks protocol version {theirs} and this process version "
            f"{PROTOCOL_VERSION}: {RESTART_HINT}"
        )
        self.theirs = theirs


class PeerProtocolMismatch(PeerRefused, ProtocolMismatch):
    """The refusal notice of a peer of another protocol version: it dropped our frame."""


class FrameTooLarge(ValueError):
    """A message to send is over the frame limit."""


class FrameCodec:
    """Signs and checks frame bodies with one key, under one size limit."""

    def __init__(self, key: bytes, max_bytes: int) -> None:
        self._key = key
        self.max_bytes = max_bytes

    def dumps(self, message: Any) -> bytes:
        """The signed body of ``message``; raises `FrameTooLarge` over the limit."""
        payload = pickle.dumps(message)
        if len(payload) + HEADER_BYTES + TAG_BYTES > self.max_bytes:
            raise FrameTooLarge(
                f"a {type(message).__name__} of {len(payload):,} bytes is over the frame limit "
                f"of {self.max_bytes:,} bytes; raise ORCH_MAX_FRAME_BYTES or send less at once"
            )
        return VERSION_HEADER + self._tag(payload) + payload

    def loads(self, body: bytes | memoryview) -> Any:
        """The message in a signed body; raises `FrameRefused` for anything else."""
        view = memoryview(body)
        if len(view) == 0:  # the refusal notice of the peers before the version was carried
            raise PeerProtocolMismatch(1)
        if view[:2] != VERSION_MARK:
            short = len(view) <= HEADER_BYTES + TAG_BYTES
            raise FrameRefused("unsigned frame" if short else f"bad signature ({NO_COOKIE})")
        theirs = int.from_bytes(view[2:HEADER_BYTES], "big")
        if len(view) == HEADER_BYTES:
            if theirs != PROTOCOL_VERSION:
                raise PeerProtocolMismatch(theirs)
            raise PeerRefused("the peer refused our frame (its cookie differs from ours)")
        if theirs != PROTOCOL_VERSION:
            raise ProtocolMismatch(theirs)
        if len(view) <= HEADER_BYTES + TAG_BYTES:
            raise FrameRefused("unsigned frame")
        tag, payload = (
            view[HEADER_BYTES : HEADER_BYTES + TAG_BYTES],
            view[HEADER_BYTES + TAG_BYTES :],
        )
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise FrameRefused(f"bad signature ({NO_COOKIE})")
        try:
            return safe_unpickle.loads(payload)
        except safe_unpickle.ForbiddenGlobal as exc:
            raise FrameRefused(str(exc)) from None
        except Exception as exc:
            raise FrameRefused(
                f"a signed frame that does not unpickle ({type(exc).__name__})"
            ) from None

    def frame(self, message: Any) -> bytes:
        """``message`` as a whole frame: length prefix and signed body."""
        body = self.dumps(message)
        return b"%d>" % len(body) + body

    def buffer(self, on_refusal: Any) -> FrameBuffer:
        """A reader for one frame that yields ``on_refusal`` if the frame is refused."""
        return FrameBuffer(self, on_refusal)

    def _tag(self, payload: bytes | memoryview) -> bytes:
        return hmac.digest(self._key, payload, hashlib.sha256)


class FrameBuffer:
    """One incoming frame, fed in pieces as they arrive.

    The method names and meanings are those of Thespian's ``streamBuffer.ReceiveBuffer``, whose
    place this takes. The frame is decoded as soon as its last byte arrives; if it is refused,
    ``refusal`` says why, the buffer counts as done, and `completed` yields ``on_refusal``
    instead of a message.
    """

    def __init__(self, codec: FrameCodec, on_refusal: Any) -> None:
        self._codec = codec
        self._on_refusal = on_refusal
        self._max_digits = len(str(codec.max_bytes))
        self._header = b""
        self._size: int | None = None
        self._body = bytearray()
        self._extra = b""
        self._message: Any = None
        self.refusal: FrameRefused | None = None

    def addMore(self, data: bytes) -> None:
        """Take the next bytes read from the socket."""
        if self.refusal is not None:
            return
        if self.isDone():
            self._extra += data
            return
        if self._size is None:
            data = self._read_header(data)
            if self._size is None:
                return
        wanted = self._size - len(self._body)
        self._body += data[:wanted]
        self._extra += data[wanted:]
        if len(self._body) == self._size:
            try:
                self._message = self._codec.loads(self._body)
            except FrameRefused as refusal:
                self._refuse(refusal)

    def _read_header(self, data: bytes) -> bytes:
        """Consume the length prefix from ``header + data``; return the bytes after it."""
        header = self._header + data
        mark = header.find(b">", 0, self._max_digits + 1)
        if mark < 0:
            prefix = header[: self._max_digits + 1]
            if prefix and not prefix.isdigit():
                self._refuse(FrameRefused("no length prefix of plain digits"))
            elif len(header) > self._max_digits:
                self._refuse(FrameRefused(f"a frame over the {self._codec.max_bytes:,} byte limit"))
            else:
                self._header = header
            return b""
        digits = header[:mark]
        if not digits.isdigit():
            self._refuse(FrameRefused("no length prefix of plain digits"))
            return b""
        size = int(digits)
        if size > self._codec.max_bytes:
            self._refuse(FrameRefused(f"a frame over the {self._codec.max_bytes:,} byte limit"))
            return b""
        self._header = b""
        self._size = size
        return header[mark + 1 :]

    def _refuse(self, refusal: FrameRefused) -> None:
        self.refusal = refusal
        self._body = bytearray()
        self._extra = b""

    def remainingAmount(self) -> int:
        if self.refusal is not None:
            return 0
        if self._size is None:
            return HEADER_READ
        return max(self._size - len(self._body), 0)

    def isDone(self) -> bool:
        return self.refusal is not None or (
            self._size is not None and len(self._body) == self._size
        )

    def removeExtra(self) -> None:
        self._extra = b""

    def completed(self) -> tuple[Any, bytes] | None:
        """``(message, bytes read past the frame)`` once done, else ``None``."""
        if self.refusal is not None:
            return self._on_refusal, b""
        if not self.isDone():
            return None
        return self._message, self._extra

    def __str__(self) -> str:
        return f"FrameBuffer({len(self._body)}/{self._size})"


class RefusalLog:
    """When to report refused frames: at most once per peer per ``period`` seconds, with how
    many were refused since the last report. Remembers at most ``max_peers`` peers."""

    def __init__(
        self,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_peers: int = 1024,
    ) -> None:
        self._period = period
        self._clock = clock
        self._max_peers = max_peers
        self._peers: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def report(self, peer: str) -> int | None:
        """Count a refusal from ``peer``: ``None`` if it is not time to report it, else the
        number of refusals from that peer left unreported since its last report."""
        now = self._clock()
        last = self._peers.pop(peer, None)
        if last is not None and now - last[0] < self._period:
            self._peers[peer] = (last[0], last[1] + 1)
            return None
        self._peers[peer] = (now, 0)
        while len(self._peers) > self._max_peers:
            self._peers.popitem(last=False)
        return 0 if last is None else last[1]
