"""The cookie: made once, private from its first byte, refused when others may read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orchestration.cookie import CookieError, fingerprint, load_cookie
from orchestration.daemon.actor_system import join_environment
from orchestration.private_files import loose_permissions
from orchestration.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_use_makes_a_private_random_cookie_and_later_uses_read_it(tmp_path: Path) -> None:
    path = tmp_path / "home" / "cookie"

    first = load_cookie(path)

    assert len(first) == 64 and mode(path) == 0o600 and mode(path.parent) == 0o700
    assert load_cookie(path) == first
    assert load_cookie(tmp_path / "other" / "cookie") != first


def test_a_cookie_that_other_users_may_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "cookie"
    load_cookie(path)
    path.chmod(0o644)

    with pytest.raises(CookieError, match="may be read by other users") as refused:
        load_cookie(path)
    assert refused.value.hint == f"make it private: chmod 600 {path}"


def test_a_cookie_too_short_to_be_a_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cookie"
    path.write_bytes(b"abc\n")
    path.chmod(0o600)

    with pytest.raises(CookieError, match="holds 3 bytes"):
        load_cookie(path)


def test_a_shared_cookie_file_is_used_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "shared.cookie"
    path.write_bytes(b"  the same secret on every host  \n")
    path.chmod(0o400)

    assert load_cookie(path) == b"the same secret on every host"


def test_the_fingerprint_tells_cookies_apart_without_showing_them() -> None:
    assert fingerprint(b"one secret") == fingerprint(b"one secret")
    assert fingerprint(b"one secret") != fingerprint(b"another secret")
    assert "secret" not in fingerprint(b"one secret")


def test_joining_makes_a_private_data_dir_with_its_cookie_whatever_the_umask(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "new" / "home", admin_port=29_999)
    previous = os.umask(0)  # every mode the helpers leave to the umask would show as 0777
    try:
        cookie = join_environment(settings)
    finally:
        os.umask(previous)

    assert mode(settings.home) == 0o700 and mode(settings.log_dir) == 0o700
    assert load_cookie(settings.cookie_path) == cookie and mode(settings.cookie_path) == 0o600
    assert loose_permissions(settings.home) == []
