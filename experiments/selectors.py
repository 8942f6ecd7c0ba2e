"""Reads shared by the pages, the API and other apps (awards, dashboards): querysets that load
what they show in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from experiments.models import Experiment, Lesson, LessonApplication, Outcome
from learninghub.kernel.policy import visible_prefetch


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
    """Experiments for list pages and the API (everyone signed in reads every team's)."""
    return Experiment.objects.with_list_data().prefetch_related(
        Prefetch("lessons", queryset=Lesson.objects.order_by("position", "id")),
        # Only applications the user may see: an applied lesson learned in another team's
        # restricted post-mortem must not show up, even as an id.
        visible_prefetch("lesson_applications", user, LessonApplication.objects.order_by("id").only(
            "id", "lesson_id", "experiment_id", "postmortem_id")),
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


def experiment_lineage(experiment: Experiment, *, max_depth: int = Experiment.MAX_LINEAGE_DEPTH) -> Lineage:
    """One query per generation, up and down. Guards against cycles made outside the service."""
    seen = {experiment.pk}
    ancestors: list[Experiment] = []
    parent_id = experiment.builds_on_id
    while parent_id is not None and parent_id not in seen and len(ancestors) < max_depth:
        parent = Experiment.objects.select_related("team").filter(pk=parent_id).first()
        if parent is None:
            break
        ancestors.append(parent)
        seen.add(parent.pk)
        parent_id = parent.builds_on_id
    ancestors.reverse()

    children_of: dict[int, list[Experiment]] = {}
    frontier = [experiment.pk]
    for _generation in range(max_depth):
        if not frontier:
            break
        children = [child for child in Experiment.objects.select_related("team")
                    .filter(builds_on_id__in=frontier).order_by("started_at", "id") if child.pk not in seen]
        for child in children:
            seen.add(child.pk)
            children_of.setdefault(child.builds_on_id, []).append(child)
        frontier = [child.pk for child in children]

    descendants: list[tuple[Experiment, int]] = []

    def walk(node_id: int, depth: int) -> None:
        for child in children_of.get(node_id, []):
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
