"""Export to the registry's Markdown format (DESIGN.md):

    ## Experiment: <hypothesis>
    **Date**, **Duration**, **Outcome**
    ### Approach / ### Results (metrics as JSON) / ### Lessons Learned / ### Next Steps
"""

from __future__ import annotations

import json

from experiments.formatting import format_duration
from experiments.models import Experiment, Outcome

NOTHING = "_None recorded._"


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def _outcome(experiment: Experiment) -> str:
    label = Outcome(experiment.outcome).label if experiment.outcome in Outcome.values else experiment.outcome
    details = [experiment.get_failure_kind_display(), experiment.get_failure_mode_display()]
    details = [detail.split(" (")[0].lower() for detail in details if detail]
    return f"{label} ({', '.join(details)})" if details else label


def experiment_markdown(experiment: Experiment) -> str:
    """The experiment as a registry entry. Uses prefetched lessons when present."""
    lines = [
        f"## Experiment: {_one_line(experiment.hypothesis) or _one_line(experiment.title)}",
        "",
        f"**Title**: {_one_line(experiment.title)}  ",
        f"**Team**: {experiment.team.name}  ",
        f"**Date**: {experiment.started_at:%Y-%m-%d}  ",
        f"**Duration**: {format_duration(experiment.duration)}  ",
        f"**Outcome**: {_outcome(experiment)}",
    ]
    if experiment.builds_on_id:
        lines[-1] += "  "
        lines.append(f"**Builds on**: {_one_line(experiment.builds_on.title)}")
    lines += ["", "### Approach", "", experiment.approach.strip() or NOTHING, "", "### Results", ""]
    if experiment.metrics:
        lines += ["```json", json.dumps(experiment.metrics, indent=2, ensure_ascii=False), "```"]
    else:
        lines.append(NOTHING)
    if experiment.error_type or experiment.error_message or experiment.error_trace:
        lines += ["", f"**Error**: `{experiment.error_type or 'error'}`: {_one_line(experiment.error_message)}"]
        if experiment.error_trace.strip():
            lines += ["", "```text", experiment.error_trace.rstrip(), "```"]
    lessons = [lesson.text for lesson in experiment.lessons.all()]
    lines += ["", "### Lessons Learned", ""]
    lines += [f"{number}. {_one_line(text)}" for number, text in enumerate(lessons, 1)] or [NOTHING]
    lines += ["", "### Next Steps", ""]
    lines += [f"- {_one_line(step)}" for step in experiment.next_steps] or [NOTHING]
    return "\n".join(lines) + "\n"


def markdown_filename(experiment: Experiment) -> str:
    from django.utils.text import slugify

    return f"experiment-{experiment.pk}-{slugify(experiment.title)[:60] or 'untitled'}.md"
