"""check_lookahead: bundled strategies pass; strategies that use future bars are caught and located."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_walk
from numba import njit

import workbench as wb
from workbench import LookaheadError, Param, Strategy, check_lookahead
from workbench.errors import WorkbenchError

BUNDLED = ("sma_cross", "rsi_reversion", "donchian_breakout", "zscore_reversion")
# Short windows so that every strategy trades often on a few hundred bars.
BUSY = {
    "sma_cross": {"fast": 3, "slow": 8},
    "rsi_reversion": {"window": 5, "lower": 40.0, "upper": 60.0},
    "donchian_breakout": {"entry": 5, "exit": 3},
    "zscore_reversion": {"window": 5, "entry_z": 1.0, "exit_z": 0.25},
}


def _every_cut(frame) -> int:
    return len(frame) - 1  # samples >= n - 1 checks every truncation point 0 .. n - 2


# ---------------------------------------------------------------------------------------------------------------
# bundled strategies pass
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_strategy_passes_on_spy(name, spy):
    cls = wb.strategy(name)
    assert check_lookahead(name, spy).compared  # default parameters, default samples
    busy = cls(**BUSY[name])
    assert np.count_nonzero(np.diff(busy.exposure(spy).to_numpy())) > 20  # the check is not vacuous
    assert check_lookahead(busy, spy, samples=200, seed=1).compared


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_strategy_passes_every_cut_of_a_random_walk(name, walk):
    cls = wb.strategy(name)
    for strategy in (cls(), cls(**BUSY[name])):
        assert check_lookahead(strategy, walk, samples=_every_cut(walk)).compared
    assert np.count_nonzero(cls(**BUSY[name]).exposure(walk).to_numpy()) > 50


def test_bundled_strategies_pass_on_several_symbols(spy, qqq, walk):
    bars = {"SPY": spy, "QQQ": qqq, "WALK": walk}
    for name in BUNDLED:
        assert check_lookahead(wb.strategy(name)(**BUSY[name]), bars, samples=30).compared


# ---------------------------------------------------------------------------------------------------------------
# peeking strategies are caught
# ---------------------------------------------------------------------------------------------------------------


class PeekNext(Strategy):
    """Long on bar t when bar t+1 closes higher: uses close[t + 1]."""

    @staticmethod
    def signals(open, high, low, close, volume):
        out = np.zeros(close.shape[0])
        out[:-1] = (close[1:] > close[:-1]).astype(float)
        return out


@njit(nogil=True)
def _peek_next_nb(open, high, low, close, volume, lag):
    out = np.zeros(close.shape[0])
    for i in range(close.shape[0] - lag):
        out[i] = 1.0 if close[i + lag] > close[i] else 0.0
    return out


class PeekNextNumba(Strategy):
    lag = Param(int, 1, min=1)
    signals = staticmethod(_peek_next_nb)


def _first_up_bar(frame) -> int:
    close = frame["close"].to_numpy()
    return int(np.argmax(close[1:] > close[:-1]))


def test_peeking_strategy_is_caught_and_the_first_bar_named(spy):
    bar = _first_up_bar(spy)
    stamp = spy.index[bar]
    with pytest.raises(LookaheadError) as info:
        check_lookahead(PeekNext, spy, samples=_every_cut(spy))
    message = str(info.value)
    assert "PeekNext() looks ahead on SPY" in message
    assert f"the signal at bar {bar} ({stamp.isoformat()})" in message
    assert "is 1.0 with all data but 0.0 with data up to bar" in message
    assert isinstance(info.value, WorkbenchError)


def test_peeking_numba_strategy_is_caught(walk):
    with pytest.raises(LookaheadError, match=r"PeekNextNumba\(lag=3\) looks ahead on WALK: the signal at bar \d+ "):
        check_lookahead(PeekNextNumba(lag=3), walk)


def test_default_sampling_names_a_bar_that_really_differs(spy):
    full = PeekNext().exposure(spy).to_numpy()
    with pytest.raises(LookaheadError) as info:
        check_lookahead(PeekNext, spy)  # 50 random cuts
    message = str(info.value)
    bar = int(message.split("the signal at bar ")[1].split(" ")[0])
    assert spy.index[bar].isoformat() in message
    assert full[bar] == 1.0  # truncated right after bar t, the peek sees nothing: 0.0
    # the sampled report is at or after the true first offending bar
    assert bar >= _first_up_bar(spy)


class PeekIfHigh(Strategy):
    """Causal on cheap series, peeks at the next close once a series trades above 150."""

    @staticmethod
    def signals(open, high, low, close, volume):
        out = (close > np.concatenate([[close[0]], close[:-1]])).astype(float)
        if close[0] > 150.0:
            out[:-1] = (close[1:] > close[:-1]).astype(float)
            out[-1] = 0.0
        return out


def test_error_names_the_offending_symbol(walk):
    clean = walk  # starts at 100
    dirty = make_walk(seed=3, symbol="DIRTY")
    for col in ("open", "high", "low", "close"):
        dirty[col] = dirty[col] * 2.0  # starts at 200
    assert check_lookahead(PeekIfHigh, {"CLEAN": clean}, samples=100).compared
    with pytest.raises(LookaheadError) as info:
        check_lookahead(PeekIfHigh, {"CLEAN": clean, "DIRTY": dirty})
    message = str(info.value)
    assert "looks ahead on DIRTY" in message and "CLEAN" not in message


class PeekFrom(Strategy):
    """Causal (always flat) before bar ``start``; from there long when the next bar exists and closes higher.

    The look-ahead sits at absolute bar positions, so only a truncation at or after ``start`` can reveal it.
    """

    start = Param(int, 0, min=0)

    @staticmethod
    def signals(open, high, low, close, volume, start):
        out = np.zeros(close.shape[0])
        for t in range(start, close.shape[0] - 1):
            out[t] = 1.0 if close[t + 1] >= close[t] else 0.5
        return out


class PeekBetween(Strategy):
    """Peeks at the next bar only for bars in [start, stop): only a cut inside that range reveals it."""

    start = Param(int, 0, min=0)
    stop = Param(int, 0, min=0)

    @staticmethod
    def signals(open, high, low, close, volume, start, stop):
        out = np.zeros(close.shape[0])
        for t in range(start, min(stop, close.shape[0] - 1)):
            out[t] = 1.0 if close[t + 1] >= close[t] else 0.5
        return out


def test_peek_only_at_the_end_is_caught_when_every_cut_is_checked(spy):
    n = len(spy)
    with pytest.raises(LookaheadError) as info:
        check_lookahead(PeekFrom(start=n - 2), spy, samples=_every_cut(spy))
    message = str(info.value)
    assert f"the signal at bar {n - 2} ({spy.index[n - 2].isoformat()})" in message
    assert f"with data up to bar {n - 2}" in message
    # and the same strategy peeking from the start is caught by the default 50 samples
    with pytest.raises(LookaheadError, match=r"the signal at bar \d+"):
        check_lookahead(PeekFrom(start=0), spy)


@pytest.mark.parametrize("seed", range(5))
def test_default_sampling_catches_a_peek_at_the_last_bar(spy, seed):
    with pytest.raises(LookaheadError):
        check_lookahead(PeekFrom(start=len(spy) - 2), spy, seed=seed)


def test_samples_and_seed_choose_the_cuts(spy):
    # A peek from bar 900 on: about 10% of the cuts reveal it; with every cut it cannot be missed.
    late = PeekFrom(start=900)
    with pytest.raises(LookaheadError, match=r"the signal at bar 900 "):
        check_lookahead(late, spy, samples=_every_cut(spy))
    with pytest.raises(LookaheadError, match=r"the signal at bar 900 "):
        check_lookahead(late, spy, samples=10_000)  # more samples than cuts: every cut
    # a peek confined to bars 400..499: a single random cut misses it for some seeds, finds it for others
    middle = PeekBetween(start=400, stop=500)
    outcomes = set()
    for seed in range(40):
        try:
            check_lookahead(middle, spy, samples=1, seed=seed)
            outcomes.add("missed")
        except LookaheadError:
            outcomes.add("caught")
    assert outcomes == {"missed", "caught"}


def test_class_name_and_instance_are_all_accepted(spy):
    short = spy.iloc[:300]
    assert check_lookahead("sma_cross", short).compared
    assert check_lookahead(wb.strategy("sma_cross"), short).compared
    assert check_lookahead(wb.strategy("sma_cross")(fast=3, slow=8), short).compared
    with pytest.raises(LookaheadError, match=r"PeekNextNumba\(lag=1\)"):
        check_lookahead(PeekNextNumba, short)


# ---------------------------------------------------------------------------------------------------------------
# the result says what was compared; nothing compared is refused (or warned about)
# ---------------------------------------------------------------------------------------------------------------


def test_a_pass_says_how_many_cut_points_and_signals_it_compared(spy):
    bars = spy.iloc[:300]
    result = check_lookahead(wb.strategy("sma_cross")(fast=3, slow=8), bars, samples=299)
    full = wb.strategy("sma_cross")(fast=3, slow=8).exposure(bars).to_numpy()
    assert (result.cuts, result.signals, result.bars, result.symbols) == (299, sum(range(1, 300)), 300, ("SPY",))
    assert result.active == np.count_nonzero(full[:299] != 0) > 50
    assert str(result) == (
        f"no look-ahead in SmaCross(fast=3, slow=8) on SPY: the signals equal the full run's at 299 cut points of 300 "
        f"bars ({sum(range(1, 300)):,} signal values compared, {result.active:,} of them a position)"
    )


def test_one_bar_is_refused_with_a_whole_sentence(spy):
    from workbench.research.lookahead import LookaheadUntested

    with pytest.raises(LookaheadUntested) as info:
        check_lookahead("sma_cross", spy.iloc[:1])
    assert str(info.value) == (
        "check_lookahead could not test SmaCross(fast=10, slow=50) on SPY: it compared 0 cut points of 1 bar "
        "(0 signal values compared, 0 of them a position); give it more bars or parameters that take a position, "
        "or pass untested='warn' to go on."
    )


def test_a_strategy_that_never_takes_a_position_is_refused_or_warned_about(spy):
    from workbench.research.lookahead import LookaheadUntested, LookaheadUntestedWarning

    bars = spy.iloc[:40]  # slow=50: flat at every bar
    with pytest.raises(
        LookaheadUntested, match=r"it compared 39 cut points of 40 bars \(780 signal values compared, 0 of"
    ):
        check_lookahead("sma_cross", bars)
    with pytest.warns(LookaheadUntestedWarning, match="could not test SmaCross"):
        result = check_lookahead("sma_cross", bars, untested="warn")
    assert not result.compared and result.cuts == 39 and result.active == 0
    assert str(result).startswith("nothing compared for SmaCross(fast=10, slow=50) on SPY: 39 cut points")
    with pytest.raises(ValueError, match="untested='loud': must be 'raise' or 'warn'"):
        check_lookahead("sma_cross", bars, untested="loud")
