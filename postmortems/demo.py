"""Demo post-mortems: the feature engineering pipeline failure from the template, and a year's
worth of others across the three teams (some repeats, one restricted, some overdue items).

Idempotent: a post-mortem is identified by its team and title and never created twice.
Experiments are looked up by their demo ``external_id``; a missing one just leaves the link out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction

from experiments.models import Experiment, Lesson
from postmortems import services
from postmortems.models import ActionItem, ActionItemStatus, PostMortem, PostMortemStatus

OPEN, PROGRESS, DONE, WONT = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS, ActionItemStatus.DONE,
                              ActionItemStatus.WONT_DO)


@dataclass
class Item:
    description: str
    owner: str
    due_days: int  # after the failure occurred
    status: str = OPEN
    done_days: float | None = None  # after the failure occurred
    implements: tuple[str, str, int] | None = None  # ("pm" | "experiment", key, lesson index)


@dataclass
class Spec:
    key: str
    team: str
    by: str
    title: str
    severity: str
    days_ago: float
    detect_hours: float | None
    resolve_hours: float | None
    failure_mode: str
    what_happened: str
    root_cause: str
    what_went_well: str
    items: list[Item] = field(default_factory=list)
    lessons: list[str] = field(default_factory=list)
    production_impact: bool = False
    restricted: bool = False
    repeat_of: str = ""
    experiment: str = ""  # demo experiment key (external_id "demo-<key>")
    status: str = PostMortemStatus.PUBLISHED


FEATURE_PIPELINE = Spec(
    "feature-pipeline", "data-platform", "carol", "Feature engineering pipeline failure", "sev2",
    58, 3 + 40 / 60, 26, "data_quality",
    what_happened=(
        "- An upstream change to the events schema turned `session_length` into nulls; the feature engineering "
        "pipeline kept running and silently filled them with zeros.\n"
        "- Three training runs of the ranking model consumed the corrupted features: **3 days of GPU time lost**.\n"
        "- The model launch slipped by **a week** while features were rebuilt and the models retrained."
    ),
    root_cause=(
        "- No validation between the feature pipeline and training: null rates and distributions were never "
        "checked.\n"
        "- The schema change was not communicated: there was no data contract between the events team and the "
        "pipeline.\n"
        "- Null-filling defaults in the feature code hid the problem instead of failing loudly."
    ),
    what_went_well=(
        "- Detected within 4 hours: the evaluation dashboard flagged the CTR drop on the first checkpoint.\n"
        "- Rollback worked: the previous day's versioned feature snapshot restored good features in 40 minutes.\n"
        "- The review happened the same week, with the events team in the room."
    ),
    items=[
        Item("Add null-rate and distribution checks between the feature pipeline and training; fail the run on "
             "a violation.", "dave", 14, DONE, 12, ("pm", "feature-pipeline", 0)),
        Item("Agree a data contract with the events team, including schema-change notifications.", "carol", 30,
             DONE, 35, ("pm", "feature-pipeline", 1)),
        Item("Remove the silent null-filling defaults from the feature code.", "bob", 21, PROGRESS),
        Item("Document the snapshot rollback runbook and keep 14 days of feature snapshots.", "dave", 10, DONE, 8),
    ],
    lessons=[
        "Validate data at every pipeline boundary, not only at ingestion.",
        "Upstream schema changes need a contract and a heads-up, not a surprise.",
        "A cheap check before an expensive GPU job saves days: fail fast, before training starts.",
    ],
)

SPECS: list[Spec] = [
    Spec("profile-join", "data-platform", "bob", "Profile features join failed after an upstream rename", "sev3",
         195, 9, 20, "data_quality",
         "- The nightly profile join crashed with `KeyError: 'user_id'`.\n- The ranker trained a day without "
         "profile features.",
         "- Upstream renamed `user_id` to `account_id` without notice.\n- The join assumed a stable schema.",
         "- The crash was loud: no silently wrong training set.",
         items=[Item("Subscribe the pipeline to schema-change notifications.", "bob", 14, DONE, 10),
                Item("Assert the expected schema at the start of the job.", "dave", 14, DONE, 13)],
         lessons=["Joins on upstream keys need a schema assertion at the start of the job."],
         experiment="dp-feature-join"),
    Spec("profile-join-2", "data-platform", "dave", "Profile features join failed again on the same rename",
         "sev3", 160, 30, 6, "data_quality",
         "- The same join broke on the same rename when an old table was restored.\n- The schema assertion fired, "
         "but only as a warning in the logs.",
         "- The assertion logged a warning instead of failing the job.",
         "- Fixed within hours once noticed, because the first post-mortem described the fix.",
         items=[Item("Make schema assertions fail the job instead of warning.", "dave", 7, DONE, 5,
                     ("pm", "profile-join", 0)),
                Item("Review every pipeline warning that should be an error.", "bob", 30, WONT)],
         lessons=["A warning nobody reads is not a safeguard."],
         repeat_of="profile-join", experiment="dp-feature-join-2"),
    Spec("backfill", "data-platform", "carol", "Warehouse backfill killed by replica vacuum", "sev4",
         180, 2, 40, "infrastructure",
         "- The two-year backfill died after 30 hours with `server closed the connection unexpectedly`.",
         "- Long-running reads on the replica are cancelled by vacuum.\n- The backfill was one pass with no "
         "restart point.",
         "- No data was corrupted: the load was transactional per batch.",
         items=[Item("Rewrite the backfill as resumable daily chunks.", "dave", 21, DONE, 25)],
         lessons=["Long reads on replicas get killed: chunk the work and make every chunk resumable."],
         experiment="dp-backfill"),
    FEATURE_PIPELINE,
    Spec("backfill-2", "data-platform", "dave", "Clickstream archive backfill failed the same way", "sev4",
         25, 4, 30, "infrastructure",
         "- The clickstream archive backfill ran as a single pass and was killed by vacuum again.",
         "- The resumable chunk runner exists but is optional, and the job was written from an old template.",
         "- The chunk runner rescued the load in a day.",
         items=[Item("Make the chunk runner the default (and only) backfill tool.", "carol", 21, PROGRESS),
                Item("Add backfills to the data platform runbook.", "dave", 45, OPEN)],
         lessons=["If the safe tool is optional, people skip it: make it the default."],
         repeat_of="backfill", experiment="dp-backfill-2"),
    Spec("stale-feed", "recsys", "alice", "Home feed served stale recommendations for six hours", "sev2",
         130, 5, 1, "infrastructure",
         "- The nightly ANN index build failed; serving kept the day-old index.\n- New items got no traffic "
         "for six hours.",
         "- Index build failures raised no alert.\n- Serving had no notion of index age.",
         "- Swapping in the previous successful index took minutes once noticed.",
         items=[Item("Alert when the serving index is older than two hours.", "alice", 7, DONE, 6),
                Item("Fall back to popularity for new items when the index is stale.", "frank", 21, DONE, 30)],
         lessons=["Freshness is a health signal: alert on index age, not only on errors."],
         production_impact=True),
    Spec("gpu-oom", "recsys", "bob", "Two-tower training ran out of GPU memory", "sev4",
         128, 0.2, 3, "infrastructure",
         "- Quadrupling the batch size crashed training with CUDA out of memory after 20 minutes.",
         "- Activation memory was not estimated before scaling the batch.",
         "- The crash was immediate and the checkpoint from the previous run was intact.",
         items=[Item("Estimate activation memory before any batch-size change.", "bob", 7, DONE, 4)],
         lessons=["Estimate memory before scaling the batch: the GPU budget is a hard limit."],
         experiment="recsys-gpu-batch"),
    Spec("gpu-oom-2", "recsys", "frank", "Two-tower training out of GPU memory, second time", "sev4",
         100, 0.3, 2, "infrastructure",
         "- The second attempt with gradient checkpointing on the item tower crashed the same way.",
         "- The estimate from last time was done by hand and skipped the session GRU of the user tower.",
         "- Found in minutes thanks to the earlier post-mortem.",
         items=[Item("Add an automatic memory estimate to the training launcher.", "frank", 14, DONE, 12,
                     ("pm", "gpu-oom", 0))],
         lessons=["A lesson is applied only once it is in the tooling."],
         repeat_of="gpu-oom", experiment="recsys-gpu-batch-2"),
    Spec("ab-assignment", "recsys", "alice", "A/B assignment bug invalidated two weeks of results", "sev3",
         70, 240, 48, "data_quality",
         "- A cache key collision put 58% of users in treatment instead of 50%.\n- Two weeks of the diversity "
         "test could not be used.",
         "- Nothing checked the sample ratio before the metrics were read.",
         "- The bug was in a shared library; fixing it once fixed every running test.",
         items=[Item("Add a sample-ratio-mismatch check to every experiment report.", "alice", 60, PROGRESS),
                Item("Re-run the diversity test.", "frank", 45, WONT)],
         lessons=["Check the sample ratio before reading any metric."]),
    Spec("index-rebuild", "search", "frank", "Index rebuild timeouts served stale search results", "sev2",
         95, 1, 8, "infrastructure",
         "- The zero-downtime rebuild timed out on bulk requests; the alias was never flipped.\n- Search served "
         "results without the new analyzers for a day.",
         "- Bulk requests were sized by document count; large documents made them time out.",
         "- The alias design meant the failure was invisible to users beyond stale relevance.",
         items=[Item("Size bulk requests by bytes (10 MB) and back off on 429s.", "frank", 14, DONE, 9),
                Item("Run a canary query set after every alias flip.", "erin", 21, DONE, 20)],
         lessons=["Size bulk requests by bytes, not documents."],
         production_impact=True, experiment="search-index-rebuild"),
    Spec("query-log-pii", "search", "erin", "Query logs with personal data visible in a debug dashboard", "sev1",
         60, 20, 3, "other",
         "- Raw queries, some with email addresses, were visible in a debug dashboard open to all engineers.",
         "- Debug tooling skipped the data review that product features go through.",
         "- Reported by an engineer the same day; access was cut within three hours.",
         items=[Item("Remove raw query text from debug dashboards.", "erin", 3, DONE, 1),
                Item("Scrub personal data in the query log pipeline.", "frank", 30, PROGRESS),
                Item("Review access to every search dashboard each quarter.", "erin", 90, OPEN)],
         lessons=["Debug tooling needs the same data review as product features."],
         production_impact=True, restricted=True),
    Spec("speller-names", "search", "erin", "Spelling corrector rewrote product names", "sev3",
         12, 26, None, "data_quality",
         "- The speller “corrected” new product names to common words.",
         "", "",
         items=[Item("Feed the catalogue to the speller as a whitelist.", "frank", 21, OPEN)],
         status=PostMortemStatus.DRAFT),
]
SPECS.sort(key=lambda spec: -spec.days_ago)


def _lesson(by_key: dict[str, PostMortem], kind: str, key: str, index: int) -> Lesson | None:
    if kind == "pm":
        postmortem = by_key.get(key)
        queryset = Lesson.objects.filter(postmortem=postmortem) if postmortem else Lesson.objects.none()
    else:
        queryset = Lesson.objects.filter(experiment__external_id=f"demo-{key}")
    return queryset.order_by("position", "id")[index:index + 1].first()


def _item_rows(spec: Spec, kernel, occurred: dt.datetime, lessons_of) -> list[dict]:
    rows = []
    for spec_item in spec.items:
        completed = occurred + dt.timedelta(days=spec_item.done_days) if spec_item.done_days is not None else None
        rows.append({
            "description": spec_item.description, "owner": kernel.users[spec_item.owner],
            "due_date": (occurred + dt.timedelta(days=spec_item.due_days)).date(), "status": spec_item.status,
            "completed_at": completed if spec_item.status == DONE else None,
            "lesson": lessons_of(spec_item.implements) if spec_item.implements else None,
        })
    return rows


@transaction.atomic
def seed(kernel) -> str:
    """Through the services, as a person would write them (no assignment emails, no automatic
    repeat links: the demo states its repeats)."""
    # Anchored on today at 09:00 UTC so the dates are the same whichever hour it runs.
    anchor = dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    by_key: dict[str, PostMortem] = {}
    created = 0
    for spec in SPECS:
        team = kernel.teams[spec.team]
        existing = PostMortem.objects.filter(team=team, title=spec.title).first()
        if existing is not None:
            by_key[spec.key] = existing
            continue
        occurred = anchor - dt.timedelta(days=spec.days_ago)
        detected = occurred + dt.timedelta(hours=spec.detect_hours) if spec.detect_hours is not None else None
        resolved = detected + dt.timedelta(hours=spec.resolve_hours) if (
            detected and spec.resolve_hours is not None) else None
        experiment = Experiment.objects.filter(team=team, external_id=f"demo-{spec.experiment}").first() \
            if spec.experiment else None
        author = kernel.users[spec.by]
        documented = (resolved or detected or occurred) + dt.timedelta(days=1)
        fields = {
            "title": spec.title, "severity": spec.severity, "occurred_at": occurred, "detected_at": detected,
            "resolved_at": resolved, "production_impact": spec.production_impact,
            "what_happened": spec.what_happened, "root_cause": spec.root_cause,
            "what_went_well": spec.what_went_well, "failure_mode": spec.failure_mode, "experiment": experiment,
            "repeat_of": by_key.get(spec.repeat_of), "status": spec.status, "restricted": spec.restricted,
        }
        # Items may implement this post-mortem's own lessons, which exist once it is created: those
        # links are added by a second write.
        own = {implements for implements in (item.implements for item in spec.items)
               if implements and implements[:2] == ("pm", spec.key)}
        rows = _item_rows(spec, kernel, occurred,
                          lambda ref, own=own: None if ref in own else _lesson(by_key, *ref))
        postmortem = services.postmortem_create(
            team=team, user=author, fields=fields, action_items=rows,
            lessons=[{"text": text, "documented_at": documented} for text in spec.lessons],
            detect_repeats=False, notify_owners=False)
        by_key[spec.key] = postmortem
        if own:
            ids = list(postmortem.action_items.order_by("position").values_list("pk", flat=True))
            rows = _item_rows(spec, kernel, occurred, lambda ref: _lesson(by_key, *ref))
            services.postmortem_update(postmortem=postmortem, user=author, fields={},
                                       action_items=[{**row, "id": pk} for row, pk in zip(rows, ids, strict=True)],
                                       detect_repeats=False, notify_owners=False)
        created += 1
    total = PostMortem.objects.filter(title__in=[spec.title for spec in SPECS]).count()
    items = ActionItem.objects.filter(postmortem__in=by_key.values()).count()
    return f"{created} post-mortems added ({total} demo post-mortems, {items} action items)"
