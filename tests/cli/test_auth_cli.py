"""`workbench users add/list/disable` and `workbench keys create/list/revoke`, through a typer app that registers
``users_app`` and ``keys_app`` the way `workbench.cli` does (settings in ``ctx.obj``)."""

from __future__ import annotations

import pytest
import typer
from api_support import PASSWORD
from typer.testing import CliRunner

from workbench.auth.service import AuthService
from workbench.cli.users import keys_app, users_app
from workbench.config import load_settings
from workbench.store import Store


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _invoke(db_url: str, *args: str, input: str | None = None):
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        home = db_url.removeprefix("sqlite:///").rpartition("/")[0]  # the TOTP key file goes beside the database
        ctx.obj = load_settings(overrides={"db_url": db_url, "home": home}, env={})

    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    return CliRunner().invoke(app, list(args), input=input)


def test_users_are_added_listed_and_disabled(db_url: str) -> None:
    added = _invoke(db_url, "users", "add", "ada", "--role", "trader", "--password-stdin", input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert added.stdout == "added trader ada\n"
    prompted = _invoke(db_url, "users", "add", "bob", "--totp", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    assert "otpauth://totp/" in prompted.stdout and PASSWORD not in prompted.stdout
    listed = _invoke(db_url, "users", "list").stdout.splitlines()
    assert [line.split()[:4] for line in listed[2:]] == [
        ["ada", "trader", "active", "no"],
        ["bob", "viewer", "active", "yes"],
    ]
    assert _invoke(db_url, "users", "disable", "bob").stdout == "disabled bob\n"
    assert _invoke(db_url, "users", "list").stdout.splitlines()[3].split()[2] == "disabled"
    with Store.open(db_url) as store, store.unit_of_work(readonly=True) as uow:
        assert [e.action for e in uow.audit.find(limit=None)][::-1] == ["user.add", "user.add", "user.disable"]
        assert uow.audit.find(limit=1)[0].actor.startswith("cli:")


def test_a_refused_user_is_one_clear_error(db_url: str) -> None:
    result = _invoke(db_url, "users", "add", "ada", "--password-stdin", input="short\n")
    assert result.exit_code == 1
    assert "the password has 5 characters: expected 8 to 1024" in str(result.exception)
    assert _invoke(db_url, "users", "list").stdout == "no users\n"


def test_keys_are_created_once_listed_and_revoked(db_url: str) -> None:
    _invoke(db_url, "users", "add", "ada", "--role", "trader", "--password-stdin", input=PASSWORD + "\n")
    created = _invoke(db_url, "keys", "create", "ada", "--scopes", "read", "--expires-days", "30")
    assert created.exit_code == 0, created.output
    key = created.stdout.splitlines()[-1]
    assert key.startswith("wbk_") and "scopes read, expires " in created.stdout
    never = _invoke(db_url, "keys", "create", "ada", "--never-expires").stdout
    assert "scopes read,trade, expires -;" in never
    with Store.open(db_url) as store:
        assert AuthService(store).authenticate(key).username == "ada"
    listed = _invoke(db_url, "keys", "list", "--user", "ada").stdout
    assert key not in listed and key[:12] in listed
    assert [line.split()[-1] for line in listed.splitlines()[2:]] == ["active", "active"]
    assert _invoke(db_url, "keys", "revoke", key[:12]).stdout == f"revoked key 1 ({key[:12]}) of ada\n"
    assert _invoke(db_url, "keys", "list").stdout.splitlines()[2].split()[-1] == "revoked"
    refused = _invoke(db_url, "keys", "create", "ada", "--scopes", "admin")
    assert refused.exit_code == 1 and "a trader cannot hold scope admin" in str(refused.exception)
