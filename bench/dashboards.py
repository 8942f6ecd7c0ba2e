#!/usr/bin/env python
"""Benchmark of dashboard rendering with fresh snapshots (issue 15 §3: within 50 ms).

Only snapshots matter to a dashboard whose figures are fresh, so this stores them directly:
``--teams`` teams (default 50) and the organisation, with random but consistent figures for
every month of ``--months`` (default 61: the 60-month range and the month in progress), all
computed (fresh). Then it prints, for the team dashboard over 60 months, over 12 months and for
the organisation dashboard, the median server time through Django's test client (middleware,
view, templates) and the query count, and a breakdown of where a request's time goes
(reading snapshots, cards and table rows, figure building, JSON, the template).

In-memory SQLite by default (never the configured database); ``--postgres`` uses the server of
``DATABASE_URL`` with a database of its own (``<name>_dash_bench``, created if missing).

    python bench/dashboards.py
    DATABASE_URL=postgres://u:p@127.0.0.1/learninghub python bench/dashboards.py --postgres
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SLUG_PREFIX = "bench-"


def setup(args) -> None:
    if args.postgres:
        from metrics import bench_database_url, setup_django

        args.bench_db, args.sqlite_path = args.bench_db or None, None
        setup_django(bench_database_url(args))
        from django.core.management import call_command
        from django.test.utils import setup_test_environment

        call_command("migrate", verbosity=0)
        setup_test_environment()  # responses carry their context (to check the figures are fresh)
    else:
        from inmemory import setup_django

        setup_django()


def snapshot_values(rng: random.Random) -> dict:
    """Counts and the ratios they give, as the engine would store them."""
    started = rng.randint(0, 40)
    novel = rng.randint(0, started)
    experiment_failures = rng.randint(0, started)
    postmortems = rng.randint(0, 6)
    failures = experiment_failures + postmortems
    experiment_repeats, postmortem_repeats = rng.randint(0, experiment_failures), rng.randint(0, postmortems)
    in_window, applied = rng.randint(0, 60), 0
    applied = rng.randint(0, in_window)
    due = rng.randint(0, 12)
    done = rng.randint(0, due)
    on_time = rng.randint(0, done)
    wont_do = rng.randint(0, due - done)
    in_progress = rng.randint(0, due - done - wont_do)
    open_ = due - done - wont_do - in_progress
    resolved = rng.randint(0, postmortems)
    recovery = [rng.lognormvariate(2, 1.2) for _ in range(resolved)]
    modes = ["data_quality", "overfitting", "infrastructure", "other", "unspecified"]
    by_mode_exp: dict[str, int] = {}
    for _ in range(experiment_failures):
        mode = rng.choice(modes)
        by_mode_exp[mode] = by_mode_exp.get(mode, 0) + 1
    by_mode = dict(by_mode_exp)
    for _ in range(postmortems):
        mode = rng.choice(modes)
        by_mode[mode] = by_mode.get(mode, 0) + 1
    by_kind: dict[str, int] = {}
    for _ in range(experiment_failures):
        kind = rng.choice(["productive", "wasteful", "system", "unspecified"])
        by_kind[kind] = by_kind.get(kind, 0) + 1

    def ratio(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    recovery.sort()
    values = {
        "experiments_started": started, "experiments_novel": novel, "experiment_velocity": started / 4.3,
        "innovation_index": ratio(novel, started), "failures": failures,
        "experiment_failures": experiment_failures, "postmortem_failures": postmortems,
        "repeat_failures": experiment_repeats + postmortem_repeats,
        "experiment_repeat_failures": experiment_repeats, "postmortem_repeat_failures": postmortem_repeats,
        "repeat_failure_rate": ratio(experiment_repeats + postmortem_repeats, failures),
        "failures_by_mode": by_mode, "experiment_failures_by_mode": by_mode_exp, "failures_by_kind": by_kind,
        "lessons_in_window": in_window, "lessons_applied": applied,
        "lesson_application_rate": ratio(applied, in_window),
        "postmortems_resolved": resolved, "recovery_time_samples": resolved, "time_to_detect_samples": resolved,
        "failure_recovery_time": statistics.fmean(recovery) if recovery else None,
        "failure_recovery_time_median": statistics.median(recovery) if recovery else None,
        "failure_recovery_time_p90": recovery[int(0.9 * (len(recovery) - 1))] if recovery else None,
        "time_to_detect": rng.uniform(0.1, 5) if resolved else None,
        "action_items_due": due, "action_items_done": done, "action_items_done_on_time": on_time,
        "action_items_open": open_, "action_items_in_progress": in_progress, "action_items_overdue": open_,
        "action_items_wont_do": wont_do, "action_item_completion_rate": ratio(on_time, due),
    }
    parts = [(0.3, values["lesson_application_rate"]),
             (0.3, None if values["repeat_failure_rate"] is None else 1 - values["repeat_failure_rate"]),
             (0.2, values["innovation_index"]), (0.2, min(values["experiment_velocity"] / 10, 1))]
    known = [(weight, value) for weight, value in parts if value is not None]
    values["learning_efficiency_score"] = (sum(w * v for w, v in known) / sum(w for w, _ in known)
                                           if known else None)
    return values


def generate(team_count: int, month_count: int, seed: int):
    """Teams, a member of the first, and fresh snapshots of every team and the organisation."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from learninghub.insights.metrics.models import MetricSnapshot
    from learninghub.kernel.models import Membership, Team
    from learninghub.kernel.periods import Month

    rng = random.Random(seed)
    MetricSnapshot.objects.all().delete()
    Membership.objects.filter(team__slug__startswith=SLUG_PREFIX).delete()
    Team.objects.filter(slug__startswith=SLUG_PREFIX).delete()
    teams = Team.objects.bulk_create([Team(name=f"Bench team {i:02d}", slug=f"{SLUG_PREFIX}{i:02d}")
                                      for i in range(team_count)])
    teams = list(Team.objects.filter(slug__startswith=SLUG_PREFIX).order_by("slug"))
    user, _ = get_user_model().objects.get_or_create(username="bench-dashboard-member")
    Membership.objects.create(user=user, team=teams[0])
    months = Month.range(Month.current().shift(-(month_count - 1)), Month.current())
    now = timezone.now()
    rows = [MetricSnapshot(team=team, month=month.first_day, computed_at=now, **snapshot_values(rng))
            for team in [*teams, None] for month in months]
    MetricSnapshot.objects.bulk_create(rows, batch_size=2000)
    return teams[0], user, months


