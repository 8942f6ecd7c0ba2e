"""Reads shared by the pages, the API and other apps (awards, dashboards): querysets that load
what they show in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.http import QueryDict

from experiments.filters import LessonFilter
from experiments.models import Experiment, Lesson, LessonApplication, Outcome
from learninghub.kernel.policy import hidden_by_team, hidden_from, restricted_postmortem_q, visible_prefetch


def _visible_postmortems(user) -> QuerySet:
    """The post-mortems reviewing an experiment, reached through the reverse relation so this app
    never imports postmortems."""
    PostMortem = Experiment._meta.get_field("postmortems").related_model
    return PostMortem.objects.visible_to(user).select_related("team")


def _applications(user) -> QuerySet:
    return (LessonApplication.objects.visible_to(user)
            .select_related("experiment__team", "postmortem__team", "applied_by")
            .order_by("applied_at", "id"))


def experiment_list(*, user) -> QuerySet:
    """Experiments for the list page: each with its team, creator and lesson count (``user``: the
    reader, for the same signature as the other selectors; everyone signed in reads every team's)."""
    return Experiment.objects.with_list_data()


def experiments_with_lessons(*, user) -> QuerySet:
    """Experiments for the API: as the list page, plus their lessons (``ordered_lessons``) and the
    applications of lessons in them that ``user`` may see (``visible_applications``), as plain lists:
    a prefetch into the related managers built a queryset per experiment and relation (50 per page,
    a tenth of the endpoint's time)."""
    return experiment_list(user=user).prefetch_related(
        Prefetch("lessons", queryset=Lesson.objects.order_by("position", "id"), to_attr="ordered_lessons"),
        # Only applications the user may see: an applied lesson learned in another team's
        # restricted post-mortem must not show up, even as an id.
        visible_prefetch("lesson_applications", user, LessonApplication.objects.order_by("id").only(
            "id", "lesson_id", "experiment_id", "postmortem_id"), to_attr="visible_applications"),
    )


def experiment_detail(*, user) -> QuerySet:
    """One experiment with everything its page shows: lessons and where they were applied, the
    lessons it applied, its repeats and the post-mortems reviewing it, and for a repeat what the
    earlier failure taught (its lessons, and the action items of the post-mortems reviewing it)."""
    related = ("team", "created_by", "builds_on__team", "repeat_of__team")
    return Experiment.objects.select_related(*related).prefetch_related(
        Prefetch("lessons", queryset=Lesson.objects.order_by("position", "id").prefetch_related(
            Prefetch("applications", queryset=_applications(user)))),
        visible_prefetch("lesson_applications", user, LessonApplication.objects.select_related(
            "lesson__team", "lesson__experiment__team", "lesson__postmortem__team", "applied_by",
        ).order_by("applied_at", "id")),
        Prefetch("repeats", queryset=Experiment.objects.select_related("team").order_by("started_at", "id")),
        Prefetch("postmortems", queryset=_visible_postmortems(user)),
        Prefetch("repeat_of__lessons", queryset=Lesson.objects.order_by("position", "id")),
        Prefetch("repeat_of__postmortems", queryset=_visible_postmortems(user).prefetch_related(
            "action_items__owner")),
    )


@dataclass
class Lineage:
    """The ``builds_on`` chain back to the root, this experiment, and everything built on it."""

    current: Experiment
    ancestors: list[Experiment] = field(default_factory=list)  # root first
    descendants: list[tuple[Experiment, int]] = field(default_factory=list)  # (experiment, depth), tree order

    @property
    def chain(self) -> list[Experiment]:
        return [*self.ancestors, self.current, *(experiment for experiment, _depth in self.descendants)]

    @property
    def root(self) -> Experiment:
        return self.ancestors[0] if self.ancestors else self.current

    @property
    def is_single(self) -> bool:
        return not self.ancestors and not self.descendants


_LINEAGE_IDS = """
    WITH RECURSIVE up(id, parent_id, depth) AS (
        SELECT id, builds_on_id, 0 FROM {table} WHERE id = %s
        UNION
        SELECT e.id, e.builds_on_id, up.depth + 1 FROM {table} e JOIN up ON e.id = up.parent_id
        WHERE up.depth < %s
    ), down(id, depth) AS (
        SELECT id, 0 FROM {table} WHERE id = %s
        UNION
        SELECT e.id, down.depth + 1 FROM {table} e JOIN down ON e.builds_on_id = down.id
        WHERE down.depth < %s
    )
    SELECT id FROM up UNION SELECT id FROM down
"""


def experiment_lineage(experiment: Experiment, *, max_depth: int = Experiment.MAX_LINEAGE_DEPTH) -> Lineage:
    """The whole chain in one query (a recursive CTE up and down ``builds_on``, at most
    ``max_depth`` generations each way), arranged here. Guards against cycles made outside
    the service."""
    ids = RawSQL(_LINEAGE_IDS.format(table=connection.ops.quote_name(Experiment._meta.db_table)),
                 [experiment.pk, max_depth, experiment.pk, max_depth])
    nodes = {node.pk: node for node in Experiment.objects.select_related("team").filter(pk__in=ids)
             .exclude(pk=experiment.pk).order_by("started_at", "id")}

    seen = {experiment.pk}
    ancestors: list[Experiment] = []
    parent_id = experiment.builds_on_id
    while parent_id in nodes and parent_id not in seen and len(ancestors) < max_depth:
        parent = nodes[parent_id]
        ancestors.append(parent)
        seen.add(parent.pk)
        parent_id = parent.builds_on_id
    ancestors.reverse()

    children_of: dict[int, list[Experiment]] = {}
    for node in nodes.values():  # by start: each node's children in the order they started
        if node.pk not in seen and node.builds_on_id is not None:
            children_of.setdefault(node.builds_on_id, []).append(node)

    descendants: list[tuple[Experiment, int]] = []

    def walk(node_id: int, depth: int) -> None:
        if depth > max_depth:
            return
        for child in children_of.get(node_id, []):
            if child.pk in seen:
                continue
            seen.add(child.pk)
            descendants.append((child, depth))
            walk(child.pk, depth + 1)

    walk(experiment.pk, 1)
    return Lineage(current=experiment, ancestors=ancestors, descendants=descendants)


def lesson_library(*, user) -> QuerySet:
    """Lessons the user may see, with their source and every visible application."""
    return (Lesson.objects.visible_to(user)
            .select_related("team", "experiment__team", "postmortem__team", "created_by")
            .prefetch_related(Prefetch("applications", queryset=_applications(user)))
            .order_by("-documented_at", "-id"))


def lessons_hidden(*, user, params: QueryDict | dict | None = None, request=None) -> list[tuple[str, int]]:
    """The lessons the library's filters match that ``user`` may not open (learned in restricted
    post-mortems of other teams), counted by team: they count in the lesson figures, so the list
    says how many it leaves out and whose. None for a free-text search (matching hidden text
    would tell what a restricted lesson says) or invalid filters (the list shows none either)."""
    if params and str(params.get("search") or "").strip():
        return []
    hidden = hidden_from(Lesson.objects.all(), user, via="postmortem")
    filterset = LessonFilter(params or None, queryset=hidden, request=request)
    if filterset.is_bound and not filterset.is_valid():
        return []
    return hidden_by_team(filterset.qs, "team__")


def lessons_for_api(*, user) -> QuerySet:
    """Visible lessons, newest first, each with how often it was applied where ``user`` may see
    (a correlated count per row of the page, not a join grouping every lesson)."""
    applied = (LessonApplication.objects.filter(restricted_postmortem_q(user, "postmortem__"), lesson=OuterRef("pk"))
               .order_by().values("lesson").annotate(n=Count("pk")).values("n"))
    return (Lesson.objects.visible_to(user)
            .select_related("team", "experiment", "postmortem", "created_by")
            .annotate(application_count=Coalesce(Subquery(applied, output_field=IntegerField()), Value(0)))
            .order_by("-documented_at", "-id"))


def lesson_picker(*, user, query: str = "", exclude_experiment: Experiment | None = None,
                  limit: int = 20) -> list[Lesson]:
    """Earlier lessons an experiment may record as applied: the best matches for ``query``
    (most recent first), never the experiment's own lessons."""
    queryset = Lesson.objects.visible_to(user).select_related("team", "experiment", "postmortem")
    if exclude_experiment is not None and exclude_experiment.pk is not None:
        queryset = queryset.exclude(experiment=exclude_experiment)
    if query.strip():
        queryset = queryset.search(query)
    return list(queryset.order_by("-documented_at", "-id")[:limit])


def team_failures(*, team_id: int) -> QuerySet:
    """A team's failed experiments (for other apps' pickers and suggestions)."""
    return Experiment.objects.filter(team_id=team_id, outcome=Outcome.FAILURE).order_by("-ended_at", "-id")
