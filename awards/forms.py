"""Nomination and vote forms. They only shape input; the rules are checked by awards.services
and their errors are put back on the form fields."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q

from awards.models import AwardCategory, AwardCycle
from awards.selectors import award_members, display_name


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.username})" if name else obj.username


class EvidenceChoiceField(forms.ModelChoiceField):
    """Validates against every record the user may pick, but offers only recent ones in the
    picker (plus the current selection), so the list stays short."""

    def label_from_instance(self, obj) -> str:
        when = getattr(obj, "ended_at", None) or getattr(obj, "started_at", None) or getattr(obj, "occurred_at", None)
        return f"{obj.title} ({obj.team.slug}{', ' + when.strftime('%Y-%m-%d') if when else ''})"

    def offer(self, recent, selected_pk) -> None:
        options = list(recent.select_related("team")[:200])
        if selected_pk and all(str(o.pk) != str(selected_pk) for o in options):
            options += list(self.queryset.filter(pk=selected_pk).select_related("team")[:1]) \
                if str(selected_pk).isdigit() else []
        self.widget.choices = [("", "— none —")] + [(o.pk, self.label_from_instance(o)) for o in options]


def apply_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the matching fields (others on the form itself)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field_name, messages in error.message_dict.items():
        form.add_error(field_name if field_name in form.fields else None, messages)


class NominationForm(forms.Form):
    nominee = PersonChoiceField(queryset=get_user_model().objects.none(), empty_label="— choose a person —",
                                error_messages={"required": "Choose who you are nominating."})
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000,
                             help_text="What did they do, and why does it deserve this award?",
                             error_messages={"required": "A nomination needs a reason: say what they did."})
    experiment = EvidenceChoiceField(queryset=None, required=False, label="Evidence: an experiment")
    postmortem = EvidenceChoiceField(queryset=None, required=False, label="or a post-mortem")

    def __init__(self, *args, cycle: AwardCycle, category: AwardCategory, user, **kwargs):
        from experiments.models import Experiment
        from postmortems.models import PostMortem

        kwargs.setdefault("prefix", f"nominate-{category.slug}")
        super().__init__(*args, **kwargs)
        self.cycle, self.category, self.user = cycle, category, user
        people = award_members().exclude(pk=user.pk)
        self.fields["nominee"].queryset = people.order_by("first_name", "last_name", "username")
        self.fields["experiment"].queryset = Experiment.objects.all()
        self.fields["postmortem"].queryset = PostMortem.objects.visible_to(user)
        # Offer the records of the cycle's month and the month before it.
        start, end = cycle.period.start, cycle.period.end
        since = start - dt.timedelta(days=31)
        recent_experiments = Experiment.objects.filter(Q(started_at__gte=since, started_at__lt=end)
                                                       | Q(ended_at__gte=since, ended_at__lt=end))
        recent_postmortems = PostMortem.objects.visible_to(user).filter(occurred_at__gte=since, occurred_at__lt=end)
        self.fields["experiment"].offer(recent_experiments.order_by("-started_at", "-pk"),
                                        self._current("experiment"))
        self.fields["postmortem"].offer(recent_postmortems.order_by("-occurred_at", "-pk"),
                                        self._current("postmortem"))

    def _current(self, name: str):
        if self.is_bound:
            return self.data.get(self.add_prefix(name))
        return self.initial.get(name)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("experiment") and cleaned.get("postmortem"):
            self.add_error("postmortem", "Link one piece of evidence: an experiment or a post-mortem, not both.")
        return cleaned


class VoteForm(forms.Form):
    nominee = PersonChoiceField(queryset=get_user_model().objects.none(), widget=forms.RadioSelect,
                                empty_label=None, label="Your vote",
                                error_messages={"required": "Choose one of the nominees.",
                                                "invalid_choice": "Vote for one of this category's nominees."})

    def __init__(self, *args, category: AwardCategory, nominees, user, **kwargs):
        kwargs.setdefault("prefix", f"vote-{category.slug}")
        super().__init__(*args, **kwargs)
        ids = [person.pk for person in nominees if person.pk != user.pk]
        field = self.fields["nominee"]
        field.queryset = get_user_model().objects.filter(pk__in=ids).order_by("first_name", "last_name", "username")
        field.label_from_instance = display_name
