"""The one search: ranked, highlighted, faceted and paginated, over every indexed record the
viewer may see. The search page and ``GET /api/v1/search/`` both call :func:`search`.

Visibility is the kernel's rule (:func:`~learninghub.kernel.policy.restricted_postmortem_q`)
applied to the index rows, which carry their team and whether they are restricted, so hidden
records are absent from the hits, the total and every facet count alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import BooleanField, Count, FloatField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncMonth
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from experiments.models import Outcome
from learninghub.insights.search.models import DocumentKind, FtsEntry, SearchDocument
from learninghub.insights.search.query import ParsedQuery, parse
from learninghub.kernel.api.pagination import estimated_count
from learninghub.kernel.choices import FailureMode
from learninghub.kernel.models import Team
from learninghub.kernel.periods import Month
from learninghub.kernel.policy import restricted_postmortem_q

PAGE_SIZE = 20
MAX_PERIODS = 24
FACETS = ("kind", "team", "outcome", "failure_mode", "period")
MARK_START, MARK_END = "\x02", "\x03"  # never in indexed text (indexing strips control characters)


@dataclass(frozen=True)
class SearchFilters:
    """Facet selections; empty means "any"."""

    team: Team | None = None
    kind: str = ""
    outcome: str = ""
    failure_mode: str = ""
    period: Month | None = None

    def apply(self, documents: QuerySet, *, skip: str = "") -> QuerySet:
        if self.team is not None and skip != "team":
            documents = documents.filter(team_id=self.team.pk)
        if self.kind and skip != "kind":
            documents = documents.filter(kind=self.kind)
        if self.outcome and skip != "outcome":
            documents = documents.filter(outcome=self.outcome)
        if self.failure_mode and skip != "failure_mode":
            documents = documents.filter(failure_mode=self.failure_mode)
        if self.period is not None and skip != "period":
            documents = documents.filter(dated_at__gte=self.period.start, dated_at__lt=self.period.end)
        return documents

    def selected(self, facet: str) -> str:
        if facet == "team":
            return self.team.slug if self.team else ""
        if facet == "period":
            return self.period.key if self.period else ""
        return getattr(self, facet)


@dataclass(frozen=True)
class Hit:
    kind: str
    object_id: int
    team_id: int
    team_name: str
    team_slug: str
    title: str
    title_html: SafeString
    snippet_html: SafeString
    url: str
    outcome: str
    failure_mode: str
    dated_at: dt.datetime | None
    restricted: bool
    score: float

    @property
    def kind_label(self) -> str:
        return DocumentKind(self.kind).label


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class SearchResults:
    query: ParsedQuery
    filters: SearchFilters
    page: Page
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)

    @property
    def hits(self) -> list[Hit]:
        return list(self.page.object_list)

    @property
    def total(self) -> int:
        return self.page.paginator.count


def marked(text: str | None) -> SafeString:
    """Escape everything, then turn the engine's highlight markers into ``<mark>`` tags."""
    return mark_safe(escape(text or "").replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


# --- Engines ------------------------------------------------------------------------------------


class _PostgresEngine:
    """tsvector column (weighted A/B/C) + websearch_to_tsquery, ts_rank_cd, ts_headline, and
    pg_trgm word similarity on titles (short titles, typos, type-ahead prefixes)."""

    TSQUERY = "websearch_to_tsquery('english', %s)"
    HEADLINE = "StartSel=\x02, StopSel=\x03, MaxWords=30, MinWords=12"
    TITLE_HEADLINE = "StartSel=\x02, StopSel=\x03, HighlightAll=true"
    TRIGRAM_MIN_LENGTH = 3

    def _trigram(self, query: ParsedQuery) -> bool:
        return query.is_plain and len(query.text) >= self.TRIGRAM_MIN_LENGTH

    def _condition(self, query: ParsedQuery, *, every_word: bool = False) -> tuple[str, list[Any]]:
        sql = f"search_document.search_vector @@ {self.TSQUERY}"
        params: list[Any] = [query.text if every_word else query.any_word_text]
        if self._trigram(query) and not every_word:
            sql = f"({sql} OR %s <%% search_document.title)"
            params.append(query.text)
        return sql, params

    def estimated_matches(self, query: ParsedQuery) -> int:
        """How many documents have every word of ``query``, by the planner's statistics (no rows
        read): which word of a list search is the rarest."""
        return estimated_count(self.every_word(SearchDocument.objects.all(), query))

    def matching(self, documents: QuerySet, query: ParsedQuery) -> QuerySet:
        """A condition on ``documents`` itself (bitmap scans of the GIN indexes), not a self-join."""
        sql, params = self._condition(query)
        return documents.filter(RawSQL(sql, params, output_field=BooleanField()))

    def every_word(self, documents: QuerySet, query: ParsedQuery) -> QuerySet:
        """Documents with every term (the list pages' search): the GIN index, no trigram. A
        self-contained subquery, as the lists use it inside theirs (where aliases change)."""
        sql = f"SELECT id FROM search_document WHERE search_vector @@ {self.TSQUERY}"
        return documents.filter(pk__in=RawSQL(sql, [query.text]))

    def _window(self, documents: QuerySet, query: ParsedQuery, start: int, stop: int | None,
                bonus: int = 0) -> list[tuple[int, float]]:
        sql = f"ts_rank_cd(search_document.search_vector, {self.TSQUERY})"
        params: list[Any] = [query.any_word_text]
        if self._trigram(query):
            sql += " + 0.5 * word_similarity(%s, search_document.title)"
            params.append(query.text)
        score = RawSQL(sql, params, output_field=FloatField())
        rows = (documents.annotate(score=score).order_by("-score", "-dated_at", "id")
                .values_list("id", "score")[start:stop])
        return [(pk, score + bonus) for pk, score in rows]

    def ranked(self, documents: QuerySet, query: ParsedQuery, start: int, stop: int | None) -> list[tuple[int, float]]:
        if not query.any_word:
            return self._window(self.matching(documents, query), query, start, stop)
        # Records with every word first (a bonus of 1 on their score), then those with only some:
        # two windows, so a common word's thousands of partial matches are ranked only when the
        # page reaches them.
        strict_sql, strict_params = self._condition(query, every_word=True)
        strict = RawSQL(strict_sql, strict_params, output_field=BooleanField())
        first = self._window(documents.filter(strict), query, start, stop, bonus=1)
        if stop is not None and len(first) == stop - start:
            return first
        strict_count = start + len(first) if first or start == 0 else documents.filter(strict).count()
        rest = self.matching(documents, query).exclude(strict)
        return first + self._window(rest, query, max(0, start - strict_count),
                                    None if stop is None else stop - strict_count)

    def highlights(self, ids: list[int], query: ParsedQuery) -> dict[int, tuple[str, str]]:
        # ts_headline drops anything that looks like an HTML tag (text and all): hide < and > from
        # its parser as two control characters (never in indexed text) and put them back after.
        def shielded(column_sql: str) -> str:
            return f"translate({column_sql}, '<>', chr(4) || chr(5))"

        text = "concat_ws(E'\\n', nullif(search_document.body, ''), nullif(search_document.extra, ''))"
        title = RawSQL(f"ts_headline('english', {shielded('search_document.title')}, {self.TSQUERY}, %s)",
                       [query.any_word_text, self.TITLE_HEADLINE])
        snippet = RawSQL(f"ts_headline('english', {shielded(text)}, {self.TSQUERY}, %s)",
                         [query.any_word_text, self.HEADLINE])
        rows = SearchDocument.objects.filter(pk__in=ids).annotate(title_hl=title, snippet_hl=snippet)

        def unshielded(value: str | None) -> str:
            return (value or "").replace("\x04", "<").replace("\x05", ">")

        return {pk: (unshielded(title_hl), unshielded(snippet_hl))
                for pk, title_hl, snippet_hl in rows.values_list("pk", "title_hl", "snippet_hl")}


class _SqliteEngine:
    """FTS5 external-content table (see migration 0002): bm25 with column weights as its rank,
    highlight() and snippet()."""

    MATCH = "search_fts MATCH %s"
    EVERY_WORD_BONUS = 1000  # bm25 scores stay far below this

    def matching(self, documents: QuerySet, query: ParsedQuery | None, *, expression: str = "") -> QuerySet:
        """``documents`` joined to their FTS5 rows that match. Always a join, FTS5 driving it:
        with ``rowid IN (subquery)`` on the FTS table, FTS5 runs the MATCH again for each value
        of the subquery (seconds at 20k documents)."""
        return documents.extra(tables=["search_fts"], where=["search_fts.rowid = search_document.id", self.MATCH],
                               params=[expression or query.fts5()])  # type: ignore[union-attr]

    def _entries(self, query: ParsedQuery) -> QuerySet:
        return FtsEntry.objects.filter(RawSQL(self.MATCH, [query.fts5()], output_field=BooleanField()))

    def every_word(self, documents: QuerySet, query: ParsedQuery) -> QuerySet:
        """Documents with every term (the list pages' search). A self-contained subquery, as the
        lists use it inside theirs (where aliases change); ``id IN (SELECT rowid ... MATCH)`` is
        fast, it is ``search_fts.rowid IN (...)`` that isn't."""
        sql = f"SELECT rowid FROM search_fts WHERE {self.MATCH}"
        return documents.filter(pk__in=RawSQL(sql, [query.fts5(every_word=True)]))

    def _window(self, expression: str, documents: QuerySet, start: int, stop: int | None) -> list[tuple[int, float]]:
        # ``rank`` is bm25(10, 4, 1) over (title, body, extra): negative, lower is better.
        rows = (self.matching(documents, None, expression=expression)
                .annotate(score=RawSQL("-search_fts.rank", [], output_field=FloatField()))
                .order_by("-score", "-dated_at", "id").values_list("id", "score")[start:stop])
        return list(rows)

    def ranked(self, documents: QuerySet, query: ParsedQuery, start: int, stop: int | None) -> list[tuple[int, float]]:
        if not query.any_word:
            return self._window(query.fts5(), documents, start, stop)
        # Records with every word first, then those with only some: two plain MATCH joins, one
        # after the other, rather than ``rowid IN (every-word MATCH)`` in the score (see above).
        every_word = query.fts5(every_word=True)
        first = [(pk, score + self.EVERY_WORD_BONUS) for pk, score in self._window(every_word, documents, start, stop)]
        if stop is not None and len(first) == stop - start:
            return first
        if first or start == 0:
            every_word_count = start + len(first)
        else:
            every_word_count = self.matching(documents, query, expression=every_word).count()
        rest = self._window(f"({query.fts5()}) NOT {every_word}", documents, max(0, start - every_word_count),
                            None if stop is None else stop - every_word_count)
        return first + rest

    def highlights(self, ids: list[int], query: ParsedQuery) -> dict[int, tuple[str, str]]:
        def snippet(column: int) -> RawSQL:
            return RawSQL(f"snippet(search_fts, {column}, char(2), char(3), '…', 24)", [])

        rows = (self._entries(query).filter(document_id__in=ids)
                .annotate(title_hl=RawSQL("highlight(search_fts, 0, char(2), char(3))", []),
                          body_hl=snippet(1), extra_hl=snippet(2))
                .values_list("document_id", "title_hl", "body_hl", "extra_hl"))
        found = {}
        for pk, title_hl, body_hl, extra_hl in rows:
            best = next((text for text in (body_hl, extra_hl) if text and MARK_START in text), body_hl or extra_hl)
            found[pk] = (title_hl, best or "")
        return found


def _engine() -> _PostgresEngine | _SqliteEngine:
    return _PostgresEngine() if connection.vendor == "postgresql" else _SqliteEngine()


# --- The selector -------------------------------------------------------------------------------


def visible_documents(*, user) -> QuerySet[SearchDocument]:
    """Index rows ``user`` may see: the kernel's restricted-post-mortem rule on each row."""
    return SearchDocument.objects.filter(restricted_postmortem_q(user))


class _RankedHits:
    """The ranked result list as the Paginator sees it: a count, and slices fetched on demand
    (one query for the page's ids and scores, one for their documents and highlights)."""

    def __init__(self, documents: QuerySet, query: ParsedQuery, engine) -> None:
        self.documents, self.query, self.engine = documents, query, engine

    def count(self) -> int:
        if self.query.is_empty:
            return 0
        return self.engine.matching(self.documents, self.query).count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[Hit]:
        if self.query.is_empty:
            return []
        ranked = self.engine.ranked(self.documents, self.query, window.start or 0, window.stop)
        ids = [pk for pk, _score in ranked]
        documents = SearchDocument.objects.select_related("team").in_bulk(ids)
        highlights = self.engine.highlights(ids, self.query)
        hits = []
        for pk, score in ranked:
            document = documents[pk]
            title_hl, snippet_hl = highlights.get(pk, (document.title, ""))
            hits.append(Hit(
                kind=document.kind, object_id=document.object_id, team_id=document.team_id,
                team_name=document.team.name, team_slug=document.team.slug, title=document.title,
                title_html=marked(title_hl or document.title), snippet_html=marked(snippet_hl),
                url=document.url, outcome=document.outcome, failure_mode=document.failure_mode,
                dated_at=document.dated_at, restricted=document.restricted, score=float(score or 0),
            ))
        return hits


def _facet(facet: str, documents: QuerySet, filters: SearchFilters) -> list[FacetValue]:
    chosen = filters.selected(facet)
    if facet == "team":
        rows = documents.values("team__slug", "team__name").annotate(count=Count("id")).order_by("-count",
                                                                                               "team__name")
        return [FacetValue(row["team__slug"], row["team__name"], row["count"], row["team__slug"] == chosen)
                for row in rows]
    if facet == "period":
        rows = (documents.exclude(dated_at=None).annotate(month=TruncMonth("dated_at", tzinfo=dt.UTC))
                .values("month").annotate(count=Count("id")).order_by("-month")[:MAX_PERIODS])
        months = [(Month.of(row["month"]), row["count"]) for row in rows]
        return [FacetValue(month.key, month.label, count, month.key == chosen) for month, count in months]
    labels = {"kind": DocumentKind, "outcome": Outcome, "failure_mode": FailureMode}[facet]
    rows = documents.exclude(**{facet: ""}).values(facet).annotate(count=Count("id")).order_by("-count", facet)
    return [FacetValue(row[facet], labels(row[facet]).label if row[facet] in labels.values else row[facet],
                       row["count"], row[facet] == chosen) for row in rows]


def search(*, user, query: str, filters: SearchFilters | None = None, page: int | str | None = 1,
           page_size: int = PAGE_SIZE, facets: bool = True) -> SearchResults:
    """Records ``user`` may see that match ``query``, best first, with facet counts.

    Each facet counts the matches under every *other* selected filter, so choosing a team still
    shows how many matches the other teams have. An empty query (or one of operators only)
    matches nothing.
    """
    filters = filters or SearchFilters()
    parsed = parse(query)
    engine = _engine()
    visible = visible_documents(user=user)
    hits = _RankedHits(filters.apply(visible), parsed, engine)
    page_obj = Paginator(hits, page_size).get_page(page)
    results = SearchResults(query=parsed, filters=filters, page=page_obj)
    if facets and not parsed.is_empty:
        results.facets = {
            facet: _facet(facet, engine.matching(filters.apply(visible, skip=facet), parsed), filters)
            for facet in FACETS
        }
    return results


#: A multi-word list search starts from its rarest word when the planner expects at most this
#: many documents to have it, and it matches at most DRIVER_LIMIT records.
DRIVER_ESTIMATE_LIMIT = 50_000
DRIVER_LIMIT = 2_000


def list_search_ids(model_label: str, user, query: str) -> QuerySet | None:
    """The list pages' ``search`` (registered with :mod:`learninghub.kernel.search`): primary
    keys of the experiments or post-mortems ``user`` may see with every word of ``query``, each
    in the record itself or in one of its lessons (and, for a post-mortem, its action items), as
    the lists always had it; for the lessons library, lessons with every word in their text. A
    query with operators (phrase, ``-word``, ``OR``) must hold in one of those documents.
    ``None`` for another model, or a query with nothing to look for: the list falls back to its
    own.

    Lists keep their own sort: this only says which records match."""
    from experiments.models import Experiment, Lesson
    from postmortems.models import ActionItem, PostMortem

    parsed = parse(query)
    if parsed.is_empty or model_label not in ("experiments.experiment", "postmortems.postmortem", "experiments.lesson"):
        return None
    engine = _engine()
    if model_label == "experiments.lesson":
        lessons = visible_documents(user=user).filter(kind=DocumentKind.LESSON)
        return engine.every_word(lessons, parsed).values("object_id")
    experiments = model_label == "experiments.experiment"
    source = "experiment_id" if experiments else "postmortem_id"

    def matching_ids(term_query: ParsedQuery, within: list[int] | None = None) -> QuerySet:
        """Records with ``term_query`` in their own document or a lesson's (or an action
        item's); ``within``: only among these records (their documents looked up by id)."""
        def object_ids(kind: str, of: QuerySet | list[int] | None) -> QuerySet:
            documents = visible_documents(user=user).filter(kind=kind)
            if of is not None:
                documents = documents.filter(object_id__in=of)
            return engine.every_word(documents, term_query).values("object_id")

        def children(model) -> QuerySet:
            rows = model.objects.filter(**{f"{source}__isnull": False})
            return rows if within is None else rows.filter(**{f"{source}__in": within})

        def matching_children(model, kind: str) -> QuerySet:
            of = None if within is None else children(model).values("pk")
            return children(model).filter(pk__in=object_ids(kind, of)).values(source)

        own = object_ids(DocumentKind.EXPERIMENT if experiments else DocumentKind.POSTMORTEM, within)
        if experiments:
            return _ids_union(own, matching_children(Lesson, DocumentKind.LESSON))
        return _ids_union(own, matching_children(Lesson, DocumentKind.LESSON),
                          matching_children(ActionItem, DocumentKind.ACTION_ITEM))

    if not parsed.is_plain:
        return matching_ids(parsed)
    terms = [ParsedQuery(text=" ".join(term.words), terms=(term,)) for term in parsed.positive]
    records = (Experiment if experiments else PostMortem).objects.all()
    estimate = getattr(engine, "estimated_matches", None)  # PostgreSQL's planner statistics
    if len(terms) > 1 and estimate is not None:
        # The rarest word first: when it matches few records, the others are looked up among
        # those only, instead of collecting every record with a common word ("experiment").
        estimates = [estimate(term_query) for term_query in terms]
        order = sorted(range(len(terms)), key=estimates.__getitem__)
        rarest, *others = (terms[index] for index in order)
        if estimates[order[0]] <= DRIVER_ESTIMATE_LIMIT:
            driver = {row["object_id"] for row in matching_ids(rarest)[:DRIVER_LIMIT + 1]}
            if len(driver) <= DRIVER_LIMIT:
                within = sorted(driver)
                records = records.filter(pk__in=within)
                for term_query in others:
                    records = records.filter(pk__in=matching_ids(term_query, within))
                return records.values("pk")
    for term_query in terms:
        records = records.filter(pk__in=matching_ids(term_query))
    return records.values("pk")


def _ids_union(*querysets: QuerySet) -> QuerySet:
    first, *rest = [queryset.order_by() for queryset in querysets]
    return first.union(*rest)


def without(filters: SearchFilters, facet: str) -> SearchFilters:
    """The same selections with one facet cleared."""
    return replace(filters, **{facet: None if facet in ("team", "period") else ""})



def best_documents(*, text: str, team_id: int, kinds: tuple[str, ...], limit: int,
                   before: dt.datetime | None = None, max_words: int = 16) -> list[tuple[str, int]]:
    """``(kind, object_id)`` of the ``limit`` index rows of one team, of these kinds (dated no
    later than ``before``), that best match any word of ``text``: the candidates of repeat
    detection. Internal matching, not a viewer's search: restricted rows of the team are included
    (detection compares a team's failures with its own); experiments only when they failed.

    Leaner than :func:`search` (whole words, no every-word bonus, no highlights, the team filter
    joined rather than a subquery): it runs on every recorded failure, at teams with 20k of them."""
    words = parse(text).words()[:max_words]
    if not words:
        return []
    def rows_q(prefix: str = "") -> Q:
        q = Q(**{f"{prefix}team_id": team_id, f"{prefix}kind__in": kinds}) & ~Q(**{
            f"{prefix}kind": DocumentKind.EXPERIMENT,
            f"{prefix}outcome__in": [o for o in Outcome.values if o != Outcome.FAILURE]})
        return q & Q(**{f"{prefix}dated_at__lte": before}) if before is not None else q

    if connection.vendor == "postgresql":
        tsquery = "websearch_to_tsquery('english', %s)"
        any_word = " or ".join(words)
        rows = (SearchDocument.objects.filter(rows_q())
                .filter(RawSQL(f"search_document.search_vector @@ {tsquery}", [any_word], output_field=BooleanField()))
                .annotate(score=RawSQL(f"ts_rank_cd(search_document.search_vector, {tsquery})", [any_word],
                                       output_field=FloatField()))
                .order_by("-score", "-dated_at", "id").values_list("kind", "object_id")[:limit])
        return list(rows)
    # A join, not ``rowid IN (subquery)``: SQLite would run the MATCH once per row of the subquery.
    expression = " OR ".join(f'"{word}"' for word in words)  # \w+ words: nothing to escape
    rows = (FtsEntry.objects.filter(RawSQL("search_fts MATCH %s", [expression], output_field=BooleanField()))
            .filter(rows_q("document__")).order_by(RawSQL("search_fts.rank", []))
            .values_list("document__kind", "document__object_id")[:limit])
    return list(rows)
