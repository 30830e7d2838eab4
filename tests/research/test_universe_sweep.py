"""Universe strategies in research: the bundled three (momentum, risk parity, a pair) swept with one row per
parameter set, each row equal to the recorded run of its weights and to vectorbt's from_orders on them; the
look-ahead check on weights; every bad input refused with the bar and symbol named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from numba import njit

import workbench as wb
from workbench.engine.inputs import check_costs
from workbench.engine.universe_run import simulate_weights
from workbench.strategies.universe import Panel

ETFS = ["SPY", "QQQ", "IWM", "DIA", "XLK"]


@pytest.fixture(scope="module")
def etfs() -> wb.Bars:
    return wb.load(ETFS, start="2006-01-01", end="2016-12-31")


@pytest.fixture(scope="module")
def oil() -> wb.Bars:
    return wb.load(["XOM", "CVX"], start="2008-01-01", end="2016-12-31")


CASES = [
    ("momentum", "etfs", {"lookback": [20, 60, 120], "top": [1, 2], "every": [5, 21]}),
    ("risk_parity", "etfs", {"window": [20, 60], "every": [21, 63]}),
    ("pair_zscore", "oil", {"window": [20, 60], "entry_z": [1.5, 2.0], "exit_z": [0.0, 0.5]}),
]


@pytest.mark.parametrize(("name", "universe", "ranges"), CASES)
@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_every_row_of_a_universe_sweep_is_the_run_of_its_weights(name, universe, ranges, fill, request) -> None:
    bars = request.getfixturevalue(universe)
    res = wb.sweep(name, bars, fees=0.001, fill=fill, progress=False, **ranges)
    cls = wb.strategy(name)
    panel = Panel.of({s: bars[s] for s in bars})
    assert res.metrics.index.names == list(cls.params()) and len(res.metrics) == len(res.grid) > 3
    assert res.symbols == list(bars) and res.complete
    for key, row in res.metrics.iterrows():
        values = dict(zip(res.metrics.index.names, key, strict=True))
        weights = cls(**values).target_weights(bars).to_numpy()
        run = simulate_weights(weights, panel, check_costs(10_000.0, 0.001, 0.0, fill), res.periods_per_year[ETFS[0]]
                               if universe == "etfs" else res.periods_per_year["XOM"])  # fmt: skip
        np.testing.assert_allclose(row.to_numpy(dtype=float), run.metrics.to_numpy(), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize(("name", "universe", "ranges"), CASES)
def test_bundled_universe_strategies_equal_vectorbt_with_close_fills(name, universe, ranges, request) -> None:
    bars = request.getfixturevalue(universe)
    res = wb.sweep(name, bars, fees=0.001, fill="close", progress=False, periods_per_year=365, **ranges)
    close = bars.close
    for key, row in res.metrics.iterrows():
        values = dict(zip(res.metrics.index.names, key, strict=True))
        weights = wb.strategy(name)(**values).target_weights(bars)
        pf = vbt.Portfolio.from_orders(
            close,
            size=weights,
            size_type="targetpercent",
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            fees=0.001,
            init_cash=10_000.0,
            freq="1D",
        )
        assert row["total_return"] == pytest.approx(pf.total_return(), rel=1e-9, abs=1e-12)
        assert row["max_drawdown"] == pytest.approx(pf.max_drawdown(), rel=1e-9, abs=1e-12)
        assert row["sharpe"] == pytest.approx(pf.sharpe_ratio(), rel=1e-9)
        assert row["trades"] == pf.positions.count()
        assert row["win_rate"] == pytest.approx(pf.positions.win_rate(), rel=1e-12, nan_ok=True)
        assert row["end_value"] == pytest.approx(pf.value().iloc[-1], rel=1e-9)


def test_the_bundled_universe_strategies_do_not_look_ahead(etfs, oil) -> None:
    assert wb.check_lookahead(wb.strategy("momentum")(lookback=40, top=2, every=5), etfs, samples=30).compared
    assert wb.check_lookahead(wb.strategy("risk_parity")(window=30, every=7), etfs, samples=30).compared
    assert wb.check_lookahead(wb.strategy("pair_zscore")(window=30, entry_z=1.5, exit_z=0.5), oil, samples=30).compared


class Peeking(wb.UniverseStrategy):
    """Holds tomorrow's best performer: looks one bar ahead."""

    @staticmethod
    def weights(open, high, low, close, volume):
        out = np.full(close.shape, np.nan)
        ahead = np.nan_to_num(close[1:] / close[:-1] - 1.0, nan=-np.inf)
        best = np.argmax(ahead, axis=1)
        out[:-1] = 0.0
        out[np.arange(len(best)), best] = 1.0
        return out


def test_a_universe_strategy_that_peeks_ahead_is_caught(etfs) -> None:
    with pytest.raises(wb.LookaheadError, match=r"Peeking\(\) looks ahead: its weight of [A-Z]+ at bar \d+"):
        wb.check_lookahead(Peeking, etfs, samples=20)


class Levered(wb.UniverseStrategy):
    """Holds every symbol at 40 %: gross 2.0 with five symbols."""

    @staticmethod
    @njit(cache=True)
    def weights(open, high, low, close, volume):
        out = np.full(close.shape, np.nan)
        out[10] = 0.4
        return out


class Flat(wb.UniverseStrategy):
    """Returns one weight per bar, not per symbol."""

    @staticmethod
    def weights(open, high, low, close, volume):
        return np.zeros(close.shape[0])


