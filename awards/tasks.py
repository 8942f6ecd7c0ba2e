"""Award tasks: the hourly schedule and the winners' announcement. Thin and idempotent."""

from __future__ import annotations

from celery import shared_task

from awards import services


@shared_task(name="awards.tasks.advance_award_cycles")
def advance_award_cycles() -> str:
    """Open this month's cycle and move every cycle to the stage its deadlines call for, catching
    up runs missed while the worker was down. Safe to run any number of times."""
    return "; ".join(services.cycles_advance_on_schedule()) or "nothing to do"


@shared_task(name="awards.tasks.announce_award_winners", autoretry_for=(OSError,), retry_backoff=True,
             max_retries=5)
def announce_award_winners(cycle_id: int) -> int:
    """Email a closed cycle's winners (at most once per cycle); returns the number of emails sent."""
    return services.cycle_announce_winners(cycle_id=cycle_id)
