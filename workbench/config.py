"""One validated `Settings` object, layered: defaults < workbench.toml < WORKBENCH_* env < CLI flags.

`load_settings()` is the entry point used at startup: it reads each layer itself, remembers which layer
supplied every value (`Settings.sources`, `describe_settings`) and turns any validation failure into one
`ConfigError` naming the key, the (masked) value, where it came from and what is allowed.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from workbench.errors import ConfigError

ENV_PREFIX = "WORKBENCH_"
CONFIG_ENV_VAR = "WORKBENCH_CONFIG"
CONFIG_FILE_NAME = "workbench.toml"
MASK = "**********"
#: The setting that configures each notification channel.
_CHANNEL_SETTING = {"email": "notify_smtp_url", "webhook": "notify_webhook_url", "apprise": "notify_apprise_urls"}

#: Event kinds a notification is about (``workbench.notify.events``), and ``"*"`` for every other kind.
NotifyKind = Literal["*", "fill", "rejection", "risk", "halt", "error", "run_failed", "daily_summary", "test"]
NotifyChannel = Literal["email", "webhook", "apprise"]
NotifySeverity = Literal["info", "warning", "error", "critical"]

_init_only: ContextVar[bool] = ContextVar("workbench_config_init_only", default=False)


@contextmanager
def _without_env_source() -> Iterator[None]:
    """While active, `Settings(...)` validates its keyword arguments only (load_settings merged the env)."""
    token = _init_only.set(True)
    try:
        yield
    finally:
        _init_only.reset(token)


def _how_to_set(field: str, value: str | bool) -> str:
    """Hint such as `set WORKBENCH_BROKER=alpaca-live or broker = "alpaca-live" in workbench.toml`."""
    env_value, toml_value = ("true", "true") if value is True else (value, f'"{value}"')
    return f"set {ENV_PREFIX}{field.upper()}={env_value} or {field} = {toml_value} in {CONFIG_FILE_NAME}"


class Settings(BaseSettings):
    """Every workbench setting, validated and frozen.

    Build it with `load_settings()` (all layers, source tracking, friendly errors); calling `Settings()`
    directly still reads the `WORKBENCH_*` environment variables, as pydantic-settings does.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid")

    #: What this installation is for; ``live`` (real money) needs ``confirm_live``, broker ``alpaca-live`` and keys.
    profile: Literal["research", "paper", "live"] = "research"
    #: Folder of the database (``workbench.db``), the cache (``cache/``) and the TOTP key file (``secrets/``).
    home: Path = Path("~/.workbench")
    #: Where bars come from: the bundled ``sample``, a ``csv`` folder (``data_path``), ``yfinance`` or ``alpaca``.
    data_source: Literal["sample", "csv", "yfinance", "alpaca"] = "sample"
    #: Folder of CSV/Parquet bars for ``data_source = "csv"``.
    data_path: Path | None = None
    #: SQLAlchemy URL of the database (``postgresql://user@host/db``); unset: a SQLite file in ``home``.
    db_url: str | None = None
    #: Folder of the on-disk bar cache; unset: ``home/cache``.
    cache_dir: Path | None = None
    #: Redis URL: a bar cache level shared by processes, and the API's rate-limit counters.
    redis_url: str | None = None
    #: Where live sessions trade: the local simulated broker, or Alpaca's paper or live account.
    broker: Literal["sim", "alpaca-paper", "alpaca-live"] = "sim"
    #: Alpaca key id, for the ``alpaca-*`` brokers and ``data_source = "alpaca"``.
    alpaca_api_key: SecretStr | None = None
    #: Alpaca secret key, with ``alpaca_api_key``.
    alpaca_secret_key: SecretStr | None = None
    #: Alpaca's trading REST base URL, without ``/v2`` (default: Alpaca's paper or live API): a proxy, a recorder or
    #: a test server.
    alpaca_base_url: str | None = None
    #: Alpaca's trade-updates websocket, the full URL (default: ``/stream`` beside the trading URL, where Alpaca
    #: serves it).
    alpaca_stream_url: str | None = None
    #: Alpaca's market-data REST base URL, without ``/v2`` (default: https://data.alpaca.markets).
    alpaca_data_url: str | None = None
    #: Alpaca's market-data websocket base URL; the feed's path (``/v2/iex``) is added (default:
    #: wss://stream.data.alpaca.markets).
    alpaca_data_stream_url: str | None = None
    #: Requests a minute the workbench sends Alpaca per key and process (Alpaca allows 200): the client-side budget.
    alpaca_requests_per_minute: int = Field(180, ge=1, le=10_000)
    #: Seconds an Alpaca call (an order, a read) retries rate limits, server and network errors before the session
    #: halts its strategy and tells people.
    alpaca_retry_seconds: float = Field(60.0, gt=0, le=3_600, allow_inf_nan=False)
    #: Starting cash of the CLI's sweeps, backtests, reports and local paper runs (``--cash`` overrides it).
    initial_cash: float = Field(10_000.0, gt=0, allow_inf_nan=False)
    #: Fee of every fill as a fraction of its traded value: the cost model of ``workbench sweep``, ``backtest``,
    #: ``report``, ``paper`` and ``live`` and of ``wb.sweep``, ``wb.backtest`` and ``wb.walk_forward`` when no fee is
    #: given (``--fees 0`` or ``fees=0`` for none). 0.001 (0.1 %, 10 basis points a side) stands for the whole cost of
    #: a US equities retail fill: commission (0 at Alpaca and most US retail brokers), SEC and FINRA fees on sales
    #: (a fraction of a basis point) and half the bid-ask spread (about 1-5 basis points for liquid large caps, more
    #: for small caps), rounded up to a conservative figure; it is also the figure of vectorbt's documentation
    #: examples and of this project's README and benchmarks.
    fees: float = Field(
        0.001,
        ge=0,
        lt=0.1,
        description="Fee of every fill as a fraction of traded value; 0.001 by default: commission (0 at US retail "
        "brokers), SEC/FINRA fees and half the bid-ask spread of a US equities retail fill, rounded up.",
    )
    #: Slippage of every fill as a fraction of its price, on top of ``fees`` (0: the default fee already holds half
    #: the spread; raise it for thin markets or large orders).
    slippage: float = Field(0.0, ge=0, lt=0.1, description="Slippage of every fill as a fraction of price.")
    #: When an order for bar t's signal fills: ``next_open`` (bar t+1's open) or ``close`` (bar t's close).
    fill: Literal["next_open", "close"] = "next_open"
    #: Must be true for profile ``live``: trading real money is asked for twice.
    confirm_live: bool = False
    #: Least level of the console log (``-v`` / ``-q`` on the command line).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: JSON lines on the console instead of text.
    log_json: bool = False
    #: JSON-lines log file, written besides the console (``workbench.logs``).
    log_file: Path | None = None
    #: ``smtp://`` (plain), ``smtp+starttls://`` or ``smtps://`` (SSL), with ``user:password@`` for AUTH.
    notify_smtp_url: SecretStr | None = None
    #: Sender address of email notifications.
    notify_email_from: str = "workbench@localhost"
    #: Recipients of email notifications: a list, or one comma-separated string.
    notify_email_to: tuple[str, ...] = ()
    #: URL webhook notifications are posted to (JSON).
    notify_webhook_url: str | None = None
    #: Key of the ``X-Workbench-Signature`` HMAC-SHA256 header of webhook posts.
    notify_webhook_secret: SecretStr | None = None
    #: Apprise URLs (``slack://...``, ``tgram://...``, ``discord://...``), separated by commas or spaces.
    notify_apprise_urls: SecretStr | None = None
    #: Event kind (or ``"*"``) -> channels (``email``, ``webhook``, ``apprise``); unrouted kinds go to every channel.
    notify_routes: dict[NotifyKind, tuple[NotifyChannel, ...]] = Field(default_factory=dict)
    #: Channel (or ``"*"``) -> the least severity it is sent; a bare level applies to every channel.
    notify_min_severity: dict[NotifyChannel | Literal["*"], NotifySeverity] = Field(
        default_factory=lambda: {"*": "info"}
    )
    #: Identical events within this many seconds are coalesced into one notification and a count.
    notify_coalesce_seconds: float = Field(60.0, ge=0, allow_inf_nan=False)
    #: Delivery attempts of a notification before it is dead-lettered (status ``failed``).
    notify_max_attempts: int = Field(5, ge=1, le=100)
    #: Folder of ``<kind>.txt`` / ``<kind>.html`` templates overriding the bundled ones.
    notify_templates_dir: Path | None = None
    #: Key of the TOTP secrets in the database (a Fernet key, or a passphrase); unset: a key file made in
    #: ``home/secrets/totp.key``. Keep it apart from the database and its backups.
    totp_key: SecretStr | None = None
    #: Key signing the dashboard's session cookies; unset: random per process, so logins end with it.
    api_secret: SecretStr | None = None

    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read keyword arguments and WORKBENCH_* env vars (no .env file, no secrets dir).

        Inside `load_settings` only the keyword arguments: it has already merged the (injectable) env.
        """
        return (init_settings,) if _init_only.get() else (init_settings, env_settings)

    @field_validator("home", "data_path", "cache_dir", mode="after")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("alpaca_base_url", "alpaca_data_url", mode="after")
    @classmethod
    def _check_rest_url(cls, value: str | None) -> str | None:
        return _url(value, ("http", "https"))

    @field_validator("alpaca_stream_url", "alpaca_data_stream_url", mode="after")
    @classmethod
    def _check_socket_url(cls, value: str | None) -> str | None:
        return _url(value, ("ws", "wss"))

    @field_validator("notify_email_to", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any) -> Any:
        return tuple(a.strip() for a in value.split(",") if a.strip()) if isinstance(value, str) else value

    @field_validator("notify_email_to", mode="after")
    @classmethod
    def _check_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if "@" not in a]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an email address (expected name@host)")
        return value

    @field_validator("notify_routes", "notify_min_severity", mode="before")
    @classmethod
    def _parse_mapping(cls, value: Any, info: ValidationInfo) -> Any:
        """Env vars and ``--set`` give text: JSON (``{"risk": ["email"]}``), or a bare level for every channel."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if info.field_name == "notify_min_severity" and not text.startswith("{"):
            return {"*": text}
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f'expected a JSON object such as {{"risk": ["email"]}}: {exc}') from None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_profile_and_broker(self) -> Settings:
        problems = []
        if self.profile == "live":
            if not self.confirm_live:
                problems.append(f"profile 'live' needs confirm_live=true ({_how_to_set('confirm_live', True)})")
            if self.broker != "alpaca-live":
                problems.append(
                    f"profile 'live' needs broker='alpaca-live', got {self.broker!r} "
                    f"({_how_to_set('broker', 'alpaca-live')})"
                )
        elif self.broker == "alpaca-live":
            problems.append(
                f"broker 'alpaca-live' is only allowed with profile 'live', got profile {self.profile!r} "
                f"(use broker 'alpaca-paper' or 'sim', or {_how_to_set('profile', 'live')})"
            )
        if self.profile == "live" or self.broker in ("alpaca-paper", "alpaca-live"):
            needer = "profile 'live'" if self.profile == "live" else f"broker {self.broker!r}"
            for key in ("alpaca_api_key", "alpaca_secret_key"):
                if getattr(self, key) is None:
                    problems.append(f"{needer} needs {key} ({_how_to_set(key, '...')})")
        problems += self._notify_problems()
        if problems:
            raise ConfigError("invalid configuration:\n" + "\n".join(f"  {p}" for p in problems))
        return self

    def _notify_problems(self) -> list[str]:
        """Routes naming a channel that is not configured, and email without recipients."""
        configured = self.notify_channels
        problems = [
            f"notify_routes sends {kind!r} to {channel!r}, which is not configured ({_CHANNEL_SETTING[channel]})"
            for kind, channels in self.notify_routes.items()
            for channel in channels
            if channel not in configured
        ]
        if self.notify_smtp_url is not None and not self.notify_email_to:
            hint = _how_to_set("notify_email_to", "me@example.com")
            problems.append(f"notify_smtp_url needs notify_email_to ({hint})")
        return problems

    @property
    def notify_channels(self) -> tuple[str, ...]:
        """The notification channels configured: ``email``, ``webhook`` and/or ``apprise``."""
        set_ = {"email": self.notify_smtp_url, "webhook": self.notify_webhook_url, "apprise": self.notify_apprise_urls}
        return tuple(name for name, value in set_.items() if value is not None)

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL: `db_url` if set, else a SQLite file in `home`."""
        return self.db_url or f"sqlite:///{self.home / 'workbench.db'}"

    @property
    def cache_path(self) -> Path:
        """Folder of the on-disk cache: `cache_dir` if set, else `home/cache`."""
        return self.cache_dir or self.home / "cache"

    @property
    def sources(self) -> dict[str, str]:
        """Which layer supplied each field: "default", "file:<path>", "env:WORKBENCH_X" or "cli".

        Only tracked by `load_settings`; on a directly constructed `Settings` an explicitly set field
        reports "direct".
        """
        return {
            name: self._sources.get(name, "direct" if name in self.model_fields_set else "default")
            for name in type(self).model_fields
        }


def _url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    """``value`` without a trailing ``/`` if it is a URL of one of ``schemes`` with a host, else ValueError."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(
            f"expected a {' or '.join(f'{s}://' for s in schemes)} URL with a host, e.g. {schemes[-1]}://example.com"
        )
    return value.strip().rstrip("/")