def test_bad_universe_inputs_are_refused_naming_what_is_wrong(etfs) -> None:
    with pytest.raises(ValueError, match="a universe strategy trades several symbols in one account; got SPY alone"):
        wb.sweep("momentum", wb.load("SPY"), progress=False)
    early, late = wb.load("SPY", end="2005-12-30"), wb.load("QQQ", start="2010-01-04")
    with pytest.raises(
        ValueError, match=r"do not overlap in time \(SPY 1999-12-31..2005-12-30, QQQ 2010-01-04..2026-05-29\)"
    ):
        wb.sweep("momentum", {"SPY": early, "QQQ": late}, progress=False)
    message = r"Levered with \{\}: the weights at 2006-01-18 .* hold 2 of equity in \{'SPY': 0.4, .*'XLK': 0.4\}"
    with pytest.raises(ValueError, match=message):
        wb.sweep(Levered, etfs, progress=False)
    allowed = wb.sweep(Levered, etfs, leverage=2.0, progress=False)  # allowed, but the account lends no cash:
    assert allowed.metrics["trades"].iloc[0] == 3  # two 40 % buys in full, the third cut to the cash left
    with pytest.raises(ValueError, match=r"Flat.weights returned shape \(2769,\) for 2769 bars of 5 symbols"):
        wb.sweep(Flat, etfs, progress=False)
    with pytest.raises(ValueError, match=r"leverage=0: must be a positive multiple of equity"):
        wb.sweep("momentum", etfs, leverage=0, progress=False)
    late_listing = wb.load(["SPY", "META"], start="2012-01-03", end="2012-12-31")  # META from 2012-05-18
    message = r"HalfEach with \{\}: the weights at 2012-01-03 .* ask to trade META, which has no price at 2012-01-04"
    with pytest.raises(ValueError, match=message):
        wb.sweep(HalfEach, late_listing, progress=False)


class HalfEach(wb.UniverseStrategy):
    """Half the equity in each of two symbols from the first bar, whether they trade yet or not."""

    @staticmethod
    def weights(open, high, low, close, volume):
        out = np.full(close.shape, np.nan)
        out[0] = 0.5
        return out


def test_a_universe_strategy_must_take_the_bars_and_its_parameters() -> None:
    with pytest.raises(TypeError, match=r"Wrong.weights must take \(open, high, low, close, volume, n\)"):

        class Wrong(wb.UniverseStrategy):
            n = wb.Param(int, 3)

            @staticmethod
            def weights(close, n):
                return close

    with pytest.raises(TypeError, match=r"parameter name\(s\) weights are reserved"):

        class Clash(wb.UniverseStrategy):
            weights = wb.Param(int, 3)


def test_bundled_universe_strategies_are_registered_and_described() -> None:
    text = wb.strategy("momentum").describe()
    assert text.startswith("momentum (Momentum): Hold the ``top`` symbols") and "lookback" in text
    assert issubclass(wb.strategy("pair_zscore"), wb.UniverseStrategy)
    assert wb.strategy("risk_parity")().values == {"window": 60, "every": 21}


def test_a_universe_walks_forward_as_one_account(etfs) -> None:
    ranges = {"lookback": [20, 60, 120], "top": [1, 2], "every": [5, 21]}
    wf = wb.walk_forward("momentum", etfs, train="3Y", test="1Y", fees=0.001, progress=False, **ranges)
    panel = Panel.of(dict(etfs))
    costs = check_costs(10_000.0, 0.001, 0.0, "next_open")
    cls, grid = wb.strategy("momentum"), pd.MultiIndex.from_product(list(ranges.values()), names=list(ranges))
    assert list(wf.windows["symbol"].unique()) == ["portfolio"] and len(wf.windows) == 8
    weights_of = {key: cls(**dict(zip(ranges, key, strict=True))).target_weights(etfs).to_numpy() for key in grid}
    stitched = np.full(panel.shape, np.nan)
    for row in wf.windows.itertuples():
        a, b = panel.index.get_loc(row.train_start), panel.index.get_loc(row.train_end) + 1
        c = panel.index.get_loc(row.test_end) + 1
        train = {
            key: simulate_weights(w, panel, costs, 252.0, start=a, end=b).metrics["sharpe"]
            for key, w in weights_of.items()
        }
        chosen = (row.lookback, row.top, row.every)
        assert row.is_sharpe == pytest.approx(max(train.values()), rel=1e-12) == pytest.approx(train[chosen], rel=1e-12)
        oos = simulate_weights(weights_of[chosen], panel, costs, 252.0, start=b, end=c).metrics["sharpe"]
        assert row.oos_sharpe == pytest.approx(oos, rel=1e-12, nan_ok=True)
        stitched[b:c] = weights_of[chosen][b:c]
    start, end = panel.index.get_loc(wf.windows["test_start"].iloc[0]), len(panel.index)
    whole = simulate_weights(stitched, panel, costs, 252.0, start=start, end=end)
    np.testing.assert_allclose(wf.equity["portfolio"].to_numpy(), whole.equity.to_numpy(), rtol=1e-12)


def test_a_universe_sweep_is_assessed_for_overfitting_as_one_account(etfs) -> None:
    res = wb.sweep("momentum", etfs, lookback=range(20, 200, 40), top=[1, 2, 3], every=[5, 21], progress=False)
    report = res.overfitting()
    assert report.symbol == "portfolio" and report.n_trials == len(res.metrics) == 30
    best = res.best_params()
    assert report.best_params == best and 0.0 <= report.pbo <= 1.0 and 0.0 <= report.deflated_sharpe <= 1.0
    run = simulate_weights(
        wb.strategy("momentum")(**best).target_weights(etfs).to_numpy(),
        Panel.of(dict(etfs)),
        res.costs,
        res.periods_per_year["SPY"],
    )
    assert report.sharpe == pytest.approx(run.metrics["sharpe"], rel=1e-9)
