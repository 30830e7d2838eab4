"""The dashboard's views, one module each: overview, positions, orders and fills, strategies, risk, runs and
reports, research. Each is a Panel `Viewer` that shows a `PollState` (``update``) and, where it has controls, acts
through `workbench.ui.actions.Controls`."""
