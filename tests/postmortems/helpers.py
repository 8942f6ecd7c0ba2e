"""Builders for post-mortem form posts and API payloads used across the post-mortem tests."""

from __future__ import annotations

from django.utils import timezone

THE_TEMPLATE = """## Post-Mortem: <title>
### What Happened      (bullets)
### Root Cause         (bullets)
### What Went Well     (bullets)
### Action Items       (numbered: each becomes an ActionItem)
### Lessons for Team   (bullets: each becomes a Lesson)
"""

FEATURE_PIPELINE_MARKDOWN = """## Post-Mortem: Feature engineering pipeline failure
### What Happened
- A schema change upstream nulled a feature column
- 3 days of GPU time lost, the launch slipped a week
### Root Cause
- No validation between the pipeline and training
- No data contract with the upstream team
### What Went Well
- Detected within 4 hours
- Rollback worked
### Action Items
1. Add data validation checks to the pipeline
2. Agree a data contract with upstream
3. Alert on feature drift before training
4. Document the rollback runbook
### Lessons for Team
- Validate data at every boundary
- Schema changes need a contract
- Cheap checks before expensive GPU jobs
"""


def form_data(*, team=None, title: str = "Model serving outage", status: str = "draft", items=(), lessons=(),
              version: int | None = None, initial_items: int = 0, initial_lessons: int = 0, **fields) -> dict:
    """POST data for the post-mortem form. ``items`` are dicts (description, owner (a user), due_date,
    status, lesson, id, DELETE); ``lessons`` are strings or dicts (text, id, DELETE)."""
    data = {
        "title": title, "severity": "sev2", "status": status, "occurred_at": "2026-03-02T10:00",
        "detected_at": "2026-03-02T13:30", "resolved_at": "2026-03-03T09:00", "failure_mode": "data_quality",
        "what_happened": "- The pipeline fed nulls to training", "root_cause": "- No validation",
        "what_went_well": "- Rollback worked",
    }
    if team is not None:
        data["team"] = str(team.pk)
    if version is not None:
        data["version"] = str(version)
    data.update(fields)
    data.update(_management("items", len(items), initial_items))
    for index, item in enumerate(items):
        owner = item.get("owner")
        data.update({
            f"items-{index}-id": str(item.get("id") or ""),
            f"items-{index}-description": item.get("description", ""),
            f"items-{index}-owner": str(owner.pk) if owner is not None else "",
            f"items-{index}-due_date": item.get("due_date", ""),
            f"items-{index}-status": item.get("status", "open"),
            f"items-{index}-lesson": str(item["lesson"].pk) if item.get("lesson") else "",
        })
        if item.get("DELETE"):
            data[f"items-{index}-DELETE"] = "on"
    data.update(_management("lessons", len(lessons), initial_lessons))
    for index, lesson in enumerate(lessons):
        lesson = {"text": lesson} if isinstance(lesson, str) else lesson
        data[f"lessons-{index}-id"] = str(lesson.get("id") or "")
        data[f"lessons-{index}-text"] = lesson.get("text", "")
        if lesson.get("DELETE"):
            data[f"lessons-{index}-DELETE"] = "on"
    return {key: value for key, value in data.items() if value is not None}


def _management(prefix: str, total: int, initial: int) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "50"}


def api_payload(*, team, title: str = "Model serving outage", status: str = "published", action_items=None,
                lessons=None, **fields) -> dict:
    today = timezone.localdate()
    payload = {
        "team": team.slug, "title": title, "severity": "sev2", "status": status,
        "occurred_at": "2026-03-02T10:00:00Z", "detected_at": "2026-03-02T13:30:00Z",
        "resolved_at": "2026-03-03T09:00:00Z", "production_impact": True, "failure_mode": "data_quality",
        "what_happened": "- The pipeline fed nulls to training", "root_cause": "- No validation",
        "what_went_well": "- Rollback worked",
        "action_items": action_items if action_items is not None else [
            {"description": "Add validation", "owner": None, "due_date": str(today)}],
        "lessons": lessons if lessons is not None else ["Validate at every boundary"],
    }
    payload.update(fields)
    return payload
