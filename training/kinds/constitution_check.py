"""The constitution check: every test case of one version on a judge (and a policy).

Labeller cases are judged in both orders; policy cases are answered by the policy
and judged against their reference answer (``training.engine.constitution_check``).
The version may be a draft (a team can require a passing check before it
publishes), so the run records the content hash it checked: a draft edited after
its check shows that check as stale.

The shards split the version's cases by position; each shard stores its outcomes
under its index in the run's result in one fenced transaction per batch, and the
per-principle pass rates are recombined from every stored shard.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django import forms
from django.db import transaction
from django.db.models import QuerySet

from constitutions.models import ConstitutionVersion, PrincipleCase
from training.engine.constitution_check import ConstitutionCheckConfig, PrincipleResult
from training.errors import TrainingError
from training.forms import LaunchForm
from training.inputs import InputRule, model_rule
from training.kinds.base import Chart, KindSpec, ShardPlan, need, split_evenly
from training.kinds.checks import parse_options
from training.models import Run, RunStatus
from training.shards import ShardContext

NAME = "constitution_check"
DEFAULT_SHARD_SIZE = 64


def versions_with_cases(team: Any) -> QuerySet[ConstitutionVersion]:
    """Every version of the team (drafts too) that has at least one test case."""
    return (
        ConstitutionVersion.objects.filter(constitution__team=team, test_cases__isnull=False)
        .distinct()
        .select_related("constitution")
        .order_by("constitution__name", "-number")
    )


VERSION_WITH_CASES = InputRule(
    role="version",
    label="Constitution version (with test cases)",
    run_field="constitution_version",
    model=ConstitutionVersion,
    allowed=versions_with_cases,
    why_not=lambda v: f"{v} has no test cases; add some in the version editor first.",
    describe=lambda v: f"{v.constitution.name} v{v.number} ({v.status})",
)

INPUTS = (
    VERSION_WITH_CASES,
    model_rule("judge", "Feedback model (judge)", run_field="judge_model"),
    replace(
        model_rule("policy", "Policy (answers the policy cases)", run_field="model"),
        required=False,
        help="Needed when the version has policy cases.",
    ),
)


class LaunchConstitutionCheck(LaunchForm):
    inputs = INPUTS
    max_new_tokens = forms.IntegerField(min_value=1, max_value=4096, initial=128)
    batch_size = forms.IntegerField(min_value=1, max_value=1024, initial=8)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def options(self) -> dict[str, Any]:
        return {k: self.cleaned_data[k] for k in ("seed", "max_new_tokens", "batch_size")}


def build_config(
    options: dict[str, Any], run: Run, inputs: dict[str, Any]
) -> ConstitutionCheckConfig:
    return parse_options(ConstitutionCheckConfig, options)


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    parse_options(ConstitutionCheckConfig, options)
    version = inputs["version"]
    if inputs.get("policy") is None and version.test_cases.filter(kind="policy").exists():
        n = version.test_cases.filter(kind="policy").count()
        raise TrainingError(
            f"{version} has {n} policy case{'s' if n != 1 else ''}: choose the policy that "
            "answers them.",
            field="policy",
        )
    return {}


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    """Contiguous ranges of the version's cases (in display order), one task each."""
    n = inputs["version"].test_cases.count()
    size = shard_size or DEFAULT_SHARD_SIZE
    return ShardPlan(
        shards=[(a, b, b - a) for a, b in split_evenly(n, size)],
        total_units=n,
        examples_total=n,
        shard_size=size,
    )


def after_create(run: Run, inputs: dict[str, Any], config: Any, user: Any) -> None:
    """Record what is checked: the content hash of the version as it is now."""
    from constitutions.selectors import version_content, version_with_content

    version = inputs["version"]
    content = version_content(version_with_content(version.pk))
    run.result = {
        "content_hash": content.content_hash(),
        "version_number": version.number,
        "cases": len(content.test_cases),
    }
    run.save(update_fields=["result"])


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """This shard's cases in batches: policy answers, then the judge in both orders.

    A batch's outcomes are appended to this shard's entry of the run's result under
    the fence; a resumed shard starts after the outcomes already stored.
    """
    from constitutions.selectors import version_content, version_with_content
    from training.engine.constitution_check import run_cases

    run = ctx.run
    config = run.config_object()
    key = str(ctx.shard.index)
    content = version_content(
        version_with_content(need(run.constitution_version_id, "constitution version"))
    )
    cases = list(content.test_cases[ctx.start : ctx.end])
    principles = {p.key: p for p in content.principles}
    done = list(((run.result or {}).get("shards") or {}).get(key, []))
    ctx.progress(len(done), stage="checking", examples_done=len(done))
    for start in range(len(done), len(cases), config.batch_size):
        if ctx.should_stop():
            return False, {}
        batch = cases[start : start + config.batch_size]
        policy = None
        if any(c.kind == "policy" for c in batch):
            if run.model is None:
                raise ValueError("the run has policy cases but no policy")
            (policy,) = ctx.backends(run.model)
        (judge,) = ctx.backends(need(run.judge_model, "judge"))
        outcomes = run_cases(
            batch, principles=principles, judge=judge, policy=policy, config=config
        )
        done += [o.to_dict() for o in outcomes]
        _save(ctx, run, key, done)
        ctx.progress(len(done), stage="checking", examples_done=len(done))
    return True, {}


