#!/usr/bin/env python
"""Benchmark of the learning metrics engine and the team dashboard.

Generates a synthetic organisation (default: 50 teams, 1,000,000 experiments, 200,000
post-mortems, 500,000 lessons, 400,000 applications, 800,000 action items over 5 years; scale
it with ``--scale``) into a database of its own, then prints:

- the full recompute time (every team and the organisation, every month);
- the time of the leanest hand-written SQL computing the same counts (the floor), and the ratio;
- one team's recompute time (all its months), and one team-month's against the floor for it;
- one write → recompute (``--writes`` writes of each kind: an experiment's outcome flipped, a
  post-mortem re-resolved, a lesson backdated 6 months, an action item done): the median time
  of ``recompute_stale`` (exactly the stale team-months and organisation months) against the
  floor for the same team and months;
- the team dashboard's server time and query count (and the organisation dashboard's).

Run it once per scale for the scaling figures (``--scale 0.1``, ``0.3``, ``1.0``): each run prints
the full recompute against the floor at that scale.

The database is never the configured one: with DATABASE_URL on PostgreSQL the benchmark uses
(and creates) ``<name>_bench`` on the same server and loads it with COPY; otherwise a SQLite
file (``--sqlite-path``) loaded with executemany. A database holding anything but benchmark
teams is refused unless ``--force``. Data already generated at the same scale and seed is
reused unless ``--regenerate``.

    python bench/metrics.py                      # full scale
    python bench/metrics.py --scale 0.01         # quick
    DATABASE_URL=postgres://u:p@127.0.0.1/learninghub python bench/metrics.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_SLUG_PREFIX = "bench-"
BASE_COUNTS = {"experiments": 1_000_000, "postmortems": 200_000, "lessons": 500_000,
               "applications": 400_000, "action_items": 800_000}
YEARS = 5


# --- Database selection (before Django is set up) -------------------------------------------

def bench_database_url(args) -> str:
    if args.sqlite_path:
        return f"sqlite:///{Path(args.sqlite_path).resolve()}"
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{Path('/tmp/learninghub-bench.sqlite3')}"
    parsed = urlparse(url)
    name = parsed.path.lstrip("/") or "learninghub"
    bench_name = args.bench_db or f"{name}_bench"
    ensure_postgres_database(parsed, bench_name)
    return urlunparse(parsed._replace(path=f"/{bench_name}"))


def ensure_postgres_database(parsed, bench_name: str) -> None:
    import psycopg
    from psycopg import sql

    admin_url = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [bench_name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(bench_name)))
            print(f"created database {bench_name}")


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)  # measure the database, not a cache round trip; tasks in-process
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learninghub.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(PROJECT_ROOT))
    import django

    django.setup()


# --- Data generation ------------------------------------------------------------------------

class TableWriter:
    """Rows in the order of the model's concrete columns, defaults filled in; COPY on
    PostgreSQL, executemany on SQLite."""

    def __init__(self, model, connection):
        from django.db.models import JSONField

        self.model = model
        self.connection = connection
        self.fields = list(model._meta.concrete_fields)
        self.index = {f.attname: i for i, f in enumerate(self.fields)}
        self.template = []
        for f in self.fields:
            if f.has_default():
                value = f.get_default()
                value = json.dumps(value) if isinstance(f, JSONField) else value
            else:
                value = None if f.null else ""
            self.template.append(value)
        self.rows: list[list] = []

    def row(self, **values) -> None:
        row = list(self.template)
        for name, value in values.items():
            row[self.index[name]] = value
        self.rows.append(row)

    def flush(self) -> int:
        count = len(self.rows)
        if not count:
            return 0
        table = self.model._meta.db_table
        columns = [f.column for f in self.fields]
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                quoted = ", ".join(f'"{c}"' for c in columns)
                buffer = io.StringIO()
                for row in self.rows:
                    buffer.write("\t".join(_copy_text(value) for value in row))
                    buffer.write("\n")
                with cursor.cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                    copy.write(buffer.getvalue())
            else:
                placeholders = ", ".join(["?"] * len(columns))
                sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({placeholders})'
                cursor.cursor.executemany(sql, [[_sqlite_value(v) for v in row] for row in self.rows])
        self.rows = []
        return count


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def _sqlite_value(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def counts_for(scale: float) -> dict[str, int]:
    return {name: max(1, round(count * scale)) for name, count in BASE_COUNTS.items()}


def existing_data_state(teams: int, counts: dict[str, int]) -> str:
    """'empty', 'matching' (benchmark data of this size), 'other-bench' or 'foreign'."""
    from experiments.models import Experiment, Lesson, LessonApplication
    from learninghub.kernel.models import Team
    from postmortems.models import ActionItem, PostMortem

    slugs = list(Team.objects.values_list("slug", flat=True))
    if not slugs:
        return "empty"
    if any(not slug.startswith(BENCH_SLUG_PREFIX) for slug in slugs):
        return "foreign"
    actual = {"experiments": Experiment.objects.count(), "postmortems": PostMortem.objects.count(),
              "lessons": Lesson.objects.count(), "applications": LessonApplication.objects.count(),
              "action_items": ActionItem.objects.count()}
    return "matching" if actual == counts and len(slugs) == teams else "other-bench"


def wipe(connection) -> None:
    from django.apps import apps

    tables = ["postmortems_actionitem", "experiments_lessonapplication", "experiments_lesson",
              "postmortems_postmortem", "experiments_experiment", "metrics_metricsnapshot",
              "learninghub_membership", "learninghub_team"]
    known = set(connection.introspection.table_names())
    tables = [t for t in tables if t in known]
    # Anything else pointing at these tables (other apps' rows) goes too: it is a benchmark database.
    others = [m._meta.db_table for m in apps.get_models() if m._meta.db_table in known
              and m._meta.db_table not in tables and m._meta.app_label in {"awards"}]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(others + tables)} RESTART IDENTITY CASCADE")
        else:
            for table in others + tables:
                cursor.execute(f'DELETE FROM "{table}"')


def generate(teams: int, counts: dict[str, int], seed: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from experiments.models import Experiment, Lesson, LessonApplication
    from learninghub.kernel.models import Membership, Team
    from postmortems.models import ActionItem, PostMortem

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    span = YEARS * 365 * 86400
    origin = now - dt.timedelta(seconds=span)

    def moment_between(start: dt.datetime, end: dt.datetime) -> dt.datetime:
        return start + dt.timedelta(seconds=rng.random() * max(0.0, (end - start).total_seconds()))

    started = time.perf_counter()
    with transaction.atomic():
        wipe(connection)
        team_objs = Team.objects.bulk_create(
            [Team(name=f"Bench team {i:02d}", slug=f"{BENCH_SLUG_PREFIX}{i:02d}") for i in range(teams)])
        team_ids = [t.pk for t in team_objs]
        User = get_user_model()
        user, _ = User.objects.get_or_create(username="bench-member")
        user.set_password("bench-member-password")
        user.save()
        Membership.objects.create(user=user, team=team_objs[0], role=Membership.Role.LEAD)

        # Experiments, in time order so repeats point at earlier failures of the same team.
        writer = TableWriter(Experiment, connection)
        modes = ["data_quality", "overfitting", "infrastructure", "other", ""]
        kinds = ["productive", "wasteful", "system", ""]
        outcomes = ["in_progress"] * 10 + ["success"] * 35 + ["failure"] * 35 + ["partial"] * 10 + ["inconclusive"] * 10
        starts = sorted(origin + dt.timedelta(seconds=rng.random() * span) for _ in range(counts["experiments"]))
        experiment_team, experiment_time = [], []
        failures_by_team: dict[int, list[int]] = {t: [] for t in team_ids}
        for number, start in enumerate(starts, start=1):
            team_id = rng.choice(team_ids)
            outcome = rng.choice(outcomes)
            ended = None if outcome == "in_progress" else min(start + dt.timedelta(hours=rng.uniform(1, 480)), now)
            values = {"id": number, "team_id": team_id, "title": f"Experiment {number}", "hypothesis": "h",
                      "started_at": start, "ended_at": ended, "outcome": outcome, "created_at": start,
                      "updated_at": ended or start, "is_novel": rng.random() < 0.3}
            if outcome == "failure":
                values["failure_mode"] = rng.choice(modes)
                values["failure_kind"] = rng.choice(kinds)
                earlier = failures_by_team[team_id]
                if earlier and rng.random() < 0.15:
                    values["repeat_of_id"] = earlier[-rng.randint(1, min(20, len(earlier)))]
                earlier.append(number)
            writer.row(**values)
            experiment_team.append(team_id)
            experiment_time.append(start)
            if len(writer.rows) >= 50_000:
                writer.flush()
        writer.flush()
        print(f"  experiments   {counts['experiments']:>9,}  ({time.perf_counter() - started:.0f} s)")

        writer = TableWriter(PostMortem, connection)
        occurred_times = sorted(origin + dt.timedelta(seconds=rng.random() * span)
                                for _ in range(counts["postmortems"]))
        postmortem_team, postmortem_time = [], []
        pm_by_team: dict[int, list[int]] = {t: [] for t in team_ids}
        for number, occurred in enumerate(occurred_times, start=1):
            team_id = rng.choice(team_ids)
            detected = occurred + dt.timedelta(hours=rng.expovariate(1 / 4))
            resolved = detected + dt.timedelta(hours=rng.expovariate(1 / 30))
            resolved = None if resolved > now else resolved
            values = {"id": number, "team_id": team_id, "title": f"Incident {number}", "occurred_at": occurred,
                      "detected_at": detected, "resolved_at": resolved, "failure_mode": rng.choice(modes),
                      "severity": rng.choice(["sev1", "sev2", "sev3", "sev4"]),
                      "status": "published" if rng.random() < 0.9 else "draft",
                      "restricted": rng.random() < 0.1, "created_at": occurred, "updated_at": occurred}
            earlier = pm_by_team[team_id]
            if earlier and rng.random() < 0.1:
                values["repeat_of_id"] = earlier[-rng.randint(1, min(20, len(earlier)))]
            earlier.append(number)
            writer.row(**values)
            postmortem_team.append(team_id)
            postmortem_time.append(occurred)
            if len(writer.rows) >= 50_000:
                writer.flush()
        writer.flush()
        print(f"  post-mortems  {counts['postmortems']:>9,}  ({time.perf_counter() - started:.0f} s)")

        writer = TableWriter(Lesson, connection)
        lesson_team, lesson_time = [], []
        for number in range(1, counts["lessons"] + 1):
            if rng.random() < 0.6:
                source = rng.randrange(len(experiment_team))
                team_id, base, source_field = experiment_team[source], experiment_time[source], "experiment_id"
            else:
                source = rng.randrange(len(postmortem_team))
                team_id, base, source_field = postmortem_team[source], postmortem_time[source], "postmortem_id"
            documented = min(base + dt.timedelta(days=rng.uniform(0, 10)), now)
            writer.row(id=number, team_id=team_id, text=f"Lesson {number}", documented_at=documented,
                       created_at=documented, updated_at=documented, **{source_field: source + 1})
            lesson_team.append(team_id)
            lesson_time.append(documented)
            if len(writer.rows) >= 50_000:
                writer.flush()
        writer.flush()
        print(f"  lessons       {counts['lessons']:>9,}  ({time.perf_counter() - started:.0f} s)")

        writer = TableWriter(LessonApplication, connection)
        for number in range(1, counts["applications"] + 1):
            lesson = rng.randrange(len(lesson_team))
            applied = min(lesson_time[lesson] + dt.timedelta(days=rng.uniform(0.5, 500)), now)
            writer.row(id=number, lesson_id=lesson + 1, experiment_id=rng.randrange(len(experiment_team)) + 1,
                       applied_at=applied, note="", created_at=applied, updated_at=applied)
            if len(writer.rows) >= 50_000:
                writer.flush()
        writer.flush()
        print(f"  applications  {counts['applications']:>9,}  ({time.perf_counter() - started:.0f} s)")

        writer = TableWriter(ActionItem, connection)
        today = now.date()
        for number in range(1, counts["action_items"] + 1):
            postmortem = rng.randrange(len(postmortem_team))
            due = (postmortem_time[postmortem] + dt.timedelta(days=rng.uniform(3, 60))).date()
            roll = rng.random()
            if due < today:
                status = "done" if roll < 0.7 else "wont_do" if roll < 0.8 else rng.choice(["open", "in_progress"])
            else:
                status = "done" if roll < 0.3 else "open"
            completed = None
            if status == "done":
                completed = min(dt.datetime.combine(due, dt.time(12), dt.UTC) + dt.timedelta(days=rng.uniform(-10, 8)),
                                now)
            created = postmortem_time[postmortem]
            writer.row(id=number, postmortem_id=postmortem + 1, description=f"Action {number}", due_date=due,
                       status=status, completed_at=completed, created_at=created, updated_at=completed or created)
            if len(writer.rows) >= 50_000:
                writer.flush()
        writer.flush()
        print(f"  action items  {counts['action_items']:>9,}  ({time.perf_counter() - started:.0f} s)")

        reset_sequences(connection, [Experiment, PostMortem, Lesson, LessonApplication, ActionItem])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"generated in {time.perf_counter() - started:.1f} s")


def reset_sequences(connection, models) -> None:
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


# --- The floor: the leanest hand-written SQL computing the same counts ---------------------

FLOOR_SQL_POSTGRESQL = [
    # experiments started, novel
    """SELECT team_id, date_trunc('month', started_at AT TIME ZONE 'UTC') AS m, count(*),
              count(*) FILTER (WHERE is_novel)
       FROM experiments_experiment GROUP BY 1, 2""",
    # failed experiments by mode and kind, repeats
    """SELECT team_id, date_trunc('month', ended_at AT TIME ZONE 'UTC'), failure_mode, failure_kind, count(*),
              count(repeat_of_id)
       FROM experiments_experiment WHERE outcome = 'failure' AND ended_at IS NOT NULL GROUP BY 1, 2, 3, 4""",
    # post-mortems by mode, repeats
    """SELECT team_id, date_trunc('month', occurred_at AT TIME ZONE 'UTC'), failure_mode, count(*),
              count(repeat_of_id)
       FROM postmortems_postmortem WHERE occurred_at IS NOT NULL GROUP BY 1, 2, 3""",
    # recovery and detection: counts, sums, median, p90 per team and for the organisation
    """SELECT team_id, date_trunc('month', resolved_at AT TIME ZONE 'UTC'), count(*), count(detected_at),
              sum(extract(epoch FROM resolved_at - detected_at)),
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at)),
              percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at)),
              count(detected_at - occurred_at), sum(extract(epoch FROM detected_at - occurred_at))
       FROM postmortems_postmortem WHERE resolved_at IS NOT NULL GROUP BY 1, 2""",
    """SELECT date_trunc('month', resolved_at AT TIME ZONE 'UTC'),
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at)),
              percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at))
       FROM postmortems_postmortem WHERE resolved_at IS NOT NULL GROUP BY 1""",
    # lessons in the 365-day window and applied before the month's end: events + running sums
    """WITH first_application AS (
           SELECT lesson_id, min(applied_at) AS a FROM experiments_lessonapplication GROUP BY lesson_id),
       l AS (
           SELECT l.team_id, l.documented_at AS d, f.a,
                  date_trunc('month', (l.documented_at + interval '365 days') AT TIME ZONE 'UTC') AS leaves
           FROM experiments_lesson l LEFT JOIN first_application f ON f.lesson_id = l.id),
       events AS (
           SELECT team_id, date_trunc('month', d AT TIME ZONE 'UTC') AS m, 1 AS w, 0 AS ap FROM l
           UNION ALL SELECT team_id, leaves, -1, 0 FROM l
           UNION ALL SELECT team_id, date_trunc('month', greatest(d, a) AT TIME ZONE 'UTC'), 0, 1
                     FROM l WHERE a IS NOT NULL AND greatest(d, a) < leaves AT TIME ZONE 'UTC'
           UNION ALL SELECT team_id, leaves, 0, -1
                     FROM l WHERE a IS NOT NULL AND greatest(d, a) < leaves AT TIME ZONE 'UTC'),
       per_month AS (SELECT team_id, m, sum(w) AS w, sum(ap) AS ap FROM events GROUP BY 1, 2)
       SELECT team_id, m, sum(w) OVER (PARTITION BY team_id ORDER BY m),
              sum(ap) OVER (PARTITION BY team_id ORDER BY m)
       FROM per_month""",
    # action items due per month
    """SELECT p.team_id, date_trunc('month', a.due_date), count(*),
              count(*) FILTER (WHERE a.status = 'done'),
              count(*) FILTER (WHERE a.status = 'done' AND (a.completed_at AT TIME ZONE 'UTC')::date <= a.due_date),
              count(*) FILTER (WHERE a.status IN ('open', 'in_progress')),
              count(*) FILTER (WHERE a.status IN ('open', 'in_progress') AND a.due_date < current_date),
              count(*) FILTER (WHERE a.status = 'wont_do')
       FROM postmortems_actionitem a JOIN postmortems_postmortem p ON p.id = a.postmortem_id
       WHERE a.due_date IS NOT NULL GROUP BY 1, 2""",
]

FLOOR_SQL_SQLITE = [
    """SELECT team_id, substr(started_at, 1, 7) AS m, count(*), sum(is_novel)
       FROM experiments_experiment GROUP BY 1, 2""",
    """SELECT team_id, substr(ended_at, 1, 7), failure_mode, failure_kind, count(*), count(repeat_of_id)
       FROM experiments_experiment WHERE outcome = 'failure' AND ended_at IS NOT NULL GROUP BY 1, 2, 3, 4""",
    """SELECT team_id, substr(occurred_at, 1, 7), failure_mode, count(*), count(repeat_of_id)
       FROM postmortems_postmortem WHERE occurred_at IS NOT NULL GROUP BY 1, 2, 3""",
    """SELECT team_id, substr(resolved_at, 1, 7), count(*), count(detected_at),
              sum((julianday(resolved_at) - julianday(detected_at)) * 24),
              count(detected_at - occurred_at), sum((julianday(detected_at) - julianday(occurred_at)) * 24)
       FROM postmortems_postmortem WHERE resolved_at IS NOT NULL GROUP BY 1, 2""",
    """SELECT team_id, substr(resolved_at, 1, 7), (julianday(resolved_at) - julianday(detected_at)) * 24
       FROM postmortems_postmortem WHERE resolved_at IS NOT NULL ORDER BY 1, 2, 3""",
    """WITH first_application AS (
           SELECT lesson_id, min(applied_at) AS a FROM experiments_lessonapplication GROUP BY lesson_id),
       l AS (
           SELECT l.team_id, l.documented_at AS d, f.a,
                  substr(datetime(l.documented_at, '+365 days'), 1, 7) AS leaves
           FROM experiments_lesson l LEFT JOIN first_application f ON f.lesson_id = l.id),
       events AS (
           SELECT team_id, substr(d, 1, 7) AS m, 1 AS w, 0 AS ap FROM l
           UNION ALL SELECT team_id, leaves, -1, 0 FROM l
           UNION ALL SELECT team_id, substr(max(d, a), 1, 7), 0, 1 FROM l
                     WHERE a IS NOT NULL AND substr(max(d, a), 1, 7) < leaves
           UNION ALL SELECT team_id, leaves, 0, -1 FROM l
                     WHERE a IS NOT NULL AND substr(max(d, a), 1, 7) < leaves),
       per_month AS (SELECT team_id, m, sum(w) AS w, sum(ap) AS ap FROM events GROUP BY 1, 2)
       SELECT team_id, m, sum(w) OVER (PARTITION BY team_id ORDER BY m),
              sum(ap) OVER (PARTITION BY team_id ORDER BY m)
       FROM per_month""",
    """SELECT p.team_id, substr(a.due_date, 1, 7), count(*), sum(a.status = 'done'),
              sum(a.status = 'done' AND substr(a.completed_at, 1, 10) <= a.due_date),
              sum(a.status IN ('open', 'in_progress')),
              sum(a.status IN ('open', 'in_progress') AND a.due_date < date('now')),
              sum(a.status = 'wont_do')
       FROM postmortems_actionitem a JOIN postmortems_postmortem p ON p.id = a.postmortem_id
       WHERE a.due_date IS NOT NULL GROUP BY 1, 2""",
]


def run_floor(connection) -> int:
    statements = FLOOR_SQL_POSTGRESQL if connection.vendor == "postgresql" else FLOOR_SQL_SQLITE
    rows = 0
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
            rows += len(cursor.fetchall())
    return rows


# The same floor, for one team and a span of months (lessons: their 365-day window before it).
FLOOR_KEYS_SQL_POSTGRESQL = [
    """SELECT date_trunc('month', started_at AT TIME ZONE 'UTC'), count(*), count(*) FILTER (WHERE is_novel)
       FROM experiments_experiment WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(end)s
       GROUP BY 1""",
    """SELECT date_trunc('month', ended_at AT TIME ZONE 'UTC'), failure_mode, failure_kind, count(*),
              count(repeat_of_id)
       FROM experiments_experiment WHERE team_id = %(team)s AND outcome = 'failure' AND ended_at >= %(start)s
       AND ended_at < %(end)s GROUP BY 1, 2, 3""",
    """SELECT date_trunc('month', occurred_at AT TIME ZONE 'UTC'), failure_mode, count(*), count(repeat_of_id)
       FROM postmortems_postmortem WHERE team_id = %(team)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
       GROUP BY 1, 2""",
    """SELECT date_trunc('month', resolved_at AT TIME ZONE 'UTC'), count(*), count(detected_at),
              sum(extract(epoch FROM resolved_at - detected_at)),
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at)),
              percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at)),
              count(detected_at - occurred_at), sum(extract(epoch FROM detected_at - occurred_at))
       FROM postmortems_postmortem WHERE team_id = %(team)s AND resolved_at >= %(start)s AND resolved_at < %(end)s
       GROUP BY 1""",
    """SELECT date_trunc('month', l.documented_at AT TIME ZONE 'UTC'),
              date_trunc('month', (l.documented_at + interval '365 days') AT TIME ZONE 'UTC'),
              date_trunc('month', greatest(l.documented_at, f.a) AT TIME ZONE 'UTC'), count(*)
       FROM experiments_lesson l
       LEFT JOIN LATERAL (SELECT min(applied_at) AS a FROM experiments_lessonapplication
                          WHERE lesson_id = l.id) f ON true
       WHERE l.team_id = %(team)s AND l.documented_at >= %(window_start)s AND l.documented_at < %(end)s
       GROUP BY 1, 2, 3""",
    """SELECT date_trunc('month', a.due_date), count(*), count(*) FILTER (WHERE a.status = 'done'),
              count(*) FILTER (WHERE a.status = 'done' AND (a.completed_at AT TIME ZONE 'UTC')::date <= a.due_date),
              count(*) FILTER (WHERE a.status IN ('open', 'in_progress')),
              count(*) FILTER (WHERE a.status IN ('open', 'in_progress') AND a.due_date < current_date),
              count(*) FILTER (WHERE a.status = 'wont_do')
       FROM postmortems_actionitem a JOIN postmortems_postmortem p ON p.id = a.postmortem_id
       WHERE p.team_id = %(team)s AND a.due_date >= %(start)s AND a.due_date < %(end)s GROUP BY 1""",
    # the organisation's median and p90 for the same months
    """SELECT date_trunc('month', resolved_at AT TIME ZONE 'UTC'),
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at)),
              percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - detected_at))
       FROM postmortems_postmortem WHERE resolved_at >= %(start)s AND resolved_at < %(end)s GROUP BY 1""",
]


def run_floor_for(connection, team_id: int, months: list) -> int:
    """The hand-written floor for one team over ``months`` (their span), PostgreSQL only."""
    from learninghub.insights.metrics.engine import LESSON_WINDOW

    first, last = min(months), max(months)
    params = {"team": team_id, "start": first.start, "end": last.end, "window_start": first.end - LESSON_WINDOW}
    rows = 0
    with connection.cursor() as cursor:
        for statement in FLOOR_KEYS_SQL_POSTGRESQL:
            cursor.execute(statement, params)
            rows += len(cursor.fetchall())
    return rows


def measure_writes(connection, team_ids: list[int], writes: int, seed: int) -> None:
    """One write → recompute, for each kind of write: the median ``recompute_stale`` time against
    the median floor for the same team and months. Each write is a direct update plus the
    ChangeSet rule the service states, marked stale as the change receiver does."""
    from experiments.models import Experiment, Lesson
    from learninghub.insights.metrics import engine
    from learninghub.kernel.events import ChangeSet
    from postmortems.models import ActionItem, PostMortem

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)

    def experiment_outcome(team_id: int) -> ChangeSet:
        experiment = (Experiment.objects.filter(team_id=team_id, ended_at__isnull=False,
                                                outcome__in=["failure", "success"]).order_by("?").first())
        experiment.outcome = "success" if experiment.outcome == "failure" else "failure"
        experiment.save(update_fields=["outcome"])
        return ChangeSet().moments(team_id, experiment.started_at, experiment.ended_at)

    def postmortem_resolved(team_id: int) -> ChangeSet:
        postmortem = PostMortem.objects.filter(team_id=team_id, resolved_at__isnull=False).order_by("?").first()
        old = postmortem.resolved_at
        postmortem.resolved_at = old + dt.timedelta(hours=rng.uniform(1, 5))
        postmortem.save(update_fields=["resolved_at"])
        return ChangeSet().moments(team_id, postmortem.occurred_at, old, postmortem.resolved_at)

    def lesson_backdated(team_id: int) -> ChangeSet:
        documented = now - dt.timedelta(days=183 + rng.uniform(0, 5))
        source = Experiment.objects.filter(team_id=team_id).order_by("?").only("id").first()
        Lesson.objects.create(team_id=team_id, experiment_id=source.pk, text="Backdated", documented_at=documented)
        return ChangeSet().lesson(team_id, documented)

    def action_item_done(team_id: int) -> ChangeSet:
        item = ActionItem.objects.filter(postmortem__team_id=team_id, status="open").order_by("?").first()
        item.status, item.completed_at = "done", now
        item.save(update_fields=["status", "completed_at"])
        return ChangeSet().moments(team_id, item.due_date)

    engine.recompute_stale()  # start from every snapshot fresh
    print(f"\none write → recompute (median of {writes} writes each; the floor for the same team and months)")
    kinds = (("experiment outcome flipped", experiment_outcome), ("post-mortem re-resolved", postmortem_resolved),
             ("lesson backdated 6 months", lesson_backdated), ("action item done", action_item_done))
    for label, write in kinds:
        timings, floors, months_marked = [], [], []
        for _ in range(writes):
            team_id = rng.choice(team_ids)
            changes = write(team_id)
            marked = changes.by_team()[team_id]
            engine.mark_stale(team_id, marked)
            started = time.perf_counter()
            engine.recompute_stale()
            timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            run_floor_for(connection, team_id, sorted(marked))
            floors.append(time.perf_counter() - started)
            months_marked.append(len(marked))
        median, floor = statistics.median(timings), statistics.median(floors)
        p95 = sorted(timings)[int(0.95 * (len(timings) - 1))]
        print(f"  {label:<28} {median * 1000:7.1f} ms  floor {floor * 1000:7.1f} ms  ratio {median / floor:5.2f} ×"
              f"  ({statistics.median(months_marked):.0f} months marked, p95 {p95 * 1000:.1f} ms)")


def _month_key(value) -> dt.date:
    """A truncated month from raw SQL, as the first day the snapshots store."""
    from learninghub.kernel.periods import Month

    month = Month.parse(value[:7]) if isinstance(value, str) else Month(value.year, value.month)  # SQLite: text
    return month.first_day


def verify_against_floor(connection) -> int:
    """The engine's stored counts must equal the floor's: experiments started and novel, and
    lessons in the window and applied (the trickiest). Returns how many team-months agree."""
    from learninghub.insights.metrics.models import MetricSnapshot

    statements = FLOOR_SQL_POSTGRESQL if connection.vendor == "postgresql" else FLOOR_SQL_SQLITE
    stored = {(row[0], row[1]): row[2:] for row in MetricSnapshot.objects.filter(team__isnull=False).values_list(
        "team_id", "month", "experiments_started", "experiments_novel", "lessons_in_window", "lessons_applied")}
    checked = 0
    with connection.cursor() as cursor:
        cursor.execute(statements[0])
        for team_id, month, started, novel in cursor.fetchall():
            key = (team_id, _month_key(month))
            if key in stored:
                assert stored[key][:2] == (started, novel), ("started/novel differ", key, stored[key], started, novel)
                checked += 1
        cursor.execute(statements[5])
        for team_id, month, in_window, applied in cursor.fetchall():
            key = (team_id, _month_key(month))
            if key in stored:
                assert stored[key][2:] == (in_window, applied), ("lessons differ", key, stored[key], in_window, applied)
                checked += 1
    return checked


def best_of(runs: int, function) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def measure_page(client, url: str, runs: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm up (and compute anything missing)
    assert response.status_code == 200, (url, response.status_code)
    timings, query_counts = [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
        query_counts.append(len(queries))
    return statistics.median(timings), max(query_counts), response.status_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default record counts (1.0)")
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (best or median)")
    parser.add_argument("--regenerate", action="store_true", help="regenerate data even if it matches")
    parser.add_argument("--force", action="store_true", help="wipe a database holding non-benchmark data")
    parser.add_argument("--bench-db", help="PostgreSQL database name (default: <configured name>_bench)")
    parser.add_argument("--sqlite-path", help="use this SQLite file instead of PostgreSQL")
    parser.add_argument("--writes", type=int, default=20, help="writes of each kind for one write → recompute (20)")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")

    database_url = bench_database_url(args)
    setup_django(database_url)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from learninghub.insights.metrics import engine
    from learninghub.kernel.models import Team

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    call_command("migrate", verbosity=0)
    counts = counts_for(args.scale)
    state = existing_data_state(args.teams, counts)
    if state == "foreign" and not args.force:
        print("refusing: this database holds teams that are not benchmark teams (use --force to wipe it)")
        return 2
    if state != "matching" or args.regenerate:
        print(f"generating {args.teams} teams, " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        generate(args.teams, counts, args.seed)
    else:
        print("reusing benchmark data of this scale (--regenerate to rebuild)")

    months = engine.data_months()
    team = Team.objects.order_by("slug").first()
    print(f"{len(months)} months × {Team.objects.count()} teams\n")

    full_time, written = best_of(args.runs, lambda: engine.recompute(months))
    print(f"full recompute ({written:,} snapshots)          {full_time * 1000:9.0f} ms  (best of {args.runs})")
    floor_time, floor_rows = best_of(args.runs, lambda: run_floor(connection))
    print(f"hand-written SQL floor ({floor_rows:,} rows)    {floor_time * 1000:9.0f} ms  (best of {args.runs})")
    print(f"ratio full / floor                          {full_time / floor_time:9.2f} ×")
    print(f"  (checked: {verify_against_floor(connection):,} team-months of stored counts equal the floor's)")
    team_months = engine.data_months([team.pk])
    team_time, team_written = best_of(args.runs, lambda: engine.recompute(team_months, team_ids=[team.pk]))
    print(f"one team's recompute ({team_written} months)            {team_time * 1000:9.0f} ms")
    if connection.vendor == "postgresql":
        one_month = [months[-2]]
        month_time, _ = best_of(args.runs, lambda: engine.recompute_keys([(team.pk, one_month[0])]))
        month_floor, _ = best_of(args.runs, lambda: run_floor_for(connection, team.pk, one_month))
        print(f"one team-month ({one_month[0]})                 {month_time * 1000:9.1f} ms  floor "
              f"{month_floor * 1000:.1f} ms  ratio {month_time / month_floor:.2f} ×")
        if args.writes:
            measure_writes(connection, list(Team.objects.values_list("id", flat=True)), args.writes, args.seed)
        print()

    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-member"))
    page_runs = max(5, args.runs * 5)
    page_time, page_queries, _ = measure_page(client, f"/dashboards/{team.slug}/", page_runs)
    print(f"team dashboard, 12 months                   {page_time * 1000:9.1f} ms  {page_queries} queries (median)")
    from learninghub.insights.metrics.views import MAX_MONTHS

    shown = months[-MAX_MONTHS:]  # the longest range the page accepts (a longer one falls back to 12 months)
    long_range = f"/dashboards/{team.slug}/?from={shown[0].key}&to={shown[-1].key}"
    long_time, long_queries, _ = measure_page(client, long_range, page_runs)
    print(f"team dashboard, {len(shown)} months                  {long_time * 1000:9.1f} ms  {long_queries} queries")
    home_time, home_queries, _ = measure_page(client, "/", page_runs)
    print(f"organisation dashboard (home)               {home_time * 1000:9.1f} ms  {home_queries} queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