def _config_file(config_path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    """The TOML file to read: explicit path, else $WORKBENCH_CONFIG, else ./workbench.toml if present."""
    if config_path is not None:
        path, origin = Path(config_path), "--config"
    elif env.get(CONFIG_ENV_VAR):
        path, origin = Path(env[CONFIG_ENV_VAR]), CONFIG_ENV_VAR
    else:
        default = Path.cwd() / CONFIG_FILE_NAME
        return default if default.is_file() else None
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"config file {path} (from {origin}) does not exist or is not a file")
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


def _describe_source(source: str, key: str) -> str:
    """Human wording of a "file:", "env:" or "cli" source tag, for error messages."""
    if source.startswith("file:"):
        path = Path(source.removeprefix("file:"))
        return f"{path.name} ({path})"
    if source.startswith("env:"):
        return f"environment variable {source.removeprefix('env:')}"
    return f"command-line flag --{key.replace('_', '-')}"


def _is_secret(key: str) -> bool:
    annotation = Settings.model_fields[key].annotation
    return SecretStr in (annotation, *get_args(annotation))


def _format_errors(exc: ValidationError, values: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        key = str(err["loc"][0])
        where = _describe_source(sources[key], key)
        if err["type"] == "extra_forbidden":
            known = ", ".join(Settings.model_fields)
            lines.append(f"{key}: unknown setting (from {where}); known settings: {known}")
            continue
        value = MASK if _is_secret(key) else repr(values[key])
        lines.append(f"{key} = {value} (from {where}): {err['msg']}")
    return "invalid configuration:\n" + "\n".join(f"  {line}" for line in lines)


def load_settings(
    config_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the validated settings from defaults < TOML file < WORKBENCH_* env vars < explicit overrides.

    Parameters
    ----------
    config_path
        TOML file to read (the CLI's ``--config``); else ``$WORKBENCH_CONFIG``; else ``./workbench.toml``
        if it exists. A path given explicitly or through the variable must exist.
    overrides
        Values from CLI flags, keyed by field name; None means "flag not given" and is ignored.
    env
        Environment to read ``WORKBENCH_*`` variables from; defaults to ``os.environ`` (tests inject a dict).

    Returns
    -------
    Settings
        Frozen settings whose ``sources`` say which layer supplied each value.

    Raises
    ------
    ConfigError
        Missing or malformed file, unknown key, bad value (naming key, masked value, source and what is
        allowed, one problem per line) or unmet profile/broker preconditions.

    Examples
    --------
    >>> s = load_settings(overrides={"fees": 0.001}, env={"WORKBENCH_PROFILE": "paper"})
    >>> s.profile, s.fees, s.sources["fees"]
    ('paper', 0.001, 'cli')
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = _config_file(config_path, env)
    if path is not None:
        for key, value in _read_toml(path).items():
            values[key], sources[key] = value, f"file:{path}"
    for key in Settings.model_fields:
        var = f"{ENV_PREFIX}{key.upper()}"
        if env.get(var):
            values[key], sources[key] = env[var], f"env:{var}"
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key], sources[key] = value, "cli"
    try:
        with _without_env_source():
            settings = Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, values, sources)) from None
    settings._sources = sources
    return settings