def _save(ctx: ShardContext, run: Run, key: str, outcomes: list[dict[str, Any]]) -> None:
    from training.engine.constitution_check import by_principle

    with transaction.atomic():
        ctx.beat(stage="saving")  # the fence: a shard that was taken away writes nothing
        current = Run.objects.select_for_update().get(pk=run.pk).result or {}
        shards = {**current.get("shards", {}), key: outcomes}
        every = [o for k in sorted(shards, key=int) for o in shards[k]]
        results = by_principle(every)
        Run.objects.filter(pk=run.pk).update(
            result={
                **current,
                "shards": shards,
                "passed": sum(1 for o in every if o["passed"]),
                "total": len(every),
                "principles": {
                    k: {"passed": r.passed, "n": r.n, "low": r.low, "high": r.high}
                    for k, r in results.items()
                },
            }
        )


# --- reads the constitution pages share -------------------------------------------------


def last_check(version: ConstitutionVersion) -> Run | None:
    """The newest succeeded check of ``version``, or None."""
    return (
        Run.objects.filter(kind=NAME, constitution_version=version, status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )


def outcomes_of(run: Run) -> list[dict[str, Any]]:
    """Every case outcome of a check run, in case order."""
    shards = (run.result or {}).get("shards") or {}
    return [o for k in sorted(shards, key=int) for o in shards[k]]


@dataclass(frozen=True)
class CheckView:
    """A version's last check as its pages show it: the run, each principle's result,
    and whether the content changed since (``stale``: the check ran on other content)."""

    run: Run
    results: dict[str, PrincipleResult]
    passed: int
    total: int
    content_hash: str
    stale: bool

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total


def check_view(version: ConstitutionVersion, live_hash: str | None = None) -> CheckView | None:
    """The last succeeded check of ``version`` for its pages, or None when there is none.
    ``live_hash``: the content hash now (a published version's own hash if not given)."""
    from training.engine.constitution_check import by_principle

    run = last_check(version)
    if run is None:
        return None
    result = run.result or {}
    checked = str(result.get("content_hash") or "")
    current = live_hash or version.content_hash
    return CheckView(
        run=run,
        results=by_principle(outcomes_of(run)),
        passed=int(result.get("passed") or 0),
        total=int(result.get("total") or 0),
        content_hash=checked,
        stale=bool(current) and checked != current,
    )


def case_count(version: ConstitutionVersion) -> int:
    return PrincipleCase.objects.filter(version=version).count()


def charts(run: Run) -> list[Chart]:
    from cai_web.charts import grouped_bar_chart

    principles = (run.result or {}).get("principles") or {}
    if not principles:
        return []
    keys = list(principles)
    svg = grouped_bar_chart(
        keys,
        [
            ("pass rate", [principles[k]["passed"] / principles[k]["n"] for k in keys]),
            ("95% interval low", [principles[k]["low"] for k in keys]),
            ("95% interval high", [principles[k]["high"] for k in keys]),
        ],
        title="Pass rate per principle",
        value_format="{:.0%}",
        x_title="principle",
        y_title="cases passed",
    )
    total = max(1, int(run.result.get("total") or 0))
    return [
        Chart(
            id="check-pass-rate",
            svg=svg,
            latest={"pass rate": float(run.result.get("passed") or 0) / total},
        )
    ]


SPEC = KindSpec(
    name=NAME,
    label="Constitution check",
    summary="Run every test case of a constitution version on a judge (and a policy): "
    "labeller cases in both orders, policy cases against their reference answer.",
    config_class=ConstitutionCheckConfig,
    form_class=LaunchConstitutionCheck,
    inputs=INPUTS,
    build_config=build_config,
    check=check,
    plan=plan,
    after_create=after_create,
    execute=execute,
    template="training/kinds/constitution_check.html",
    progress_unit="cases",
    charts=charts,
    parent=lambda run: None,
)

__all__ = ["SPEC", "CheckView", "check_view", "last_check", "outcomes_of", "versions_with_cases"]
