"""Test doubles that ship with the package, so users can test their own strategies and integrations.

>>> from workbench.testing import FrozenClock, ListFeed, make_bars
"""

from workbench.testing.bars import ListFeed, make_bars
from workbench.testing.clock import FrozenClock

__all__ = ["FrozenClock", "ListFeed", "make_bars"]
