#!/usr/bin/env python
"""Quality of repeat detection (and of search) on a labelled corpus.

Loads ``bench/corpus/repeats.json`` (failed experiments and post-mortems of three teams, with
the true repeats labelled) into a fresh in-memory SQLite test database, runs the detector on
every failure in chronological order, as it runs in production, and prints:

- precision and recall of automatic links, and of flags (automatic or queued for review), at
  the configured thresholds (``REPEAT_AUTO_LINK_THRESHOLD`` / ``REPEAT_REVIEW_THRESHOLD``);
- the number of links across teams (must be 0);
- the time per detection;
- recall@5 of the corpus' search queries, through the search selector when it exists.

A flag is right when the earlier record it names is in the same repeat chain as the failure
(a repeat of a repeat may name any record of the chain).

    python bench/repeats.py
    python bench/repeats.py --details          # every failure's best match and score
    python bench/repeats.py --sweep            # precision/recall over a range of thresholds
    python bench/repeats.py --team-size 20000 --no-search   # detection time at a team with 20k failures
    REPEAT_AUTO_LINK_THRESHOLD=0.85 python bench/repeats.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path

from inmemory import PROJECT_ROOT, setup_django

CORPUS = PROJECT_ROOT / "bench" / "corpus" / "repeats.json"


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def load(corpus: dict) -> dict[str, object]:
    """Rows straight into the tables (no save signals: the bench runs detection itself)."""
    from experiments.models import Experiment, Lesson, Outcome
    from learninghub.kernel.models import Team
    from postmortems.models import PostMortem, PostMortemStatus

    teams = {t["slug"]: Team.objects.create(slug=t["slug"], name=t["name"]) for t in corpus["teams"]}
    objects: dict[str, object] = {}
    for record in corpus["records"]:
        team, at = teams[record["team"]], moment(record["at"])
        if record["kind"] == "experiment":
            obj = Experiment.objects.bulk_create([Experiment(
                team=team, title=record["title"], hypothesis=record.get("hypothesis", ""),
                approach=record.get("approach", ""), started_at=at, ended_at=at + dt.timedelta(hours=6),
                outcome=Outcome.FAILURE, failure_kind=record.get("failure_kind", "productive"),
                failure_mode=record.get("failure_mode", ""), error_type=record.get("error_type", ""),
                error_message=record.get("error_message", ""), external_id=record["id"])])[0]
            lessons = [Lesson(team=team, experiment=obj, text=text, documented_at=at + dt.timedelta(hours=7),
                              position=i) for i, text in enumerate(record.get("lessons", []))]
        else:
            obj = PostMortem.objects.bulk_create([PostMortem(
                team=team, title=record["title"], occurred_at=at, detected_at=at + dt.timedelta(hours=1),
                resolved_at=at + dt.timedelta(hours=5), what_happened=record.get("what_happened", ""),
                root_cause=record.get("root_cause", ""), failure_mode=record.get("failure_mode", ""),
                status=PostMortemStatus.PUBLISHED)])[0]
            lessons = [Lesson(team=team, postmortem=obj, text=text, documented_at=at + dt.timedelta(days=1),
                              position=i) for i, text in enumerate(record.get("lessons", []))]
        Lesson.objects.bulk_create(lessons)
        objects[record["id"]] = obj
    return objects


def add_noise(corpus: dict, team_slug: str, count: int, seed: int = 7) -> None:
    """``count`` synthetic failed experiments of one team, dated across the corpus' period and made
    of random words of the corpus, so detection runs against a large team's history."""
    import random

    from experiments.models import Experiment, Outcome
    from learninghub.kernel.models import Team

    rng = random.Random(seed)
    vocabulary = sorted({w for r in corpus["records"] for key in ("title", "hypothesis", "approach")
                         for w in r.get(key, "").split() if w.isalpha()})
    team = Team.objects.get(slug=team_slug)
    start, span = moment("2023-06-01T00:00:00Z"), 730 * 24 * 3600
    batch = []
    for i in range(count):
        at = start + dt.timedelta(seconds=rng.randrange(span))
        batch.append(Experiment(
            team=team, title=f"{' '.join(rng.sample(vocabulary, 5))} {i}",
            hypothesis=" ".join(rng.sample(vocabulary, 18)), approach=" ".join(rng.sample(vocabulary, 12)),
            started_at=at, ended_at=at + dt.timedelta(hours=2), outcome=Outcome.FAILURE, failure_kind="system",
            failure_mode=rng.choice(["infrastructure", "data_quality", "overfitting", "other"]),
            error_type=rng.choice(["torch.OutOfMemoryError", "RuntimeError", ""]),
            error_message=rng.choice(["CUDA out of memory", "Loss is NaN", ""]), external_id=f"noise-{i}"))
        if len(batch) == 2000:
            Experiment.objects.bulk_create(batch)
            batch = []
    Experiment.objects.bulk_create(batch)


