"""Writes for post-mortems and their action items and lessons.

Every write goes through here (pages, API, import, tasks), so the rules hold everywhere:

* a post-mortem is saved as one unit with its action items and lessons (all or nothing);
* edits are guarded by ``version`` (optimistic concurrency, see ``learninghub.kernel.concurrency``);
* publishing needs the timeline and at least one action item or lesson; drafts may be partial;
* action item owners must be members of the post-mortem's team;
* marking an action item done stamps ``completed_at`` and, when the item implements a lesson,
  records a LessonApplication (one per item: the OneToOne on ``action_item`` keeps it
  idempotent). Moving the item out of done clears ``completed_at`` and deletes the application
  it recorded: the evidence that the lesson was applied is withdrawn with the completion.
  Deleting an action item deletes the application it recorded, for the same reason;
* owners are emailed when an item is assigned to them (after commit, through Celery);
* every write records what it changed in one ChangeSet (``learninghub.kernel.events``), emitted
  once on commit: the team-months whose figures can change, and a recorded failure for repeat
  detection (unless ``detect_repeats=False``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from experiments.models import LessonApplication
from experiments.services import lessons_replace
from learninghub.kernel.choices import FailureMode, RepeatLinkSource
from learninghub.kernel.concurrency import claim_next_version
from learninghub.kernel.events import ChangeSet
from learninghub.kernel.headers import header_text
from learninghub.kernel.models import Membership, Team
from learninghub.kernel.outbox import enqueue_on_commit
from learninghub.kernel.policy import can_read, can_write, require_lead, require_write, user_or_none
from postmortems.markdown_io import ParsedPostMortem, parse_postmortem_markdown
from postmortems.models import ActionItem, ActionItemStatus, PostMortem, PostMortemStatus, Severity

logger = logging.getLogger(__name__)
User = get_user_model()

EDITABLE_FIELDS = (
    "title", "severity", "occurred_at", "detected_at", "resolved_at", "production_impact", "what_happened",
    "root_cause", "what_went_well", "failure_mode", "experiment", "repeat_of", "status", "restricted",
)
TIMELINE_FIELDS = ("occurred_at", "detected_at", "resolved_at")
MAX_ROWS = 50


# --- Validation (shared with the forms and the API serializers) -----------------------------


def team_member_ids(team: Team) -> set[int]:
    return set(Membership.objects.filter(team=team).values_list("user_id", flat=True))


def timeline_errors(*, occurred_at: dt.datetime | None, detected_at: dt.datetime | None,
                    resolved_at: dt.datetime | None) -> dict[str, list[str]]:
    """Occurred → detected → resolved must run forwards."""
    errors: dict[str, list[str]] = {}
    if occurred_at and detected_at and detected_at < occurred_at:
        errors["detected_at"] = ["It cannot have been detected before it occurred."]
    if detected_at and resolved_at and resolved_at < detected_at:
        errors["resolved_at"] = ["It cannot have been resolved before it was detected."]
    elif occurred_at and resolved_at and not detected_at and resolved_at < occurred_at:
        errors["resolved_at"] = ["It cannot have been resolved before it occurred."]
    return errors


def action_item_row_errors(*, team: Team, rows: list[dict], existing_ids: set[int] | None = None,
                           member_ids: set[int] | None = None) -> list[dict[str, list[str]]]:
    """Errors per action item row (an empty dict for a good row), in the rows' order."""
    member_ids = team_member_ids(team) if member_ids is None else member_ids
    existing_ids = existing_ids or set()
    seen_ids: set[int] = set()
    result = []
    for row in rows:
        errors: dict[str, list[str]] = {}
        if not (row.get("description") or "").strip():
            errors["description"] = ["Describe what needs doing."]
        owner = row.get("owner")
        if owner is not None and owner.pk not in member_ids:
            errors["owner"] = [f"“{owner.get_username()}” is not a member of {team.name}."]
        status = row.get("status")
        if status and status not in ActionItemStatus.values:
            errors["status"] = [f"“{status}” is not a valid status."]
        if row.get("completed_at") and (status or "") != ActionItemStatus.DONE:
            errors["completed_at"] = ["Only a done action item has a completion time."]
        lesson = row.get("lesson")
        if lesson is not None and lesson.team_id != team.pk:
            errors["lesson"] = ["Pick a lesson of this post-mortem's team."]
        item_id = row.get("id")
        if item_id is not None:
            if item_id not in existing_ids:
                errors["id"] = ["This action item does not belong to this post-mortem."]
            elif item_id in seen_ids:
                errors["id"] = ["This action item appears twice."]
            seen_ids.add(item_id)
        result.append(errors)
    return result


