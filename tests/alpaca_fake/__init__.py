"""A loopback Alpaca for tests: the real alpaca-py clients, pointed at 127.0.0.1, talk to it in Alpaca's wire format.

* `core.LoopbackServer`: the HTTP and websocket listeners, the key pair, routing, fault injection
  (``fail_next``), the request log. It knows no Alpaca API.
* `market_data.MarketData`: the market-data REST endpoints and the msgpack bar stream, served from DataFrames.
* `trading.TradingApi`: the trading API (account, orders that fill as a test scripts them, positions, fill
  activities) and the JSON ``trade_updates`` stream at ``/stream``.

Each API registers itself on the same `LoopbackServer`: ``server.route(method, path, handler)`` and
``server.websocket(path, handler)``.

>>> with LoopbackServer() as server:  # doctest: +SKIP
...     market = MarketData(server)
...     client = StockHistoricalDataClient(server.api_key, server.secret_key, url_override=server.rest_url)
...     stream = StockDataStream(server.api_key, server.secret_key, url_override=server.ws_url("/v2/iex"))
"""

from .core import API_KEY, SECRET_KEY, LoopbackServer, Reply, Request, api_error
from .market_data import MarketData
from .trading import FakeOrder, Plan, TradingApi

__all__ = [
    "API_KEY",
    "SECRET_KEY",
    "FakeOrder",
    "LoopbackServer",
    "MarketData",
    "Plan",
    "Reply",
    "Request",
    "TradingApi",
    "api_error",
]
