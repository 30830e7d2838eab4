"""Saved runs as the front ends list, show and rerun them: the CLI's ``workbench runs``, the API's ``/runs``, the
dashboard's runs tab (`workbench.provenance.saved` keeps them, `workbench.ops.rerun` runs them again)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.ops.rerun import rerun_run
from workbench.provenance.saved import runs, show_run
from workbench.store.database import Store


def saved(
    store: Store, *, kind: str | None = None, strategy: str | None = None, limit: int | None = 50
) -> pd.DataFrame:
    """The saved runs, newest first, indexed by run id (`workbench.provenance.saved.runs`)."""
    return runs(store, kind=kind, strategy=strategy, limit=limit)


def show(store: Store, run_id: int) -> dict[str, Any]:
    """Everything saved of run ``run_id`` (`workbench.provenance.saved.show_run`); ``StoreError`` when unknown."""
    return show_run(run_id, store)


def rerun(store: Store, run_id: int, *, check_code: bool = True) -> tuple[Any, list[str]]:
    """Run saved run ``run_id`` again: the fresh result and the numbers that came out different
    (`workbench.ops.rerun.rerun_run`)."""
    return rerun_run(run_id, store, check_code=check_code)