def chains(records: list[dict]) -> dict[str, str]:
    """Record id → the id of the first record of its repeat chain."""
    parent = {r["id"]: r.get("repeat_of") for r in records}

    def root(record_id: str) -> str:
        while parent.get(record_id):
            record_id = parent[record_id]
        return record_id

    return {r["id"]: root(r["id"]) for r in records}


def ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.2f} ({numerator}/{denominator})" if denominator else "n/a (0/0)"


def evaluate(flags: list[tuple[str, str, float, bool]], records: list[dict], root: dict[str, str]) -> dict:
    """``flags``: (failure id, earlier id, score, automatic)."""
    team = {r["id"]: r["team"] for r in records}
    repeats = {r["id"] for r in records if r.get("repeat_of")}
    right = [f for f in flags if f[0] in repeats and root[f[0]] == root[f[1]]]
    automatic = [f for f in flags if f[3]]
    right_automatic = [f for f in right if f[3]]
    return {
        "repeats": len(repeats),
        "auto_precision": ratio(len(right_automatic), len(automatic)),
        "auto_recall": ratio(len(right_automatic), len(repeats)),
        "flag_precision": ratio(len(right), len(flags)),
        "flag_recall": ratio(len(right), len(repeats)),
        "cross_team": sum(1 for f in flags if team[f[0]] != team[f[1]]),
        "wrong": [f for f in flags if f not in right],
        "missed": sorted(repeats - {f[0] for f in right}),
    }


def index_for_detection() -> None:
    """The rows were bulk-created (no save signals): build the search index, which production
    keeps in step on every write and detection draws candidates from."""
    try:
        from learninghub.insights.search import indexing
    except ImportError:
        return
    started = time.perf_counter()
    count = indexing.rebuild()
    print(f"search index: {count} documents built in {time.perf_counter() - started:.1f} s")


def run_detection(records: list[dict], objects: dict) -> tuple[list, list[float]]:
    from learninghub.insights.repeats import services
    from learninghub.insights.repeats.models import RepeatCandidate

    ids = {(type(obj).__name__.lower(), obj.pk): rid for rid, obj in objects.items()}
    timings = []
    for record in sorted(records, key=lambda r: r["at"]):
        obj = objects[record["id"]]
        started = time.perf_counter()
        services.detect_repeat(failure_type=record["kind"], failure_id=obj.pk)
        timings.append((time.perf_counter() - started) * 1000)
    flags = []
    for candidate in RepeatCandidate.objects.all():
        earlier = candidate.earlier
        flags.append((ids[(type(candidate.failure).__name__.lower(), candidate.failure.pk)],
                      ids[(type(earlier).__name__.lower(), earlier.pk)], candidate.score,
                      candidate.status == "auto_linked"))
    return flags, timings


def best_matches(records: list[dict], objects: dict) -> list[tuple[str, str | None, float, list, list]]:
    from learninghub.insights.repeats import matching

    ids = {(type(obj).__name__.lower(), obj.pk): rid for rid, obj in objects.items()}
    rows = []
    for record in sorted(records, key=lambda r: r["at"]):
        obj = type(objects[record["id"]]).objects.get(pk=objects[record["id"]].pk)
        match = matching.best_match(obj)
        if match is None:
            rows.append((record["id"], None, 0.0, [], []))
        else:
            rows.append((record["id"], ids[(match.earlier_type, match.earlier_id)], match.score,
                         match.matched_terms, match.reasons))
    return rows


