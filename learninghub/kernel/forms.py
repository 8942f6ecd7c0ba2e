from django import forms


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="API token",
                           help_text="What will use it, e.g. “training cluster” or “CI”.")