def lesson_row_errors(*, rows: list[dict], existing_ids: set[int] | None = None) -> list[dict[str, list[str]]]:
    existing_ids = existing_ids or set()
    result = []
    for row in rows:
        errors: dict[str, list[str]] = {}
        if not (row.get("text") or "").strip():
            errors["text"] = ["Write the lesson."]
        if row.get("id") is not None and row["id"] not in existing_ids:
            errors["id"] = ["This lesson does not belong to this post-mortem."]
        result.append(errors)
    return result


def _flatten_row_errors(label: str, rows: list[dict[str, list[str]]]) -> list[str]:
    return [f"{label} {number}: {name.replace('_', ' ')}: {message}"
            for number, errors in enumerate(rows, start=1) for name, messages in errors.items()
            for message in messages]


def _creates_repeat_cycle(postmortem: PostMortem | None, repeat_of: PostMortem) -> bool:
    if postmortem is None or postmortem.pk is None:
        return False
    current, steps = repeat_of, 0
    while current is not None and steps < 100:
        if current.pk == postmortem.pk:
            return True
        current, steps = current.repeat_of, steps + 1
    return False


def _validate(*, team: Team, user, values: dict, postmortem: PostMortem | None, item_rows: list[dict] | None,
              lesson_rows: list[dict] | None, item_count: int, lesson_count: int) -> None:
    errors: dict[str, list[str]] = defaultdict(list)
    title = (values.get("title") or "").strip()
    if not title:
        errors["title"].append("Give the post-mortem a title.")
    elif len(title) > 200:
        errors["title"].append("Keep the title under 200 characters.")
    if values.get("severity") not in Severity.values:
        errors["severity"].append(f"“{values.get('severity')}” is not a valid severity (sev1 to sev4).")
    if values.get("status") not in PostMortemStatus.values:
        errors["status"].append(f"“{values.get('status')}” is not a valid status.")
    if values.get("failure_mode") and values["failure_mode"] not in FailureMode.values:
        errors["failure_mode"].append(f"“{values['failure_mode']}” is not a valid failure mode.")
    for name, messages in timeline_errors(occurred_at=values.get("occurred_at"),
                                          detected_at=values.get("detected_at"),
                                          resolved_at=values.get("resolved_at")).items():
        errors[name].extend(messages)
    repeat_of = values.get("repeat_of")
    repeat_changed = postmortem is None or (repeat_of.pk if repeat_of else None) != postmortem.repeat_of_id
    if repeat_of is not None and repeat_changed:
        if postmortem is not None and repeat_of.pk == postmortem.pk:
            errors["repeat_of"].append("A post-mortem cannot repeat itself.")
        elif not can_read(user, repeat_of):
            errors["repeat_of"].append("Unknown post-mortem.")
        elif _creates_repeat_cycle(postmortem, repeat_of):
            errors["repeat_of"].append("That post-mortem already repeats this one.")
    if values.get("status") == PostMortemStatus.PUBLISHED:
        for name in TIMELINE_FIELDS:
            if not values.get(name) and name not in errors:
                errors[name].append("Needed to publish: when it occurred, was detected and was resolved.")
        if item_count + lesson_count == 0:
            errors["status"].append("Publishing needs at least one action item or lesson.")
    if item_rows is not None:
        existing = set(postmortem.action_items.values_list("pk", flat=True)) if postmortem else set()
        flat = _flatten_row_errors("Action item", action_item_row_errors(team=team, rows=item_rows,
                                                                         existing_ids=existing))
        if flat:
            errors["action_items"].extend(flat)
        if len(item_rows) > MAX_ROWS:
            errors["action_items"].append(f"At most {MAX_ROWS} action items.")
    if lesson_rows is not None:
        existing = set(postmortem.lessons.values_list("pk", flat=True)) if postmortem else set()
        flat = _flatten_row_errors("Lesson", lesson_row_errors(rows=lesson_rows, existing_ids=existing))
        if flat:
            errors["lessons"].extend(flat)
        if len(lesson_rows) > MAX_ROWS:
            errors["lessons"].append(f"At most {MAX_ROWS} lessons.")
    if errors:
        raise ValidationError(dict(errors))


