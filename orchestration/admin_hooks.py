"""What the daemon adds to Thespian's admin and process start-up (the daemon installs it
before it starts the admin, whose forks inherit it).

- **Process titles, and no orphans.** Thespian names each process it starts by its actor class
  (with `setproctitle` installed); `name_processes` maps those names to ours
  (`orchestration.titles`), and each actor then names itself after whom it serves. At that
  same moment, before it handles any message, every process but the admin ties its life to its
  parent's (`die_with_parent`): a process whose parent dies before its first message (a spare
  agent process, say) would otherwise live on as an orphan, and Thespian's logger would outlive
  a killed admin.
- **The logger comes back.** Thespian's admin starts a new logger when its logger dies, but
  4.0.1 reads ``self.logDefs``, which nothing sets, and the admin dies of the
  ``AttributeError`` with every actor under it. `keep_logger` sets it.
- **The root comes back.** The root is a global-name actor, so the admin is its parent. When it
  exits while the system runs (kill -9, out of memory), `revive_root` makes the admin create a
  new root at once and boot it: the new root rebuilds the tree from the journal, as after a
  daemon restart. The admin itself is the last line, as the ``heart`` of an Erlang node: if it
  dies, its actor processes die with it and the next client call starts a new daemon.

Thespian internals touched, checked against thespian `orchestration.transport.CHECKED_THESPIAN`
(a test fails when these files change):

- ``multiprocCommon.setProcName`` and ``logdirector.setProcName`` (module globals, imported
  from ``utilis``): replaced, to title admins, actors and the logger our way.
- ``AdminCore.__init__``: wrapped, to keep its ``logdefs`` argument as ``logDefs``, which
  ``MultiProcReplicator.childDied`` passes to ``_startLogger``.
- ``GlobalNamesAdmin.h_ChildActorExited``: wrapped; ``_globalNames`` read to tell that the root
  exited; ``h_PendingActor`` called with an admin-made request for the root (its
  ``PendingActorResponse`` comes back to the admin), and ``h_PendingActorResponse`` added to
  the admin to boot the new root.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from orchestration.processes.pids import die_with_parent
from orchestration.titles import thespian_title

__all__ = ["CHECKED_FILES", "keep_logger", "name_processes", "revive_root"]

log = logging.getLogger(__name__)

CHECKED_FILES = {
    "system/multiprocCommon.py": "fe2c4c348eac187d",
    "system/logdirector.py": "d756ac5d9496a848",
    "system/admin/globalNames.py": "2e970ad5ac6a7d89",
    "system/admin/adminCore.py": "7a805625903e45bb",
}
"""The start of the SHA-256 of each Thespian file whose internals this module touches."""


def name_processes() -> None:
    """Have every process Thespian starts (admin, logger, actors) take our title."""
    from setproctitle import setproctitle
    from thespian.system import logdirector, multiprocCommon

    def set_proc_name(name: str, address: Any) -> None:
        setproctitle(thespian_title(name))
        if not name.endswith("Admin"):  # the admin outlives the process that started it
            die_with_parent()

    multiprocCommon.setProcName = set_proc_name
    logdirector.setProcName = set_proc_name


def keep_logger() -> None:
    """Let the admin start a new logger when its logger dies (see the module doc)."""
    from thespian.system.admin.adminCore import AdminCore

    init = AdminCore.__init__

    def __init__(
        admin: Any,
        transport: Any,
        address: Any,
        capabilities: Any,
        logdefs: Any,
        concurrency_context: Any,
    ) -> None:
        init(admin, transport, address, capabilities, logdefs, concurrency_context)
        admin.logDefs = logdefs

    AdminCore.__init__ = __init__


def revive_root(root_class: str, root_name: str, boot: Callable[[], Any]) -> None:
    """Make the admin recreate the global actor ``root_name`` (of ``root_class``) whenever it
    exits while the system runs, and send the new one ``boot()``."""
    from thespian.system.admin.globalNames import GlobalNamesAdmin
    from thespian.system.messages.admin import PendingActor
    from thespian.system.transport import ReceiveEnvelope, TransmitIntent

    exited = GlobalNamesAdmin.h_ChildActorExited

    def h_child_actor_exited(admin: Any, envelope: Any) -> Any:
        was_root = admin._globalNames.get(root_name) == envelope.message.childAddress
        result = exited(admin, envelope)
        if was_root and not admin.isShuttingDown():
            log.warning("the root exited; the admin starts a new one from the journal")
            request = PendingActor(root_class, None, 0, None, root_name)
            admin.h_PendingActor(ReceiveEnvelope(admin.myAddress, request))
        return result

    def h_pending_actor_response(admin: Any, envelope: Any) -> bool:
        response = envelope.message
        if response.globalName == root_name and response.actualAddress is not None:
            admin._send_intent(TransmitIntent(response.actualAddress, boot()))
        return True

    GlobalNamesAdmin.h_ChildActorExited = h_child_actor_exited
    GlobalNamesAdmin.h_PendingActorResponse = h_pending_actor_response
