#!/usr/bin/env python
"""Benchmark of the list pages and list endpoints at the metrics benchmark's scale.

Reuses ``bench/metrics.py``'s organisation (default: 50 teams, 1,000,000 experiments, 200,000
post-mortems, 500,000 lessons, 400,000 applications, 800,000 action items; ``--scale``) in a
database of its own (``--bench-db``, default ``<configured name>_lists_bench`` on PostgreSQL),
gives the action items owners, builds the search index (once: about 8 minutes at full scale),
then prints p50/p95 server time and the query count of every list page and endpoint: first
page, a deep page, each filter, a sort, a search; with
``--explain`` the ``EXPLAIN ANALYZE`` of every query of each request, slowest first.

    DATABASE_URL=postgres://u:p@127.0.0.1/learninghub python bench/lists.py
    DATABASE_URL=… python bench/lists.py --scale 0.1 --runs 10 --only experiments
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bench import metrics as data  # noqa: E402  (the generator: one copy for every benchmark)

OWNERS = 200


def database_url(args) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/lists.py measures PostgreSQL: set DATABASE_URL=postgres://…")
    parsed = urlparse(url)
    name = args.bench_db or f"{parsed.path.lstrip('/') or 'learninghub'}_lists_bench"
    data.ensure_postgres_database(parsed, name)
    return urlunparse(parsed._replace(path=f"/{name}"))


def give_owners(connection) -> None:
    """The generator leaves action items unassigned; "My action items" needs owners (the
    benchmark member owns one in ``OWNERS``)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    member = User.objects.get(username="bench-member")
    existing = set(User.objects.filter(username__startswith="bench-owner-").values_list("username", flat=True))
    User.objects.bulk_create([User(username=f"bench-owner-{i:03d}") for i in range(1, OWNERS)
                              if f"bench-owner-{i:03d}" not in existing])
    ids = [member.pk, *User.objects.filter(username__startswith="bench-owner-").order_by("pk")
           .values_list("pk", flat=True)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM postmortems_actionitem WHERE owner_id IS NULL")
        if cursor.fetchone()[0] == 0:
            return
        cursor.execute("UPDATE postmortems_actionitem SET owner_id = (%s::int[])[1 + id %% %s]",
                       [ids, len(ids)])
        cursor.execute("ANALYZE postmortems_actionitem")
    print(f"gave the action items {len(ids)} owners")


def build_search_index(connection, *, rebuild: bool) -> None:
    """The generator writes records with COPY, past the indexing receivers: without the index the
    search cases would find nothing (and cost nothing). Built once, kept with the data (rebuilt
    when the documents no longer match the records: bench/metrics.py regenerated them)."""
    from learninghub.insights.search import indexing
    from learninghub.insights.search.models import SearchDocument

    total = indexing.record_count()
    if not rebuild and SearchDocument.objects.count() == total:
        return
    started = time.perf_counter()
    done = 0

    def progress(written: int) -> None:
        nonlocal done
        done += written
        if done % 250_000 < written:
            print(f"  search index {done:,} / {total:,} ({time.perf_counter() - started:.0f} s)", flush=True)

    indexing.rebuild(batch_size=5000, progress=progress)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_document")
    print(f"built the search index: {total:,} documents in {time.perf_counter() - started:.0f} s")


def cases(team_slug: str, pages: dict[str, int]) -> dict[str, list[tuple[str, str]]]:
    """(label, url) per list; ``pages`` holds each list's deep page number."""
    experiments = [
        ("first page", "/experiments/"),
        ("deep page", f"/experiments/?page={pages['experiments']}"),
        ("team", f"/experiments/?team={team_slug}"),
        ("team + outcome + mode", f"/experiments/?team={team_slug}&outcome=failure&failure_mode=overfitting"),
        ("outcome", "/experiments/?outcome=failure"),
        ("mode unspecified", "/experiments/?failure_mode=unspecified"),
        ("novel", "/experiments/?is_novel=true"),
        ("repeat", "/experiments/?repeat=true"),
        ("one month started", "/experiments/?started_after=2025-03-01&started_before=2025-04-01"),
        ("one month ended", "/experiments/?ended_after=2025-03-01&ended_before=2025-04-01"),
        ("oldest first", "/experiments/?sort=started_at"),
        ("search", "/experiments/?search=experiment+4242"),
    ]
    api = [
        ("API first page", "/api/v1/experiments/"),
        ("API deep page", f"/api/v1/experiments/?page={pages['experiments']}"),
        ("API team + month", f"/api/v1/experiments/?team={team_slug}&started_after=2025-03-01"
                             "&started_before=2025-04-01"),
        ("API outcome", "/api/v1/experiments/?outcome=failure"),
        ("API search", "/api/v1/experiments/?search=experiment+4242"),
        ("API page_size 200", "/api/v1/experiments/?page_size=200"),
    ]
    lessons = [
        ("first page", "/experiments/lessons/"),
        ("deep page", f"/experiments/lessons/?page={pages['lessons']}"),
        ("team", f"/experiments/lessons/?team={team_slug}"),
        ("applied", "/experiments/lessons/?applied=true"),
        ("not applied", "/experiments/lessons/?applied=false"),
        ("search", "/experiments/lessons/?search=lesson+4242"),
        ("API first page", "/api/v1/lessons/"),
        ("API deep page", f"/api/v1/lessons/?page={pages['lessons']}"),
    ]
    postmortems = [
        ("first page", "/postmortems/"),
        ("deep page", f"/postmortems/?page={pages['postmortems']}"),
        ("team", f"/postmortems/?team={team_slug}"),
        ("status", "/postmortems/?status=published"),
        ("mode", "/postmortems/?failure_mode=overfitting"),
        ("search", "/postmortems/?search=incident+4242"),
        ("API first page", "/api/v1/postmortems/"),
        ("API deep page", f"/api/v1/postmortems/?page={pages['postmortems']}"),
    ]
    action_items = [
        ("all: first page", "/postmortems/action-items/"),
        ("all: deep page", f"/postmortems/action-items/?page={pages['action_items']}"),
        ("all: status open", "/postmortems/action-items/?status=open"),
        ("all: team", f"/postmortems/action-items/?team={team_slug}"),
        ("all: owner", "/postmortems/action-items/?owner=bench-owner-007"),
        ("mine: first page", "/postmortems/my-action-items/"),
        ("mine: deep page", "/postmortems/my-action-items/?page=100"),
        ("API first page", "/api/v1/action-items/"),
        ("API deep page", f"/api/v1/action-items/?page={pages['action_items']}"),
    ]
    return {"experiments": experiments + api, "lessons": lessons, "postmortems": postmortems,
            "action_items": action_items}


def measure(client, url: str, runs: int) -> tuple[float, float, int, int]:
    """(p50 ms, p95 ms, queries, status) of ``runs`` GETs after one warm-up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    times = []
    queries = 0
    status = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        queries, status = len(captured), response.status_code
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, queries, status


def explain(client, url: str, top: int = 3) -> None:
    """``EXPLAIN ANALYZE`` of the slowest queries ``url`` runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:top]
    with connection.cursor() as cursor:
        for query in slowest:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF, SUMMARY ON) {sql}")
            plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
            print(f"    {float(query['time']) * 1000:7.1f} ms  {sql[:160]}…\n{plan}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default record counts (1.0)")
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=5, help="timed requests per case (p50/p95)")
    parser.add_argument("--regenerate", action="store_true", help="regenerate data even if it matches")
    parser.add_argument("--bench-db", help="PostgreSQL database name (default: <configured name>_lists_bench)")
    parser.add_argument("--only", choices=["experiments", "lessons", "postmortems", "action_items"],
                        action="append", help="measure only these lists (repeatable)")
    parser.add_argument("--generate-only", action="store_true", help="make the data, measure nothing")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each case's slowest queries")
    parser.add_argument("--as", dest="username", default="bench-member",
                        help="the signed-in user (bench-member: a lead of one team; a staff user sees all)")
    args = parser.parse_args(argv)

    data.setup_django(database_url(args))
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from learninghub.kernel.models import Team

    call_command("migrate", verbosity=0)
    counts = data.counts_for(args.scale)
    state = data.existing_data_state(args.teams, counts)
    if state == "foreign":
        sys.exit("that database holds non-benchmark teams; choose another --bench-db")
    regenerate = state != "matching" or args.regenerate
    if regenerate:
        print(f"generating {counts} for {args.teams} teams")
        data.generate(args.teams, counts, args.seed)
    give_owners(connection)
    build_search_index(connection, rebuild=regenerate)
    if args.generate_only:
        return 0

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=args.username)
    client = Client()
    client.force_login(user)
    team_slug = Team.objects.order_by("slug").values_list("slug", flat=True)[1]
    pages = {name: max(1, round(counts[name] / 25 / 2)) if name != "lessons" else max(1, counts[name] // 50)
             for name in ("experiments", "postmortems", "action_items", "lessons")}
    pages = {name: min(page, 1000) for name, page in pages.items()}
    print(f"{counts['experiments']:,} experiments; p50/p95 of {args.runs} requests (Django test client, "
          f"in process, as {args.username}); deep pages: {pages}")
    slow = 0
    for name, rows in cases(team_slug, pages).items():
        if args.only and name not in args.only:
            continue
        print(f"\n{name}")
        for label, url in rows:
            p50, p95, queries, status = measure(client, url, args.runs)
            slow += p95 > 200
            print(f"  {label:<24} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  {queries:3d} queries  {status}  {url}")
            if args.explain:
                explain(client, url)
    print(f"\n{slow} case(s) with p95 > 200 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
