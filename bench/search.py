#!/usr/bin/env python
"""Benchmark of the unified search (``learninghub/insights/search``).

Generates experiments, post-mortems and lessons with realistic words (default scale 0.02 of
the issue's full size, which is 1,000,000 experiments, 200,000 post-mortems and 500,000 lessons;
``--scale 1`` for that) into a database of its own, builds the search index, then prints:

- search p50/p95 for two-word queries, without and with facets, and its query count;
- the same for an ``icontains`` baseline over the same records (every word in the title or
  text of an experiment, a post-mortem or a lesson), and the ratios;
- the indexing cost per write: ms per experiment save with the index hook, and without it.

The database is never the configured one (the helpers of ``bench/metrics.py``): with
DATABASE_URL on PostgreSQL, ``<name>_search_bench`` on the same server (created if missing),
loaded with COPY; otherwise a SQLite file (``--sqlite-path``). Data already generated at the
same scale is reused unless ``--regenerate``.

    python bench/search.py                       # about a minute on SQLite
    python bench/search.py --scale 1             # full scale
    DATABASE_URL=postgres://u:p@127.0.0.1/learninghub python bench/search.py --scale 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import BENCH_SLUG_PREFIX, TableWriter, bench_database_url, setup_django, wipe

BASE_COUNTS = {"experiments": 1_000_000, "postmortems": 200_000, "lessons": 500_000}
DEFAULT_SCALE = 0.02
DEFAULT_SQLITE = "/tmp/learninghub-search-bench.sqlite3"
YEARS = 5

SUBJECTS = """model pipeline feature embedding ranker tokenizer dataset schema warehouse cache
queue scheduler gpu cluster checkpoint optimizer learning-rate batch label annotation sampler
retriever index shard replica dashboard alert deploy rollout canary migration backfill join
partition stream consumer producer encoder decoder transformer classifier regression forecast
""".split()
PROBLEMS = """leakage overfitting drift timeout outage regression skew imbalance duplicates
corruption latency memory divergence collapse staleness mislabel bias overflow deadlock
throttling eviction contention starvation mismatch""".split()
VERBS = """improve reduce detect prevent tune retrain rebalance validate monitor compress
cache parallelise deduplicate normalise filter augment distil prune quantise shard""".split()
FILLER = """the a of for with when after before during on in our new old every nightly weekly
because since while under over between across""".split()
QUERIES = [("leakage", "feature"), ("memory", "gpu"), ("drift", "forecast"), ("timeout", "queue"),
           ("latency", "cache"), ("overfitting", "ranker"), ("schema", "migration"), ("label", "imbalance"),
           ("checkpoint", "divergence"), ("deploy", "canary"), ("tokenizer", "mismatch"), ("shard", "eviction")]


def counts_for(scale: float) -> dict[str, int]:
    return {name: max(1, round(count * scale)) for name, count in BASE_COUNTS.items()}


# A long tail of other words (real text has tens of thousands), so that a query's words are in
# a realistic share of the records rather than in most of them.
_SYLLABLES = "ka lo mi ne ru ta vo zi pe sa du gri fen mol tor bax qui".split()
RARE = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES][:4000]


def sentence(rng: random.Random, words: int) -> str:
    pools = (SUBJECTS, PROBLEMS, VERBS, FILLER, FILLER, RARE, RARE, RARE, RARE, RARE)
    return " ".join(rng.choice(rng.choice(pools)) for _ in range(words)).capitalize() + "."


def existing_state(teams: int, counts: dict[str, int]) -> str:
    from experiments.models import Experiment, Lesson
    from learninghub.insights.search.models import SearchDocument
    from learninghub.kernel.models import Team
    from postmortems.models import PostMortem

    slugs = list(Team.objects.values_list("slug", flat=True))
    if not slugs:
        return "empty"
    if any(not slug.startswith(BENCH_SLUG_PREFIX) for slug in slugs):
        return "foreign"
    actual = {"experiments": Experiment.objects.count(), "postmortems": PostMortem.objects.count(),
              "lessons": Lesson.objects.count()}
    indexed = SearchDocument.objects.count() == sum(actual.values())
    return "matching" if actual == counts and len(slugs) == teams and indexed else "other-bench"


def generate(teams: int, counts: dict[str, int], seed: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from experiments.models import Experiment, Lesson
    from learninghub.insights.search import indexing
    from learninghub.insights.search.models import SearchDocument
    from learninghub.kernel.models import Membership, Team
    from postmortems.models import PostMortem

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    span = YEARS * 365 * 86400
    origin = now - dt.timedelta(seconds=span)
    started = time.perf_counter()

    def moment() -> dt.datetime:
        return origin + dt.timedelta(seconds=rng.random() * span)

    with transaction.atomic():
        SearchDocument.objects.all().delete()
        wipe(connection)
        team_objs = Team.objects.bulk_create(
            [Team(name=f"Bench team {i:02d}", slug=f"{BENCH_SLUG_PREFIX}{i:02d}") for i in range(teams)])
        team_ids = [t.pk for t in team_objs]
        user, _ = get_user_model().objects.get_or_create(username="bench-member")
        Membership.objects.create(user=user, team=team_objs[0], role=Membership.Role.LEAD)

        modes = ["data_quality", "overfitting", "infrastructure", "other", ""]
        outcomes = ["in_progress", "success", "success", "failure", "failure", "partial", "inconclusive"]
        writer = TableWriter(Experiment, connection)
        experiment_team = []
        for number in range(1, counts["experiments"] + 1):
            team_id, start, outcome = rng.choice(team_ids), moment(), rng.choice(outcomes)
            writer.row(id=number, team_id=team_id, title=sentence(rng, 6), hypothesis=sentence(rng, 20),
                       approach=sentence(rng, 15), started_at=start, outcome=outcome, created_at=start,
                       updated_at=start, failure_mode=rng.choice(modes) if outcome == "failure" else "")
            experiment_team.append(team_id)
            if len(writer.rows) >= 20_000:
                writer.flush()
        writer.flush()
        writer = TableWriter(PostMortem, connection)
        postmortem_team = []
        for number in range(1, counts["postmortems"] + 1):
            team_id, occurred = rng.choice(team_ids), moment()
            writer.row(id=number, team_id=team_id, title=sentence(rng, 6), what_happened=sentence(rng, 30),
                       root_cause=sentence(rng, 15), what_went_well=sentence(rng, 10), occurred_at=occurred,
                       detected_at=occurred, failure_mode=rng.choice(modes), severity="sev3", status="published",
                       restricted=rng.random() < 0.1, created_at=occurred, updated_at=occurred)
            postmortem_team.append(team_id)
            if len(writer.rows) >= 20_000:
                writer.flush()
        writer.flush()
        writer = TableWriter(Lesson, connection)
        for number in range(1, counts["lessons"] + 1):
            documented = moment()
            if rng.random() < 0.6:
                source = rng.randrange(len(experiment_team))
                team_id, source_field = experiment_team[source], "experiment_id"
            else:
                source = rng.randrange(len(postmortem_team))
                team_id, source_field = postmortem_team[source], "postmortem_id"
            writer.row(id=number, team_id=team_id, text=sentence(rng, 14), documented_at=documented,
                       created_at=documented, updated_at=documented, **{source_field: source + 1})
            if len(writer.rows) >= 20_000:
                writer.flush()
        writer.flush()
        _reset_sequences(connection, [Experiment, PostMortem, Lesson])
        print(f"  records written ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    written = indexing.rebuild(batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("search_document", "experiments_experiment", "postmortems_postmortem",
                          "experiments_lesson"):  # bulk-loaded: statistics and visibility map now
                cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"  index built: {written:,} documents ({time.perf_counter() - started:.0f} s)")


def _reset_sequences(connection, models) -> None:
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


# --- Measurements -----------------------------------------------------------------------------

def timed(runs: int, function) -> tuple[float, float, int]:
    """p50 and p95 in ms over ``runs`` calls, and the query count of one call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples = []
    with CaptureQueriesContext(connection) as captured:
        function(0)
    queries = len(captured)
    for number in range(runs):
        started = time.perf_counter()
        function(number)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, queries


