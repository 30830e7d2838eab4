"""BacktestResult extras: vectorbt round trip, plot, and the CLI's --risk file."""

from __future__ import annotations

import os

import numpy as np
import pytest

import workbench as wb
from workbench.cli import main


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_to_vectorbt_reproduces_equity_and_trades(fill: str) -> None:
    bars = wb.load("SPY", start="2012-01-01")
    bt = wb.backtest(wb.strategy("zscore_reversion")(), bars, fees=0.001, slippage=0.0005, fill=fill)
    pf = bt.to_vectorbt()
    np.testing.assert_allclose(pf.value().to_numpy(), bt.equity.to_numpy(), rtol=1e-12)
    assert pf.trades.count() == int(bt.metrics["trades"])
    np.testing.assert_allclose(pf.total_return(), bt.metrics["total_return"], rtol=1e-9)


def test_plot_has_price_with_trades_equity_and_drawdown() -> None:
    bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), wb.load("SPY", start="2018-01-01"))
    layout = bt.plot()
    titles = [str(getattr(item, "label", "")) + str(item.opts.get().kwargs.get("title", "")) for item in layout]
    assert len(layout) == 3
    assert any("equity" in t for t in titles) and any("drawdown" in t for t in titles)
    overlay = layout[0]
    assert len(overlay) == 3  # price, entries, exits


def test_an_account_of_several_symbols_has_per_symbol_views_plots_and_clear_errors() -> None:
    bars = wb.load(["SPY", "QQQ"], start="2018-01-01")
    bt = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), bars, fees=0.001)
    assert bt.symbols == ["SPY", "QQQ"] and bt.weights == pytest.approx({"SPY": 0.5, "QQQ": 0.5})
    view = bt["qqq"]
    assert view.symbol == "QQQ" and len(view.trades) == int((bt.trades["symbol"] == "QQQ").sum()) > 0
    assert set(view.fills["symbol"]) == {"QQQ"} and len(view.fills) + len(bt["SPY"].fills) == len(bt.fills)
    closes = bars["QQQ"]["close"].reindex(bt.equity.index).ffill()
    np.testing.assert_allclose(view.value.to_numpy(), (bt.positions["QQQ"] * closes).fillna(0.0).to_numpy())
    assert ((bt.equity - bt.holdings_value) > -1e-6).all()  # the cash: long-only weights summing to 1 never borrow
    with pytest.raises(ValueError, match=r"this backtest trades 2 symbols \(SPY, QQQ\), not one: use bt.symbols"):
        _ = bt.position
    with pytest.raises(KeyError, match="'IWM' is not traded in this backtest; its symbols: SPY, QQQ"):
        bt["IWM"]
    assert len(bt.plot()) == 3  # equity, drawdown, each symbol's position value
    assert len(view.plot()) == 2  # its price with entries and exits, its position value
    assert "BacktestResult(SmaCross" in repr(bt) and "on SPY, QQQ" in repr(bt)


def test_cli_risk_file(tmp_path, monkeypatch, capsys) -> None:
    for key in [k for k in os.environ if k.startswith("WORKBENCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    rules = tmp_path / "risk.toml"
    rules.write_text("stop_loss = 0.03\nmax_drawdown = 0.2\n")
    assert main(["backtest", "sma_cross", "-p", "fast=10", "-p", "slow=50", "--risk", str(rules), "--trades", "0"]) == 0
    out = capsys.readouterr().out
    assert "risk exit stop_loss SPY at 2000-04-14" in out and "'limit': 0.03" in out
    rules.write_text("stop_los = 0.03\n")
    assert main(["backtest", "sma_cross", "--risk", str(rules)]) == 1
    assert "unknown risk rule stop_los" in capsys.readouterr().err
    assert main(["sweep", "sma_cross", "--risk", str(tmp_path / "missing.toml")]) == 1
    assert "risk file" in capsys.readouterr().err


def test_unlabelled_and_lower_case_symbols_trade_like_labelled_ones() -> None:
    spy = wb.load("SPY", start="2015-01-01")
    labelled = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), spy)
    plain = spy.copy()
    plain.attrs = {}
    unlabelled = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), plain)
    assert unlabelled.symbol == "BARS"
    np.testing.assert_array_equal(unlabelled.equity.to_numpy(), labelled.equity.to_numpy())
    both = {"spy": spy, "qqq": wb.load("QQQ", start="2015-01-01")}
    portfolio = wb.backtest(wb.strategy("sma_cross")(fast=10, slow=50), both)
    assert list(portfolio.positions.columns) == ["SPY", "QQQ"] and len(portfolio.fills) > 0