def measure(client, url: str, runs: int, *, drawn: bool = False) -> tuple[float, float, float, float, int]:
    """(median ms, p95 ms, median and least CPU ms of this process, queries) of ``runs`` requests
    after a warm-up. CPU time is what the page costs the web process; it is steadier than wall time on a
    busy machine (the database's own time is only in wall time on PostgreSQL).

    ``drawn``: the cache is emptied before each request, so the charts and tables are drawn each
    time (as on the first view after a recompute); otherwise they come from ``metrics.fragments``."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert not response.context["status"]["live"], "the snapshots must be fresh"
    timings, cpu, queries = [], [], 0
    for _ in range(runs):
        if drawn:
            cache.clear()
        with CaptureQueriesContext(connection) as captured:
            started, started_cpu = time.perf_counter(), time.process_time()
            client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        queries = max(queries, len(captured))
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    return statistics.median(timings), p95, statistics.median(cpu), min(cpu), queries


def breakdown(client, url: str, runs: int) -> list[tuple[str, float]]:
    """Median ms per request spent in each part (cumulative time of the named functions)."""
    import cProfile
    import pstats

    from django.template.response import SimpleTemplateResponse  # noqa: F401  (imported for the profile)

    parts = {
        "reading snapshots (selectors)": ("selectors.py", "snapshot_set"),
        "cards (presenters)": ("presenters.py", "metric_cards"),
        "month table rows (presenters)": ("presenters.py", "month_rows"),
        "team rows (presenters)": ("presenters.py", "team_comparison_rows"),
        "figure building (charts)": ("charts.py", "*figure"),
        "figure JSON (charts.to_json)": ("charts.py", "to_json"),
        "fragment cache key (metrics.fragments)": ("fragments.py", "fragment_key"),
        "template rendering (fragments included)": ("loader.py", "render_to_string"),
    }
    found = {name: [] for name in parts}
    from django.core.cache import cache

    for _ in range(runs):
        cache.clear()  # the charts drawn, not read from the fragment cache
        profile = cProfile.Profile()
        profile.enable()
        client.get(url)
        profile.disable()
        stats = pstats.Stats(profile).stats
        totals = dict.fromkeys(parts, 0.0)
        for (filename, _line, function), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
            for name, (file_end, pattern) in parts.items():
                matches = function.endswith(pattern[1:]) if pattern.startswith("*") else function == pattern
                if filename.endswith(file_end) and matches:
                    totals[name] += cumulative
        for name, total in totals.items():
            found[name].append(total * 1000)
    # Rendering is template work only (the fragments' templates and the page's): the figures are built before.
    return [(name, statistics.median(values)) for name, values in found.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--months", type=int, default=61)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL of DATABASE_URL, own database")
    parser.add_argument("--bench-db", default="", help="PostgreSQL database name (default: <name>_dash_bench)")
    args = parser.parse_args(argv)
    if args.postgres and not args.bench_db:
        import os
        from urllib.parse import urlparse

        name = urlparse(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "learninghub"
        args.bench_db = f"{name}_dash_bench"
    setup(args)
    from django.db import connection
    from django.test import Client

    team, user, months = generate(args.teams, args.months, args.seed)
    client = Client()
    client.force_login(user)
    shown = months[-61:-1]
    pages = [
        (f"team dashboard, {len(shown)} months", f"/dashboards/{team.slug}/?from={shown[0].key}&to={shown[-1].key}"),
        ("team dashboard, 12 months", f"/dashboards/{team.slug}/"),
        (f"organisation dashboard, {args.teams} teams", "/"),
    ]
    print(f"database: {connection.vendor}; {args.teams} teams × {len(months)} months of fresh snapshots\n")
    print(f"{'page':40} {'p50':>9} {'p95':>9} {'CPU p50':>9} {'CPU min':>9}  queries")
    for drawn in (True, False):
        print("charts and tables drawn for each request:" if drawn else
              "charts and tables from the fragment cache (the same figures again):")
        for label, url in pages:
            p50, p95, cpu, least, queries = measure(client, url, args.runs, drawn=drawn)
            print(f"  {label:38} {p50:6.1f} ms {p95:6.1f} ms {cpu:6.1f} ms {least:6.1f} ms  {queries}")
    for label, url in pages[::2]:
        print(f"\nwhere the time goes: {label} (median of {min(args.runs, 10)} profiled requests; profiling "
              "inflates absolute times)")
        for name, value in breakdown(client, url, min(args.runs, 10)):
            print(f"  {name:38} {value:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
