"""`workbench users add/list/disable` and `workbench keys create/list/revoke` (a thin layer over `Accounts`).

Passwords are typed at a hidden prompt or piped in (``--password-stdin``), never given as an option (it would
stay in the shell history and the process list). A new key is printed once; only its hash is kept.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.options import settings as _settings
from workbench.cli.options import table

if TYPE_CHECKING:
    from workbench.auth.accounts import Accounts

# argon2, SQLAlchemy and the store load inside the commands, so `workbench` starts fast.

users_app = typer.Typer(help="Add, list and disable the users of the dashboard and the API.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def _actor() -> str:
    """Who made a change from the command line, for the audit log."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def _accounts(ctx: typer.Context) -> Iterator[Accounts]:
    """`Accounts` on the configured database, closed afterwards."""
    from workbench.auth.accounts import Accounts
    from workbench.auth.vault import Vault
    from workbench.store import Store

    settings = _settings(ctx)
    with Store.open(settings) as store:
        yield Accounts(store, vault=Vault(settings=settings))


def _when(moment) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name: letters, digits and _.@-")],
    role: Annotated[str, typer.Option(help="viewer (look), trader (also trade) or admin (everything).")] = "viewer",
    totp: Annotated[bool, typer.Option("--totp", help="Enrol a TOTP second factor; prints its URI once.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input instead of a prompt.")
    ] = False,
) -> None:
    """Add a user; the password is asked for (twice) unless piped in with --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _accounts(ctx) as accounts:
        new = accounts.add_user(username, password, role=role, totp=totp, actor=_actor())
    typer.echo(f"added {new.user.role} {new.user.username}")
    if new.totp_uri is not None:
        typer.echo("enrol this in an authenticator app now (it is not shown again):")
        typer.echo(new.totp_uri)


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """Print every user with role, state and second factor (never a password hash)."""

    with _accounts(ctx) as accounts:
        users = accounts.list_users()
        now = accounts.clock.now()
    rows = [
        [
            u.username,
            u.role,
            "disabled" if u.disabled else ("locked" if u.locked_until and u.locked_until > now else "active"),
            "yes" if u.totp else "no",
            _when(u.created_at),
        ]
        for u in users
    ]
    typer.echo(table(["username", "role", "state", "totp", "created"], rows) if rows else "no users")


@users_app.command("disable")
def users_disable(ctx: typer.Context, username: Annotated[str, typer.Argument(help="The user to disable.")]) -> None:
    """Disable a user: logins refused, and every session and key of theirs stops working at once."""
    with _accounts(ctx) as accounts:
        accounts.disable_user(username, actor=_actor())
    typer.echo(f"disabled {username}")


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user the key acts as.")],
    scopes: Annotated[
        str | None, typer.Option(help="Comma-separated: read, trade, admin (default: all the user's role grants).")
    ] = None,
    expires_days: Annotated[int, typer.Option(min=1, help="Days until the key expires.")] = 90,
    never_expires: Annotated[bool, typer.Option("--never-expires", help="A key without expiry.")] = False,
) -> None:
    """Create an API key and print it once (only its hash is stored: copy it now)."""
    wanted = [s.strip() for s in (scopes or "").split(",") if s.strip()]
    with _accounts(ctx) as accounts:
        expires_in = None if never_expires else timedelta(days=expires_days)
        created = accounts.create_key(username, scopes=wanted, expires_in=expires_in, actor=_actor())
    info = created.info
    typer.echo(f"key {info.id} ({info.prefix}) of {info.username}, scopes {','.join(info.scopes)}, ", nl=False)
    typer.echo(f"expires {_when(info.expires_at)}; it is shown only now:")
    typer.echo(created.key)


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Option("--user", help="Only this user's keys.")] = None,
) -> None:
    """Print the keys (prefix, owner, scopes, dates, state), never the keys themselves."""

    with _accounts(ctx) as accounts:
        keys = accounts.list_keys(username)
        now = accounts.clock.now()
    rows = [
        [str(k.id), k.prefix, k.username, ",".join(k.scopes), _when(k.created_at), _when(k.expires_at), k.status(now)]
        for k in keys
    ]
    headers = ["id", "prefix", "user", "scopes", "created", "expires", "state"]
    typer.echo(table(headers, rows) if rows else "no keys")


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="The key's id or prefix (see `keys list`).")]
) -> None:
    """Revoke an API key; it stops working at the next request."""
    with _accounts(ctx) as accounts:
        info = accounts.revoke_key(key, actor=_actor())
    typer.echo(f"revoked key {info.id} ({info.prefix}) of {info.username}")
