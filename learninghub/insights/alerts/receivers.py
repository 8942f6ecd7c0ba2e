"""On change: after a write commits (``learninghub.kernel.events``), queue the rules it can trip.

Only teams someone listens to are evaluated, and only the rules a write can change: a crashed
run can complete a burst (evaluated at once: one count), and changed months can move the repeat
rate (evaluated after the metrics debounce, so it reads the recomputed snapshot).
"""

from __future__ import annotations

from django.conf import settings

from learninghub.insights.alerts.models import RuleKind
from learninghub.insights.alerts.selectors import team_is_watched
from learninghub.kernel.periods import Month
from learninghub.kernel.queue import enqueue_by_name

TASK = "alerts.tasks.evaluate_team_alerts"


def on_team_records_changed(sender, team_id: int, months, **kwargs) -> None:
    if Month.current() not in months or not team_is_watched(team_id):
        return
    enqueue_by_name(TASK, team_id, [RuleKind.SYSTEM_BURST.value])
    enqueue_by_name(TASK, team_id, [RuleKind.REPEAT_RATE.value],
                    countdown=getattr(settings, "METRICS_DEBOUNCE_SECONDS", 10) + 5)
