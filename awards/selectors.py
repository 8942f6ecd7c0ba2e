"""Reads shared by the award pages and the API: the cycle board (secret until closed), results,
the hall of fame and the suggested nominees computed from the month's experiments and
post-mortems (read-only)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, Max, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from awards.models import Award, AwardCategory, AwardCycle, CycleState, Nomination, Vote
from learninghub.kernel.models import Membership
from learninghub.kernel.periods import Month

FAST_FAIL, LEARNING_CHAMPION, PIVOT_MASTER = "fast-fail", "learning-champion", "pivot-master"
SUGGESTIONS_PER_CATEGORY = 5


def display_name(user) -> str:
    return user.get_full_name() or user.username


def award_members() -> QuerySet:
    """The people awards are for: active users in at least one team. They are the only possible
    nominees (forms, API and services) and the electorate of the turnout; a staff account
    without a membership (the demo's ``admin``) is neither."""
    return get_user_model().objects.filter(is_active=True).filter(
        Exists(Membership.objects.filter(user=OuterRef("pk"))))


def is_award_member(user) -> bool:
    return award_members().filter(pk=user.pk).exists()


@dataclass
class Turnout:
    voted: int
    eligible: int

    def __str__(self) -> str:
        return f"{self.voted} of {self.eligible} voted"


def cycle_turnout(cycle: AwardCycle) -> Turnout:
    """How many of the team members voted in ``cycle`` (in any category): distinct voters among
    the members, out of all members. One query."""
    voted = Exists(Vote.objects.filter(cycle=cycle, voter=OuterRef("pk")))
    row = award_members().aggregate(eligible=Count("pk"), voted=Count("pk", filter=Q(voted)))
    return Turnout(voted=row["voted"], eligible=row["eligible"])


def visible_postmortem_ids(viewer, ids: Iterable[int | None]) -> set[int]:
    """Which of these post-mortems ``viewer`` may see (restricted ones only by their team)."""
    from postmortems.models import PostMortem

    wanted = {pk for pk in ids if pk}
    if not wanted:
        return set()
    return set(PostMortem.objects.visible_to(viewer).filter(pk__in=wanted).values_list("pk", flat=True))


def hide_invisible_evidence(nominations: list[Nomination], viewer) -> list[Nomination]:
    """Drop post-mortem evidence the viewer may not see (a restricted post-mortem of another team)."""
    visible = visible_postmortem_ids(viewer, (n.postmortem_id for n in nominations))
    for nomination in nominations:
        nomination.evidence_hidden = bool(nomination.postmortem_id and nomination.postmortem_id not in visible)
        if nomination.evidence_hidden:
            nomination.postmortem = None
    return nominations


# --- Cycles -------------------------------------------------------------------------------


def cycle_current(*, today: date) -> AwardCycle | None:
    """This month's cycle, or (before the beat opened it) the latest cycle still running."""
    month = Month.of(today).first_day
    cycle = AwardCycle.objects.filter(month=month).first()
    if cycle is not None:
        return cycle
    return AwardCycle.objects.open().filter(month__lt=month).order_by("-month").first()


def cycle_list(*, state: str | None = None, year: int | None = None) -> QuerySet[AwardCycle]:
    queryset = AwardCycle.objects.prefetch_related(
        Prefetch("awards", queryset=Award.objects.select_related("category", "winner")
                 .order_by("category__position", "category__name", "winner__username"))
    ).annotate(nomination_count=Count("nominations", distinct=True)).order_by("-month")
    if state:
        queryset = queryset.filter(state=state)
    if year:
        queryset = queryset.filter(month__year=year)
    return queryset


@dataclass
class NomineeEntry:
    user: object
    nominations: list[Nomination] = field(default_factory=list)
    votes: int | None = None  # None until the cycle closes: secret ballot
    is_winner: bool = False
    is_my_vote: bool = False


@dataclass
class CategoryBoard:
    category: AwardCategory
    nominees: list[NomineeEntry]
    my_vote: Vote | None
    my_nominations: list[Nomination]

    @property
    def winners(self) -> list[NomineeEntry]:
        return [entry for entry in self.nominees if entry.is_winner]

    @property
    def nomination_count(self) -> int:
        return sum(len(entry.nominations) for entry in self.nominees)


def _categories_for(cycle: AwardCycle, used_ids: set[int]) -> list[AwardCategory]:
    return list(AwardCategory.objects.filter(Q(is_active=True) | Q(pk__in=used_ids)).order_by("position", "name"))


def cycle_board(*, cycle: AwardCycle, viewer) -> list[CategoryBoard]:
    """Every category of the cycle with its nominees and their nominations, the viewer's vote,
    and (only once the cycle is closed) the vote count per nominee and the winners."""
    nominations = hide_invisible_evidence(list(
        cycle.nominations.select_related("nominee", "nominator", "experiment", "postmortem")
        .order_by("created_at", "pk")), viewer)
    my_votes = {vote.category_id: vote for vote in Vote.objects.filter(cycle=cycle, voter=viewer)
                .select_related("nominee", "category")} if viewer.is_authenticated else {}
    counts: dict[tuple[int, int], int] = {}
    winners: set[tuple[int, int]] = set()
    if cycle.is_closed:
        counts = {(row["category_id"], row["nominee_id"]): row["n"] for row in
                  Vote.objects.filter(cycle=cycle).values("category_id", "nominee_id").annotate(n=Count("id"))
                  .order_by()}
        winners = set(Award.objects.filter(cycle=cycle).values_list("category_id", "winner_id"))
    by_category: dict[int, dict[int, NomineeEntry]] = defaultdict(dict)
    for nomination in nominations:
        entry = by_category[nomination.category_id].setdefault(nomination.nominee_id,
                                                               NomineeEntry(user=nomination.nominee))
        entry.nominations.append(nomination)
    boards = []
    for category in _categories_for(cycle, set(by_category) | {c for c, _ in winners}):
        my_vote = my_votes.get(category.pk)
        entries = list(by_category.get(category.pk, {}).values())
        for entry in entries:
            entry.is_my_vote = my_vote is not None and my_vote.nominee_id == entry.user.pk
            if cycle.is_closed:
                entry.votes = counts.get((category.pk, entry.user.pk), 0)
                entry.is_winner = (category.pk, entry.user.pk) in winners
        if cycle.is_closed:
            entries.sort(key=lambda e: (-e.votes, display_name(e.user).lower()))
        else:  # alphabetical, so the order reveals nothing about the ballot
            entries.sort(key=lambda e: display_name(e.user).lower())
        mine = [n for e in entries for n in e.nominations if viewer.is_authenticated and n.nominator_id == viewer.pk]
        boards.append(CategoryBoard(category=category, nominees=entries, my_vote=my_vote, my_nominations=mine))
    return boards


def cycle_results(cycles: Iterable[AwardCycle]) -> dict[int, list[dict]]:
    """Results of the closed cycles among ``cycles`` (three queries whatever their number):
    per category, every nominee with their vote count and whether they won. Open cycles get
    nothing: the ballot is secret until the close."""
    closed_ids = [cycle.pk for cycle in cycles if cycle.state == CycleState.CLOSED]
    if not closed_ids:
        return {}
    nominees = (Nomination.objects.filter(cycle_id__in=closed_ids)
                .values_list("cycle_id", "category_id", "nominee_id", "nominee__username").distinct())
    counts = {(row["cycle_id"], row["category_id"], row["nominee_id"]): row["n"] for row in
              Vote.objects.filter(cycle_id__in=closed_ids).values("cycle_id", "category_id", "nominee_id")
              .annotate(n=Count("id")).order_by()}
    won = set(Award.objects.filter(cycle_id__in=closed_ids).values_list("cycle_id", "category_id", "winner_id"))
    grouped: dict[int, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for cycle_id, category_id, nominee_id, username in nominees:
        grouped[cycle_id][category_id].append({
            "nominee": username,
            "votes": counts.get((cycle_id, category_id, nominee_id), 0),
            "winner": (cycle_id, category_id, nominee_id) in won,
        })
    categories = list(AwardCategory.objects.order_by("position", "name"))
    results: dict[int, list[dict]] = {}
    for cycle_id in closed_ids:
        rows = []
        for category in categories:
            entries = grouped[cycle_id].get(category.pk)
            if entries is None and not category.is_active:
                continue
            entries = sorted(entries or [], key=lambda e: (-e["votes"], e["nominee"]))
            rows.append({"category": category.slug, "name": category.name, "nominees": entries,
                         "winners": [e["nominee"] for e in entries if e["winner"]]})
        results[cycle_id] = rows
    return results


# --- Hall of fame -------------------------------------------------------------------------


@dataclass
class FameRow:
    user: object
    total: int
    by_category: dict[int, int]
    last_won: date


def hall_of_fame(*, category: AwardCategory | None = None, search: str = "") -> list[FameRow]:
    """People who won at least one award, most awards first, with their wins per category."""
    awards = Award.objects.all()
    if category is not None:
        awards = awards.filter(category=category)
    if search:
        awards = awards.filter(Q(winner__username__icontains=search) | Q(winner__first_name__icontains=search)
                               | Q(winner__last_name__icontains=search))
    rows = awards.values("winner_id", "category_id").annotate(n=Count("id"), last=Max("cycle__month")).order_by()
    per_user: dict[int, FameRow] = {}
    users = get_user_model().objects.in_bulk({row["winner_id"] for row in rows})
    for row in rows:
        fame = per_user.setdefault(row["winner_id"], FameRow(user=users[row["winner_id"]], total=0,
                                                              by_category={}, last_won=row["last"]))
        fame.total += row["n"]
        fame.by_category[row["category_id"]] = row["n"]
        fame.last_won = max(fame.last_won, row["last"])
    return sorted(per_user.values(), key=lambda r: (-r.total, -r.last_won.toordinal(), r.user.username))


def hall_of_fame_citations(*, viewer, category: AwardCategory | None = None, search: str = "",
                           limit: int = 24) -> list[Award]:
    """The latest awards (``limit``), each with ``citations``: the nominations that put its winner
    forward in that category and cycle (reason, nominator, evidence the viewer may see)."""
    awards = Award.objects.select_related("cycle", "category", "winner")
    if category is not None:
        awards = awards.filter(category=category)
    if search:
        awards = awards.filter(Q(winner__username__icontains=search) | Q(winner__first_name__icontains=search)
                               | Q(winner__last_name__icontains=search))
    awards = list(awards.order_by("-cycle__month", "category__position", "category__name",
                                  "winner__username")[:limit])
    if not awards:
        return []
    nominations = hide_invisible_evidence(list(
        Nomination.objects.filter(cycle_id__in={a.cycle_id for a in awards},
                                  category_id__in={a.category_id for a in awards},
                                  nominee_id__in={a.winner_id for a in awards})
        .select_related("nominator", "experiment", "postmortem").order_by("created_at", "pk")), viewer)
    by_key: dict[tuple[int, int, int], list[Nomination]] = defaultdict(list)
    for nomination in nominations:
        by_key[(nomination.cycle_id, nomination.category_id, nomination.nominee_id)].append(nomination)
    for award in awards:
        award.citations = by_key.get((award.cycle_id, award.category_id, award.winner_id), [])
    return awards


def hall_of_fame_categories() -> list[AwardCategory]:
    """Categories that were ever awarded or are active, each with ``leaders``: the people with the
    most wins in it (top five)."""
    categories = list(AwardCategory.objects.filter(Q(is_active=True) | Q(awards__isnull=False)).distinct()
                      .annotate(award_count=Count("awards")).order_by("position", "name"))
    rows = (Award.objects.values("category_id", "winner_id").annotate(n=Count("id"), last=Max("cycle__month"))
            .order_by())
    users = get_user_model().objects.in_bulk({row["winner_id"] for row in rows})
    leaders: dict[int, list[tuple[object, int]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (-r["n"], -r["last"].toordinal(), users[r["winner_id"]].username)):
        leaders[row["category_id"]].append((users[row["winner_id"]], row["n"]))
    for category in categories:
        category.leaders = leaders.get(category.pk, [])[:5]
    return categories


# --- Suggestions --------------------------------------------------------------------------


@dataclass
class Evidence:
    kind: str  # "experiment" or "postmortem"
    pk: int
    title: str
    detail: str = ""


@dataclass
class Suggestion:
    user: object
    score: float
    summary: str
    evidence: list[Evidence]

    @property
    def prefill(self) -> dict[str, int]:
        """The evidence to preselect in the nomination form."""
        first = self.evidence[0] if self.evidence else None
        return {first.kind: first.pk} if first else {}


def _humanize_duration(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.0f} h" if hours >= 1 else f"{max(delta.total_seconds() / 60, 1):.0f} min"
    return f"{hours / 24:.1f} days"


def suggest_fast_fail(*, month: date, viewer) -> list[Suggestion]:
    """People whose failed experiments of the month reached their failure verdict fastest and have
    a lesson documented; the fastest such failure ranks them. The time is the one the tooling
    measured (``time_to_failure``: a crash, or the failure detector stopping the run) when it
    reported one, else ``ended_at − started_at``."""
    from experiments.models import Experiment, Lesson

    period = Month.of(month)
    start, end = period.start, period.end
    failures = (Experiment.objects.failures().filter(ended_at__gte=start, ended_at__lt=end,
                                                     created_by__is_active=True)
                .filter(Exists(Lesson.objects.filter(experiment=OuterRef("pk"))))
                .annotate(time_to_conclusion=Coalesce(
                    "time_to_failure", ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField()),
                    output_field=DurationField()),
                          lesson_count=Count("lessons"))
                .select_related("created_by").order_by("time_to_conclusion", "ended_at", "pk")[:500])
    people: dict[int, Suggestion] = {}
    for experiment in failures:
        lessons = f"{experiment.lesson_count} lesson{'s' if experiment.lesson_count != 1 else ''}"
        evidence = Evidence("experiment", experiment.pk, experiment.title,
                            f"failed after {_humanize_duration(experiment.time_to_conclusion)}, {lessons}")
        suggestion = people.get(experiment.created_by_id)
        if suggestion is None:
            people[experiment.created_by_id] = Suggestion(
                user=experiment.created_by, score=experiment.time_to_conclusion.total_seconds(),
                summary=f"Concluded a failed experiment in {_humanize_duration(experiment.time_to_conclusion)} "
                        f"and documented {lessons}.", evidence=[evidence])
        elif len(suggestion.evidence) < 3:
            suggestion.evidence.append(evidence)
        if len(people) >= SUGGESTIONS_PER_CATEGORY and all(len(s.evidence) >= 3 for s in people.values()):
            break
    return list(people.values())[:SUGGESTIONS_PER_CATEGORY]


def suggest_learning_champions(*, month: date, viewer) -> list[Suggestion]:
    """People whose lessons others applied during the month, most such lessons first.

    A lesson's author is whoever documented it, or else the creator of its experiment or
    post-mortem. An application counts when someone else recorded it or, if nobody is named, when
    it was applied in a different record created by someone else. Lessons and places in
    post-mortems the viewer may not see are left out.
    """
    from experiments.models import LessonApplication
    from postmortems.models import PostMortem

    period = Month.of(month)
    start, end = period.start, period.end
    visible = PostMortem.objects.visible_to(viewer).values("pk")
    applications = (LessonApplication.objects.filter(applied_at__gte=start, applied_at__lt=end)
                    .filter(Q(lesson__postmortem__isnull=True) | Q(lesson__postmortem__in=visible))
                    .filter(Q(postmortem__isnull=True) | Q(postmortem__in=visible))
                    .select_related("lesson__created_by", "lesson__experiment__created_by",
                                    "lesson__postmortem__created_by", "experiment", "postmortem")
                    .order_by("applied_at", "pk"))
    authors: dict[int, object] = {}
    lessons: dict[int, dict[int, object]] = defaultdict(dict)
    uses: dict[int, int] = defaultdict(int)
    for application in applications:
        lesson = application.lesson
        source = lesson.experiment or lesson.postmortem
        author = lesson.created_by or (source.created_by if source else None)
        if author is None or not author.is_active:
            continue
        place = application.experiment or application.postmortem
        if application.applied_by_id:
            by_someone_else = application.applied_by_id != author.pk
        else:
            same_record = (application.experiment_id == lesson.experiment_id
                           and application.postmortem_id == lesson.postmortem_id)
            by_someone_else = not same_record and place is not None and place.created_by_id != author.pk
        if not by_someone_else:
            continue
        authors[author.pk] = author
        lessons[author.pk][lesson.pk] = lesson
        uses[author.pk] += 1
    suggestions = []
    for author_pk, author_lessons in lessons.items():
        evidence = []
        for lesson in list(author_lessons.values())[:3]:
            kind = "experiment" if lesson.experiment_id else "postmortem"
            source = lesson.experiment or lesson.postmortem
            evidence.append(Evidence(kind, source.pk, source.title, f"lesson: {str(lesson)[:80]}"))
        count, applied = len(author_lessons), uses[author_pk]
        suggestions.append(Suggestion(
            user=authors[author_pk], score=count + applied / 1000,
            summary=f"{count} lesson{'s' if count != 1 else ''} applied by others "
                    f"{applied} time{'s' if applied != 1 else ''} this month.", evidence=evidence))
    suggestions.sort(key=lambda s: (-s.score, s.user.username))
    return suggestions[:SUGGESTIONS_PER_CATEGORY]


def suggest_pivot_masters(*, month: date, viewer) -> list[Suggestion]:
    """Authors of experiments that succeeded during the month while building on a failed one."""
    from experiments.models import Experiment, Outcome

    period = Month.of(month)
    start, end = period.start, period.end
    pivots = (Experiment.objects.filter(outcome=Outcome.SUCCESS, ended_at__gte=start, ended_at__lt=end,
                                        builds_on__outcome=Outcome.FAILURE, created_by__is_active=True)
              .select_related("created_by", "builds_on").order_by("ended_at", "pk"))
    people: dict[int, Suggestion] = {}
    for experiment in pivots:
        suggestion = people.setdefault(experiment.created_by_id, Suggestion(
            user=experiment.created_by, score=0, summary="", evidence=[]))
        suggestion.score += 1
        if len(suggestion.evidence) < 4:
            suggestion.evidence.append(Evidence("experiment", experiment.pk, experiment.title,
                                                f"succeeded, building on the failed “{experiment.builds_on.title}”"))
            suggestion.evidence.append(Evidence("experiment", experiment.builds_on_id, experiment.builds_on.title,
                                                "the failure it pivoted from"))
    for suggestion in people.values():
        n = int(suggestion.score)
        suggestion.summary = f"{n} successful experiment{'s' if n != 1 else ''} built on a failure."
    return sorted(people.values(), key=lambda s: (-s.score, s.user.username))[:SUGGESTIONS_PER_CATEGORY]


SUGGESTERS = {
    FAST_FAIL: suggest_fast_fail,
    LEARNING_CHAMPION: suggest_learning_champions,
    PIVOT_MASTER: suggest_pivot_masters,
}


def suggestions_for(*, month: date, viewer) -> dict[str, list[Suggestion]]:
    """Suggested nominees per category slug, from the month's records (seeded categories only).
    Only team members are suggested (they are the only possible nominees)."""
    found = {slug: suggester(month=month, viewer=viewer) for slug, suggester in SUGGESTERS.items()}
    people = {suggestion.user.pk for suggestions in found.values() for suggestion in suggestions}
    members = set(award_members().filter(pk__in=people).values_list("pk", flat=True)) if people else set()
    return {slug: [s for s in suggestions if s.user.pk in members] for slug, suggestions in found.items()}


def suggestions_with_fallback(*, month: date, viewer) -> tuple[date, dict[str, list[Suggestion]]]:
    """``(month used, suggestions)``: the month's suggestions or, when the month has none at all
    (early in a month little has concluded), those of the month before it: the last complete
    month, whose records the nomination form offers as evidence too."""
    suggestions = suggestions_for(month=month, viewer=viewer)
    if any(suggestions.values()):
        return month, suggestions
    previous = Month.of(month).previous().first_day
    earlier = suggestions_for(month=previous, viewer=viewer)
    if any(earlier.values()):
        return previous, earlier
    return month, suggestions
