"""Demo data for the registry: the recommendation system's v1 → v4 lineage with its real
figures, and eight months of experiments across the three teams (most of them failures, as
in real life): crashed runs with tracebacks, repeats, novel ideas, lessons and where they were
applied later. Idempotent: experiments are keyed by ``external_id``; existing ones are left
alone, so running it twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction

from experiments import services
from experiments.models import Experiment, FailureKind, Lesson, Outcome
from learninghub.kernel.choices import FailureMode

F, S, P, I, R = Outcome.FAILURE, Outcome.SUCCESS, Outcome.PARTIAL, Outcome.INCONCLUSIVE, Outcome.IN_PROGRESS  # noqa: E741
PRODUCTIVE, WASTEFUL, SYSTEM = FailureKind.PRODUCTIVE, FailureKind.WASTEFUL, FailureKind.SYSTEM
DATA, OVERFIT, INFRA, OTHER = (FailureMode.DATA_QUALITY, FailureMode.OVERFITTING, FailureMode.INFRASTRUCTURE,
                               FailureMode.OTHER)


def _trace(frames: list[tuple[str, int, str, str]], error: str) -> str:
    lines = ["Traceback (most recent call last):"]
    for path, line, function, code in frames:
        lines += [f'  File "{path}", line {line}, in {function}', f"    {code}"]
    return "\n".join([*lines, error])


OOM_TRACE = _trace([
    ("train.py", 214, "main", "trainer.fit(model, datamodule)"),
    ("ranker/trainer.py", 88, "fit", "loss = self.step(batch)"),
    ("ranker/trainer.py", 131, "step", "logits = self.model(batch.features)"),
    ("torch/nn/modules/module.py", 1736, "_call_impl", "return forward_call(*args, **kwargs)"),
], "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 12.50 GiB (GPU 0; 39.39 GiB total capacity)")
KEYERROR_TRACE = _trace([
    ("pipelines/features/build.py", 57, "run", "frame = join_features(events, profiles)"),
    ("pipelines/features/join.py", 102, "join_features", "keys = row['user_id']"),
], "KeyError: 'user_id'")
CONNECTION_TRACE = _trace([
    ("jobs/backfill.py", 77, "main", "for chunk in reader.chunks():"),
    ("warehouse/reader.py", 143, "chunks", "rows = self.cursor.fetchmany(self.batch_size)"),
    ("psycopg/cursor.py", 880, "fetchmany", "self._fetch_pipeline()"),
], "psycopg.OperationalError: consuming input failed: server closed the connection unexpectedly")
NAN_TRACE = _trace([
    ("search/ltr/train.py", 190, "train_epoch", "check_finite(loss)"),
    ("search/ltr/utils.py", 22, "check_finite", "raise FloatingPointError(f'loss is {value}')"),
], "FloatingPointError: loss is nan at step 18400")
TIMEOUT_TRACE = _trace([
    ("search/index/rebuild.py", 64, "main", "client.bulk(actions, request_timeout=60)"),
    ("opensearchpy/helpers/actions.py", 412, "bulk", "raise ConnectionTimeout('TIMEOUT', str(e), e)"),
], "opensearchpy.exceptions.ConnectionTimeout: ConnectionTimeout caused by - ReadTimeoutError(read timeout=60)")


@dataclass
class Spec:
    key: str
    team: str
    by: str
    title: str
    hypothesis: str
    approach: str
    days_ago: int
    days: float | None  # duration; None while in progress
    outcome: str
    kind: str = ""
    mode: str = ""
    novel: bool = False
    metrics: dict = field(default_factory=dict)
    lessons: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    builds_on: str = ""
    repeat_of: str = ""
    applies: list[tuple[str, int]] = field(default_factory=list)  # (experiment key, lesson index)
    error: tuple[str, str, str] | None = None  # type, message, trace


SPECS: list[Spec] = [
    # --- Recommendations: the v1 → v4 lineage (CTR 45% → 52% at 300 ms → 68% at 50 ms → 71%) -----------
    Spec("recsys-v1", "recsys", "alice", "Recommender v1: item-based collaborative filtering",
         "Item-to-item collaborative filtering on 90 days of clicks lifts home-feed CTR above 50%.",
         "Cosine similarity over the item co-click matrix, top 50 neighbours, popularity fallback for cold users.",
         235, 14, F, PRODUCTIVE, OTHER, True, {"ctr": 0.45},
         ["Sparse users dominate our traffic: co-click similarity has nothing to say about 60% of sessions.",
          "Popularity fallback hides the cold-start problem in aggregate CTR; segment the metric by user history."],
         ["Try a learned ranker that can use content features for cold users."]),
    Spec("recsys-v2", "recsys", "bob", "Recommender v2: deep neural ranker",
         "A deep ranker over user and item embeddings plus content features beats collaborative filtering on CTR.",
         "Six-layer MLP over 256-d embeddings and 40 content features; full ranking of 5,000 candidates per request.",
         205, 21, F, PRODUCTIVE, INFRA, False, {"ctr": 0.52, "latency_ms": 300},
         ["Latency is a product requirement: 300 ms p95 fails the 100 ms budget no matter the CTR gain.",
          "Scoring every candidate with the heavy model does not scale; retrieval and ranking must be "
          "separate stages."],
         ["Split retrieval (cheap, ANN) from ranking (heavy, top 200 only)."],
         builds_on="recsys-v1", applies=[("recsys-v1", 0)]),
    Spec("recsys-v3", "recsys", "alice", "Recommender v3: two-tower retrieval with an ANN index",
         "Two-tower retrieval with an approximate nearest-neighbour index keeps the CTR gain within the latency "
         "budget.",
         "Two-tower model trained on in-batch negatives; HNSW index over item vectors; light ranker on the top 200.",
         170, 18, S, novel=True, metrics={"ctr": 0.68, "latency_ms": 50},
         lessons=["Treating latency as a constraint from day one changed the architecture, not just the tuning.",
                  "In-batch negatives over-penalise popular items; correct with log-frequency sampling."],
         steps=["Add session features to the user tower."],
         builds_on="recsys-v2", applies=[("recsys-v2", 0), ("recsys-v2", 1)]),
    Spec("recsys-v4", "recsys", "frank", "Recommender v4: session-aware two-tower",
         "Adding the last ten in-session interactions to the user tower lifts CTR further at the same latency.",
         "GRU over the session's last ten items feeding the user tower; same ANN index and ranker as v3.",
         120, 14, S, metrics={"ctr": 0.71, "latency_ms": 55},
         lessons=["Session context helps most for users with short histories: the cold-start gap from v1 halved."],
         steps=["Run a 4-week holdout to confirm the gain is not novelty.", "Retrain the index nightly."],
         builds_on="recsys-v3", applies=[("recsys-v1", 1), ("recsys-v3", 1)]),
    # --- Recommendations: the rest of the year ---------------------------------------------------------
    Spec("recsys-diversity", "recsys", "frank", "Diversity re-ranking with MMR",
         "Maximal marginal relevance re-ranking raises long-term engagement without hurting CTR.",
         "MMR with lambda 0.7 over the top 50 of the v3 ranker, 50/50 A/B test for two weeks.",
         150, 14, F, PRODUCTIVE, OTHER, True, {"ctr": 0.63, "catalog_coverage": 0.41},
         ["A two-week test cannot see long-term engagement; we measured the wrong horizon."],
         ["Define a long-term engagement proxy before the next diversity test."]),
    Spec("recsys-gbdt-features", "recsys", "bob", "Gradient-boosted ranker with 300 features",
         "Adding 300 hand-made features to the GBDT ranker lifts offline NDCG by 5%.",
         "LightGBM lambdarank, 300 features from the feature store, 5-fold CV on last quarter's logs.",
         140, 6, F, WASTEFUL, OVERFIT, False, {"ndcg_offline": 0.71, "ndcg_online": 0.58},
         ["Offline gain with online loss: several features leaked post-click information into training.",
          "Check every new feature for time travel (was it known at request time?) before training."],
         ["Add a point-in-time check to the feature store."]),
    Spec("recsys-gpu-batch", "recsys", "bob", "Larger batch for the two-tower model",
         "Quadrupling the batch size gives more in-batch negatives and better recall at 100.",
         "Batch size 16,384 on one A100, mixed precision.",
         128, 0.2, F, SYSTEM, INFRA, False, {},
         ["Estimate activation memory before scaling the batch; the GPU budget is a hard limit."],
         ["Use gradient accumulation or shard across two GPUs."],
         error=("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate 12.50 GiB", OOM_TRACE)),
    Spec("recsys-gpu-batch-2", "recsys", "frank", "Larger batch for the two-tower model, second try",
         "With gradient checkpointing a 16,384 batch fits and improves recall at 100.",
         "Same run as before with gradient checkpointing on the item tower only.",
         100, 0.3, F, SYSTEM, INFRA, False, {},
         ["Checkpointing one tower is not enough: the user tower's session GRU dominates memory."],
         repeat_of="recsys-gpu-batch", applies=[("recsys-gpu-batch", 0)],
         error=("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate 9.80 GiB", OOM_TRACE)),
    Spec("recsys-explore", "recsys", "alice", "Epsilon-greedy exploration slot",
         "Reserving one of ten slots for exploration improves CTR on new items within a month.",
         "Slot 7 shows a random item from the last 14 days' catalogue additions, 10% traffic.",
         85, 28, P, "", OTHER, True, {"ctr": 0.70, "new_item_ctr": 0.12},
         ["Exploration helped new items but uniformly random picks wasted the slot; use Thompson sampling."],
         ["Replace epsilon-greedy with Thompson sampling over item priors."]),
    Spec("recsys-negatives", "recsys", "bob", "Hard negative mining from impressions",
         "Training on shown-but-not-clicked items as hard negatives improves ranking quality.",
         "Impressions without clicks in the same session as negatives, 1:4 ratio.",
         60, 10, F, PRODUCTIVE, DATA, False, {"ctr": 0.69, "ndcg_offline": 0.74},
         ["Impressions below the fold were never seen: treating them as negatives taught the model position "
          "bias."],
         ["Use only impressions with a viewability signal."],
         applies=[("recsys-gbdt-features", 1)]),
    Spec("recsys-negatives-2", "recsys", "frank", "Hard negatives with viewability",
         "Hard negatives restricted to viewed impressions improve CTR over v4.",
         "Negatives from impressions with ≥50% pixels visible for ≥1 s.",
         35, 12, S, metrics={"ctr": 0.73, "latency_ms": 55},
         lessons=["Viewability-filtered negatives are worth the extra join: +2 points of CTR."],
         builds_on="recsys-v4", applies=[("recsys-negatives", 0)]),
    Spec("recsys-llm-rerank", "recsys", "alice", "LLM re-ranking of the top 20",
         "A small language model re-ranking the top 20 with item descriptions improves CTR for new items.",
         "Distilled 1B model scoring (session summary, item description) pairs; offline replay first.",
         12, None, R, novel=True),
    # --- Data Platform ---------------------------------------------------------------------------------
    Spec("dp-streaming-features", "data-platform", "carol", "Streaming feature pipeline on Flink",
         "Computing session features in a stream cuts feature freshness from 24 h to under 5 minutes.",
         "Flink job reading click events from Kafka, writing to the online store; shadow mode for two weeks.",
         225, 20, F, PRODUCTIVE, INFRA, True, {"freshness_minutes": 4, "dropped_events_pct": 3.1},
         ["Exactly-once needs idempotent sinks: 3% of events were dropped on every checkpoint restore."],
         ["Make the online store writes idempotent (upsert by event id)."]),
    Spec("dp-schema-registry", "data-platform", "dave", "Schema validation at ingestion",
         "Rejecting events that do not match the registered schema stops bad data reaching training.",
         "Avro schema registry in front of Kafka topics; invalid events to a dead-letter topic.",
         210, 10, S, metrics={"invalid_events_pct": 0.4},
         lessons=["A dead-letter topic with an owner and an alert is what makes rejection safe."]),
    Spec("dp-feature-join", "data-platform", "bob", "Profile features join for the ranker",
         "Joining profile features at training time gives the ranker demographic signal.",
         "Nightly Spark job joining events with the profile snapshot on user id.",
         195, 1, F, SYSTEM, DATA, False, {},
         ["Upstream renamed user_id to account_id without notice; our join assumed a stable schema."],
         ["Subscribe the pipeline to schema-change notifications."],
         error=("KeyError", "'user_id'", KEYERROR_TRACE)),
    Spec("dp-feature-join-2", "data-platform", "dave", "Profile features join, after the rename",
         "Rebuilding the join on account_id restores the profile features.",
         "Same nightly job with the new key and a schema assertion at the start.",
         160, 1, F, SYSTEM, DATA, False, {},
         ["The same upstream rename hit us twice because the schema assertion only logged a warning."],
         ["Fail the job on schema mismatch instead of warning."],
         repeat_of="dp-feature-join",
         error=("KeyError", "'user_id'", KEYERROR_TRACE)),
    Spec("dp-backfill", "data-platform", "carol", "Backfill two years of events into the warehouse",
         "A single-pass backfill loads two years of events in one weekend.",
         "One reader over the replica, batches of 100,000 rows.",
         180, 2, F, SYSTEM, INFRA, False, {"rows_loaded_millions": 310},
         ["Long-running reads on the replica get killed by vacuum; chunk by day and make each chunk resumable."],
         ["Rewrite the backfill as resumable daily chunks."],
         error=("psycopg.OperationalError", "server closed the connection unexpectedly", CONNECTION_TRACE)),
    Spec("dp-backfill-chunks", "data-platform", "dave", "Resumable daily-chunk backfill",
         "Daily resumable chunks finish the two-year backfill without manual restarts.",
         "730 idempotent chunk tasks on the queue, each upserting by event id.",
         150, 5, S, metrics={"rows_loaded_millions": 2140, "restarts": 0},
         lessons=["Idempotent chunks turned a fragile weekend job into a boring one."],
         applies=[("dp-backfill", 0), ("dp-streaming-features", 0)]),
    Spec("dp-dedup", "data-platform", "bob", "Probabilistic event de-duplication",
         "A Bloom filter per hour removes duplicate events at 1% of the cost of an exact join.",
         "Per-hour Bloom filters sized for 1e-4 false positives.",
         130, 8, F, PRODUCTIVE, DATA, True, {"false_positive_rate": 0.004, "cost_ratio": 0.02},
         ["Our false-positive rate was 40× the design because event volume doubled; size filters from the "
          "peak, not the mean."]),
    Spec("dp-spot-training", "data-platform", "carol", "Training on spot instances",
         "Spot instances cut training cost by 60% with checkpointing every 15 minutes.",
         "Ranker training on spot A100s with checkpoints to object storage.",
         110, 7, P, "", INFRA, True, {"cost_reduction_pct": 38, "preemptions": 23},
         ["Preemptions cluster in the evening; schedule long jobs overnight."],
         ["Move long jobs to an overnight window."]),
    Spec("dp-dq-checks", "data-platform", "dave", "Data quality checks on training sets",
         "Automated distribution checks catch bad training data before models are trained on it.",
         "Great-Expectations-style checks on row counts, null rates and label balance.",
         90, 14, S, metrics={"incidents_caught": 4},
         lessons=["Label balance checks caught two broken joins that row counts missed."],
         applies=[("dp-feature-join-2", 0)]),
    Spec("dp-lakehouse", "data-platform", "carol", "Move the feature store to a lakehouse table format",
         "An open table format with time travel gives point-in-time correct training sets for free.",
         "Iceberg tables for the offline store; compare against the current snapshot-based store.",
         70, 21, I, "", OTHER, True, {"query_p95_s": 14.2},
         ["We compared against a store that is being rewritten; the baseline moved under us."]),
    Spec("dp-stream-v2", "data-platform", "bob", "Streaming features with idempotent sinks",
         "With idempotent upserts the streaming pipeline loses no events on restore.",
         "Flink job from before, online store writes keyed by event id.",
         45, 14, S, metrics={"freshness_minutes": 4, "dropped_events_pct": 0.0},
         lessons=["Idempotency first, exactly-once second: the sink design mattered more than the engine."],
         builds_on="dp-streaming-features", applies=[("dp-streaming-features", 0), ("dp-backfill-chunks", 0)]),
    Spec("dp-backfill-2", "data-platform", "dave", "Backfill the clickstream archive",
         "The archive backfill completes in one pass overnight.",
         "One reader over the replica, large batches, no chunking.",
         25, 1, F, SYSTEM, INFRA, False, {"rows_loaded_millions": 95},
         ["We repeated the single-pass backfill mistake: the resumable chunk runner should be the only way."],
         ["Make the chunk runner the default backfill tool and document it."],
         repeat_of="dp-backfill",
         error=("psycopg.OperationalError", "server closed the connection unexpectedly", CONNECTION_TRACE)),
    Spec("dp-cost-alerts", "data-platform", "carol", "Per-team cost alerts for training jobs",
         "Weekly cost reports per team reduce idle GPU hours.",
         "Tag every job with a team; weekly report and an alert at 80% of budget.",
         6, None, R),
    # --- Search Quality ---------------------------------------------------------------------------------
    Spec("search-bm25-tuning", "search", "erin", "BM25 parameter tuning per field",
         "Per-field k1 and b values improve NDCG@10 on the head queries.",
         "Grid search over k1 in [0.6, 2.0] and b in [0.3, 0.9] per field on the judged query set.",
         230, 5, P, "", OVERFIT, False, {"ndcg_at_10": 0.412, "ndcg_at_10_tail": 0.301},
         ["Tuning on head queries overfits them: tail queries got worse. Judge a stratified query set."],
         ["Build a stratified judged set (head, torso, tail)."]),
    Spec("search-synonyms", "search", "frank", "Automatic synonym expansion",
         "Synonyms mined from query reformulations raise recall without hurting precision.",
         "Pairs of queries reformulated within 30 s with shared clicks, expanded at query time.",
         200, 14, F, PRODUCTIVE, DATA, True, {"recall_at_50": 0.81, "precision_at_10": 0.52},
         ["Reformulation pairs include corrections of the opposite meaning (\"with\" → \"without\"); "
          "mined synonyms need a human check."],
         ["Review the top 500 mined pairs by hand before shipping any."]),
    Spec("search-ltr-v1", "search", "erin", "Learning to rank with LambdaMART",
         "A LambdaMART ranker over 60 features beats tuned BM25 on the stratified judged set.",
         "LightGBM lambdarank, 60 features, trained on 12 weeks of click logs with position-debiasing.",
         175, 10, F, PRODUCTIVE, OVERFIT, True, {"ndcg_at_10": 0.398},
         ["Click logs reflect the old ranker's positions; without debiasing, LTR learns to copy BM25."],
         ["Estimate position bias with a small randomisation experiment."],
         applies=[("search-bm25-tuning", 0)]),
    Spec("search-ltr-nan", "search", "frank", "LambdaMART with propensity weights",
         "Inverse-propensity weighting fixes the position bias in click-trained LTR.",
         "Propensities from a top-2 swap experiment; weights clipped at 20.",
         150, 0.5, F, SYSTEM, OVERFIT, False, {},
         ["Unclipped tiny propensities produced infinite weights; clip and log weight statistics."],
         error=("FloatingPointError", "loss is nan at step 18400", NAN_TRACE)),
    Spec("search-ltr-v2", "search", "erin", "LambdaMART with clipped propensity weights",
         "Clipped propensity weights let LTR beat BM25 on the tail.",
         "Same as before with weight clipping at 10 and a stratified evaluation.",
         120, 12, S, metrics={"ndcg_at_10": 0.447, "ndcg_at_10_tail": 0.352},
         lessons=["Debiasing, not model capacity, was the bottleneck for click-trained ranking."],
         builds_on="search-ltr-v1", applies=[("search-ltr-nan", 0), ("search-ltr-v1", 0)]),
    Spec("search-index-rebuild", "search", "frank", "Zero-downtime index rebuild",
         "Building a new index behind an alias allows mapping changes without downtime.",
         "Reindex into a new index, flip the alias, bulk size 10,000 documents.",
         95, 0.1, F, SYSTEM, INFRA, False, {},
         ["Bulk requests of 10,000 large documents time out; size bulks by bytes, not documents."],
         ["Bulk by 10 MB and back off on 429s."],
         error=("ConnectionTimeout", "ReadTimeoutError(read timeout=60)", TIMEOUT_TRACE)),
    Spec("search-spelling", "search", "erin", "Query spelling correction",
         "A noisy-channel speller on our own query log fixes more misspellings than the generic one.",
         "Error model from reformulations, language model from the query log.",
         80, 14, F, PRODUCTIVE, DATA, False, {"correction_precision": 0.71},
         ["Product names look like misspellings; the speller needs the catalogue as a whitelist."],
         applies=[("search-synonyms", 0)]),
    Spec("search-semantic", "search", "frank", "Hybrid lexical + dense retrieval",
         "Adding dense retrieval to BM25 improves recall on long, descriptive queries.",
         "Sentence embeddings of titles and descriptions; reciprocal rank fusion with BM25.",
         55, 21, S, novel=True, metrics={"recall_at_50": 0.88, "ndcg_at_10": 0.462},
         lessons=["Fusion beats either retriever alone; tune the fusion constant on the tail set."],
         builds_on="search-ltr-v2", applies=[("recsys-v2", 1)]),
    Spec("search-index-rebuild-2", "search", "erin", "Index rebuild for the new analyzers",
         "The alias-flip rebuild runs without downtime for the new analyzers.",
         "Reindex with bulk size 10,000 documents, alias flip at the end.",
         30, 0.1, F, SYSTEM, INFRA, False, {},
         ["We reused the old bulk size: the byte-sized bulk fix never made it into the script."],
         ["Put the bulk sizing in the shared indexing library, not in each script."],
         repeat_of="search-index-rebuild",
         error=("ConnectionTimeout", "ReadTimeoutError(read timeout=60)", TIMEOUT_TRACE)),
    Spec("search-autocomplete", "search", "frank", "Personalised autocomplete",
         "Ranking suggestions by the user's recent categories raises suggestion acceptance.",
         "Category affinity from the last 30 days re-weights the prefix-trie candidates.",
         15, 10, I, "", OTHER, False, {"acceptance_rate": 0.231},
         ["Two weeks of traffic was too little to see a 1-point change in acceptance: compute power first."],
         applies=[("recsys-diversity", 0)]),
    Spec("search-query-intent", "search", "erin", "Query intent classifier",
         "Routing navigational queries to exact-match improves first-click success.",
         "A small classifier (navigational, informational, transactional) on query text.",
         4, None, R, novel=True),
]

START_HOUR = 9


def _moment(anchor: dt.datetime, days_ago: float) -> dt.datetime:
    return anchor - dt.timedelta(days=days_ago)


@transaction.atomic
def seed(kernel) -> str:
    # Anchored on today (not now) so the dates are the same whichever hour it runs.
    today = dt.datetime.now(dt.UTC).replace(hour=START_HOUR, minute=0, second=0, microsecond=0)
    by_key: dict[str, Experiment] = {
        experiment.external_id.removeprefix("demo-"): experiment
        for experiment in Experiment.objects.filter(external_id__startswith="demo-")
    }
    created = 0
    for spec in SPECS:
        if spec.key in by_key:
            continue
        team = kernel.teams[spec.team]
        started_at = _moment(today, spec.days_ago)
        ended_at = started_at + dt.timedelta(days=spec.days) if spec.days is not None else None
        data = {
            "title": spec.title, "hypothesis": spec.hypothesis, "approach": spec.approach,
            "metrics": spec.metrics, "started_at": started_at, "ended_at": ended_at, "outcome": spec.outcome,
            "failure_kind": spec.kind, "failure_mode": spec.mode, "is_novel": spec.novel,
            "next_steps": spec.steps, "builds_on": by_key.get(spec.builds_on),
        }
        if spec.repeat_of:
            data["repeat_of"] = by_key[spec.repeat_of]
        if spec.error:
            data["error_type"], data["error_message"], data["error_trace"] = spec.error
        lessons = [{"text": text, "documented_at": ended_at or started_at} for text in spec.lessons]
        applied = []
        for source_key, index in spec.applies:
            lesson = (Lesson.objects.filter(experiment=by_key[source_key]).order_by("position", "id")[index:index + 1]
                      .first())
            if lesson is not None and lesson.documented_at <= started_at:
                applied.append(lesson.pk)
        experiment, was_created = services.experiment_upsert(
            team=team, external_id=f"demo-{spec.key}", user=kernel.users[spec.by], data=data, lessons=lessons,
            applied_lesson_ids=applied)
        by_key[spec.key] = experiment
        created += was_created
    total = Experiment.objects.filter(external_id__startswith="demo-").count()
    failures = Experiment.objects.filter(external_id__startswith="demo-", outcome=Outcome.FAILURE).count()
    lessons = Lesson.objects.filter(experiment__external_id__startswith="demo-").count()
    return f"{created} experiments added ({total} demo experiments, {failures} failures, {lessons} lessons)"