def icontains_baseline(user, words: tuple[str, ...], *, facets: bool) -> None:
    """The old per-list search over the same records: every word, case-insensitively, in the
    record's text; counted and a first page read from each list, newest first; with ``facets``,
    team counts per list too (the cheapest facet)."""
    from django.db.models import Count, Q

    from experiments.models import Experiment, Lesson
    from learninghub.kernel.policy import restricted_postmortem_q
    from postmortems.models import PostMortem

    lists = [
        (Experiment.objects.all(), ("title", "hypothesis", "approach"), "-started_at"),
        (PostMortem.objects.filter(restricted_postmortem_q(user)), ("title", "what_happened", "root_cause"),
         "-occurred_at"),
        (Lesson.objects.filter(restricted_postmortem_q(user, "postmortem__")), ("text",), "-documented_at"),
    ]
    for queryset, fields, order in lists:
        for word in words:
            condition = Q()
            for name in fields:
                condition |= Q(**{f"{name}__icontains": word})
            queryset = queryset.filter(condition)
        queryset.count()
        list(queryset.order_by(order)[:20].values_list("pk", flat=True))
        if facets:
            list(queryset.values("team_id").annotate(n=Count("id")).order_by())


def index_write_cost(runs: int) -> tuple[float, float]:
    """ms per experiment save with the search receivers connected, and with them disconnected
    (rolled back, so the data stays as generated)."""
    from django.db import transaction
    from django.db.models.signals import post_save

    from experiments.models import Experiment
    from learninghub.insights.search import receivers

    uid = f"search-{Experiment._meta.label_lower}-saved"
    experiments = list(Experiment.objects.order_by("-pk")[: runs * 2])

    def save_all(batch) -> float:
        started = time.perf_counter()
        with transaction.atomic():
            for experiment in batch:
                experiment.title += " edited"
                experiment.save()
            transaction.set_rollback(True)
        return (time.perf_counter() - started) * 1000 / len(batch)

    with_hook = save_all(experiments[:runs])
    post_save.disconnect(sender=Experiment, dispatch_uid=uid)
    try:
        without_hook = save_all(experiments[runs:])
    finally:
        post_save.connect(receivers.record_saved, sender=Experiment, dispatch_uid=uid)
    return with_hook, without_hook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                        help=f"fraction of the full record counts ({DEFAULT_SCALE})")
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=40, help="timed searches per measurement")
    parser.add_argument("--writes", type=int, default=200, help="saves per indexing measurement")
    parser.add_argument("--regenerate", action="store_true", help="regenerate data even if it matches")
    parser.add_argument("--force", action="store_true", help="wipe a database holding non-benchmark data")
    parser.add_argument("--bench-db", help="PostgreSQL database name (default: <configured name>_search_bench)")
    parser.add_argument("--sqlite-path", help=f"SQLite file (default without DATABASE_URL: {DEFAULT_SQLITE})")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if not args.sqlite_path and not args.bench_db:
        import os

        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://")):
            args.bench_db = (url.rsplit("/", 1)[-1].split("?")[0] or "learninghub") + "_search_bench"
        else:
            args.sqlite_path = DEFAULT_SQLITE

    setup_django(bench_database_url(args))
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from learninghub.insights.search.selectors import search

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    call_command("migrate", verbosity=0)
    counts = counts_for(args.scale)
    state = existing_state(args.teams, counts)
    if state == "foreign" and not args.force:
        print("refusing: this database holds teams that are not benchmark teams (use --force to wipe it)")
        return 2
    if state != "matching" or args.regenerate:
        print(f"generating {args.teams} teams, " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        generate(args.teams, counts, args.seed)
    else:
        print("reusing benchmark data of this scale (--regenerate to rebuild)")

    user = get_user_model().objects.get(username="bench-member")
    runs = args.runs

    def engine(facets: bool):
        return lambda n: search(user=user, query=" ".join(QUERIES[n % len(QUERIES)]), facets=facets).hits

    def baseline(facets: bool):
        return lambda n: icontains_baseline(user, QUERIES[n % len(QUERIES)], facets=facets)

    print(f"\ntwo-word queries, {runs} runs each               p50 ms    p95 ms  queries")
    figures = {}
    for label, function in (("search", engine(False)), ("search + facets", engine(True)),
                            ("icontains", baseline(False)), ("icontains + team counts", baseline(True))):
        figures[label] = timed(runs, function)
        p50, p95, queries = figures[label]
        print(f"  {label:<42} {p50:8.1f}  {p95:8.1f}  {queries:7d}")
    for mine, theirs in (("search", "icontains"), ("search + facets", "icontains + team counts")):
        print(f"  ratio p95 {mine} / {theirs:<24} {figures[mine][1] / figures[theirs][1]:8.2f} ×")

    with_hook, without_hook = index_write_cost(args.writes)
    print(f"\nexperiment save, {args.writes} writes: {with_hook:.2f} ms with the index hook, "
          f"{without_hook:.2f} ms without (indexing +{with_hook - without_hook:.2f} ms per write)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
