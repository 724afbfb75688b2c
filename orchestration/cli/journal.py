"""``journal backup``: a consistent copy of the journal, taken while the agents talk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestration import journal_tools
from orchestration.cli.output import console, examples, print_json
from orchestration.settings import load_settings

__all__ = ["journal", "register"]

Json = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
journal = typer.Typer(
    help="The journal: the durable history of every conversation.", no_args_is_help=True
)


@journal.command(
    "backup",
    epilog=examples(
        "orchestration journal backup ~/backups/journal.db",
        "orchestration journal backup /backups/journal-$(date +%F).db --force",
    ),
)
def backup(
    path: Annotated[Path, typer.Argument(help="the file to write; it must not exist yet")],
    force: Annotated[bool, typer.Option("--force", help="replace PATH if it exists")] = False,
    json: Json = False,
) -> None:
    """Copy the journal to PATH, consistent even while agents talk.

    It uses SQLite's online backup: the daemon need not stop, nor run.
    The copy is one SQLite file, readable only by you (mode 0600).
    To restore it, stop the daemon (orchestration down), then put the
    copy in place of journal.db in the data dir.
    """
    settings = load_settings()
    done = journal_tools.backup(settings.journal_path, path, force=force)
    if json:
        print_json(
            {
                "path": str(done.path),
                "bytes": done.size,
                "messages": done.messages,
                "journal": str(settings.journal_path),
            }
        )
        return
    console.print(
        f"wrote {done.path}: {_size(done.size)}, {done.messages} message(s), "
        f"from {settings.journal_path}",
        markup=False,
        soft_wrap=True,
    )


def _size(size: int) -> str:
    """``812 bytes``, ``40.0 KiB``, ``3.2 MiB``..."""
    if size < 1024:
        return f"{size} bytes"
    amount = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024 or unit == "GiB":
            break
    return f"{amount:.1f} {unit}"


def register(app: typer.Typer) -> None:
    app.add_typer(journal, name="journal")
