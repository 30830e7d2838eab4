"""`workbench cache stats / clear [--tag]`, run through a typer app that registers ``cache_app`` the way
`workbench.cli` will (settings loaded by the root callback into ``ctx.obj``)."""

from __future__ import annotations

from pathlib import Path

import typer
from cache_support import redis_url_or_skip
from typer.testing import CliRunner

from workbench.cache import CachedSource, cache_from_settings
from workbench.cli.cache import cache_app
from workbench.config import Settings, load_settings
from workbench.data.sources import SampleSource


def _settings(tmp_path: Path, redis: bool) -> Settings:
    overrides = {"cache_dir": str(tmp_path / "cache")}
    if redis:
        overrides["redis_url"] = redis_url_or_skip()
    return load_settings(overrides=overrides, env={})


def _invoke(settings: Settings, *args: str) -> str:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = settings

    app.add_typer(cache_app, name="cache")
    result = CliRunner().invoke(app, ["cache", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_stats_then_clear_by_tag_then_clear_all(tmp_path: Path) -> None:
    settings = _settings(tmp_path, redis=True)
    with cache_from_settings(settings) as cache:
        cache.clear()  # the shared Redis database may hold another run's keys under the default prefix
        cached = CachedSource(SampleSource(), cache)
        for symbol in ("SPY", "QQQ"):
            cached.history(symbol, "2020-01-01", "2020-12-31")
    out = _invoke(settings, "stats")
    assert f"disk: {tmp_path / 'cache'}\n  hits: 0\n" in out
    assert "redis: redis://127.0.0.1:6379/15 prefix 'workbench:'" in out
    assert out.count("  entries: 2\n") == 2  # redis and disk; this process's memory is empty
    assert "  evictions: n/a\n" in out and "  lifetime_misses: 2\n" in out
    out = _invoke(settings, "clear", "--tag", "symbol:SPY")
    assert out.splitlines() == [
        "memory: removed 0 entries tagged symbol:SPY",
        "redis: removed 1 entries tagged symbol:SPY",
        "disk: removed 1 entries tagged symbol:SPY",
    ]
    assert _invoke(settings, "clear").splitlines()[1:] == ["redis: removed 1 entries", "disk: removed 1 entries"]
    assert _invoke(settings, "stats").count("  entries: 0\n") == 3


def test_without_redis_only_memory_and_disk_are_listed(tmp_path: Path) -> None:
    out = _invoke(_settings(tmp_path, redis=False), "stats")
    assert [line for line in out.splitlines() if not line.startswith(" ")] == [
        "memory: in-process, at most 512.0 MiB",
        f"disk: {tmp_path / 'cache'}",
    ]
