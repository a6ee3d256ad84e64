from django import forms

from .services import NAME_MAX


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX,
        help_text="What will use it, e.g. “nightly red-team job”.",
    )
