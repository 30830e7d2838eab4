"""`YahooSource`: daily and intraday bars from Yahoo Finance through the real ``yfinance`` package.

Yahoo quotes OHLC and volume **split-adjusted but not dividend-adjusted**, and sends a separate close adjusted for
splits and dividends. `YahooSource` makes the choice explicit: ``adjusted=False`` gives Yahoo's OHLC plus that
close as ``adj_close`` (daily bars; the same shape as the bundled sample), ``adjusted=True`` gives OHLC scaled by
``adj_close / close`` so returns include dividends (yfinance's ``auto_adjust``).

Provider quirks are handled before validation and reported in ``attrs["notes"]`` and the log: bars Yahoo lists
without prices (days without trading) are dropped, zero-volume bars are kept and counted, splits in the range
are named. Transient failures (network errors, HTTP 429) are retried with a `RetryPolicy`; an unknown symbol is a
`DataNotFoundError` at once. Intraday bars reach back as far as Yahoo serves them (`LOOKBACK`); a request
beyond that, or a 1-minute request longer than Yahoo's 8 days, is a ValueError before any network call.

Offline use: pass ``session=`` a ``requests.Session`` whose transport adapter answers Yahoo's URLs (the tests
replay recorded responses that way). A session replaces yfinance's process-wide session for later calls too.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from http import HTTPStatus

import pandas as pd
import requests
import yfinance as yf
from pandas.errors import Pandas4Warning
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError, YFTzMissingError

from workbench.clock import Clock, SystemClock
from workbench.data._failures import first, format_timestamp
from workbench.data.remote import RemoteSource
from workbench.data.schema import PRICE_COLUMNS
from workbench.data.sources import RetryPolicy, Timeframe
from workbench.errors import DataNotFoundError

SOURCE = "yfinance"

#: Timeframes Yahoo serves, as yfinance intervals.
INTERVALS: dict[str, str] = {
    "1Min": "1m",
    "2Min": "2m",
    "5Min": "5m",
    "15Min": "15m",
    "30Min": "30m",
    "1Hour": "1h",
    "1Day": "1d",
}
#: How far back Yahoo serves each intraday interval.
LOOKBACK: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(days=30),
    **{interval: pd.Timedelta(days=60) for interval in ("2m", "5m", "15m", "30m")},
    "1h": pd.Timedelta(days=730),
}
#: The longest range one request may cover, where Yahoo limits it.
MAX_SPAN: dict[str, pd.Timedelta] = {"1m": pd.Timedelta(days=8)}
# Daily history starts this long before now when no start is given (what yfinance's period="max" asks for).
_DAILY_DEFAULT_SPAN = pd.DateOffset(years=99)

_log = logging.getLogger(__name__)


class YahooSource(RemoteSource):
    """Bars from Yahoo Finance (a `DataSource`): daily and intraday, adjusted or as quoted, by explicit choice.

    ``history`` (see `RemoteSource.history`; ``read``: the whole daily history) takes Yahoo symbols (``"SPY"``,
    ``"BRK-B"``, ``"^GSPC"``; case is ignored) and the timeframes of `INTERVALS` (Yahoo's spelling such as
    ``"5m"`` works too). Without a start, daily bars begin 99 years back and intraday bars as far back as Yahoo
    serves them. The bars without any price are dropped before validation (``nan_policy`` sees the rest); the
    result's ``attrs["notes"]`` lists the quirks handled. Raises ValueError (a timeframe Yahoo does not serve, a
    range beyond its intraday limits) and `WorkbenchError` (still failing after the retries).

    Parameters
    ----------
    adjusted : bool
        Required. False: Yahoo's OHLC (split-adjusted, not dividend-adjusted) and, for daily bars, ``adj_close``.
        True: OHLC adjusted for splits and dividends, no ``adj_close``.
    session : requests.Session, optional
        The HTTP session yfinance uses (default: its own, which impersonates a browser).
    retry : RetryPolicy
        Retries of transient failures (network errors, HTTP 429).
    clock : Clock, optional
        "Now" for default ranges and Yahoo's intraday limits (default: the system clock).
    timeout : float
        Seconds before one HTTP request gives up.

    Examples
    --------
    >>> spy = YahooSource(adjusted=False).history("SPY", start="2024-03-01", end="2024-03-28")  # doctest: +SKIP
    >>> spy.columns.tolist()  # doctest: +SKIP
    ['open', 'high', 'low', 'close', 'volume', 'adj_close']
    >>> YahooSource(adjusted=True).history("SPY", start="2024-03-11", timeframe="5Min")  # doctest: +SKIP
    """

    source_name = SOURCE

    def __init__(
        self,
        *,
        adjusted: bool,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.adjusted = adjusted
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._session = session
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"YahooSource(adjusted={self.adjusted})"

    def _fetch_range(
        self, symbol: str, tf: Timeframe, lo: pd.Timestamp | None, hi: pd.Timestamp | None
    ) -> pd.DataFrame:
        """`symbol`'s bars covering `lo` to `hi` in canonical form, for `RemoteSource.history`, retried while the
        failure is transient; the quirks handled are logged and kept in ``attrs["notes"]``."""
        if str(tf) not in INTERVALS:
            raise ValueError(f"yfinance serves timeframes {', '.join(INTERVALS)}; not {tf}")
        interval = INTERVALS[str(tf)]
        first_bar, after_last = self._request_range(interval, lo, hi)
        raw = self.retry.call(
            lambda: self._fetch(symbol, interval, first_bar, after_last),
            transient=_transient,
            what=f"{SOURCE} {symbol} {tf}",
        )
        frame, notes = _canonical(raw, intraday=tf.intraday, adjusted=self.adjusted)
        for note in notes:
            _log.info("%s %s: %s", SOURCE, symbol, note)
        frame.attrs["notes"] = notes
        return frame

    def _request_range(
        self, interval: str, lo: pd.Timestamp | None, hi: pd.Timestamp | None
    ) -> tuple[str, str] | tuple[int, int]:
        """yfinance's start and exclusive end: session dates for daily bars, epoch seconds for intraday."""
        now = pd.Timestamp(self._clock.now()).tz_convert("UTC")
        if interval == "1d":
            # A daily bar is stamped with its session date at 00:00 UTC: ask for the dates the bounds cover.
            first_day = (now - _DAILY_DEFAULT_SPAN).normalize() if lo is None else lo.ceil("D")
            after_last = (now if hi is None else hi).floor("D") + pd.Timedelta(days=1)
            return first_day.strftime("%Y-%m-%d"), after_last.strftime("%Y-%m-%d")
        earliest = now - LOOKBACK[interval]
        after_last = now if hi is None else hi.floor("s") + pd.Timedelta(seconds=1)
        span = MAX_SPAN.get(interval)
        default_start = earliest if span is None else max(earliest, after_last - span)
        first_bar = default_start if lo is None else lo
        if first_bar < earliest:
            raise ValueError(
                f"{SOURCE} serves {interval} bars for the last {LOOKBACK[interval].days} days only (from "
                f"{format_timestamp(earliest.floor('D'))}); start {format_timestamp(first_bar)} is earlier: "
                "ask for daily bars or use another source"
            )
        if span is not None and after_last - first_bar > span:
            raise ValueError(
                f"{SOURCE} serves {interval} bars at most {span.days} days per request; asked for "
                f"{format_timestamp(first_bar)} .. {format_timestamp(after_last)}: split the range"
            )
        return int(first_bar.timestamp()), int(after_last.timestamp())

    def _fetch(self, ticker: str, interval: str, start: str | int, end: str | int) -> pd.DataFrame:
        """One ``Ticker.history`` call, with Yahoo's "no such symbol" answers turned into `DataNotFoundError`."""
        with _yfinance_raising():
            try:
                return yf.Ticker(ticker, session=self._session).history(
                    start=start,
                    end=end,
                    interval=interval,
                    auto_adjust=self.adjusted,
                    actions=True,
                    keepna=True,  # NaN rows are Yahoo's missing days: dropped and reported by `_canonical`
                    repair=False,
                    prepost=False,
                    timeout=self.timeout,
                )
            except YFTzMissingError as exc:
                raise DataNotFoundError(f"{SOURCE}: unknown or delisted symbol {ticker!r}") from exc
            except YFPricesMissingError as exc:
                raise DataNotFoundError(f"{SOURCE}: no {interval} bars for {ticker}: {exc.rationale}") from exc
            except OSError as exc:
                if _http_status(exc) == HTTPStatus.NOT_FOUND:  # yfinance asks for the quote when the chart fails
                    raise DataNotFoundError(f"{SOURCE}: unknown or delisted symbol {ticker!r}") from exc
                raise