def _person(user):
    """The person for ``created_by``/``authors``: None for the system."""
    return user_or_none(user)


def _record_failure(changes: ChangeSet, postmortem: PostMortem, detect_repeats: bool) -> None:
    """A post-mortem with a story and no known earlier failure goes to repeat detection."""
    if detect_repeats and postmortem.repeat_of_id is None and (postmortem.what_happened or postmortem.root_cause):
        changes.failure("postmortem", postmortem.pk, postmortem.team_id)


# --- Action items ---------------------------------------------------------------------------


def _apply_status(item: ActionItem, *, old_status: str | None, new_status: str,
                  completed_at: dt.datetime | None, now: dt.datetime) -> None:
    item.status = new_status
    if new_status == ActionItemStatus.DONE:
        if completed_at is not None:
            item.completed_at = completed_at
        elif old_status != ActionItemStatus.DONE or item.completed_at is None:
            item.completed_at = now
    else:
        item.completed_at = None


def _application_changed(changes: ChangeSet, application: LessonApplication) -> None:
    changes.application(application.lesson.team_id, application.applied_at, application.lesson.documented_at)


def _sync_lesson_application(item: ActionItem, user, changes: ChangeSet) -> None:
    """Make the LessonApplication recorded by ``item`` match its state (idempotent)."""
    application = LessonApplication.objects.filter(action_item=item).select_related("lesson").first()
    wanted = item.status == ActionItemStatus.DONE and item.lesson_id is not None
    if not wanted:
        if application is not None:
            _application_changed(changes, application)
            application.delete()
        return
    lesson = item.lesson
    if application is None:
        application, created = LessonApplication.objects.get_or_create(
            action_item=item,
            defaults={"lesson": lesson, "postmortem_id": item.postmortem_id, "applied_at": item.completed_at,
                      "applied_by": _person(user),
                      "note": f"Action item done: {item.description[:200]}"},
        )
        if created:
            _application_changed(changes, application)
            return
    if application.lesson_id != lesson.pk or application.applied_at != item.completed_at:
        _application_changed(changes, application)
        application.lesson = lesson
        application.postmortem_id = item.postmortem_id
        application.applied_at = item.completed_at
        application.save(update_fields=["lesson", "postmortem", "applied_at", "updated_at"])
        _application_changed(changes, application)


def _sync_action_items(postmortem: PostMortem, rows: list[dict], user, changes: ChangeSet,
                       now: dt.datetime, notify_owners: bool = True) -> None:
    existing = {item.pk: item for item in postmortem.action_items.all()}
    kept: set[int] = set()
    for position, row in enumerate(rows):
        item = existing.get(row["id"]) if row.get("id") is not None else None
        if item is None:
            item = ActionItem(postmortem=postmortem)
            old_owner_id, old_status, old_due, old_completed = None, None, None, None
        else:
            kept.add(item.pk)
            old_owner_id, old_status, old_due, old_completed = item.owner_id, item.status, item.due_date, \
                item.completed_at
        item.description = row["description"].strip()
        item.owner = row.get("owner")
        item.due_date = row.get("due_date")
        if "lesson" in row:
            item.lesson = row["lesson"]
        item.position = position
        new_status = row.get("status") or old_status or ActionItemStatus.OPEN
        _apply_status(item, old_status=old_status, new_status=new_status, completed_at=row.get("completed_at"),
                      now=now)
        item.save()
        changes.moments(postmortem.team_id, old_due, item.due_date, old_completed, item.completed_at)
        _sync_lesson_application(item, user, changes)
        if notify_owners and item.owner_id and item.owner_id != old_owner_id:
            _notify_assigned_after_commit(item.pk, item.owner_id)
    for item_id, item in existing.items():
        if item_id not in kept:
            _delete_action_item(item, changes)


