"""Reads shared by the pages, the API and other areas (dashboards, awards, search).

Every query here starts from ``visible_to(user)``: a restricted post-mortem, its action items
and its lessons exist only for its own team's members, in lists, searches, counts and exports.
Other areas must read post-mortems through these functions, not the models.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils import timezone

from experiments.models import Lesson
from learninghub.kernel.policy import hidden_by_team, hidden_from, restricted_postmortem_q
from postmortems.filters import ActionItemFilter, PostMortemFilter
from postmortems.models import ActionItem, ActionItemStatus, PostMortem

UNFINISHED = [ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS]


def _count_of(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT subquery (no join fan-out, so several counts can sit side by side)."""
    counted = queryset.order_by().values("postmortem").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def postmortems_visible(*, user) -> QuerySet[PostMortem]:
    """Post-mortems ``user`` may see, with what list rows show (team, counts) loaded in bulk."""
    return _postmortem_rows(PostMortem.objects.visible_to(user))


def _postmortem_rows(queryset: QuerySet[PostMortem]) -> QuerySet[PostMortem]:
    today = timezone.localdate()
    items = ActionItem.objects.filter(postmortem=OuterRef("pk"))
    return (
        queryset
        .select_related("team", "created_by", "repeat_of", "experiment")
        .annotate(
            action_item_count=_count_of(items),
            open_action_item_count=_count_of(items.filter(status__in=UNFINISHED)),
            overdue_action_item_count=_count_of(items.filter(status__in=UNFINISHED, due_date__lt=today)),
            lesson_count=_count_of(Lesson.objects.filter(postmortem=OuterRef("pk"))),
        )
    )


def postmortems_for_api(*, user) -> QuerySet[PostMortem]:
    """Visible post-mortems with everything the API representation nests, prefetched."""
    return postmortems_visible(user=user).prefetch_related(
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "lesson__postmortem")
                 .order_by("position", "pk")),
        Prefetch("lessons", queryset=Lesson.objects.order_by("position", "pk")),
        "authors",
    )


def postmortem_list(*, user, params: QueryDict | dict | None = None, request=None) -> PostMortemFilter:
    """The filtered list (``.qs``) with its filter form (``.form``) for the HTML list."""
    return PostMortemFilter(params or None, queryset=postmortems_visible(user=user), request=request)


def postmortem_detail(*, user, pk: int) -> PostMortem:
    """One visible post-mortem with its items (and their owners and lessons) and lessons.

    Raises ``PostMortem.DoesNotExist`` when it does not exist *or* is hidden from ``user``,
    so callers answer 404 in both cases and never reveal a restricted record.
    """
    applied_visibly = restricted_postmortem_q(user, "applications__postmortem__")
    return postmortems_visible(user=user).prefetch_related(
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner", "lesson")
                 .order_by("position", "pk")),
        Prefetch("lessons", queryset=Lesson.objects.select_related("created_by")
                 .annotate(application_count=Count("applications", filter=applied_visibly))
                 .order_by("position", "pk")),
        "authors",
        # A repeat's page shows what the earlier failure taught ("last time we learned").
        Prefetch("repeat_of__lessons", queryset=Lesson.objects.order_by("position", "pk")),
        Prefetch("repeat_of__action_items", queryset=ActionItem.objects.select_related("owner")
                 .order_by("position", "pk")),
    ).get(pk=pk)


def postmortem_repeats(*, user, postmortem: PostMortem) -> QuerySet[PostMortem]:
    """Later post-mortems that repeat this one (only those ``user`` may see)."""
    return PostMortem.objects.visible_to(user).filter(repeat_of=postmortem).select_related("team")


def postmortem_choices_for_repeat(*, user, exclude_pk: int | None = None) -> QuerySet[PostMortem]:
    queryset = PostMortem.objects.visible_to(user).select_related("team").order_by("-occurred_at", "-pk")
    return queryset.exclude(pk=exclude_pk) if exclude_pk else queryset


def action_items_visible(*, user) -> QuerySet[ActionItem]:
    """Action items of the post-mortems ``user`` may see, overdue first, then by due date."""
    return _action_item_rows(ActionItem.objects.visible_to(user))


def _action_item_rows(queryset: QuerySet[ActionItem]) -> QuerySet[ActionItem]:
    return queryset.select_related("postmortem__team", "owner", "lesson__postmortem").by_urgency()


def action_item_list(*, user, params: QueryDict | dict | None = None, request=None) -> ActionItemFilter:
    return ActionItemFilter(params or None, queryset=action_items_visible(user=user), request=request)


def _searches(params: QueryDict | dict | None) -> bool:
    return bool(params and str(params.get("search") or "").strip())


def postmortems_hidden(*, user, params: QueryDict | dict | None = None, request=None) -> list[tuple[str, int]]:
    """The post-mortems the list's filters match that ``user`` may not open, counted by team:
    they count in every figure, so the list says how many it leaves out and whose. Not for a
    free-text search: matching hidden text would tell what a restricted record says."""
    if _searches(params):
        return []
    hidden = hidden_from(PostMortem.objects.all(), user)
    return hidden_by_team(PostMortemFilter(params or None, queryset=hidden, request=request).qs, "team__")


def action_items_hidden(*, user, params: QueryDict | dict | None = None, request=None) -> list[tuple[str, int]]:
    """The action items the list's filters match that belong to post-mortems ``user`` may not
    open, counted by team (see :func:`postmortems_hidden`; none for a free-text search)."""
    if _searches(params):
        return []
    hidden = hidden_from(ActionItem.objects.all(), user, via="postmortem")
    return hidden_by_team(ActionItemFilter(params or None, queryset=hidden, request=request).qs,
                           "postmortem__team__")


# What "My action items" shows: the unfinished ones unless the viewer asks for the others.
MY_ITEMS_SHOWN = {"open": UNFINISHED, "done": [ActionItemStatus.DONE, ActionItemStatus.WONT_DO], "all": None}


def my_action_items(*, user, params: QueryDict | dict | None = None, request=None,
                    show: str = "open") -> ActionItemFilter:
    """What is assigned to ``user`` across teams: overdue first, then open by due date, then
    finished ones. ``show`` (a key of MY_ITEMS_SHOWN) picks unfinished, finished or all."""
    queryset = action_items_visible(user=user).filter(owner=user)
    statuses = MY_ITEMS_SHOWN.get(show, UNFINISHED)
    if statuses is not None:
        queryset = queryset.filter(status__in=statuses)
    return ActionItemFilter(params or None, queryset=queryset, request=request)


def action_item_get(*, user, pk: int) -> ActionItem:
    """One visible action item; ``ActionItem.DoesNotExist`` when missing or hidden."""
    return action_items_visible(user=user).get(pk=pk)


def action_item_counts(*, user, team_id: int | None = None, owner=None) -> dict[str, int]:
    """Open (unfinished), overdue, finished and all action items (visible to ``user``; of one
    team or owner when given)."""
    queryset = ActionItem.objects.visible_to(user)
    if team_id is not None:
        queryset = queryset.filter(postmortem__team_id=team_id)
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    unfinished = Q(status__in=UNFINISHED)
    return queryset.aggregate(open=Count("pk", filter=unfinished),
                              overdue=Count("pk", filter=unfinished & Q(due_date__lt=timezone.localdate())),
                              done=Count("pk", filter=~unfinished), all=Count("pk"))