def search_recall(corpus: dict, objects: dict) -> str:
    """recall@5 through the search selector, if the search module exists. A lesson's hit counts
    as a hit of the record it was learned from; the denominator is min(5, relevant records)."""
    try:
        from learninghub.insights.search import indexing
        from learninghub.insights.search import selectors as search_selectors
    except ImportError:
        return "search: not available"
    if not hasattr(search_selectors, "search"):
        return "search: not available (no search selector)"
    from django.contrib.auth import get_user_model

    from experiments.models import Lesson

    indexing.rebuild()
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    keys = {(type(obj).__name__.lower(), obj.pk): rid for rid, obj in objects.items()}
    lesson_source = {pk: ("experiment", e) if e else ("postmortem", p)
                     for pk, e, p in Lesson.objects.values_list("pk", "experiment_id", "postmortem_id")}
    recalls, misses = [], []
    for query in corpus["queries"]:
        results = search_selectors.search(user=user, query=query["q"], page_size=10, facets=False)
        found: list[str] = []
        for hit in results.page.object_list:
            key = lesson_source.get(hit.object_id) if hit.kind == "lesson" else (hit.kind, hit.object_id)
            record = keys.get(key)
            if record and record not in found:
                found.append(record)
        relevant = set(query["relevant"])
        recall = len(relevant & set(found[:5])) / min(5, len(relevant))
        recalls.append(recall)
        if recall < 1:
            misses.append(f"{query['q']!r} {recall:.2f}")
    return (f"search recall@5: {statistics.mean(recalls):.2f} over {len(recalls)} queries"
            + "".join(f"\n  below 1: {miss}" for miss in misses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--details", action="store_true", help="print every failure's best match")
    parser.add_argument("--sweep", action="store_true", help="precision/recall over a range of thresholds")
    parser.add_argument("--team-size", type=int, default=0, metavar="N",
                        help="add N synthetic earlier failures to one team (timing at a large team)")
    parser.add_argument("--no-search", action="store_true", help="skip search recall@5 (slow at a large --team-size)")
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    corpus = json.loads(Path(args.corpus).read_text())
    records = corpus["records"]
    objects = load(corpus)
    if args.team_size:
        add_noise(corpus, corpus["teams"][0]["slug"], args.team_size)
        print(f"+ {args.team_size} synthetic failures in team {corpus['teams'][0]['slug']}")
    index_for_detection()
    root = chains(records)
    flags, timings = run_detection(records, objects)
    result = evaluate(flags, records, root)
    print(f"corpus: {len(records)} records, {result['repeats']} true repeats, "
          f"{len(corpus['teams'])} teams; backend {settings.REPEAT_SIMILARITY_BACKEND.rsplit('.', 1)[-1]}")
    print(f"thresholds: automatic link >= {settings.REPEAT_AUTO_LINK_THRESHOLD}, "
          f"review >= {settings.REPEAT_REVIEW_THRESHOLD}")
    print(f"automatic links: precision {result['auto_precision']}, recall {result['auto_recall']}")
    print(f"flags (automatic or queued): precision {result['flag_precision']}, recall {result['flag_recall']}")
    print(f"links across teams: {result['cross_team']}")
    timings = sorted(timings)
    print(f"detection time per failure: median {statistics.median(timings):.1f} ms, "
          f"p95 {timings[int(0.95 * (len(timings) - 1))]:.1f} ms, max {timings[-1]:.1f} ms (first one warms up)")
    for failure, earlier, score, automatic in result["wrong"]:
        print(f"  wrong {'link' if automatic else 'flag'}: {failure} -> {earlier} ({score:.2f})")
    print(f"  missed: {', '.join(result['missed']) or 'none'}")
    if not args.no_search:
        print(search_recall(corpus, objects))

    if args.details or args.sweep:
        rows = best_matches(records, objects)
        label = {r["id"]: r for r in records}
        if args.details:
            for rid, earlier, score, terms, reasons in rows:
                truth = label[rid].get("repeat_of") or "-"
                verdict = "ok" if earlier and truth != "-" and root[earlier] == root[rid] else ""
                print(f"{rid:>4} truth {truth:>4} best {earlier or '-':>4} {score:.2f} {verdict:2} "
                      f"{','.join(reasons)} [{', '.join(terms[:6])}]")
        if args.sweep:
            repeats = sum(1 for r in records if r.get("repeat_of"))
            print("threshold  precision  recall   (best match at or above the threshold)")
            for threshold in [x / 100 for x in range(30, 96, 5)]:
                hits = [(rid, e) for rid, e, s, _, _ in rows if e and s >= threshold]
                right = sum(1 for rid, e in hits if label[rid].get("repeat_of") and root[e] == root[rid])
                print(f"  {threshold:.2f}     {right / len(hits) if hits else 1:.2f}       {right / repeats:.2f}"
                      f"   ({right}/{len(hits)})")


if __name__ == "__main__":
    main()
