"""Forms parse and type the input; the rules live in the services, whose errors
(``ConstitutionError.field``) the views attach to the matching field. Lengths and
ranges come from ``content.LIMITS``, so the browser refuses what the service would."""

from __future__ import annotations

from django import forms

from .content import LIMITS
from .models import Constitution, PublishCheck

# The row_version column is a PositiveIntegerField.
MAX_ROW_VERSION = 2_147_483_647


def _text(rows: int, *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        required=required, max_length=LIMITS.text, widget=forms.Textarea(attrs={"rows": rows})
    )


def _weight(**kwargs) -> forms.FloatField:
    return forms.FloatField(
        min_value=0,
        max_value=LIMITS.weight_max,
        widget=forms.NumberInput(attrs={"step": "any"}),
        **kwargs,
    )


class ConstitutionCreateForm(forms.Form):
    name = forms.CharField(max_length=LIMITS.constitution_name)
    description = _text(2, required=False)


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
        max_length=LIMITS.constitution_name,
        required=False,
        help_text="Leave empty to use the name in the file.",
    )

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = Constitution.objects.filter(team=team).order_by("name")
        self.fields["into"].label_from_instance = lambda c: f"a new draft of {c.name}"


class _RowForm(forms.Form):
    """Every edit form carries the row_version it was opened at (optimistic locking)."""

    row_version = forms.IntegerField(
        required=False, widget=forms.HiddenInput, min_value=0, max_value=MAX_ROW_VERSION
    )


class CategoryForm(_RowForm):
    name = forms.CharField(max_length=LIMITS.category_name)
    description = _text(2, required=False)
    weight = _weight(initial=1.0)
    priority = forms.IntegerField(
        initial=100, min_value=LIMITS.priority_min, max_value=LIMITS.priority_max
    )


class PrincipleForm(_RowForm):
    key = forms.CharField(
        max_length=LIMITS.principle_key, help_text="Lowercase letters, digits, '-' and '_'."
    )
    category = forms.TypedChoiceField(coerce=int, choices=())
    # All three optional here: the service's rule (principle_use_problem) decides which
    # combinations make a principle, and names the field.
    critique_request = _text(3, required=False)
    revision_request = _text(3, required=False)
    comparison_question = _text(2, required=False)
    weight = _weight(initial=1.0)
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.pk, c.name) for c in categories]


class FewShotForm(_RowForm):
    prompt = _text(2)
    response = _text(2)
    critique_request = _text(2)
    critique = _text(2)
    revision_request = _text(2)
    revision = _text(2)


class QuickWeightForm(_RowForm):
    """The inline weight (and, for principles, enabled) control on the version page."""

    weight = forms.FloatField(required=False, min_value=0, max_value=LIMITS.weight_max)
    enabled = forms.BooleanField(required=False)


class CaseForm(_RowForm):
    """A principle test case; ``kind`` says which of the fields below it uses.
    ``principle`` is offered when adding (``principles=``), not when editing."""

    principle = forms.TypedChoiceField(coerce=int, choices=())
    kind = forms.ChoiceField(
        choices=[
            ("labeller", "Labeller case: two responses, one preferred"),
            ("policy", "Policy case: what a good answer must (not) do"),
        ]
    )
    prompt = _text(2)
    response_a = _text(2, required=False)
    response_b = _text(2, required=False)
    preferred = forms.ChoiceField(
        required=False,
        choices=[("", "—"), ("a", "response A"), ("b", "response B")],
        help_text="Labeller case: the response this principle should prefer.",
    )
    must = _text(2, required=False)
    must_not = _text(2, required=False)
    reference = _text(2, required=False)

    def __init__(self, *args, principles=None, **kwargs):
        super().__init__(*args, **kwargs)
        if principles is None:
            del self.fields["principle"]
        else:
            self.fields["principle"].choices = [(p.pk, p.key) for p in principles]
        self.fields["response_a"].label = "Response A (labeller case)"
        self.fields["response_b"].label = "Response B (labeller case)"
        self.fields["must"].label = "A good answer must (policy case)"
        self.fields["must_not"].label = "A good answer must not (policy case)"
        self.fields["reference"].label = "Reference answer (policy case)"


class PublishRuleForm(forms.Form):
    """The team's rule for publishing (``services.constitution_settings_update``)."""

    publish_check = forms.ChoiceField(
        choices=PublishCheck.choices, label="Publishing a version needs"
    )
