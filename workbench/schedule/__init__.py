"""Notebooks as jobs: ``run_notebook`` executes one (papermill) into ``reports/runs/`` and records it;
``NotebookSchedule`` runs one repeatedly, never two at once, inside market hours if asked."""
