"""Demo data for the dashboards: compute the snapshots of every month with records. Idempotent
(snapshots are upserted); runs after the other apps' demos."""

from __future__ import annotations

from learninghub.insights.metrics import engine


def seed(kernel) -> str:
    months = engine.data_months()
    if not months:
        return "no records yet, no snapshots computed"
    written = engine.recompute(months)
    return f"{written} snapshots computed for {len(kernel.teams)} teams and the organisation over {len(months)} months"
