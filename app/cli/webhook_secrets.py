"""``ceasefire webhooks …``: the operator's commands for webhook secrets at rest."""

from __future__ import annotations

import typer

from app.cli.commands import settings_or_exit, with_store
from app.webhooks.sealing import SecretKeyError, new_key, secret_box
from app.webhooks.subscriptions import reseal_secrets, write_transaction
from events.log.store import EventStore

__all__ = ["webhooks_cli"]

webhooks_cli = typer.Typer(
    help="Webhook secrets at rest: make a key, seal the stored secrets.", no_args_is_help=True
)


@webhooks_cli.command("new-key")
def webhooks_new_key() -> None:
    """Print a fresh key for CEASEFIRE_SECRET_KEY."""
    typer.echo(new_key())


@webhooks_cli.command("reseal")
def webhooks_reseal() -> None:
    """Seal every stored webhook secret with the first key of CEASEFIRE_SECRET_KEY (clear
    ones too): after putting a new key first, before dropping the old ones. All or nothing."""
    box = secret_box(settings_or_exit())
    if not box.sealing:
        typer.echo("error: CEASEFIRE_SECRET_KEY is not set: nothing to seal with", err=True)
        raise typer.Exit(2)

    async def work(store: EventStore) -> int:
        async with write_transaction(store.engine) as conn:
            return await reseal_secrets(conn, box)

    try:
        count = with_store(work)
    except SecretKeyError as error:
        typer.echo(f"error: {error}; nothing written", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"sealed the secrets of {count} webhook(s) with the first key")
