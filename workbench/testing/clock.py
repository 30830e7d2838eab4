"""``FrozenClock``: the test kit's name for the simulated clock (`workbench.clock.SimClock`), a ``Clock`` that
moves only when told to."""

from workbench.clock import SimClock

FrozenClock = SimClock