def _delete_action_item(item: ActionItem, changes: ChangeSet) -> None:
    for application in LessonApplication.objects.filter(action_item=item).select_related("lesson"):
        _application_changed(changes, application)
        application.delete()
    changes.moments(item.postmortem.team_id, item.due_date, item.completed_at)
    item.delete()


@transaction.atomic
def action_item_set_status(*, item: ActionItem, status: str, user) -> ActionItem:
    """Move an action item to ``status``; its owner and the team's members may.

    Side effects: ``completed_at`` stamped or cleared, the lesson application recorded or
    withdrawn, the metrics engine notified.
    """
    if status not in ActionItemStatus.values:
        raise ValidationError({"status": [f"“{status}” is not a valid status."]})
    locked = ActionItem.objects.select_for_update(of=("self",)).select_related("postmortem", "lesson").get(pk=item.pk)
    if not (user.is_authenticated and (locked.owner_id == user.pk or can_write(user, locked.postmortem.team_id))):
        raise PermissionDenied("Only the owner and the team's members can change this action item.")
    changes = ChangeSet()
    if locked.status != status:
        old_completed = locked.completed_at
        _apply_status(locked, old_status=locked.status, new_status=status, completed_at=None, now=timezone.now())
        locked.save(update_fields=["status", "completed_at", "updated_at"])
        changes.moments(locked.postmortem.team_id, locked.due_date, old_completed, locked.completed_at)
    _sync_lesson_application(locked, user, changes)
    changes.emit()
    return locked


# --- Post-mortems ---------------------------------------------------------------------------


def _defaults() -> dict[str, Any]:
    return {"severity": Severity.SEV3, "status": PostMortemStatus.DRAFT, "production_impact": False,
            "what_happened": "", "root_cause": "", "what_went_well": "", "failure_mode": "", "experiment": None,
            "repeat_of": None, "restricted": False, "occurred_at": None, "detected_at": None, "resolved_at": None,
            "title": ""}


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be set."] for name in sorted(unknown)})
    cleaned = dict(fields)
    for name in ("what_happened", "root_cause", "what_went_well", "failure_mode"):
        if name in cleaned and cleaned[name] is None:
            cleaned[name] = ""
    if "title" in cleaned and cleaned["title"] is not None:
        cleaned["title"] = cleaned["title"].strip()
    return cleaned


@transaction.atomic
def postmortem_create(*, team: Team, user, fields: dict[str, Any], action_items: list[dict] | None = None,
                      lessons: list[dict] | None = None, detect_repeats: bool = True,
                      notify_owners: bool = True) -> PostMortem:
    """Create a post-mortem with its action items and lessons, as one unit.

    Side effects: assignment emails to owners (after commit; ``notify_owners=False`` for history
    and demo data), metrics notified, repeat detection enqueued on commit
    (``detect_repeats=False``: imports of history are not auto-linked).
    """
    require_write(user, team)
    action_items = list(action_items or [])
    lessons = list(lessons or [])
    values = {**_defaults(), **_clean_fields(fields)}
    _validate(team=team, user=user, values=values, postmortem=None, item_rows=action_items, lesson_rows=lessons,
              item_count=len(action_items), lesson_count=len(lessons))
    if values.get("repeat_of") is not None:
        values["repeat_link_source"] = RepeatLinkSource.MANUAL
    postmortem = PostMortem.objects.create(team=team, created_by=_person(user), **values)
    if _person(user) is not None:
        postmortem.authors.add(user)
    changes = ChangeSet()
    changes.moments(team.pk, postmortem.occurred_at, postmortem.resolved_at)
    now = timezone.now()
    _sync_action_items(postmortem, action_items, user, changes, now, notify_owners)
    lessons_replace(team=team, postmortem=postmortem, lessons=lessons, user=user, changes=changes)
    _record_failure(changes, postmortem, detect_repeats)
    changes.emit()
    return postmortem


