"""What a paper period is by default, before a configuration may go live: how long and on which brokers."""

#: Trading days a paper period needs by default (about a month).
PAPER_DAYS = 20
#: Brokers whose runs count as paper trading by default: Alpaca's paper account trades live market data. A local
#: ``sim`` session can replay history as fast as asked, so it says nothing about live execution.
PAPER_BROKERS = ("alpaca-paper",)