@contextmanager
def _yfinance_raising() -> Iterator[None]:
    """For one call: yfinance raises its errors (by default it logs them and returns an empty frame), and its
    pandas deprecation chatter (``inplace=``, pandas 3.1) is silenced."""
    debug = yf.config.debug
    hidden = debug.hide_exceptions
    debug.hide_exceptions = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Pandas4Warning)
            yield
    finally:
        debug.hide_exceptions = hidden


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying: rate limits, network errors and server errors (requests and curl_cffi raise
    OSErrors), and an HTML error page where JSON was expected. Other HTTP errors (4xx) cannot heal."""
    if isinstance(exc, YFRateLimitError | json.JSONDecodeError):
        return True
    status = _http_status(exc)
    return isinstance(exc, OSError) and (status is None or status == HTTPStatus.TOO_MANY_REQUESTS or status >= 500)


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of an HTTP error from requests or curl_cffi, None for other errors."""
    return getattr(getattr(exc, "response", None), "status_code", None)


def _canonical(raw: pd.DataFrame, intraday: bool, adjusted: bool) -> tuple[pd.DataFrame, list[str]]:
    """yfinance's frame as canonical columns on a UTC index (daily: session date at 00:00 UTC), the bars without
    any price dropped; and notes on the quirks handled."""
    columns = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}
    if not adjusted and not intraday:
        columns["Adj Close"] = "adj_close"
    frame = raw[list(columns)].rename(columns=columns).astype("float64")
    utc = raw.index.tz_convert("UTC") if intraday else raw.index.tz_localize(None).normalize().tz_localize("UTC")
    frame.index = pd.DatetimeIndex(utc, name="timestamp", freq=None).as_unit("ns")

    notes = []
    no_price = frame[list(PRICE_COLUMNS)].isna().all(axis=1).to_numpy()
    if no_price.any():
        days = first((format_timestamp(ts) for ts in frame.index[no_price]), int(no_price.sum()))
        notes.append(f"dropped {int(no_price.sum())} bar(s) Yahoo listed without prices (no trading); {days}")
        frame = frame[~no_price]
    zero_volume = (frame["volume"] == 0).to_numpy()
    if zero_volume.any():
        bars = first((format_timestamp(ts) for ts in frame.index[zero_volume]), int(zero_volume.sum()))
        notes.append(f"kept {int(zero_volume.sum())} bar(s) with zero volume; {bars}")
    splits = raw["Stock Splits"] if "Stock Splits" in raw.columns else pd.Series(dtype="float64")
    for ts, ratio in splits[splits.fillna(0) != 0].items():
        share = Fraction(float(ratio)).limit_denominator(1000)
        notes.append(
            f"split {share.numerator}:{share.denominator} on {ts:%Y-%m-%d}: Yahoo's prices and volume before it "
            "are split-adjusted"
        )
    return frame, notes
