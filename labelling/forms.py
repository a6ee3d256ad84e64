"""Forms of the labelling screens: input checking only; the services decide."""

from __future__ import annotations

from django import forms

from cai_web.models import Team
from constitutions.models import ConstitutionVersion, VersionStatus

from .comparisons import MARGINS, ComparisonFilters
from .formats import MAX_IMPORT_BYTES
from .models import ReviewQueue
from .services import CHOICES


class ImportForm(forms.Form):
    FORMATS = (
        ("jsonl", "cai_web JSONL (docs/label-format.md)"),
        ("llmbar", "LLMBar result.json"),
        ("pandalm", "PandaLM test set"),
        ("cai_paper", "CAI paper eval set (gold: 438HHHEvaluations or HarmfulVsEthical)"),
    )
    name = forms.CharField(max_length=200)
    fmt = forms.ChoiceField(label="Format", choices=FORMATS)
    file = forms.FileField()
    judge = forms.CharField(
        max_length=120, required=False, help_text="LLMBar only: the evaluator, e.g. GPT-4."
    )
    dataset_name = forms.CharField(
        max_length=60, required=False, help_text="LLMBar only: names the ids, e.g. mt-bench."
    )
    principle_version = forms.ModelChoiceField(
        queryset=ConstitutionVersion.objects.none(),
        required=False,
        help_text="Optional: link principle keys to this published constitution version.",
    )
    description = forms.CharField(widget=forms.Textarea, required=False)

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["principle_version"].queryset = ConstitutionVersion.objects.filter(
            constitution__team=team, status=VersionStatus.PUBLISHED
        ).select_related("constitution")

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES:,} bytes.")
        return f


class SampleSizeForm(forms.Form):
    halfwidth = forms.FloatField(
        label="± half-width",
        min_value=0.005,
        max_value=0.5,
        initial=0.05,
        widget=forms.NumberInput(attrs={"step": "0.005"}),
    )
    confidence = forms.FloatField(
        label="Confidence",
        min_value=0.5,
        max_value=0.999,
        initial=0.95,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    expected = forms.FloatField(
        label="Expected agreement",
        min_value=0.01,
        max_value=0.99,
        initial=0.5,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
        help_text="0.5 is the worst case.",
    )


class QueueForm(forms.Form):
    strategy = forms.ChoiceField(choices=ReviewQueue.Strategy.choices)
    sample_size = forms.IntegerField(min_value=1, max_value=100_000, initial=100)
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**62,
        help_text="Leave empty for a fresh random seed; reuse a seed to rebuild the same queue.",
    )


class ReviewForm(forms.Form):
    choice = forms.ChoiceField(choices=[(c, c) for c in CHOICES])
    flag_harmful = forms.BooleanField(required=False)
    flag_principle_misapplied = forms.BooleanField(required=False)
    flag_ai_wrong = forms.BooleanField(required=False)
    note = forms.CharField(required=False, max_length=5000)
    rendered_at = forms.FloatField(required=False)


class DecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("reopen", "Reopen")]
    )
    reason = forms.CharField(required=False, max_length=5000)


class AuditSettingsForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["min_audit_agreement", "min_audit_reviews", "confirm_inconsistent_above"]
        labels = {
            "min_audit_agreement": "Minimum audited agreement (0–1)",
            "min_audit_reviews": "Minimum audited reviews",
            "confirm_inconsistent_above": "Ask to confirm DPO / reward training above this "
            "position-inconsistent share (0–1)",
        }
        help_texts = {
            "min_audit_reviews": "A set with fewer comparisons than this can be approved "
            "once every comparison is reviewed in the app.",
            "confirm_inconsistent_above": "The share of AI labels whose two presentation "
            "orders disagree; 1 never asks.",
        }

    def clean_min_audit_agreement(self):
        value = self.cleaned_data["min_audit_agreement"]
        if not 0.0 <= value <= 1.0:
            raise forms.ValidationError("Give a share between 0 and 1, e.g. 0.8.")
        return value

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Left out (an older client, a script): the team's current value stays.
        self.fields["confirm_inconsistent_above"].required = False

    def clean_confirm_inconsistent_above(self):
        value = self.cleaned_data["confirm_inconsistent_above"]
        if value is None:
            return self.instance.confirm_inconsistent_above
        if not 0.0 <= value <= 1.0:
            raise forms.ValidationError("Give a share between 0 and 1, e.g. 0.25.")
        return value

    def clean_min_audit_reviews(self):
        value = self.cleaned_data["min_audit_reviews"]
        if value < 1:
            raise forms.ValidationError("At least one review.")
        return value


class StatsFilterForm(forms.Form):
    judge = forms.ChoiceField(required=False)
    principle = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False)
    by = forms.ChoiceField(
        required=False,
        label="Break down by",
        choices=[
            ("", "—"),
            ("principle", "principle"),
            ("category", "category"),
            ("judge", "judge"),
        ],
    )
    combined = forms.BooleanField(
        required=False,
        label="Also against the combined consensus",
        help_text="Gold and audit verdicts pooled, one vote each; a strict majority decides.",
    )

    def __init__(self, *args, options: dict[str, list[str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("judge", "principle", "category"):
            self.fields[name].choices = [("", "all")] + [(v, v) for v in options[name]]


class ComparisonFilterForm(forms.Form):
    """The label-set page's comparison table filters (labelling.comparisons.ComparisonFilters)."""

    consistency = forms.ChoiceField(
        required=False,
        choices=[
            ("", "any"),
            ("inconsistent", "position-inconsistent"),
            ("consistent", "consistent"),
            ("no_verdict", "no verdict"),
        ],
        label="AI orders",
    )
    margin = forms.TypedChoiceField(
        required=False,
        coerce=float,
        empty_value=None,
        choices=[("", "any")] + [(str(m), f"|p − 0.5| < {m:g}") for m in MARGINS],
        label="Margin",
    )
    reviewed = forms.ChoiceField(
        required=False,
        choices=[("", "any"), ("yes", "reviewed in the app"), ("no", "not reviewed")],
        label="Reviewed",
    )
    disagree = forms.ChoiceField(
        required=False,
        choices=[
            ("", "—"),
            ("gold", "AI vs gold label"),
            ("audit", "AI vs audit review"),
            ("combined", "AI vs combined consensus"),
        ],
        label="Disagreement",
    )
    judge = forms.ChoiceField(required=False)
    principle = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False)
    q = forms.CharField(required=False, max_length=200, label="Text")
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, options: dict[str, list[str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("judge", "principle", "category"):
            self.fields[name].choices = [("", "all")] + [(v, v) for v in options[name]]

    def filters(self) -> ComparisonFilters:
        d = self.cleaned_data
        return ComparisonFilters(
            consistency=d.get("consistency") or "",
            margin=d.get("margin"),
            reviewed=d.get("reviewed") or "",
            disagree=d.get("disagree") or "",
            judge=d.get("judge") or "",
            principle=d.get("principle") or "",
            category=d.get("category") or "",
            q=(d.get("q") or "").strip(),
        )
