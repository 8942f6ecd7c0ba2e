"""The experiment form: the record itself, plus repeatable rows for metrics, lessons and next
steps, and the "lessons applied" picker. Rows left blank are ignored, so removing a row is
just emptying it."""

from __future__ import annotations

import math

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from experiments.models import Experiment, FailureKind, Lesson, Outcome
from learninghub.kernel.choices import FailureMode
from learninghub.kernel.policy import writable_teams
from learninghub.kernel.widgets import PickerInput

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


class ExperimentChoiceField(forms.ModelChoiceField):
    """An experiment picked by typing (see :class:`PickerInput`): the queryset validates the
    submitted id and is never rendered as options."""

    def label_from_instance(self, obj: Experiment) -> str:
        return f"{obj.title} · {obj.team.name} · {obj.started_at:%Y-%m-%d}"


class ExperimentForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    applied_lessons = forms.ModelMultipleChoiceField(
        queryset=Lesson.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Lessons applied",
        help_text="Earlier lessons (from any team) this experiment put into practice.",
    )

    class Meta:
        model = Experiment
        fields = ["team", "title", "hypothesis", "approach", "started_at", "ended_at", "outcome", "failure_kind",
                  "failure_mode", "is_novel", "builds_on", "repeat_of", "external_id", "error_type",
                  "error_message", "error_trace"]
        widgets = {
            "hypothesis": forms.Textarea(attrs={"rows": 3}),
            "approach": forms.Textarea(attrs={"rows": 4}),
            "started_at": _datetime_widget(),
            "ended_at": _datetime_widget(),
            "error_message": forms.Textarea(attrs={"rows": 2}),
            "error_trace": forms.Textarea(attrs={"rows": 6, "class": "monospace"}),
            "builds_on": PickerInput("experiment", placeholder="Search experiments by title"),
            "repeat_of": PickerInput("experiment", params={"outcome": Outcome.FAILURE},
                                     placeholder="Search failed experiments"),
        }
        field_classes = {"builds_on": ExperimentChoiceField, "repeat_of": ExperimentChoiceField}
        labels = {"is_novel": "Novel approach", "builds_on": "Builds on", "repeat_of": "Repeat of"}
        help_texts = {
            "builds_on": "The experiment this one iterates on (its lineage).",
            "repeat_of": "An earlier failed experiment this one repeats.",
            "external_id": "Set by tooling; leave blank when recording by hand.",
            "ended_at": "Left blank on a concluded experiment, it is set to now.",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        teams = writable_teams(user)
        self.fields["team"].queryset = teams
        if self.instance.pk:
            self.fields["team"].disabled = True
            self.fields["team"].help_text = "An experiment stays with its team."
            self.fields["version"].initial = self.instance.version
        elif teams.count() == 1:
            self.fields["team"].initial = teams.first()
        others = Experiment.objects.select_related("team")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
            for name in ("builds_on", "repeat_of"):
                self.fields[name].widget.params["exclude"] = self.instance.pk
        self.fields["builds_on"].queryset = others
        self.fields["repeat_of"].queryset = others.filter(outcome=Outcome.FAILURE)
        lessons = Lesson.objects.visible_to(user).select_related("team", "experiment", "postmortem")
        if self.instance.pk:
            lessons = lessons.exclude(experiment=self.instance)
            self.fields["applied_lessons"].initial = list(
                self.instance.lesson_applications.values_list("lesson_id", flat=True))
        self.fields["applied_lessons"].queryset = lessons
        self.fields["failure_kind"].choices = [("", "—"), *FailureKind.choices]
        self.fields["failure_mode"].choices = [("", "—"), *FailureMode.choices]

    def _update_errors(self, errors: ValidationError) -> None:
        """Model rules about data outside this form (metrics, next steps) become form-wide errors
        instead of crashing ``add_error``."""
        if hasattr(errors, "error_dict"):
            kept: dict[str, list] = {}
            for field, messages in errors.error_dict.items():
                key = field if field in self.fields else NON_FIELD_ERRORS
                kept.setdefault(key, []).extend(messages)
            errors = ValidationError(kept)
        super()._update_errors(errors)

    def selected_lesson_ids(self) -> list[int]:
        """Ids ticked in the picker (from the submitted data, or the saved applications)."""
        if self.is_bound:
            raw = self.data.getlist(self.add_prefix("applied_lessons"))
        else:
            raw = self.fields["applied_lessons"].initial or []
        ids = []
        for value in raw:
            try:
                ids.append(int(value))
            except (TypeError, ValueError):
                continue
        return ids


class MetricRowForm(forms.Form):
    name = forms.CharField(max_length=Experiment.MAX_METRIC_NAME_LENGTH, required=False,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. ctr"}))
    value = forms.FloatField(required=False, widget=forms.NumberInput(attrs={"step": "any", "placeholder": "0.52"}))

    def clean(self):
        data = super().clean()
        name, value = (data.get("name") or "").strip(), data.get("value")
        if "value" in self.errors:
            return data
        if name and value is None:
            self.add_error("value", "Give a number for this metric.")
        elif value is not None and not name:
            self.add_error("name", "Give this value a name.")
        elif value is not None and not math.isfinite(value):
            self.add_error("value", "Give a finite number.")
        data["name"] = name
        return data


class LessonRowForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    text = forms.CharField(required=False, max_length=4000, label="Lesson",
                           widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What did we learn?"}))
    documented_at = forms.DateTimeField(required=False, widget=_datetime_widget(), label="Documented",
                                        help_text="Blank: now")


class NextStepRowForm(forms.Form):
    text = forms.CharField(required=False, max_length=2000, label="Next step",
                           widget=forms.TextInput(attrs={"placeholder": "What do we try next?"}))


class BaseRowFormSet(forms.BaseFormSet):
    def filled_rows(self) -> list[dict]:
        return [form.cleaned_data for form in self.forms
                if form.cleaned_data and any(value not in (None, "") for key, value in form.cleaned_data.items()
                                             if key != "id")]


class MetricFormSet(BaseRowFormSet):
    def clean(self):
        if any(self.errors):
            return
        names = [row["name"] for row in self.filled_rows()]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValidationError(f"Each metric once: {', '.join(duplicates)} appears twice.")

    def metrics(self) -> dict[str, float]:
        result = {}
        for row in self.filled_rows():
            value = row["value"]
            result[row["name"]] = int(value) if float(value).is_integer() and abs(value) < 2**53 else value
        return result


class LessonFormSet(BaseRowFormSet):
    def lessons(self) -> list[dict]:
        rows = []
        for row in self.filled_rows():
            if not (row.get("text") or "").strip():
                continue
            item = {"text": row["text"].strip()}
            if row.get("id"):
                item["id"] = row["id"]
            if row.get("documented_at"):
                item["documented_at"] = row["documented_at"]
            rows.append(item)
        return rows


class NextStepFormSet(BaseRowFormSet):
    def steps(self) -> list[str]:
        return [row["text"].strip() for row in self.filled_rows() if (row.get("text") or "").strip()]


MetricRows = forms.formset_factory(MetricRowForm, formset=MetricFormSet, extra=0)
LessonRows = forms.formset_factory(LessonRowForm, formset=LessonFormSet, extra=0)
NextStepRows = forms.formset_factory(NextStepRowForm, formset=NextStepFormSet, extra=0)


def experiment_formsets(data=None, *, experiment: Experiment | None = None) -> dict[str, forms.BaseFormSet]:
    """The three row sets, bound to ``data`` or filled from ``experiment`` (one blank row each
    when there is nothing yet, so a new experiment shows where to type)."""
    if data is not None:
        return {"metrics": MetricRows(data, prefix="metrics"), "lessons": LessonRows(data, prefix="lessons"),
                "steps": NextStepRows(data, prefix="steps")}
    metrics = [{"name": name, "value": value} for name, value in (experiment.metrics if experiment else {}).items()]
    lessons = [{"id": lesson.pk, "text": lesson.text, "documented_at": lesson.documented_at}
               for lesson in (experiment.lessons.order_by("position", "id") if experiment else [])]
    steps = [{"text": step} for step in (experiment.next_steps if experiment else [])]
    return {
        "metrics": MetricRows(initial=metrics or [{}], prefix="metrics"),
        "lessons": LessonRows(initial=lessons or [{}], prefix="lessons"),
        "steps": NextStepRows(initial=steps or [{}], prefix="steps"),
    }
