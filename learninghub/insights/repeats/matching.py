"""Which earlier failure does this one repeat? Candidate retrieval and scoring (reads only).

A failure (a failed experiment or a post-mortem) is compared with the same team's earlier
failures of both kinds: a post-mortem can repeat a failed experiment's cause. Candidates are
bounded: the most recent ``MAX_RECENT`` of each kind, the ones with the same title, and the
``REPEAT_SEARCH_CANDIDATES`` best hits of the search index for the failure's title and cause
(an indexed lookup, so an old repeat is not missed at a team with thousands of failures and
the cost does not grow with them). The similarity backend (``REPEAT_SIMILARITY_BACKEND``)
scores them; when it is unavailable, the rule (same failure mode, shared root-cause words)
scores them instead, and the rule's matches only ever go to the review queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils.module_loading import import_string

from experiments.models import Experiment, Outcome
from learninghub.insights.repeats.models import FailureType, Method
from learninghub.insights.repeats.similarity import (
    RETRY_WORDS,
    FailureText,
    FieldwiseSimilarity,
    Scored,
    SimilarityUnavailableError,
    analyze,
    rule_score,
)
from learninghub.insights.search.models import DocumentKind
from learninghub.insights.search.selectors import best_documents
from postmortems.models import PostMortem

logger = logging.getLogger(__name__)

MAX_RECENT = 40
SEARCH_WORDS = 16  # the search query: the title's words, then the cause's longest ones
MAX_SAME_TITLE = 20
EXPERIMENT_FIELDS = ("id", "team_id", "title", "hypothesis", "approach", "error_type", "error_message",
                     "failure_mode", "next_steps", "started_at")
POSTMORTEM_FIELDS = ("id", "team_id", "title", "what_happened", "root_cause", "failure_mode", "occurred_at",
                     "created_at", "experiment_id")


@dataclass(frozen=True)
class Match:
    earlier_type: str
    earlier_id: int
    score: float
    method: str
    matched_terms: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def failure_type_of(record) -> str:
    return FailureType.EXPERIMENT if isinstance(record, Experiment) else FailureType.POSTMORTEM


def moment_of(record):
    if isinstance(record, Experiment):
        return record.started_at
    return record.occurred_at or record.created_at


def _lessons_text(record) -> str:
    texts = [lesson.text for lesson in record.lessons.all()]
    if isinstance(record, Experiment) and isinstance(record.next_steps, list):
        texts += [str(step) for step in record.next_steps]
    return "\n".join(texts)


def feature_text(record) -> FailureText:
    """The failure as the similarity model sees it, whatever its kind."""
    if isinstance(record, Experiment):
        return FailureText(
            key=(FailureType.EXPERIMENT, record.pk), team_id=record.team_id, title=record.title,
            what=record.hypothesis, approach=record.approach, lessons=_lessons_text(record),
            error=f"{record.error_type}\n{record.error_message}", failure_mode=record.failure_mode,
            error_type=record.error_type)
    return FailureText(
        key=(FailureType.POSTMORTEM, record.pk), team_id=record.team_id, title=record.title,
        what=record.what_happened, cause=record.root_cause, lessons=_lessons_text(record),
        failure_mode=record.failure_mode)


def search_text(record) -> str:
    """What the search index is asked for: the title's words, then the most specific words of
    the cause (a post-mortem's root cause, an experiment's hypothesis and approach), longest first."""
    cause = record.root_cause if isinstance(record, PostMortem) else f"{record.hypothesis} {record.approach}"
    words: list[str] = []
    for _term, surface in analyze(record.title):
        if surface not in RETRY_WORDS and surface not in words:
            words.append(surface)
    rest = {surface for _term, surface in analyze(cause) if surface not in words and len(surface) > 2}
    words += sorted(rest, key=lambda w: (-len(w), w))
    return " ".join(words[:SEARCH_WORDS])


def _search_hits(record) -> dict[str, list[int]]:
    """Ids of the team's failures (both kinds) the search index ranks best for ``record``."""
    hits: dict[str, list[int]] = {DocumentKind.EXPERIMENT: [], DocumentKind.POSTMORTEM: []}
    if settings.REPEAT_SEARCH_CANDIDATES <= 0:
        return hits
    found = best_documents(text=search_text(record), team_id=record.team_id, before=moment_of(record),
                           kinds=(DocumentKind.EXPERIMENT, DocumentKind.POSTMORTEM),
                           limit=settings.REPEAT_SEARCH_CANDIDATES + 1)  # + 1: the record itself
    for kind, object_id in found:
        hits[kind].append(object_id)
    return hits


