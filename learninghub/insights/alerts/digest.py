"""The weekly team digest: what happened in one ISO week (Monday 00:00 UTC to the next Monday),
with links to the records, and the month's learning metrics exactly as the team dashboard shows
them (the same snapshots, through the same presenter)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from awards.models import AwardCycle, Vote
from experiments.models import Experiment, Lesson, LessonApplication, Outcome
from learninghub.insights.metrics.links import DrillDown, team_dashboard_url
from learninghub.insights.metrics.presenters import metric_cards
from learninghub.insights.metrics.selectors import snapshot_set
from learninghub.kernel.models import Team
from learninghub.kernel.periods import Month
from postmortems.models import ActionItem, PostMortem

SEND_HOUR_UTC = 7
LIST_LIMIT = 20


@dataclass(frozen=True)
class Week:
    """An ISO week in UTC, ``[start, end)``."""

    start: dt.datetime

    @classmethod
    def of(cls, moment: dt.datetime) -> Week:
        day = moment.astimezone(dt.UTC).date()
        monday = day - dt.timedelta(days=day.weekday())
        return cls(dt.datetime.combine(monday, dt.time(), tzinfo=dt.UTC))

    @classmethod
    def previous(cls, moment: dt.datetime) -> Week:
        return cls(cls.of(moment).start - dt.timedelta(days=7))

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(days=7)

    @property
    def key(self) -> str:
        year, week, _ = self.start.date().isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def label(self) -> str:
        last = (self.end - dt.timedelta(days=1)).date()
        return f"{self.start:%d %b} – {last:%d %b %Y}"

    @property
    def month(self) -> Month:
        """The month the digest's figures are for: the one the week ends in."""
        return Month.of(self.end - dt.timedelta(microseconds=1))


def _abs(path: str | None) -> str | None:
    return f"{settings.SITE_URL}{path}" if path else None


def _link(record) -> dict:
    return {"label": str(record), "url": _abs(record.get_absolute_url())}


def figures(team: Team, month: Month) -> list[dict]:
    """The team dashboard's cards for ``month``: title, value, unit and link, as the dashboard shows them."""
    snapshots = snapshot_set([month.previous(), month], team_ids=[team.pk], fresh=True)
    current = snapshots.get(team.pk, month)
    if current is None:
        return []
    cards = metric_cards(current, snapshots.get(team.pk, month.previous()), DrillDown(team.slug))
    return [{"key": card.key, "title": card.title, "value": card.value, "unit": card.unit,
             "url": _abs(card.value_url)} for card in cards]


def digest_data(team: Team, week: Week, *, now: dt.datetime | None = None) -> dict:
    """Everything the digest shows, JSON-ready (stored in the notification's payload)."""
    now = now or timezone.now()
    start, end = week.start, week.end
    experiments = Experiment.objects.filter(team=team)
    started = list(experiments.started_between(start, end).order_by("started_at")[:LIST_LIMIT])
    failed = list(experiments.filter(outcome=Outcome.FAILURE).ended_between(start, end).select_related("repeat_of")
                  .order_by("ended_at"))
    postmortems = list(PostMortem.objects.filter(team=team, restricted=False, occurred_at__gte=start,
                                                 occurred_at__lt=end).select_related("repeat_of"))
    repeats = [{"record": _link(r), "repeats": _link(r.repeat_of)} for r in [*failed, *postmortems]
               if r.repeat_of_id is not None]
    lessons = (Lesson.objects.filter(team=team).documented_between(start, end)
               .filter(Q(postmortem__isnull=True) | Q(postmortem__restricted=False))
               .select_related("experiment", "postmortem").order_by("documented_at"))
    applications = (LessonApplication.objects.filter(lesson__team=team, applied_at__gte=start, applied_at__lt=end)
                    .select_related("lesson__experiment", "lesson__postmortem").order_by("applied_at"))
    today = timezone.localdate(now)
    overdue_by_owner: dict[str, list[dict]] = defaultdict(list)
    for item in (ActionItem.objects.overdue(today).filter(postmortem__team=team).select_related("owner", "postmortem")
                 .order_by("due_date", "pk")):
        owner = (item.owner.get_full_name() or item.owner.username) if item.owner else "Nobody"
        overdue_by_owner[owner].append({"label": item.description[:120], "url": _abs(item.get_absolute_url()),
                                        "due_date": item.due_date.isoformat(),
                                        "days": (today - item.due_date).days})
    cycle = AwardCycle.objects.filter(month=Month.current(now).first_day).first()
    award = None
    if cycle is not None:
        award = {"label": cycle.period.label, "state": cycle.get_state_display(), "url": _abs(cycle.get_absolute_url()),
                 "nominations_close_on": cycle.nominations_close_on.isoformat(),
                 "voting_close_on": cycle.voting_close_on.isoformat(),
                 "nominations": cycle.nominations.count(),
                 "voters": Vote.objects.filter(cycle=cycle).values("voter_id").distinct().count()}
    return {
        "team": {"name": team.name, "slug": team.slug, "url": _abs(reverse("team-detail", args=[team.slug]))},
        "week": {"key": week.key, "label": week.label, "start": start.isoformat(), "end": end.isoformat()},
        "month": {"key": week.month.key, "label": week.month.label,
                  "url": _abs(team_dashboard_url(team.slug, week.month, week.month))},
        "experiments_started": [_link(e) for e in started],
        "experiments_started_count": experiments.started_between(start, end).count(),
        "experiments_failed": [_link(e) for e in failed[:LIST_LIMIT]],
        "experiments_failed_count": len(failed),
        "repeats": repeats[:LIST_LIMIT],
        "repeats_count": len(repeats),
        "lessons_documented": [{"label": lesson.text[:140], "url": _abs(lesson_url(lesson))}
                               for lesson in lessons[:LIST_LIMIT]],
        "lessons_documented_count": lessons.count(),
        "lessons_applied": [{"label": a.lesson.text[:140], "url": _abs(lesson_url(a.lesson))}
                            for a in applications[:LIST_LIMIT]],
        "lessons_applied_count": applications.count(),
        "overdue_by_owner": [{"owner": owner, "items": items} for owner, items in sorted(overdue_by_owner.items())],
        "overdue_count": sum(len(items) for items in overdue_by_owner.values()),
        "award_cycle": award,
        "figures": figures(team, week.month),
    }


def lesson_url(lesson: Lesson) -> str:
    parent = lesson.experiment if lesson.experiment_id else lesson.postmortem
    return parent.get_absolute_url() if parent is not None else reverse("experiments:lessons")


def digest_payload(team: Team, week: Week, *, now: dt.datetime | None = None) -> dict:
    """The notification payload: a title and chat lines, the templates for email, and the data."""
    data = digest_data(team, week, now=now)
    lines = [
        f"Experiments: {data['experiments_started_count']} started, {data['experiments_failed_count']} failed "
        f"({data['repeats_count']} repeats)",
        f"Lessons: {data['lessons_documented_count']} documented, {data['lessons_applied_count']} applied",
        f"Overdue action items: {data['overdue_count']}",
        *[f"{card['title']} ({data['month']['label']}): {card['value']}" for card in data["figures"][:4]],
    ]
    if data["award_cycle"]:
        lines.append(f"Awards {data['award_cycle']['label']}: {data['award_cycle']['state']}")
    return {"title": f"{team.name}: weekly digest, {week.label}", "lines": lines,
            "url": data["month"]["url"], "data": data,
            "text_template": "alerts/email/digest.txt", "html_template": "alerts/email/digest.html"}
