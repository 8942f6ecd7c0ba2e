"""The Markdown template teams already use, read and written.

::

    ## Post-Mortem: <title>
    ### What Happened      (bullets)
    ### Root Cause         (bullets)
    ### What Went Well     (bullets)
    ### Action Items       (numbered: each becomes an ActionItem)
    ### Lessons for Team   (bullets: each becomes a Lesson)

Export adds a metadata list under the title (``- **Severity:** sev2``, the timeline, the team)
and ``(owner: bob, due: 2026-03-20, status: done)`` after each action item; import understands
both, and the bare template works without them. Nothing typed is dropped on import: sections
the template does not know, and stray text, are appended to What Happened under their own
heading, and each such case is reported as a warning. This module is pure (no database): owners
are returned as usernames for the caller to resolve.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.dateparse import parse_date

from learninghub.kernel.choices import FailureMode
from learninghub.kernel.dates import parse_moment
from postmortems.models import ActionItemStatus, PostMortem, PostMortemStatus, Severity

SECTION_TITLES = {
    "what_happened": "What Happened",
    "root_cause": "Root Cause",
    "what_went_well": "What Went Well",
    "action_items": "Action Items",
    "lessons": "Lessons for Team",
}
SECTION_ALIASES = {
    "what happened": "what_happened",
    "root cause": "root_cause",
    "root causes": "root_cause",
    "what went well": "what_went_well",
    "action items": "action_items",
    "actions": "action_items",
    "lessons for team": "lessons",
    "lessons for the team": "lessons",
    "lessons": "lessons",
    "lessons learned": "lessons",
}
METADATA_KEYS = {
    "team": "team",
    "severity": "severity",
    "status": "status",
    "failure mode": "failure_mode",
    "production impact": "production_impact",
    "restricted": "restricted",
    "occurred": "occurred_at",
    "occurred at": "occurred_at",
    "detected": "detected_at",
    "detected at": "detected_at",
    "resolved": "resolved_at",
    "resolved at": "resolved_at",
}

TITLE_RE = re.compile(r"^\s{0,3}#{1,3}\s*post[\s-]?mortem\s*[:\-–—]\s*(?P<title>.*?)\s*#*\s*$", re.IGNORECASE)
ANY_TOP_HEADING_RE = re.compile(r"^\s{0,3}#{1,2}\s+(?P<title>.+?)\s*#*\s*$")
SECTION_RE = re.compile(r"^\s{0,3}#{2,3}\s+(?P<name>.+?)\s*#*\s*$")
METADATA_RE = re.compile(r"^\s*(?:[-*+]\s+)?\*\*(?P<key>[^*:]+?)\s*:?\s*\*\*\s*:?\s*(?P<value>.*?)\s*$")
LIST_ITEM_RE = re.compile(r"^\s{0,3}(?:\d{1,3}[.)]|[-*+])\s+(?P<text>.*)$")
CHECKBOX_RE = re.compile(r"^\[(?P<mark>[ xX])\]\s+(?P<text>.*)$")
ITEM_META_RE = re.compile(r"\s*\((?P<meta>[^()]*)\)\s*$")
ANNOTATION_RE = re.compile(r"\s*\([^()]*\)\s*$")
TRUE_WORDS = {"yes", "true", "1", "y"}
FALSE_WORDS = {"no", "false", "0", "n"}


@dataclass
class ParsedActionItem:
    description: str
    owner_username: str = ""
    due_date: dt.date | None = None
    status: str = ""


@dataclass
class ParsedPostMortem:
    title: str = ""
    team_slug: str = ""
    severity: str = ""
    status: str = ""
    failure_mode: str = ""
    production_impact: bool | None = None
    restricted: bool | None = None
    occurred_at: dt.datetime | None = None
    detected_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    what_happened: str = ""
    root_cause: str = ""
    what_went_well: str = ""
    action_items: list[ParsedActionItem] = field(default_factory=list)
    lessons: list[str] = field(default_factory=list)
    unknown_sections: list[str] = field(default_factory=list)
    missing_sections: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- Reading --------------------------------------------------------------------------------


def _strip_blank_edges(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    return text.strip("\n").rstrip()


def parse_severity(value: str) -> str:
    """``sev2``, ``SEV2``, ``SEV2 (major)``, ``2`` → ``sev2``; "" when unreadable."""
    match = re.search(r"(?:sev\s*)?([1-4])\b", value.strip().lower())
    candidate = f"sev{match.group(1)}" if match else ""
    return candidate if candidate in Severity.values else ""


def _parse_choice(value: str, choices) -> str:
    lowered = value.strip().lower()
    for choice_value, label in choices:
        if lowered in {choice_value.lower(), str(label).lower(), choice_value.replace("_", " ").lower()}:
            return choice_value
    return ""


def _parse_bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    return None


def _split_list(lines: list[str]) -> tuple[list[str], list[str]]:
    """Items of a Markdown list (numbered or bulleted, continuation lines kept) and the text
    outside any item. A section with text but no list markers gives one item per paragraph."""
    items: list[list[str]] = []
    stray: list[str] = []
    current: list[str] | None = None
    has_markers = any(LIST_ITEM_RE.match(line) for line in lines)
    if not has_markers:
        paragraph: list[str] = []
        for line in [*lines, ""]:
            if line.strip():
                paragraph.append(line.strip())
            elif paragraph:
                items.append(paragraph)
                paragraph = []
        return ["\n".join(item) for item in items], []
    for line in lines:
        match = LIST_ITEM_RE.match(line)
        if match:
            current = [match.group("text").strip()]
            items.append(current)
        elif not line.strip():
            continue
        elif current is not None:
            current.append(line.strip())  # an indented or lazy continuation line
        else:
            stray.append(line)
    return ["\n".join(part for part in item if part) for item in items if any(item)], stray


def _parse_action_item(text: str, number: int, warnings: list[str]) -> ParsedActionItem:
    item = ParsedActionItem(description=text)
    checkbox = CHECKBOX_RE.match(text)
    if checkbox:
        text = checkbox.group("text")
        item.description = text
        if checkbox.group("mark").lower() == "x":
            item.status = ActionItemStatus.DONE
    meta = ITEM_META_RE.search(text)
    if not meta:
        return item
    pairs = [part.strip() for part in re.split(r"[,;]", meta.group("meta")) if part.strip()]
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        key = key.strip().lower()
        if not sep or key not in {"owner", "due", "status"}:
            return item  # an ordinary parenthesis in the description: keep it as text
        parsed[key] = value.strip()
    due_date = None
    if parsed.get("due"):
        try:
            due_date = parse_date(parsed["due"]) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", parsed["due"]) else None
        except ValueError:  # a well-formed but impossible day, e.g. 2026-13-45
            due_date = None
        if due_date is None:
            warnings.append(f"Action item {number}: could not read the due date “{parsed['due']}” "
                            "(use YYYY-MM-DD); it was left in the description.")
            return item
    status = ""
    if parsed.get("status"):
        status = _parse_choice(parsed["status"], ActionItemStatus.choices)
        if not status:
            warnings.append(f"Action item {number}: unknown status “{parsed['status']}”; "
                            "it was left in the description.")
            return item
    item.description = text[: meta.start()].rstrip()
    item.owner_username = parsed.get("owner", "").lstrip("@")
    item.due_date = due_date
    item.status = status or item.status
    return item


def _apply_metadata(result: ParsedPostMortem, key: str, value: str, raw_line: str, stray: list[str]) -> None:
    target = METADATA_KEYS[key]
    readers = {
        "team": lambda v: v.strip().lower(),
        "severity": parse_severity,
        "status": lambda v: _parse_choice(v, PostMortemStatus.choices),
        "failure_mode": lambda v: _parse_choice(v, FailureMode.choices),
        "production_impact": _parse_bool,
        "restricted": _parse_bool,
        "occurred_at": parse_moment,
        "detected_at": parse_moment,
        "resolved_at": parse_moment,
    }
    parsed = readers[target](value)
    if parsed in (None, ""):
        if value.strip():
            result.warnings.append(f"Could not read “{raw_line.strip()}”; it was added to What Happened.")
            stray.append(raw_line)
        return
    setattr(result, target, parsed)


def parse_postmortem_markdown(text: str) -> ParsedPostMortem:
    """Read the template. Never raises on user input: problems become ``warnings``."""
    result = ParsedPostMortem()
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")

    title_index = next((i for i, line in enumerate(lines) if TITLE_RE.match(line)), None)
    if title_index is not None:
        result.title = TITLE_RE.match(lines[title_index]).group("title").strip()
    else:
        title_index = next((i for i, line in enumerate(lines) if ANY_TOP_HEADING_RE.match(line)
                            and not _section_key(ANY_TOP_HEADING_RE.match(line).group("title"))), None)
        if title_index is not None:
            result.title = ANY_TOP_HEADING_RE.match(lines[title_index]).group("title").strip()
            result.warnings.append("No “## Post-Mortem: <title>” line; the first heading was used as the title.")
        else:
            result.warnings.append("No “## Post-Mortem: <title>” line was found: give the post-mortem a title.")
    before_title = lines[:title_index] if title_index is not None else []
    body = lines[title_index + 1:] if title_index is not None else lines

    # Split into the preamble (metadata) and named sections, in order.
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in body:
        heading = SECTION_RE.match(line)
        if heading:
            sections.append((heading.group("name"), []))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)

    stray: list[str] = [line for line in before_title if line.strip()]
    if stray:
        result.warnings.append("Text above the title was added to What Happened.")
    unreadable: list[str] = []
    other_text: list[str] = []
    for line in preamble:
        if not line.strip():
            continue
        meta = METADATA_RE.match(line)
        key = meta.group("key").strip().lower() if meta else ""
        if meta and key in METADATA_KEYS:
            _apply_metadata(result, key, meta.group("value"), line, unreadable)
        elif meta:
            result.warnings.append(f"Unknown field “{meta.group('key').strip()}” was added to What Happened.")
            unreadable.append(line)
        else:
            other_text.append(line)
    if other_text:
        result.warnings.append("Text between the title and the first section was added to What Happened.")
    stray.extend(unreadable + other_text)

    narrative: dict[str, list[str]] = {"what_happened": [], "root_cause": [], "what_went_well": []}
    seen: set[str] = set()
    unknown_blocks: list[str] = []
    for name, section_lines in sections:
        key = _section_key(name)
        if key is None:
            clean_name = ANNOTATION_RE.sub("", name).strip() or name
            result.unknown_sections.append(clean_name)
            block = _strip_blank_edges(section_lines)
            unknown_blocks.append(f"#### {clean_name}\n\n{block}" if block else f"#### {clean_name}")
            continue
        seen.add(key)
        if key in narrative:
            if narrative[key] and any(line.strip() for line in section_lines):
                narrative[key].append("")
            narrative[key].extend(section_lines)
        elif key == "action_items":
            items, item_stray = _split_list(section_lines)
            for text_item in items:
                result.action_items.append(
                    _parse_action_item(text_item, len(result.action_items) + 1, result.warnings))
            if item_stray:
                result.warnings.append("Text in Action Items that is not a list item was added to What Happened.")
                unknown_blocks.append("#### Action Items (notes)\n\n" + _strip_blank_edges(item_stray))
        else:
            lessons, lesson_stray = _split_list(section_lines)
            result.lessons.extend(lessons)
            if lesson_stray:
                result.warnings.append("Text in Lessons that is not a list item was added to What Happened.")
                unknown_blocks.append("#### Lessons (notes)\n\n" + _strip_blank_edges(lesson_stray))

    result.what_happened = _strip_blank_edges(narrative["what_happened"])
    result.root_cause = _strip_blank_edges(narrative["root_cause"])
    result.what_went_well = _strip_blank_edges(narrative["what_went_well"])
    extra = [_strip_blank_edges(stray)] if stray else []
    extra.extend(unknown_blocks)
    if extra:
        result.what_happened = "\n\n".join(part for part in [result.what_happened, *extra] if part)

    result.missing_sections = [title for key, title in SECTION_TITLES.items() if key not in seen]
    if result.unknown_sections:
        names = ", ".join(f"“{name}”" for name in result.unknown_sections)
        result.warnings.append(f"Sections the template does not know were added to the end of What Happened: "
                               f"{names}.")
    if result.missing_sections:
        names = ", ".join(f"“{name}”" for name in result.missing_sections)
        result.warnings.append(f"Missing sections: {names}.")
    return result


def _section_key(name: str) -> str | None:
    cleaned = ANNOTATION_RE.sub("", name).strip().rstrip(":").strip().lower()
    cleaned = re.sub(r"\s+", " ", cleaned)
    return SECTION_ALIASES.get(cleaned)


# --- Writing --------------------------------------------------------------------------------


def _moment(value: dt.datetime) -> str:
    return timezone.localtime(value).isoformat()


def _indent_continuation(text: str, indent: str) -> str:
    lines = text.strip().split("\n")
    return "\n".join([lines[0], *[f"{indent}{line}" if line.strip() else "" for line in lines[1:]]])


def postmortem_to_markdown(postmortem: PostMortem, *, action_items=None, lessons=None) -> str:
    """The post-mortem in the template, with a metadata list that import reads back.

    ``action_items`` and ``lessons`` default to the post-mortem's own (pass prefetched lists
    to avoid queries).
    """
    items = list(action_items if action_items is not None else postmortem.action_items.select_related("owner"))
    lesson_rows = list(lessons if lessons is not None else postmortem.lessons.all())
    out = [f"## Post-Mortem: {postmortem.title}", ""]
    meta = [("Team", postmortem.team.slug), ("Severity", postmortem.severity), ("Status", postmortem.status)]
    if postmortem.failure_mode:
        meta.append(("Failure mode", postmortem.failure_mode))
    meta.append(("Production impact", "yes" if postmortem.production_impact else "no"))
    if postmortem.restricted:
        meta.append(("Restricted", "yes"))
    for label, value in (("Occurred", postmortem.occurred_at), ("Detected", postmortem.detected_at),
                         ("Resolved", postmortem.resolved_at)):
        if value:
            meta.append((label, _moment(value)))
    out.extend(f"- **{label}:** {value}" for label, value in meta)
    out.append("")
    for key in ("what_happened", "root_cause", "what_went_well"):
        out.extend([f"### {SECTION_TITLES[key]}", ""])
        text = (getattr(postmortem, key) or "").strip("\n").rstrip()
        if text:
            out.extend([text, ""])
    out.extend([f"### {SECTION_TITLES['action_items']}", ""])
    for number, item in enumerate(items, start=1):
        details = []
        if item.owner_id:
            details.append(f"owner: {item.owner.username}")
        if item.due_date:
            details.append(f"due: {item.due_date.isoformat()}")
        details.append(f"status: {item.status}")
        prefix = f"{number}. "
        out.append(f"{prefix}{_indent_continuation(item.description, ' ' * len(prefix))} ({', '.join(details)})")
    if items:
        out.append("")
    out.extend([f"### {SECTION_TITLES['lessons']}", ""])
    for lesson in lesson_rows:
        out.append(f"- {_indent_continuation(lesson.text, '  ')}")
    return "\n".join(out).rstrip() + "\n"
