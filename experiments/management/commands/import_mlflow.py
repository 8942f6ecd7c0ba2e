"""Import an MLflow experiment's runs into a team's registry, with a progress bar.

    python manage.py import_mlflow --tracking-uri http://mlflow:5000 --experiment ranker --team recsys
    python manage.py import_mlflow ... --since 2026-01-01 --no-detect   # history: no repeat detection

Re-running it is safe (runs are upserted by run id) and resumes from where the last import of
the same experiment stopped (the mapping's cursor); ``--since`` reads from that date instead.
The mapping is kept (disabled for the periodic sync unless a lead enables it in the admin).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from experiments.mlflow.sync import sync_mapping
from experiments.models import MlflowMapping
from learninghub.kernel.dates import parse_moment
from learninghub.kernel.models import Team


class Command(BaseCommand):
    help = "Import (or re-sync) the runs of an MLflow experiment as a team's experiments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tracking-uri", required=True, help="the MLflow tracking server, e.g. http://mlflow:5000")
        parser.add_argument("--experiment", required=True, help="the MLflow experiment's name")
        parser.add_argument("--team", required=True, help="the team slug the runs belong to")
        parser.add_argument("--since", help="only runs started from this date (YYYY-MM-DD or ISO date and time)")
        parser.add_argument("--no-detect", action="store_true",
                            help="do not compare imported failures with earlier ones (importing history)")

    def handle(self, *args, tracking_uri: str, experiment: str, team: str, since: str | None = None,
               no_detect: bool = False, **options) -> None:
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with the slug {team!r}.")
        since_moment = None
        if since:
            since_moment = parse_moment(since)
            if since_moment is None:
                raise CommandError(f"--since: “{since}” is not a date (YYYY-MM-DD) or an ISO date and time.")
        mapping, _ = MlflowMapping.objects.get_or_create(
            team=team_obj, tracking_uri=tracking_uri.rstrip("/"), experiment_name=experiment,
            defaults={"enabled": False})
        with tqdm(unit="run", desc=f"Importing {experiment}", disable=None) as progress:
            result = sync_mapping(mapping, since=since_moment, detect_repeats=False if no_detect else None,
                                  progress=progress.update)
        for line in result.warnings:
            self.stderr.write(f"warning: {line}")
        for run_id in result.kept_local:
            self.stderr.write(f"kept: {run_id} was edited in LearningHub since it was imported; not overwritten.")
        for line in result.failed:
            self.stderr.write(self.style.ERROR(f"failed: {line}"))
        if result.error:
            raise CommandError(f"{result.summary()}. Run the command again to resume.")
        self.stdout.write(self.style.SUCCESS(f"{experiment} → {team}: {result.summary()}."))
