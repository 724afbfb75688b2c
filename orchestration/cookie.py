"""The installation's cookie: the shared secret that authenticates every frame between actor
processes, as Erlang distribution's cookie does.

It is made on first use from `secrets`, in ``cookie`` in the data dir (or the file
``ORCH_COOKIE_FILE`` names, for several hosts sharing one), created 0600. A cookie file that
other users may read is refused, as Erlang and ssh refuse theirs: it would let them in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import stat
from pathlib import Path

from orchestration.private_files import create_exclusive

__all__ = ["CookieError", "fingerprint", "load_cookie"]

MIN_COOKIE_BYTES = 16


class CookieError(Exception):
    """The cookie file cannot be used. ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def load_cookie(path: Path) -> bytes:
    """The cookie in ``path``, made first if the file does not exist."""
    create_exclusive(path, secrets.token_hex(32).encode() + b"\n")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        cookie = path.read_bytes().strip()
    except OSError as exc:
        raise CookieError(
            f"cannot read the cookie file {path}: {exc.strerror}",
            "make it readable by this user, or point ORCH_COOKIE_FILE at a cookie you own",
        ) from None
    if mode & 0o077:
        raise CookieError(
            f"the cookie file {path} may be read by other users (mode {mode:04o})",
            f"make it private: chmod 600 {path}",
        )
    if len(cookie) < MIN_COOKIE_BYTES:
        raise CookieError(
            f"the cookie file {path} holds {len(cookie)} bytes; at least {MIN_COOKIE_BYTES} needed",
            f"delete it to have a new one made, or write a longer secret into it: (umask 077; "
            f"python -c 'import secrets; print(secrets.token_hex(32))' > {path})",
        )
    return cookie


def fingerprint(cookie: bytes) -> str:
    """A short public name of the cookie (not the cookie): tells two cookies apart."""
    return hmac.digest(cookie, b"orchestration cookie fingerprint", hashlib.sha256)[:8].hex()