@transaction.atomic
def postmortem_update(*, postmortem: PostMortem, user, fields: dict[str, Any],
                      action_items: list[dict] | None = None, lessons: list[dict] | None = None,
                      expected_version: int | None = None, detect_repeats: bool = True,
                      notify_owners: bool = True) -> PostMortem:
    """Update a post-mortem; ``action_items``/``lessons`` (when given) replace the current rows,
    rows with an ``id`` being updated in place. ``expected_version`` is the version the edit was
    based on: a stale one raises StaleVersionError and nothing changes.

    Side effects: the version bumped, assignment emails for new owners (after commit), lesson
    applications recorded or withdrawn, metrics notified.
    """
    require_write(user, postmortem.team_id)
    fields = dict(fields)
    new_team = fields.pop("team", None)
    if new_team is not None and new_team.pk != postmortem.team_id:
        raise ValidationError({"team": ["A post-mortem cannot move to another team."]})
    fields = _clean_fields(fields)
    claim_next_version(postmortem, expected_version)
    values = {name: getattr(postmortem, name) for name in EDITABLE_FIELDS} | fields
    item_count = len(action_items) if action_items is not None else postmortem.action_items.count()
    lesson_count = len(lessons) if lessons is not None else postmortem.lessons.count()
    _validate(team=postmortem.team, user=user, values=values, postmortem=postmortem, item_rows=action_items,
              lesson_rows=lessons, item_count=item_count, lesson_count=lesson_count)
    changes = ChangeSet()
    changes.moments(postmortem.team_id, postmortem.occurred_at, postmortem.resolved_at)
    old_repeat_id = postmortem.repeat_of_id
    for name, value in fields.items():
        setattr(postmortem, name, value)
    if postmortem.repeat_of_id != old_repeat_id:
        postmortem.repeat_link_source = RepeatLinkSource.MANUAL if postmortem.repeat_of_id else RepeatLinkSource.NONE
    postmortem.save()
    if _person(user) is not None:
        postmortem.authors.add(user)
    changes.moments(postmortem.team_id, postmortem.occurred_at, postmortem.resolved_at)
    now = timezone.now()
    if action_items is not None:
        _sync_action_items(postmortem, list(action_items), user, changes, now, notify_owners)
    if lessons is not None:
        lessons_replace(team=postmortem.team, postmortem=postmortem, lessons=list(lessons), user=user,
                        changes=changes)
    _record_failure(changes, postmortem, detect_repeats)
    changes.emit()
    return postmortem


@transaction.atomic
def postmortem_set_repeat_of(*, postmortem_id: int, repeat_of_id: int | None, source: str, user) -> PostMortem:
    """Link (or unlink, with None) the earlier post-mortem this one repeats, as decided by repeat
    detection or a lead (``source``: a ``RepeatLinkSource``). Bumps the version so an open edit
    form notices, and marks the month it occurred in stale."""
    postmortem = PostMortem.objects.select_for_update().get(pk=postmortem_id)
    require_write(user, postmortem.team_id)
    if repeat_of_id is not None and repeat_of_id == postmortem.pk:
        raise ValidationError({"repeat_of": ["A post-mortem cannot repeat itself."]})
    claim_next_version(postmortem, None)
    postmortem.repeat_of_id = repeat_of_id
    postmortem.repeat_link_source = source if repeat_of_id is not None else RepeatLinkSource.NONE
    postmortem.save(update_fields=["repeat_of", "repeat_link_source", "version", "updated_at"])
    ChangeSet().moments(postmortem.team_id, postmortem.occurred_at).emit()
    return postmortem


