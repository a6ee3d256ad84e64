"""Forms parse and type the input; the rules live in the services, whose errors
(``ConstitutionError.field``) the views attach to the matching field."""

from __future__ import annotations

from django import forms

from .models import Constitution


class ConstitutionCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (the pattern from Django's file-upload docs)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class ImportForm(forms.Form):
    files = MultipleFileField(
        help_text="A cai_web export (JSON or YAML), the CAI paper's prompt files, or an llm-swarm file."
    )
    into = forms.ModelChoiceField(
        queryset=Constitution.objects.none(),
        required=False,
        empty_label="— a new constitution —",
        label="Import as",
    )
    name = forms.CharField(
        max_length=120, required=False, help_text="Leave empty to use the name in the file."
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = Constitution.objects.filter(team=team).order_by("name")
        self.fields["into"].label_from_instance = lambda c: f"a new draft of {c.name}"


class _RowForm(forms.Form):
    """Every edit form carries the row_version it was opened at (optimistic locking)."""

    row_version = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)


class CategoryForm(_RowForm):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    weight = forms.FloatField(
        initial=1.0, min_value=0, widget=forms.NumberInput(attrs={"step": "any"})
    )
    priority = forms.IntegerField(initial=100, min_value=0, max_value=32767)


class PrincipleForm(_RowForm):
    key = forms.CharField(max_length=64, help_text="Lowercase letters, digits, '-' and '_'.")
    category = forms.TypedChoiceField(coerce=int, choices=())
    critique_request = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    revision_request = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    comparison_question = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    weight = forms.FloatField(
        initial=1.0, min_value=0, widget=forms.NumberInput(attrs={"step": "any"})
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.pk, c.name) for c in categories]


class FewShotForm(_RowForm):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    response = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    critique_request = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    critique = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    revision_request = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    revision = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class QuickWeightForm(_RowForm):
    """The inline weight (and, for principles, enabled) control on the version page."""

    weight = forms.FloatField(required=False, min_value=0)
    enabled = forms.BooleanField(required=False)
