"""Tests of workbench.config: layer precedence, source tracking, secret masking and error wording."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from workbench.config import MASK, Settings, describe_settings, load_settings
from workbench.errors import ConfigError

LIVE_ENV = {
    "WORKBENCH_PROFILE": "live",
    "WORKBENCH_CONFIRM_LIVE": "true",
    "WORKBENCH_BROKER": "alpaca-live",
    "WORKBENCH_ALPACA_API_KEY": "key-id-1234",
    "WORKBENCH_ALPACA_SECRET_KEY": "very-secret-5678",
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder (no stray ./workbench.toml) with no WORKBENCH_* variables in os.environ."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)


def write_toml(folder: Path, text: str, name: str = "workbench.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def message(excinfo: pytest.ExceptionInfo[ConfigError]) -> str:
    return str(excinfo.value)


# --- precedence -------------------------------------------------------------------------------------


def test_defaults_when_no_layer_sets_anything() -> None:
    s = load_settings(env={})
    assert (s.profile, s.fees, s.initial_cash, s.broker) == ("research", 0.001, 10_000.0, "sim")
    assert (s.slippage, s.fill) == (0.0, "next_open")
    assert s.home == Path("~/.workbench").expanduser()
    assert s.database_url == f"sqlite:///{s.home}/workbench.db"
    assert s.cache_path == s.home / "cache"


def test_toml_overrides_default(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'fees = 0.002\nprofile = "paper"\nhome = "~/wb"\n', "other.toml")
    s = load_settings(path, env={})
    assert (s.fees, s.profile) == (0.002, "paper")
    assert s.home == Path.home() / "wb"


def test_env_overrides_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "fees = 0.002\n")
    s = load_settings(path, env={"WORKBENCH_FEES": "0.003"})
    assert s.fees == 0.003


def test_overrides_beat_env_and_none_overrides_are_ignored(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "fees = 0.002\ninitial_cash = 500\n")
    s = load_settings(path, {"fees": 0.004, "initial_cash": None}, env={"WORKBENCH_FEES": "0.003"})
    assert s.fees == 0.004
    assert s.initial_cash == 500


def test_workbench_config_env_var_picks_the_file(tmp_path: Path) -> None:
    write_toml(tmp_path, "fees = 0.001\n")  # ./workbench.toml must lose to WORKBENCH_CONFIG
    chosen = write_toml(tmp_path, "fees = 0.005\n", "chosen.toml")
    assert load_settings(env={"WORKBENCH_CONFIG": str(chosen)}).fees == 0.005


def test_explicit_path_beats_workbench_config_env_var(tmp_path: Path) -> None:
    explicit = write_toml(tmp_path, "fees = 0.006\n", "explicit.toml")
    other = write_toml(tmp_path, "fees = 0.005\n", "other.toml")
    assert load_settings(explicit, env={"WORKBENCH_CONFIG": str(other)}).fees == 0.006


def test_cwd_workbench_toml_used_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    write_toml(folder, 'log_level = "debug"\n')
    assert load_settings(env={}).log_level == "INFO"
    monkeypatch.chdir(folder)
    s = load_settings(env={})
    assert s.log_level == "DEBUG"
    assert s.sources["log_level"] == f"file:{folder / 'workbench.toml'}"


def test_injected_env_replaces_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_FEES", "0.009")
    assert load_settings(env={}).fees == 0.001
    assert load_settings().fees == 0.009
    direct = Settings()  # pydantic-settings still reads the env when used directly
    assert direct.fees == 0.009
    assert (direct.sources["fees"], direct.sources["profile"]) == ("direct", "default")


# --- sources ------------------------------------------------------------------------------------------


def test_sources_name_the_winning_layer(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'fees = 0.001\nprofile = "paper"\nlog_json = true\n')
    s = load_settings(path, {"profile": "research", "broker": None}, env={"WORKBENCH_FEES": "0.002"})
    assert s.sources["log_json"] == f"file:{path}"
    assert s.sources["fees"] == "env:WORKBENCH_FEES"
    assert s.sources["profile"] == "cli"
    assert s.sources["broker"] == "default"
    assert set(s.sources) == set(Settings.model_fields)
    rows = {key: (shown, source) for key, shown, source in describe_settings(s)}
    assert rows["fees"] == ("0.002", "env:WORKBENCH_FEES")
    assert rows["log_json"] == ("true", f"file:{path}")
    assert rows["data_path"] == ("-", "default")


# --- secrets ------------------------------------------------------------------------------------------


def test_secrets_never_shown() -> None:
    s = load_settings(env={**LIVE_ENV, "WORKBENCH_API_SECRET": "token-signing-9999"})
    assert s.alpaca_secret_key is not None
    assert s.alpaca_secret_key.get_secret_value() == "very-secret-5678"
    rows = describe_settings(s)
    text = repr(rows) + repr(s) + str(s)
    for secret in ("key-id-1234", "very-secret-5678", "token-signing-9999", "1234", "5678", "9999"):
        assert secret not in text
    shown = {key: value for key, value, _ in rows}
    assert shown["alpaca_api_key"] == shown["alpaca_secret_key"] == shown["api_secret"] == MASK


def test_bad_secret_value_is_masked_in_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "api_secret = 424242\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, env={})
    assert "api_secret" in message(excinfo)
    assert MASK in message(excinfo)
    assert "4242" not in message(excinfo)


# --- error wording ------------------------------------------------------------------------------------


def test_bad_env_value_names_key_value_and_variable() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(env={"WORKBENCH_FEES": "abc"})
    text = message(excinfo)
    assert "fees" in text and "'abc'" in text and "environment variable WORKBENCH_FEES" in text
    assert "valid number" in text


def test_bad_toml_value_names_file_and_allowed_values(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'profile = "prod"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, env={})
    text = message(excinfo)
    assert "profile" in text and "'prod'" in text
    assert f"workbench.toml ({path})" in text
    assert "'research', 'paper' or 'live'" in text


def test_several_errors_listed_one_per_line() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(None, {"initial_cash": -5, "fees": 0.5}, env={"WORKBENCH_LOG_LEVEL": "loud"})
    lines = message(excinfo).splitlines()
    assert any("initial_cash = -5" in line and "command-line flag --initial-cash" in line for line in lines)
    assert any("fees = 0.5" in line and "less than 0.1" in line for line in lines)
    assert any("log_level = 'loud'" in line and "WORKBENCH_LOG_LEVEL" in line for line in lines)


def test_unknown_toml_key_named_with_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "fess = 0.001\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, env={})
    text = message(excinfo)
    assert "fess" in text and str(path) in text and "unknown setting" in text


def test_unknown_workbench_env_var_is_ignored() -> None:
    assert load_settings(env={"WORKBENCH_NOT_A_SETTING": "1"}).profile == "research"


def test_missing_config_path_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_settings(missing, env={})
    with pytest.raises(ConfigError, match="WORKBENCH_CONFIG"):
        load_settings(env={"WORKBENCH_CONFIG": str(missing)})


def test_malformed_toml_names_file_and_parser_message(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "fees = = 1\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, env={})
    text = message(excinfo)
    assert str(path) in text and "line 1" in text


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(ValueError):
        s.fees = 0.01  # type: ignore[misc]


# --- profile and broker rules -------------------------------------------------------------------------


def test_live_profile_refuses_without_confirmation() -> None:
    env = {k: v for k, v in LIVE_ENV.items() if k != "WORKBENCH_CONFIRM_LIVE"}
    with pytest.raises(ConfigError) as excinfo:
        load_settings(env=env)
    text = message(excinfo)
    assert "confirm_live=true" in text and "WORKBENCH_CONFIRM_LIVE=true" in text
    assert "broker" not in text and "alpaca_api_key" not in text  # only what is actually missing


def test_live_profile_names_every_missing_setting() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(None, {"profile": "live"}, env={})
    text = message(excinfo)
    for needed in ("confirm_live", "alpaca-live", "WORKBENCH_ALPACA_API_KEY", "WORKBENCH_ALPACA_SECRET_KEY"):
        assert needed in text


def test_live_profile_accepted_with_everything_set() -> None:
    s = load_settings(env=LIVE_ENV)
    assert (s.profile, s.broker, s.confirm_live) == ("live", "alpaca-live", True)


def test_alpaca_live_broker_needs_live_profile() -> None:
    env = {**LIVE_ENV, "WORKBENCH_PROFILE": "paper"}
    with pytest.raises(ConfigError, match="only allowed with profile 'live'"):
        load_settings(env=env)


def test_alpaca_paper_needs_both_keys() -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(overrides={"broker": "alpaca-paper", "alpaca_api_key": "abc"}, env={})
    text = message(excinfo)
    assert "alpaca_secret_key" in text and "alpaca_api_key" not in text
    keys = {"alpaca_api_key": "abc", "alpaca_secret_key": "def"}
    assert (
        load_settings(overrides={"broker": "alpaca-paper", "profile": "paper", **keys}, env={}).broker == "alpaca-paper"
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("alpaca_data_url", "data.example.com", "expected a http:// or https:// URL with a host"),
        ("alpaca_base_url", "ws://paper.example.com", "expected a http:// or https:// URL with a host"),
        ("alpaca_stream_url", "https://paper.example.com/stream", "expected a ws:// or wss:// URL with a host"),
        ("alpaca_data_stream_url", "wss://", "expected a ws:// or wss:// URL with a host"),
    ],
)
def test_alpaca_urls_are_checked(key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key} = '{re.escape(value)}' \(from environment variable .*{expected}"):
        load_settings(env={f"WORKBENCH_{key.upper()}": value})
    assert (
        load_settings(env={"WORKBENCH_ALPACA_DATA_URL": "http://127.0.0.1:8/"}).alpaca_data_url == "http://127.0.0.1:8"
    )
