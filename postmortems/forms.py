"""Forms for the post-mortem pages: the template-shaped form with its repeatable rows, the
Markdown import, and the action item status toggle. Rules live in services; the forms only
check them early so that errors land beside the fields."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from experiments.models import Experiment, Lesson
from learninghub.kernel.choices import FailureMode
from learninghub.kernel.models import Team
from learninghub.kernel.policy import can_read, writable_teams
from learninghub.kernel.widgets import PickerInput
from postmortems.models import ActionItemStatus, PostMortem, PostMortemStatus, Severity
from postmortems.selectors import postmortem_choices_for_repeat
from postmortems.services import MAX_ROWS, action_item_row_errors, lesson_row_errors, timeline_errors

User = get_user_model()
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _datetime_field(label: str, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, required=False, help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT),
    )


class ExperimentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Experiment) -> str:
        return f"{obj.title} · {obj.team.name} · {obj.started_at:%Y-%m-%d}"


class PostMortemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: PostMortem) -> str:
        when = f"{obj.occurred_at:%Y-%m-%d}" if obj.occurred_at else "undated"
        return f"{obj.title} · {obj.team.name} · {when}"


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full_name = obj.get_full_name()
        return f"{full_name} ({obj.get_username()})" if full_name else obj.get_username()


class LessonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Lesson) -> str:
        text = obj.text if len(obj.text) <= 90 else f"{obj.text[:89]}…"
        return f"{text} ({obj.team.slug})"


def teams_for(user) -> QuerySet[Team]:
    """Teams ``user`` may write post-mortems for."""
    return writable_teams(user)


class PostMortemForm(forms.Form):
    """The template's fields. ``team`` only when creating; ``version`` only when editing."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)
    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "Feature pipeline failure"}))
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.SEV3)
    status = forms.ChoiceField(
        choices=PostMortemStatus.choices, initial=PostMortemStatus.DRAFT,
        help_text="Drafts may be incomplete. Publishing needs the timeline and at least one action item or lesson.",
    )
    occurred_at = _datetime_field("Occurred", "When the failure started (UTC).")
    detected_at = _datetime_field("Detected", "When someone noticed.")
    resolved_at = _datetime_field("Resolved", "When it was fixed or rolled back.")
    production_impact = forms.BooleanField(required=False, label="Production impact")
    restricted = forms.BooleanField(required=False, label="Restricted",
                                    help_text="Only members of the team can see it (and its action items).")
    failure_mode = forms.ChoiceField(choices=[("", "—"), *FailureMode.choices], required=False)
    experiment = ExperimentChoiceField(
        queryset=Experiment.objects.none(), required=False, label="Experiment it reviews",
        widget=PickerInput("experiment", team_field="team", placeholder="Search the team's experiments"))
    repeat_of = PostMortemChoiceField(
        queryset=PostMortem.objects.none(), required=False, label="Repeats an earlier post-mortem",
        widget=PickerInput("postmortem", placeholder="Search post-mortems by title"))
    what_happened = forms.CharField(required=False, label="What Happened", widget=forms.Textarea(attrs={"rows": 6}),
                                    help_text="Markdown. Bullets work well.")
    root_cause = forms.CharField(required=False, label="Root Cause", widget=forms.Textarea(attrs={"rows": 5}),
                                 help_text="Markdown. Systems and conditions, not people.")
    what_went_well = forms.CharField(required=False, label="What Went Well", widget=forms.Textarea(attrs={"rows": 4}),
                                     help_text="Markdown.")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, postmortem: PostMortem | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.postmortem = postmortem
        if postmortem is None:
            self.fields["team"].queryset = teams_for(user)
            del self.fields["version"]
        else:
            del self.fields["team"]
            self.fields["version"].required = True
        team_ids = [postmortem.team_id] if postmortem else list(teams_for(user).values_list("pk", flat=True))
        experiments = Experiment.objects.filter(team_id__in=team_ids)
        if postmortem and postmortem.experiment_id:
            experiments = experiments | Experiment.objects.filter(pk=postmortem.experiment_id)
        self.fields["experiment"].queryset = experiments.select_related("team")
        self.fields["repeat_of"].queryset = postmortem_choices_for_repeat(
            user=user, exclude_pk=postmortem.pk if postmortem else None)
        if postmortem is not None:
            self.fields["experiment"].widget.params["team_id"] = postmortem.team_id
            self.fields["repeat_of"].widget.params["exclude"] = postmortem.pk
        if postmortem and postmortem.repeat_of_id and not can_read(user, postmortem.repeat_of):
            # Linked to a restricted post-mortem this editor may not see: neither show nor drop the link.
            del self.fields["repeat_of"]

    def clean(self):
        cleaned = super().clean()
        for name, messages in timeline_errors(occurred_at=cleaned.get("occurred_at"),
                                              detected_at=cleaned.get("detected_at"),
                                              resolved_at=cleaned.get("resolved_at")).items():
            for message in messages:
                self.add_error(name, message)
        return cleaned

    @property
    def chosen_team(self) -> Team | None:
        if self.postmortem is not None:
            return self.postmortem.team
        return self.cleaned_data.get("team") if hasattr(self, "cleaned_data") else None

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("team", None)
        data.pop("version", None)
        return data


class ActionItemRowForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Action item")
    owner = UserChoiceField(queryset=User.objects.none(), required=False,
                            widget=PickerInput("user", team_field="team", placeholder="Unassigned: type a name"))
    due_date = forms.DateField(required=False, label="Due", widget=forms.DateInput(attrs={"type": "date"},
                                                                                    format="%Y-%m-%d"))
    status = forms.ChoiceField(choices=ActionItemStatus.choices, initial=ActionItemStatus.OPEN)
    lesson = LessonChoiceField(queryset=Lesson.objects.none(), required=False, empty_label="—",
                               label="Implements lesson")

    def __init__(self, *args, owners: QuerySet | None = None, lessons: QuerySet | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners if owners is not None else User.objects.none()
        self.fields["lesson"].queryset = lessons if lessons is not None else Lesson.objects.none()

    def row(self) -> dict:
        data = self.cleaned_data
        return {"id": data.get("id"), "description": data["description"], "owner": data.get("owner"),
                "due_date": data.get("due_date"), "status": data.get("status") or ActionItemStatus.OPEN,
                "lesson": data.get("lesson")}


class LessonRowForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Lesson for the team")

    def row(self) -> dict:
        return {"id": self.cleaned_data.get("id"), "text": self.cleaned_data["text"]}


class RowFormSet(forms.BaseFormSet):
    """Rows to keep: filled in and not marked for deletion, in the order shown."""

    existing_ids: set[int] = frozenset()

    def kept_forms(self) -> list[forms.Form]:
        return [form for form in self.forms
                if form.has_changed() and not self._should_delete_form(form) and form.cleaned_data]

    def rows(self) -> list[dict]:
        return [form.row() for form in self.kept_forms()]

    def _attach(self, errors_per_row: list[dict[str, list[str]]]) -> None:
        for form, errors in zip(self.kept_forms(), errors_per_row, strict=True):
            for name, messages in errors.items():
                for message in messages:
                    form.add_error(name if name in form.fields else None, message)


class ActionItemFormSet(RowFormSet):
    team: Team | None = None

    def _construct_form(self, i, **kwargs):
        """Rows share the lesson choices and the chosen owners' labels, each read once (not a query
        per row); the owners themselves are picked by typing, never listed."""
        form = super()._construct_form(i, **kwargs)
        cache = self.__dict__.setdefault("_row_choices", {})
        if "lesson" not in cache:
            cache["lesson"] = list(form.fields["lesson"].choices)
        form.fields["lesson"].choices = cache["lesson"]
        if "owner" not in cache:
            cache["owner"] = self._owner_labels(form.fields["owner"])
        form.fields["owner"].widget.labels = cache["owner"]
        return form

    def _owner_labels(self, field: forms.ModelChoiceField) -> dict[str, str]:
        """Labels of the owners every row shows (submitted or saved), in one query."""
        if self.is_bound:
            values = [self.data.get(f"{self.add_prefix(i)}-owner") for i in range(self.total_form_count())]
        else:
            values = [getattr(row.get("owner"), "pk", row.get("owner")) for row in self.initial or []]
        ids = {int(value) for value in values if str(value or "").isdigit()}
        if not ids:
            return {}
        return {str(user.pk): field.label_from_instance(user) for user in field.queryset.filter(pk__in=ids)}

    def clean(self):
        if any(self.errors) or self.team is None:
            return
        self._attach(action_item_row_errors(team=self.team, rows=self.rows(), existing_ids=set(self.existing_ids)))


class LessonFormSet(RowFormSet):
    def clean(self):
        if any(self.errors):
            return
        self._attach(lesson_row_errors(rows=self.rows(), existing_ids=set(self.existing_ids)))


ActionItemFormSetClass = forms.formset_factory(ActionItemRowForm, formset=ActionItemFormSet, extra=1,
                                               can_delete=True, max_num=MAX_ROWS, validate_max=True)
LessonFormSetClass = forms.formset_factory(LessonRowForm, formset=LessonFormSet, extra=1, can_delete=True,
                                           max_num=MAX_ROWS, validate_max=True)


class ImportMarkdownForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)
    markdown = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 20, "class": "monospace"}), label="Markdown",
        help_text="Paste the post-mortem template (## Post-Mortem: …, ### What Happened, ### Root Cause, "
                  "### What Went Well, ### Action Items, ### Lessons for Team).",
    )
    skip_repeat_detection = forms.BooleanField(
        required=False, label="Importing history: do not compare it with earlier failures",
        help_text="Repeat detection off (detect_repeats=false), so old post-mortems are not linked as repeats.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams_for(user)


class ActionItemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ActionItemStatus.choices)
    next = forms.CharField(required=False)
