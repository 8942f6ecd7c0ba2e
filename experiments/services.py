"""Writes to the experiment registry. Pages, the API and the demo all go through here.

Every function checks that ``user`` may write the team's records (``user=None`` means the
system itself: imports, demo data, other apps' services that checked already), validates with
the model rules, and records what it changed in a ChangeSet (``learninghub.kernel.events``):
the team-months whose figures can change, and the failures it recorded (for repeat detection,
unless ``detect_repeats=False``), emitted once when the transaction commits. Services that call
other services here pass their ChangeSet down (``changes=``) so one write emits once.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from experiments.models import Experiment, Lesson, LessonApplication, Outcome, RepeatLinkSource
from learninghub.kernel.concurrency import claim_next_version
from learninghub.kernel.dates import parse_moment
from learninghub.kernel.events import ChangeSet, recording
from learninghub.kernel.models import Team
from learninghub.kernel.policy import require_lead, require_write, user_or_none

# What callers may set on an experiment (team, version and bookkeeping are handled here).
EXPERIMENT_FIELDS = (
    "title", "hypothesis", "approach", "metrics", "started_at", "ended_at", "outcome", "failure_kind",
    "failure_mode", "is_novel", "builds_on", "repeat_of", "next_steps", "external_id", "error_type",
    "error_message", "error_trace", "time_to_failure",
)
LessonInput = Mapping[str, Any] | str


def _check_member(user, team: Team | int) -> None:
    if user is not None:
        require_write(user, team)


def _apply_fields(experiment: Experiment, data: Mapping[str, Any]) -> None:
    unknown = set(data) - set(EXPERIMENT_FIELDS)
    if unknown:
        raise ValidationError({field: ["This field cannot be set."] for field in sorted(unknown)})
    previous_repeat = experiment.repeat_of_id
    for field, value in data.items():
        if field in {"next_steps"} and value is None:
            value = []
        elif field in {"metrics"} and value is None:
            value = {}
        elif field in {"title", "hypothesis", "approach", "failure_kind", "failure_mode", "external_id",
                       "error_type", "error_message", "error_trace"} and value is None:
            value = ""
        setattr(experiment, field, value)
    if "repeat_of" in data and experiment.repeat_of_id != previous_repeat:
        # A person (or a script) chose this link; the detector's automatic links are set elsewhere.
        experiment.repeat_link_source = RepeatLinkSource.MANUAL if experiment.repeat_of_id else RepeatLinkSource.NONE
    if isinstance(experiment.next_steps, list):
        experiment.next_steps = [step.strip() if isinstance(step, str) else step for step in experiment.next_steps]
    if experiment.outcome != Outcome.FAILURE:
        # Only a failure has a time to its failure verdict; forms that change the outcome don't show it.
        experiment.time_to_failure = None
    if experiment.outcome != Outcome.IN_PROGRESS and experiment.ended_at is None:
        # Concluding without an end date means "it ended now" (never before it started).
        now = timezone.now()
        experiment.ended_at = max(now, experiment.started_at) if experiment.started_at else now


def _person(user):
    """The person for ``created_by``-style fields: None for the system and anonymous callers."""
    person = user_or_none(user)
    return person if person is not None and person.is_authenticated else None


def _record_failure(changes: ChangeSet, experiment: Experiment, detect_repeats: bool) -> None:
    """A failed experiment not yet linked to an earlier one goes to repeat detection."""
    if detect_repeats and experiment.outcome == Outcome.FAILURE and experiment.repeat_of_id is None:
        changes.failure("experiment", experiment.pk, experiment.team_id)


@transaction.atomic
def experiment_create(
    *,
    team: Team,
    user,
    data: Mapping[str, Any],
    lessons: Sequence[LessonInput] | None = None,
    applied_lesson_ids: Iterable[int] | None = None,
    detect_repeats: bool = True,
) -> Experiment:
    """Create an experiment with its lessons and the earlier lessons it applies.

    ``detect_repeats=False`` (imports of history) records a failure without comparing it with
    earlier ones."""
    _check_member(user, team)
    experiment = Experiment(team=team, created_by=_person(user))
    _apply_fields(experiment, data)
    experiment.full_clean()
    experiment.save()
    with recording() as changes:
        if lessons:
            lessons_replace(team=team, experiment=experiment, lessons=list(lessons), user=user, changes=changes)
        if applied_lesson_ids:
            experiment_set_applied_lessons(experiment=experiment, lesson_ids=applied_lesson_ids, user=user,
                                           changes=changes)
        changes.moments(team.pk, experiment.started_at, experiment.ended_at)
        _record_failure(changes, experiment, detect_repeats)
    return experiment


@transaction.atomic
def experiment_update(
    *,
    experiment: Experiment,
    user,
    data: Mapping[str, Any],
    expected_version: int | None = None,
    lessons: Sequence[LessonInput] | None = None,
    applied_lesson_ids: Iterable[int] | None = None,
    detect_repeats: bool = True,
) -> Experiment:
    """Update the given fields (others keep their values). ``lessons`` and ``applied_lesson_ids``,
    when given, replace the current ones. A stale ``expected_version`` raises StaleVersionError
    and changes nothing."""
    _check_member(user, experiment.team_id)
    old = Experiment.objects.filter(pk=experiment.pk).values("started_at", "ended_at").get()
    claim_next_version(experiment, expected_version)
    _apply_fields(experiment, data)
    experiment.full_clean()
    experiment.save()
    with recording() as changes:
        if lessons is not None:
            lessons_replace(team=experiment.team, experiment=experiment, lessons=list(lessons), user=user,
                            changes=changes)
        if applied_lesson_ids is not None:
            experiment_set_applied_lessons(experiment=experiment, lesson_ids=applied_lesson_ids, user=user,
                                           changes=changes)
        changes.moments(experiment.team_id, old["started_at"], old["ended_at"], experiment.started_at,
                        experiment.ended_at)
        _record_failure(changes, experiment, detect_repeats)
    return experiment


@transaction.atomic
def experiment_set_repeat_of(*, experiment_id: int, repeat_of_id: int | None, source: str, user) -> Experiment:
    """Link (or unlink, with None) the earlier failure this experiment repeats, as decided by
    repeat detection or a lead (``source``: a ``RepeatLinkSource``). Bumps the version so an open
    edit form notices, and marks the month it failed in stale."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
    _check_member(user, experiment.team_id)
    if repeat_of_id is not None and repeat_of_id == experiment.pk:
        raise ValidationError({"repeat_of": ["An experiment cannot repeat itself."]})
    claim_next_version(experiment, None)
    experiment.repeat_of_id = repeat_of_id
    experiment.repeat_link_source = source if repeat_of_id is not None else RepeatLinkSource.NONE
    experiment.save(update_fields=["repeat_of", "repeat_link_source", "version", "updated_at"])
    with recording() as changes:
        changes.moments(experiment.team_id, experiment.ended_at)
    return experiment