def _bounded(queryset, record, hit_ids: list[int]) -> list:
    """Most recent ones, plus the same title, plus the search index's best hits."""
    recent = list(queryset[:MAX_RECENT])
    seen = {r.pk for r in recent}
    extra = Q(title__iexact=record.title) | Q(pk__in=hit_ids)
    more = list(queryset.filter(extra).exclude(pk__in=seen)[:len(hit_ids) + MAX_SAME_TITLE])
    return recent + more


def earlier_failures(record) -> list:
    """The same team's failures (both kinds) recorded before ``record``; bounded."""
    moment = moment_of(record)
    experiments = Experiment.objects.filter(team_id=record.team_id, outcome=Outcome.FAILURE)
    postmortems = PostMortem.objects.filter(team_id=record.team_id)
    if isinstance(record, Experiment):
        experiments = experiments.filter(Q(started_at__lt=moment) | Q(started_at=moment, pk__lt=record.pk))
        experiments = experiments.exclude(pk=record.pk)
        postmortems = postmortems.filter(Q(occurred_at__lt=moment)
                                         | Q(occurred_at__isnull=True, created_at__lt=moment))
        postmortems = postmortems.exclude(experiment_id=record.pk)
    else:
        experiments = experiments.filter(started_at__lt=moment)
        if record.experiment_id:
            experiments = experiments.exclude(pk=record.experiment_id)  # the run this post-mortem is about
        if record.occurred_at:
            postmortems = postmortems.filter(Q(occurred_at__lt=moment) | Q(occurred_at=moment, pk__lt=record.pk)
                                             | Q(occurred_at__isnull=True, pk__lt=record.pk))
        else:
            postmortems = postmortems.filter(pk__lt=record.pk)
        postmortems = postmortems.exclude(pk=record.pk)
    experiments = (experiments.only(*EXPERIMENT_FIELDS).prefetch_related("lessons").order_by("-started_at", "-id"))
    postmortems = (postmortems.only(*POSTMORTEM_FIELDS).prefetch_related("lessons")
                   .order_by("-occurred_at", "-id"))
    hits = _search_hits(record)
    return (_bounded(experiments, record, hits[DocumentKind.EXPERIMENT])
            + _bounded(postmortems, record, hits[DocumentKind.POSTMORTEM]))


def similarity_backend():
    backend_class = import_string(settings.REPEAT_SIMILARITY_BACKEND)
    if issubclass(backend_class, FieldwiseSimilarity):
        return backend_class(review_threshold=settings.REPEAT_REVIEW_THRESHOLD,
                             auto_threshold=settings.REPEAT_AUTO_LINK_THRESHOLD)
    return backend_class()


def _rank(failure: FailureText, candidates: list[FailureText]) -> list[Scored]:
    backend = similarity_backend()
    if hasattr(backend, "rank"):
        return backend.rank(failure, candidates)
    return [Scored(score=s) for s in backend.scores(failure.text(), [c.text() for c in candidates])]


def _rule(failure: FailureText, candidates: list[FailureText]) -> tuple[int, Scored] | None:
    """Same failure mode, shared root-cause words (the cause, else the lessons, else everything)."""
    def cause(text: FailureText) -> str:
        return text.cause or text.lessons or text.text()

    scored = [(i, Scored(score=rule_score(cause(failure), cause(c)))) for i, c in enumerate(candidates)
              if failure.failure_mode and c.failure_mode == failure.failure_mode]
    return max(scored, key=lambda pair: pair[1].score, default=None)


def best_match(record, earlier: list | None = None) -> Match | None:
    """The earlier failure ``record`` most likely repeats, with its score in [0, 1], the method
    that decided, and the matched terms (for the review queue's "why it matched")."""
    if earlier is None:
        earlier = earlier_failures(record)
    earlier = [e for e in earlier if e.team_id == record.team_id]
    if not earlier:
        return None
    failure = feature_text(record)
    candidates = [feature_text(e) for e in earlier]
    method = Method.SIMILARITY
    try:
        ranked = list(enumerate(_rank(failure, candidates)))
        best = max(ranked, key=lambda pair: (pair[1].score, -pair[0]))
    except (SimilarityUnavailableError, ImportError, ValueError, RuntimeError) as exc:
        logger.info("Similarity model unavailable (%s); the rule decides", exc)
        best, method = _rule(failure, candidates), Method.RULE
        if best is None:
            return None
    index, scored = best
    chosen = earlier[index]
    terms = scored.terms
    if method == Method.RULE:
        shared = {t for t, _ in analyze(failure.cause or failure.lessons or failure.text())}
        terms = sorted(shared & {t for t, _ in analyze(candidates[index].cause or candidates[index].lessons
                                                       or candidates[index].text())})[:8]
    return Match(earlier_type=failure_type_of(chosen), earlier_id=chosen.pk, score=round(scored.score, 4),
                 method=method, matched_terms=list(terms), reasons=list(scored.reasons))