@transaction.atomic
def postmortem_delete(*, postmortem: PostMortem, user) -> None:
    """Delete a post-mortem with its action items, lessons and the applications they recorded
    (leads and staff only). Side effect: metrics notified for every affected month."""
    require_lead(user, postmortem.team_id)
    changes = ChangeSet()
    changes.moments(postmortem.team_id, postmortem.occurred_at, postmortem.resolved_at)
    for due_date, completed_at in postmortem.action_items.values_list("due_date", "completed_at"):
        changes.moments(postmortem.team_id, due_date, completed_at)
    changes.lesson(postmortem.team_id, *postmortem.lessons.values_list("documented_at", flat=True))
    applications = LessonApplication.objects.filter(
        Q(postmortem=postmortem) | Q(lesson__postmortem=postmortem) | Q(action_item__postmortem=postmortem)
    ).values_list("lesson__team_id", "applied_at", "lesson__documented_at")
    for team_id, applied_at, documented_at in applications:
        changes.application(team_id, applied_at, documented_at)
    LessonApplication.objects.filter(action_item__postmortem=postmortem).delete()
    postmortem.delete()
    changes.emit()


# --- Markdown import ------------------------------------------------------------------------


@dataclass
class ImportedInputs:
    """A parsed template turned into service inputs, with every problem as a warning."""

    fields: dict[str, Any]
    action_items: list[dict]
    lessons: list[dict]
    warnings: list[str]
    parsed: ParsedPostMortem


def postmortem_inputs_from_markdown(*, markdown: str, team: Team) -> ImportedInputs:
    """Read the template and resolve owners against ``team`` (unknown owners are reported and
    the item left unassigned, rather than failing the whole import)."""
    parsed = parse_postmortem_markdown(markdown)
    warnings = list(parsed.warnings)
    if parsed.team_slug and parsed.team_slug != team.slug:
        warnings.append(f"The Markdown names team “{parsed.team_slug}”; it was imported into {team.name}.")
    fields: dict[str, Any] = {"title": parsed.title}
    for name in ("severity", "status", "failure_mode"):
        if getattr(parsed, name):
            fields[name] = getattr(parsed, name)
    for name in ("production_impact", "restricted"):
        if getattr(parsed, name) is not None:
            fields[name] = getattr(parsed, name)
    for name in (*TIMELINE_FIELDS, "what_happened", "root_cause", "what_went_well"):
        if getattr(parsed, name):
            fields[name] = getattr(parsed, name)
    members: dict[str, Any] = {}
    if any(item.owner_username for item in parsed.action_items):
        # Owners are matched case-insensitively against the team's members (a team is small).
        members = {user.get_username().lower(): user for user in User.objects.filter(memberships__team=team)}
    items = []
    for number, parsed_item in enumerate(parsed.action_items, start=1):
        owner = None
        if parsed_item.owner_username:
            owner = members.get(parsed_item.owner_username.lower())
            if owner is None:
                warnings.append(f"Action item {number}: “{parsed_item.owner_username}” is not a member of "
                                f"{team.name}; the item was left unassigned.")
        items.append({"description": parsed_item.description, "owner": owner, "due_date": parsed_item.due_date,
                      "status": parsed_item.status or ActionItemStatus.OPEN})
    lessons = [{"text": text} for text in parsed.lessons]
    return ImportedInputs(fields=fields, action_items=items, lessons=lessons, warnings=warnings, parsed=parsed)


@transaction.atomic
def postmortem_import_markdown(*, team: Team, user, markdown: str, overrides: dict[str, Any] | None = None,
                               detect_repeats: bool = True) -> tuple[PostMortem, list[str]]:
    """Create a post-mortem (a draft unless the Markdown or ``overrides`` say otherwise) from
    the template, with its action items and lessons. Returns it with the import warnings.
    ``detect_repeats=False``: importing history, not compared with earlier failures."""
    inputs = postmortem_inputs_from_markdown(markdown=markdown, team=team)
    fields = inputs.fields | {name: value for name, value in (overrides or {}).items() if value is not None}
    fields.setdefault("status", PostMortemStatus.DRAFT)
    postmortem = postmortem_create(team=team, user=user, fields=fields, action_items=inputs.action_items,
                                   lessons=inputs.lessons, detect_repeats=detect_repeats)
    return postmortem, inputs.warnings


