"""Kernel forms: the profile's API token form."""

from django import forms


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="API token",
                           help_text="What will use it, e.g. “training cluster” or “CI” (at most 100 characters).")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Without the maxlength attribute a browser sends an over-long name whole, and the form
        # answers with a field message instead of the browser cutting it silently.
        self.fields["name"].widget.attrs.pop("maxlength", None)
