"""Reads behind the forms' "have we tried this before?" panel and type-ahead pickers.

Both are cheap by construction: :func:`similar_records` is one ranked search over the index
(experiments and post-mortems the user may see) plus one query for the hits' visible lessons;
:func:`pick` is one bounded query over the index (or over a team's members for owners).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from experiments.models import Lesson, Outcome
from learninghub.insights.search.models import DocumentKind
from learninghub.insights.search.query import MAX_QUERY_LENGTH, STOPWORDS, parse
from learninghub.insights.search.selectors import Hit, SearchFilters, _engine, _RankedHits, search, visible_documents
from learninghub.kernel.models import Membership, Team

SIMILAR_KINDS = (DocumentKind.EXPERIMENT, DocumentKind.POSTMORTEM)
SIMILAR_PER_GROUP = 5
LESSONS_PER_RECORD = 3
PICK_LIMIT = 15
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SimilarRecord:
    hit: Hit
    lessons: list[Lesson]

    @property
    def failed(self) -> bool:
        return self.hit.kind == DocumentKind.EXPERIMENT and self.hit.outcome == Outcome.FAILURE

    @property
    def label(self) -> str:
        return record_label(self.hit.title, self.hit.team_name, self.hit.dated_at)


@dataclass
class Similar:
    """The closest earlier records: of the form's team first, then of the rest of the organisation."""

    team: Team | None
    in_team: list[SimilarRecord] = field(default_factory=list)
    elsewhere: list[SimilarRecord] = field(default_factory=list)

    @property
    def records(self) -> list[SimilarRecord]:
        return self.in_team + self.elsewhere

    @property
    def failed(self) -> list[SimilarRecord]:
        return [record for record in self.records if record.failed]

    @property
    def postmortems(self) -> list[SimilarRecord]:
        return [record for record in self.records if record.hit.kind == DocumentKind.POSTMORTEM]

    @property
    def learned(self) -> list[Lesson]:
        """What the failed experiments and the post-mortems among them taught, best match first."""
        return [lesson for record in self.records if record.failed or record.hit.kind == DocumentKind.POSTMORTEM
                for lesson in record.lessons[:1]][:LESSONS_PER_RECORD]


def similar_query(texts: Iterable[str]) -> str:
    """The words of what the person typed (title first), each once, without stopwords or
    operators, within the query length: a plain any-word query, ranked by how many match."""
    words: list[str] = []
    seen: set[str] = set()
    length = 0
    for text in texts:
        for word in _WORD.findall(text or ""):
            lowered = word.lower()
            if lowered in seen or lowered in STOPWORDS or (len(lowered) < 2 and not lowered.isdigit()):
                continue
            if length + len(lowered) + 1 > MAX_QUERY_LENGTH:
                return " ".join(words)
            seen.add(lowered)
            words.append(lowered)
            length += len(lowered) + 1
    return " ".join(words)


def similar_records(*, user, texts: Iterable[str], team: Team | None = None, exclude: tuple[str, int] | None = None,
                    per_group: int = SIMILAR_PER_GROUP) -> Similar:
    """Experiments and post-mortems ``user`` may see that look most like ``texts``, split into the
    team's and the others', each with its first visible lessons (prefetched in one query)."""
    similar = Similar(team=team)
    parsed = parse(similar_query(texts))
    if parsed.is_empty:
        return similar
    documents = visible_documents(user=user).filter(kind__in=SIMILAR_KINDS)
    if exclude is not None:
        documents = documents.exclude(kind=exclude[0], object_id=exclude[1])
    hits = _RankedHits(documents, parsed, _engine())[0: 3 * per_group]
    lessons = _lessons_of(user, hits)
    for hit in hits:
        group = similar.in_team if team is not None and hit.team_id == team.pk else similar.elsewhere
        if len(group) < per_group:
            group.append(SimilarRecord(hit=hit, lessons=lessons.get((hit.kind, hit.object_id), [])))
    return similar


def _lessons_of(user, hits: list[Hit]) -> dict[tuple[str, int], list[Lesson]]:
    experiment_ids = [hit.object_id for hit in hits if hit.kind == DocumentKind.EXPERIMENT]
    postmortem_ids = [hit.object_id for hit in hits if hit.kind == DocumentKind.POSTMORTEM]
    if not (experiment_ids or postmortem_ids):
        return {}
    found: dict[tuple[str, int], list[Lesson]] = {}
    rows = (Lesson.objects.visible_to(user).filter(Q(experiment_id__in=experiment_ids)
                                                   | Q(postmortem_id__in=postmortem_ids))
            .select_related("team").order_by("position", "id"))
    for lesson in rows:
        key = ((DocumentKind.EXPERIMENT, lesson.experiment_id) if lesson.experiment_id
               else (DocumentKind.POSTMORTEM, lesson.postmortem_id))
        bucket = found.setdefault(key, [])
        if len(bucket) < LESSONS_PER_RECORD:
            bucket.append(lesson)
    return found


# --- Pickers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    id: int
    label: str
    team: str
    outcome: str
    url: str

    def as_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "team": self.team, "outcome": self.outcome, "url": self.url}


def record_label(title: str, team_name: str, dated_at) -> str:
    """How a picked experiment or post-mortem reads in its box (as the forms label them)."""
    return f"{title} · {team_name} · {dated_at:%Y-%m-%d}" if dated_at else f"{title} · {team_name} · undated"


def pick_records(*, user, kind: str, query: str, team: Team | None = None, outcome: str = "",
                 exclude: int | None = None, limit: int = PICK_LIMIT) -> list[Pick]:
    """Experiments or post-mortems for a picker: the best matches for ``query`` (the most recent
    when it is empty), visible to ``user``."""
    if parse(query).is_empty:
        documents = SearchFilters(team=team, kind=kind, outcome=outcome).apply(visible_documents(user=user))
        if exclude is not None:
            documents = documents.exclude(object_id=exclude)
        rows = documents.select_related("team").order_by("-dated_at", "-id")[:limit]
        return [Pick(id=row.object_id, label=record_label(row.title, row.team.name, row.dated_at),
                     team=row.team.name, outcome=row.outcome, url=row.url) for row in rows]
    results = search(user=user, query=query, filters=SearchFilters(team=team, kind=kind, outcome=outcome),
                     page_size=limit + 1, facets=False)
    return [Pick(id=hit.object_id, label=record_label(hit.title, hit.team_name, hit.dated_at), team=hit.team_name,
                 outcome=hit.outcome, url=hit.url)
            for hit in results.hits if hit.object_id != exclude][:limit]


def user_label(user) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


def pick_people(*, user, query: str, team: Team | None = None, limit: int = PICK_LIMIT) -> list[Pick]:
    """Active members of ``team`` (of the user's own teams when none is given) matching every
    word of ``query`` in their name or username."""
    memberships: QuerySet = (Membership.objects.filter(team_id=team.pk) if team is not None else
                             Membership.objects.filter(team_id__in=Membership.objects.filter(user=user).values("team_id")))
    people = get_user_model().objects.filter(is_active=True, pk__in=memberships.values("user_id"))
    for word in _WORD.findall(query)[:5]:
        people = people.filter(Q(username__icontains=word) | Q(first_name__icontains=word)
                               | Q(last_name__icontains=word))
    return [Pick(id=person.pk, label=user_label(person), team=team.name if team else "", outcome="", url="")
            for person in people.order_by("first_name", "last_name", "username")[:limit]]