def experiment_upsert(
    *,
    team: Team,
    external_id: str,
    user,
    data: Mapping[str, Any],
    expected_version: int | None = None,
    lessons: Sequence[LessonInput] | None = None,
    applied_lesson_ids: Iterable[int] | None = None,
    detect_repeats: bool = True,
) -> tuple[Experiment, bool]:
    """Create the team's experiment with this ``external_id``, or update it if it exists.

    Returns ``(experiment, created)``. This is what makes tooling retries safe: a script that
    sends the same run five times leaves one record. Two concurrent first sends race on the
    unique constraint; the loser updates the winner's record.
    """
    if not external_id:
        raise ValidationError({"external_id": ["An upsert needs an external id."]})
    data = {**data, "external_id": external_id}
    kwargs = {"user": user, "data": data, "expected_version": expected_version, "lessons": lessons,
              "applied_lesson_ids": applied_lesson_ids, "detect_repeats": detect_repeats}
    existing = Experiment.objects.filter(team=team, external_id=external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                return experiment_create(team=team, user=user, data=data, lessons=lessons,
                                         applied_lesson_ids=applied_lesson_ids,
                                         detect_repeats=detect_repeats), True
        except (IntegrityError, ValidationError):
            # Lost a race with a concurrent first send (or the data is invalid: then the
            # update below reports the same errors).
            existing = Experiment.objects.filter(team=team, external_id=external_id).first()
            if existing is None:
                raise
    if _upsert_changes_nothing(existing, data, lessons, applied_lesson_ids):
        # An identical retry: nothing to write, so no version bump and no ChangeSet. A stale
        # ``expected_version`` doesn't matter then either: there is no update to lose.
        _check_member(user, team)
        return existing, False
    return experiment_update(experiment=existing, **kwargs), False


def _upsert_changes_nothing(
    existing: Experiment,
    data: Mapping[str, Any],
    lessons: Sequence[LessonInput] | None,
    applied_lesson_ids: Iterable[int] | None,
) -> bool:
    """Whether applying ``data``, ``lessons`` and ``applied_lesson_ids`` to ``existing`` would
    leave every stored value as it is (compared after the same normalisation an update applies)."""
    candidate = copy.copy(existing)
    try:
        _apply_fields(candidate, data)
    except ValidationError:
        return False  # let the update report it
    fields = [field.attname for field in Experiment._meta.concrete_fields
              if field.attname not in {"version", "updated_at", "created_at"}]
    if any(getattr(candidate, name) != getattr(existing, name) for name in fields):
        return False
    if lessons is not None:
        try:
            items = [item for item in map(normalize_lesson_input, lessons) if item["text"]]
        except ValidationError:
            return False
        stored = list(existing.lessons.order_by("position", "id"))
        if len(items) != len(stored):
            return False
        for item, lesson in zip(items, stored, strict=True):
            if item["text"] != lesson.text:
                return False
            if item.get("id") is not None and str(item["id"]) != str(lesson.pk):
                return False
            if item.get("documented_at") and item["documented_at"] != lesson.documented_at:
                return False
    if applied_lesson_ids is not None:
        try:
            wanted = {int(pk) for pk in applied_lesson_ids}
        except (TypeError, ValueError):
            return False
        current = set(LessonApplication.objects.filter(experiment=existing).values_list("lesson_id", flat=True))
        if wanted != current:
            return False
    return True


@transaction.atomic
def experiment_delete(*, experiment: Experiment, user) -> None:
    """Delete an experiment (leads and staff only). Its lessons and their applications go with it."""
    if user is not None:
        require_lead(user, experiment.team_id)
    with recording() as changes:
        changes.moments(experiment.team_id, experiment.started_at, experiment.ended_at)
        changes.lesson(experiment.team_id, *experiment.lessons.values_list("documented_at", flat=True))
        applications = LessonApplication.objects.filter(Q(experiment=experiment) | Q(lesson__experiment=experiment))
        for lesson_team_id, applied_at, documented_at in applications.values_list(
                "lesson__team_id", "applied_at", "lesson__documented_at"):
            changes.application(lesson_team_id, applied_at, documented_at)
        experiment.delete()


def normalize_lesson_input(item: LessonInput) -> dict[str, Any]:
    """A lesson as the APIs accept it: a string, or ``{text, documented_at?, id?}``."""
    if isinstance(item, str):
        return {"text": item.strip()}
    if not isinstance(item, Mapping):
        raise ValidationError({"lessons": ["Each lesson is a text or an object with “text”."]})
    text = item.get("text")
    if not isinstance(text, str):
        raise ValidationError({"lessons": ["Each lesson needs a “text”."]})
    result: dict[str, Any] = {"text": text.strip()}
    if item.get("documented_at") is not None:
        documented_at = item["documented_at"]
        if isinstance(documented_at, str):
            raw, documented_at = documented_at, parse_moment(documented_at)
            if documented_at is None:
                raise ValidationError(
                    {"lessons": [f"“{raw}” is not a date (YYYY-MM-DD) or an ISO date and time."]})
        if isinstance(documented_at, dt.datetime) and timezone.is_naive(documented_at):
            documented_at = timezone.make_aware(documented_at)
        result["documented_at"] = documented_at
    if item.get("id") is not None:
        result["id"] = item["id"]
    return result


@transaction.atomic
def lessons_replace(
    *,
    team: Team,
    experiment: Experiment | None = None,
    postmortem=None,
    lessons: list[dict],
    user,
    changes: ChangeSet | None = None,
) -> list[Lesson]:
    """Make the lessons of one experiment *or* one post-mortem exactly ``lessons``, in order.

    Each item is a string or ``{text, documented_at?, id?}``. Existing lessons are kept (with
    their applications) when matched by ``id`` or, failing that, by identical text; their text,
    position and (when given) ``documented_at`` are updated. Lessons not in the list are deleted.
    Blank texts are skipped. ``user`` None skips the membership check (the caller checked).
    ``changes``: the caller's ChangeSet (which it emits), if any.
    """
    if (experiment is None) == (postmortem is None):
        raise ValidationError({"lessons": ["Lessons belong to exactly one experiment or one post-mortem."]})
    source_team_id = (experiment or postmortem).team_id
    if source_team_id != team.pk:
        raise ValidationError({"team": ["Lessons belong to the team of the record they were learned from."]})
    _check_member(user, team)
    if len(lessons) > Experiment.MAX_LESSONS:
        raise ValidationError({"lessons": [f"At most {Experiment.MAX_LESSONS} lessons."]})
    author = _person(user)
    items = [normalize_lesson_input(item) for item in lessons]
    items = [item for item in items if item["text"]]
    source_filter = {"experiment": experiment} if experiment is not None else {"postmortem": postmortem}
    existing = list(Lesson.objects.filter(**source_filter).order_by("position", "id"))
    by_id = {lesson.pk: lesson for lesson in existing}
    stored = {lesson.pk: (lesson.text, lesson.position, lesson.documented_at) for lesson in existing}
    unmatched = list(existing)
    now = timezone.now()
    documented: list[dt.datetime] = []
    result: list[Lesson] = []
    for position, item in enumerate(items):
        lesson = None
        if item.get("id") is not None:
            try:
                lesson = by_id.get(int(item["id"]))
            except (TypeError, ValueError):
                raise ValidationError({"lessons": [f"Unknown lesson id {item['id']!r}."]}) from None
            if lesson is None or lesson not in unmatched:
                raise ValidationError({"lessons": [f"Lesson {item['id']} is not one of this record's lessons."]})
        else:
            lesson = next((candidate for candidate in unmatched if candidate.text.strip() == item["text"]), None)
        if lesson is None:
            lesson = Lesson(team=team, documented_at=item.get("documented_at") or now, created_by=author,
                            **source_filter)
        else:
            unmatched.remove(lesson)
        lesson.text = item["text"]
        lesson.position = position
        if item.get("documented_at"):
            lesson.documented_at = item["documented_at"]
        lesson.full_clean()
        before = stored.get(lesson.pk)
        if before != (lesson.text, lesson.position, lesson.documented_at):
            lesson.save()
            if before is None or before[2] != lesson.documented_at:  # text and order count nowhere
                documented.append(lesson.documented_at)
                if before is not None:
                    documented.append(before[2])
        result.append(lesson)
    with recording(changes) as changes:
        for lesson in unmatched:
            documented.append(lesson.documented_at)
            lesson.delete()  # its applications go with it: they only counted inside its window
        changes.lesson(team.pk, *documented)
    return result


@transaction.atomic
def lesson_create(
    *,
    text: str,
    user,
    experiment: Experiment | None = None,
    postmortem=None,
    documented_at: dt.datetime | None = None,
) -> Lesson:
    """Add one lesson to an experiment or a post-mortem (after its current lessons)."""
    if (experiment is None) == (postmortem is None):
        raise ValidationError({"experiment": ["Give exactly one of experiment or post-mortem."]})
    source = experiment or postmortem
    _check_member(user, source.team_id)
    source_filter = {"experiment": experiment} if experiment is not None else {"postmortem": postmortem}
    position = Lesson.objects.filter(**source_filter).count()
    lesson = Lesson(team_id=source.team_id, text=(text or "").strip(), position=position,
                    documented_at=documented_at or timezone.now(), created_by=_person(user), **source_filter)
    lesson.full_clean()
    lesson.save()
    with recording() as changes:
        changes.lesson(lesson.team_id, lesson.documented_at)
    return lesson


@transaction.atomic
def lesson_update(*, lesson: Lesson, user, text: str | None = None,
                  documented_at: dt.datetime | None = None) -> Lesson:
    _check_member(user, lesson.team_id)
    before = Lesson.objects.filter(pk=lesson.pk).values_list("documented_at", flat=True).get()
    if text is not None:
        lesson.text = text.strip()
    if documented_at is not None:
        lesson.documented_at = documented_at
    lesson.full_clean()
    lesson.save()
    with recording() as changes:
        changes.lesson(lesson.team_id, before, lesson.documented_at)
    return lesson


@transaction.atomic
def lesson_delete(*, lesson: Lesson, user) -> None:
    if user is not None:
        require_lead(user, lesson.team_id)
    with recording() as changes:
        changes.lesson(lesson.team_id, lesson.documented_at)  # its applications only counted in there
        lesson.delete()


@transaction.atomic
def lesson_apply(
    *,
    lesson: Lesson,
    user,
    experiment: Experiment | None = None,
    postmortem=None,
    applied_at: dt.datetime | None = None,
    note: str = "",
    changes: ChangeSet | None = None,
) -> LessonApplication:
    """Record that ``lesson`` was used in an experiment or a post-mortem.

    Writing needs membership of the team where it was applied (any team may apply any team's
    lesson). When ``applied_at`` is not given it is now, or the lesson's ``documented_at``
    if that is later. Recording the same lesson twice in the same place is refused.
    """
    if (experiment is None) == (postmortem is None):
        raise ValidationError({"experiment": ["Give exactly one of experiment or post-mortem."]})
    place = experiment or postmortem
    _check_member(user, place.team_id)
    place_filter = {"experiment": experiment} if experiment is not None else {"postmortem": postmortem}
    if LessonApplication.objects.filter(lesson=lesson, **place_filter).exists():
        field = "experiment" if experiment is not None else "postmortem"
        raise ValidationError({field: ["This lesson is already recorded as applied there."]})
    application = LessonApplication(
        lesson=lesson, applied_at=applied_at or max(timezone.now(), lesson.documented_at), note=note or "",
        applied_by=_person(user), **place_filter,
    )
    application.full_clean()
    application.save()
    with recording(changes) as changes:
        changes.application(lesson.team_id, application.applied_at, lesson.documented_at)
    return application


@transaction.atomic
def lesson_application_update(*, application: LessonApplication, user, applied_at: dt.datetime | None = None,
                              note: str | None = None) -> LessonApplication:
    """Change when a lesson was applied, or the note. Writing needs membership of the team where
    it was applied; both the old and the new date's months are marked stale."""
    place = application.experiment or application.postmortem
    _check_member(user, place.team_id)
    before = LessonApplication.objects.filter(pk=application.pk).values_list("applied_at", flat=True).get()
    if applied_at is not None:
        application.applied_at = applied_at
    if note is not None:
        application.note = note
    application.full_clean()
    application.save()
    lesson = application.lesson
    with recording() as changes:
        changes.application(lesson.team_id, before, lesson.documented_at)
        changes.application(lesson.team_id, application.applied_at, lesson.documented_at)
    return application


@transaction.atomic
def lesson_application_delete(*, application: LessonApplication, user) -> None:
    """Withdraw the evidence that a lesson was applied (members of the team where it was)."""
    place = application.experiment or application.postmortem
    _check_member(user, place.team_id)
    lesson = application.lesson
    with recording() as changes:
        changes.application(lesson.team_id, application.applied_at, lesson.documented_at)
        application.delete()


@transaction.atomic
def experiment_set_applied_lessons(*, experiment: Experiment, lesson_ids: Iterable[int], user,
                                   changes: ChangeSet | None = None) -> None:
    """Make the lessons applied in ``experiment`` exactly ``lesson_ids``.

    New applications are dated when the experiment started (when the lesson shaped it), but
    never before the lesson was documented. Applications of lessons still listed are kept as
    they are (with their notes).
    """
    _check_member(user, experiment.team_id)
    with recording(changes) as changes:
        _set_applied_lessons(experiment, {int(pk) for pk in lesson_ids}, user, changes)


def _set_applied_lessons(experiment: Experiment, wanted: set[int], user, changes: ChangeSet) -> None:
    if len(wanted) > Experiment.MAX_APPLIED_LESSONS:
        raise ValidationError({"applied_lessons": [f"At most {Experiment.MAX_APPLIED_LESSONS} applied lessons."]})
    current = {app.lesson_id: app for app in LessonApplication.objects.filter(experiment=experiment)
               .select_related("lesson")}
    for lesson_id, application in current.items():
        if lesson_id not in wanted:
            changes.application(application.lesson.team_id, application.applied_at,
                                application.lesson.documented_at)
            application.delete()
    new_ids = wanted - set(current)
    lessons = {lesson.pk: lesson for lesson in Lesson.objects.filter(pk__in=new_ids)}
    missing = new_ids - set(lessons)
    if missing:
        raise ValidationError({"applied_lessons": [f"Unknown lessons: {', '.join(map(str, sorted(missing)))}."]})
    for lesson_id in sorted(new_ids):
        lesson = lessons[lesson_id]
        if lesson.experiment_id == experiment.pk:
            raise ValidationError({"applied_lessons": ["An experiment cannot apply its own lessons."]})
        applied_at = max(experiment.started_at, lesson.documented_at)
        application = LessonApplication(lesson=lesson, experiment=experiment, applied_at=applied_at,
                                        applied_by=_person(user))
        try:
            application.full_clean()
        except ValidationError as exc:
            raise ValidationError({"applied_lessons": exc.messages}) from exc
        application.save()
        changes.application(lesson.team_id, applied_at, lesson.documented_at)
