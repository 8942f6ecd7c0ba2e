"""Forms of the alert pages: a team's thresholds, and a subscription."""

from __future__ import annotations

from django import forms

from learninghub.insights.alerts.models import THRESHOLDS, AlertKind, AlertRule, Channel, RuleKind


class ThresholdsForm(forms.Form):
    """Every rule of one team: enabled, and its threshold (in range)."""

    def __init__(self, *args, rules: dict[str, AlertRule], **kwargs):
        super().__init__(*args, **kwargs)
        self.rules = rules
        for kind, rule in rules.items():
            _default, low, high, meaning = THRESHOLDS[kind]
            self.fields[f"{kind}-enabled"] = forms.BooleanField(required=False, initial=rule.enabled,
                                                                label=RuleKind(kind).label)
            if kind == RuleKind.WEEKLY_DIGEST:
                continue
            step = 0.01 if kind == RuleKind.REPEAT_RATE else 1
            self.fields[f"{kind}-threshold"] = forms.FloatField(
                min_value=low, max_value=high, initial=rule.threshold, label="Threshold", help_text=meaning,
                widget=forms.NumberInput(attrs={"step": step}))
        self.fields["repeat_rate-alert_on_rise"] = forms.BooleanField(
            required=False, initial=rules[RuleKind.REPEAT_RATE].alert_on_rise,
            label="Also alert when the rate rose two months running")

    def rows(self) -> list[dict]:
        return [{"kind": kind, "enabled": self[f"{kind}-enabled"],
                 "threshold": self[f"{kind}-threshold"] if f"{kind}-threshold" in self.fields else None,
                 "extra": self["repeat_rate-alert_on_rise"] if kind == RuleKind.REPEAT_RATE else None}
                for kind in self.rules]

    def changes(self) -> dict[str, dict]:
        data = self.cleaned_data
        return {kind: {"enabled": data[f"{kind}-enabled"], "threshold": data.get(f"{kind}-threshold"),
                       **({"alert_on_rise": data["repeat_rate-alert_on_rise"]} if kind == RuleKind.REPEAT_RATE else {})}
                for kind in self.rules}


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)
    channel = forms.ChoiceField(choices=Channel.choices)
    target = forms.CharField(max_length=500, required=False, label="Webhook URL or email address",
                             help_text="Webhooks: the https:// URL the chat tool gave you. Email: empty for your own "
                                       "address.")
    kinds = forms.MultipleChoiceField(choices=[c for c in AlertKind.choices if c[0] != AlertKind.TEST],
                                      required=False, widget=forms.CheckboxSelectMultiple,
                                      label="Alerts wanted", help_text="None ticked: all of them.")
