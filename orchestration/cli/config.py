"""``config`` and ``auth status``: what the settings are and where credentials come from."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from orchestration.cli.output import console, examples, print_json
from orchestration.providers.registry import credential_report, default_model_ref
from orchestration.settings import config_file, describe, load_settings

__all__ = ["auth", "config", "register"]

Json = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
auth = typer.Typer(help="Provider credentials.", no_args_is_help=True)


def config(json: Json = False) -> None:
    """Show the effective settings and where each value came from (secrets redacted)."""
    rows = describe(load_settings())
    if json:
        print_json({name: {"value": value, "source": source} for name, value, source in rows})
        return
    path = config_file()
    console.print(f"settings file: {path if path else 'none (optional orchestration.toml)'}")
    table = Table("setting", "value", "source")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@auth.command("status", epilog=examples("orchestration auth status"))
def auth_status(json: Json = False) -> None:
    """For every provider: which credential it would use and whether it is there."""
    settings = load_settings()
    report = credential_report(settings)
    provider, model, reason = default_model_ref(settings)
    if json:
        print_json(
            {
                "default": {"provider": provider, "model": model, "reason": reason},
                "providers": [status.model_dump() for status in report],
            }
        )
        return
    table = Table("provider", "credential source", "present", "detail")
    for status in report:
        table.add_row(
            status.provider, status.source, "yes" if status.present else "no", status.detail
        )
    console.print(table)
    console.print(f"new agents use {provider}:{model} ({reason})")
    console.print(
        "[dim]The daemon uses the environment it was started with; restart it "
        "(`orchestration down`) after changing credentials.[/]",
        markup=True,
    )


def register(app: typer.Typer) -> None:
    app.command(epilog=examples("orchestration config", "orchestration config --json"))(config)
    app.add_typer(auth, name="auth")
