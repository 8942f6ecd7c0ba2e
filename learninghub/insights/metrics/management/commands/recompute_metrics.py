"""Recompute stored learning metrics, with a progress bar.

    python manage.py recompute_metrics                       # every team and the organisation, all months
    python manage.py recompute_metrics --team recsys         # one team, every month with its records
    python manage.py recompute_metrics --from 2025-01 --to 2025-06
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.models import Computation
from learninghub.kernel.models import Team
from learninghub.kernel.periods import Month

CHUNK_MONTHS = 12  # one set-based pass per year of months: progress without losing the set-based speed


def parse_month(value: str, option: str) -> Month:
    try:
        return Month.parse(value)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}") from exc


class Command(BaseCommand):
    help = "Recompute learning metric snapshots (all teams and the organisation, or one team)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", help="team slug: only this team's snapshots")
        parser.add_argument("--from", dest="first", help="first month, YYYY-MM (default: the first with records)")
        parser.add_argument("--to", dest="last", help="last month, YYYY-MM (default: the current month)")

    def handle(self, *args, team: str | None = None, first: str | None = None, last: str | None = None,
               **options) -> None:
        team_ids = None
        if team:
            team_obj = Team.objects.filter(slug=team).first()
            if team_obj is None:
                raise CommandError(f"No team with the slug {team!r}.")
            team_ids = [team_obj.pk]
        last_month = parse_month(last, "--to") if last else Month.current()
        if first:
            first_month = parse_month(first, "--from")
        else:
            with_data = engine.data_months(team_ids, until=last_month)
            first_month = with_data[0] if with_data else last_month
        if first_month > last_month:
            raise CommandError("--from must not be after --to.")
        months = Month.range(first_month, last_month)
        started, written = time.perf_counter(), 0
        with tqdm(total=len(months), unit="month", desc="Recomputing", disable=None) as progress:
            for index in range(0, len(months), CHUNK_MONTHS):
                chunk = months[index:index + CHUNK_MONTHS]
                written += engine.recompute(chunk, team_ids=team_ids, computation=Computation.MANUAL)
                progress.update(len(chunk))
        scope = f"team {team}" if team else "every team and the organisation"
        self.stdout.write(self.style.SUCCESS(
            f"{written} snapshots for {scope}, {first_month} to {last_month}, "
            f"in {time.perf_counter() - started:.1f} s"))