# --- Emails ---------------------------------------------------------------------------------


def _absolute(url: str) -> str:
    return f"{settings.SITE_URL}{url}"


def _notify_assigned_after_commit(item_id: int, owner_id: int) -> None:
    """Email the owner once the write commits. Recorded in the outbox with the write, so a broker
    outage delays the email instead of losing it (or slowing the request); a failure in the
    after-commit hook is logged, never raised into the saved request."""
    enqueue_on_commit("postmortems.tasks.notify_action_item_assigned", item_id, owner_id)


def action_item_assignment_email_send(*, item_id: int, owner_id: int) -> bool:
    """Tell ``owner_id`` that action item ``item_id`` is theirs. Skipped (False) when the item
    is gone, was reassigned since, or the owner has no email address."""
    item = (ActionItem.objects.select_related("postmortem__team", "owner")
            .filter(pk=item_id, owner_id=owner_id).first())
    if item is None or not item.owner.email or not item.owner.is_active:
        return False
    postmortem = item.postmortem
    due = f"Due: {item.due_date:%Y-%m-%d}\n" if item.due_date else "No due date yet.\n"
    body = (
        f"Hello {item.owner.get_short_name() or item.owner.get_username()},\n\n"
        f"An action item from the post-mortem “{postmortem.title}” ({postmortem.team.name}) is assigned to you:\n\n"
        f"  {item.description}\n\n{due}\n"
        f"Post-mortem: {_absolute(item.get_absolute_url())}\n"
        f"All your action items: {_absolute(reverse('postmortems:my-action-items'))}\n"
    )
    send_mail(subject=header_text(f"[LearningHub] Action item assigned: {header_text(item.description, 60)}"),
              message=body,
              from_email=None, recipient_list=[item.owner.email])
    return True


def overdue_reminders_send(*, today: dt.date | None = None) -> int:
    """Email each owner of overdue action items one reminder listing them, at most once a day.

    Each item is claimed with a conditional UPDATE on ``last_reminded_on`` inside the owner's
    transaction, and the email is sent before that transaction commits: a second (retried or
    concurrent) run finds nothing left to claim, and a failed send rolls the claims back so a
    retry sends it. Returns the number of emails sent.
    """
    today = today or timezone.localdate()
    not_reminded_today = Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lt=today)
    owner_ids = (ActionItem.objects.overdue(today).filter(not_reminded_today, owner__isnull=False,
                                                           owner__is_active=True)
                 .exclude(owner__email="").order_by().values_list("owner_id", flat=True).distinct())
    sent = 0
    for owner in User.objects.filter(pk__in=list(owner_ids)).order_by("pk"):
        with transaction.atomic():
            candidates = list(ActionItem.objects.visible_to(owner).overdue(today)
                              .filter(not_reminded_today, owner=owner)
                              .select_related("postmortem__team").order_by("due_date", "pk"))
            claimed = [item for item in candidates
                       if ActionItem.objects.filter(not_reminded_today, pk=item.pk).update(last_reminded_on=today)]
            if not claimed:
                continue
            lines = [f"- {item.description} (due {item.due_date:%Y-%m-%d}, {(today - item.due_date).days} days "
                     f"overdue) — {item.postmortem.title}, {item.postmortem.team.name}: "
                     f"{_absolute(item.get_absolute_url())}" for item in claimed]
            body = (f"Hello {owner.get_short_name() or owner.get_username()},\n\n"
                    f"These action items assigned to you are overdue:\n\n" + "\n".join(lines)
                    + f"\n\nUpdate them here: {_absolute(reverse('postmortems:my-action-items'))}\n")
            noun = "item is" if len(claimed) == 1 else "items are"
            send_mail(subject=f"[LearningHub] {len(claimed)} action {noun} overdue", message=body,
                      from_email=None, recipient_list=[owner.email])
            sent += 1
    return sent