def cost_defaults(
    fees: float | None = None, slippage: float | None = None, fill: str | None = None
) -> tuple[float, float, str]:
    """``fees``, ``slippage`` and ``fill`` as given, the settings' (``load_settings()``) where None: the one source of
    the cost model's defaults, shared by the CLI and the notebook API so that the two never disagree unsaid.

    >>> cost_defaults(fees=0.0)[0], cost_defaults(fill="close")[2]
    (0.0, 'close')
    """
    if fees is not None and slippage is not None and fill is not None:
        return fees, slippage, fill
    settings = load_settings()
    return (
        settings.fees if fees is None else fees,
        settings.slippage if slippage is None else slippage,
        settings.fill if fill is None else fill,
    )


def describe_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """Rows of (key, display value, source) for every field, e.g. for ``workbench config show``.

    Secrets are always shown as ``**********`` and unset values as ``-``; so is a password inside a URL
    (``db_url``, ``redis_url``, ...), and the path and query of a webhook URL, which carry its token.

    Examples
    --------
    >>> describe_settings(load_settings(env={"WORKBENCH_API_SECRET": "s3cret"}))[-1]
    ('api_secret', '**********', 'env:WORKBENCH_API_SECRET')
    >>> dict((k, v) for k, v, _ in describe_settings(Settings(db_url="postgresql://ada:pw@db/wb")))["db_url"]
    'postgresql://ada:**********@db/wb'
    """
    rows = []
    for key, source in settings.sources.items():
        value = getattr(settings, key)
        if value is None:
            shown = "-"
        elif isinstance(value, SecretStr):
            shown = MASK
        elif isinstance(value, bool):
            shown = str(value).lower()
        elif isinstance(value, str) and "://" in value:
            shown = mask_url_secrets(value, token_in_path=key in _TOKEN_URLS)
        else:
            shown = str(value)
        rows.append((key, shown, source))
    return rows


_SECRET_PARAM = re.compile(r"pass|secret|token|key|auth|sig", re.IGNORECASE)
#: Settings whose URL carries a token in its path or query (a Slack or Discord webhook, say).
_TOKEN_URLS = frozenset({"notify_webhook_url"})


def mask_url_secrets(url: str, *, token_in_path: bool = False) -> str:
    """``url`` with its password masked (``user:**********@host``, and a query's ``password=``, ``token=``, ``key=``,
    ``secret=``) and, with ``token_in_path``, its path and query too (``https://hooks.example.com/**********``): what
    may be printed of a URL holding credentials.

    >>> mask_url_secrets("redis://:hunter2@cache:6379/0")
    'redis://:**********@cache:6379/0'
    >>> mask_url_secrets("https://hooks.slack.com/services/T0/B0/XYZ?key=1", token_in_path=True)
    'https://hooks.slack.com/**********'
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return MASK  # unreadable: nothing of it is shown
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
    path, query, fragment = parts.path, parts.query, parts.fragment
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    if token_in_path and (path.strip("/") or query or fragment):
        path, query, fragment = f"/{MASK}", "", ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))
