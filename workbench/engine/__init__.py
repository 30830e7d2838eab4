"""Numba kernels (``*_nb``) and the drivers above them: indicators, fills, simulation, metrics, sweeps.

Nothing here is imported by ``import workbench``; the first sweep or backtest loads (or compiles) it.
"""
