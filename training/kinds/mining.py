"""Principles mined from disagreements: where a label set's AI labels and the humans
disagree, the model proposes the principle that would have produced the human
verdict; the distinct proposals are tested by relabelling the reviewed comparisons
with each alone (log-prob, both orders) against the published constitution's own
agreement on the same comparisons (docs/mining.md).

One shard. Its work is stored in the run's result as it goes (the proposals batch by
batch, then the candidates, then each candidate's agreement), each write one fenced
transaction, so a resumed or redelivered run continues where it stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from labelling.models import Comparison, LabelSet
from training.engine.mining import REFERENCES, MiningRunConfig
from training.errors import TrainingError
from training.forms import LaunchForm
from training.inputs import VERSION, InputRule, model_rule
from training.kinds.base import Chart, KindSpec, ShardPlan, need, single_shard
from training.kinds.checks import parse_options, require_drawable
from training.models import Run
from training.shards import ShardContext

if TYPE_CHECKING:
    from cai_web.models import Team
    from training.engine.mining import Disagreement, Reviewed

# Which verdict counts as the human's, by the statistics' names (labelling.selectors).
REFERENCE_CHOICES = (
    ("gold", "gold: labels imported with the set"),
    ("audit", "audit: reviews made here"),
    ("combined", "combined: strict majority of both"),
)
HUMAN_AB = ("a", "b")  # a principle picks one of two answers: ties and "both bad" are left out
UNPARSED_SHOWN = 20  # unparsed proposals kept in the result to show (all are counted)


def reviewed_label_sets(team: Team) -> QuerySet[LabelSet]:
    """Label sets with AI labels and at least one comparison a human judged."""
    judged = Comparison.objects.filter(label_set=OuterRef("pk"), review_count__gt=0)
    return (
        LabelSet.objects.filter(team=team, ai_label_count__gt=0)
        .filter(Exists(judged))
        .order_by("-pk")
    )


def why_not_reviewed(label_set: LabelSet) -> str:
    if label_set.ai_label_count == 0:
        return f"{label_set.name} has no AI labels to disagree with."
    return f"{label_set.name} has no human-judged comparisons to learn from."


INPUTS = (
    InputRule(
        role="label_set",
        label="Label set (with human verdicts)",
        run_field="label_set",
        model=LabelSet,
        allowed=reviewed_label_sets,
        why_not=why_not_reviewed,
        describe=lambda s: f"{s.name} ({s.ai_label_count} AI labels)",
    ),
    model_rule("judge", "Model (proposes principles and relabels)", run_field="judge_model"),
    VERSION,
)


class LaunchMining(LaunchForm):
    inputs = INPUTS
    reference = forms.ChoiceField(
        choices=REFERENCE_CHOICES, initial="gold", label="Human verdict to learn from"
    )
    max_disagreements = forms.IntegerField(min_value=1, max_value=256, initial=16)
    max_candidates = forms.IntegerField(min_value=1, max_value=32, initial=8)
    max_comparisons = forms.IntegerField(
        min_value=1, max_value=5000, initial=200, label="Reviewed comparisons to relabel"
    )
    similarity = forms.FloatField(
        min_value=0.0, max_value=1.0, initial=0.8, label="Merge questions at word similarity"
    )
    k_principles = forms.IntegerField(min_value=1, max_value=16, initial=1)
    max_new_tokens = forms.IntegerField(min_value=1, max_value=1024, initial=160)
    batch_size = forms.IntegerField(min_value=1, max_value=256, initial=8)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def options(self) -> dict[str, Any]:
        keys = (
            "reference",
            "max_disagreements",
            "max_candidates",
            "max_comparisons",
            "similarity",
            "k_principles",
            "max_new_tokens",
            "batch_size",
            "seed",
        )
        return {k: self.cleaned_data[k] for k in keys}


def _config(options: dict[str, Any]) -> MiningRunConfig:
    return parse_options(MiningRunConfig, options)


def _reference_field(reference: str) -> str:
    from labelling.selectors import HUMAN_REFERENCES

    return HUMAN_REFERENCES[reference]


def disagreement_ids(label_set: LabelSet, reference: str, limit: int) -> list[int]:
    """The first ``limit`` comparisons (by id) where an AI label's debiased verdict
    differs from the ``reference`` human verdict, which picks a or b."""
    from labelling.selectors import ai_human_disagreements

    field = _reference_field(reference)
    return list(
        ai_human_disagreements(label_set, reference=reference)
        .filter(**{f"{field}__in": HUMAN_AB})
        .order_by("comparison_id")
        .values_list("comparison_id", flat=True)
        .distinct()[:limit]
    )


def reviewed_queryset(label_set: LabelSet, reference: str) -> QuerySet[Comparison]:
    """The comparisons whose ``reference`` verdict is a or b, by id."""
    field = _reference_field(reference)
    return Comparison.objects.filter(label_set=label_set, **{f"{field}__in": HUMAN_AB}).order_by(
        "pk"
    )


def check(team: Any, inputs: dict[str, Any], options: dict[str, Any], user: Any) -> dict[str, Any]:
    config = _config(options)
    require_drawable(inputs["version"], "comparison")
    label_set = inputs["label_set"]
    if not disagreement_ids(label_set, config.reference, 1):
        raise TrainingError(
            f"{label_set.name} has no comparison where an AI label disagrees with the "
            f"{config.reference} human verdict (a or b): there is nothing to mine.",
            field="label_set",
        )
    return {}


def plan(inputs: dict[str, Any], options: dict[str, Any], shard_size: int | None) -> ShardPlan:
    """One shard: proposals, then (candidates + the constitution) x comparisons relabelled.
    The total assumes every candidate slot is used; it shrinks once they are known."""
    config = _config(options)
    label_set = inputs["label_set"]
    n_dis = len(disagreement_ids(label_set, config.reference, config.max_disagreements))
    n_rev = min(reviewed_queryset(label_set, config.reference).count(), config.max_comparisons)
    return single_shard(n_dis + (config.max_candidates + 1) * n_rev, examples_total=n_dis)


def build_config(options: dict[str, Any], run: Run, inputs: dict[str, Any]) -> MiningRunConfig:
    return _config(options)


# --- the worker's part -----------------------------------------------------------------


def _disagreements(run: Run, config: MiningRunConfig) -> list[Disagreement]:
    from training.engine.mining import Disagreement

    field = _reference_field(config.reference)
    ids = disagreement_ids(
        need(run.label_set, "label set"), config.reference, config.max_disagreements
    )
    rows = Comparison.objects.filter(pk__in=ids).order_by("pk")
    out = []
    for c in rows:
        human = getattr(c, field)
        chosen, rejected = (
            (c.response_a, c.response_b) if human == "a" else (c.response_b, c.response_a)
        )
        out.append(Disagreement(c.external_id, c.prompt, chosen, rejected))
    return out


def _reviewed(run: Run, config: MiningRunConfig) -> list[Reviewed]:
    from training.engine.mining import Reviewed

    field = _reference_field(config.reference)
    rows = reviewed_queryset(need(run.label_set, "label set"), config.reference).values_list(
        "pk", "prompt", "response_a", "response_b", field
    )[: config.max_comparisons]
    return [Reviewed(pk, prompt, a, b, human) for pk, prompt, a, b, human in rows]


def _store(ctx: ShardContext, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the run's result in one fenced transaction; the new result."""
    with transaction.atomic():
        ctx.beat(stage="saving")  # the fence: a worker that lost the shard writes nothing
        current = Run.objects.select_for_update().get(pk=ctx.run.pk).result or {}
        result = {**current, **changes}
        Run.objects.filter(pk=ctx.run.pk).update(result=result)
    return result


def _candidates_from(proposals: list[dict[str, str]], config: MiningRunConfig) -> dict[str, Any]:
    """Parse, de-duplicate and rank the raw proposals into the result's candidate fields."""
    from training.engine.mining import deduplicate, parse_proposal, ranked

    parsed, unparsed = [], []
    for proposal in proposals:
        outcome = parse_proposal(proposal["text"])
        if outcome.candidate is None:
            unparsed.append(
                {"id": proposal["id"], "problem": outcome.problem, "text": proposal["text"][:600]}
            )
        else:
            parsed.append((proposal["id"], outcome.candidate))
    groups = deduplicate(parsed, threshold=config.similarity)
    kept = ranked(groups, config.max_candidates)
    return {
        "candidates": [
            {
                "index": i,
                "critique_request": g.candidate.critique_request,
                "revision_request": g.candidate.revision_request,
                "comparison_question": g.candidate.comparison_question,
                "support": g.support,
                "sources": g.sources,
                "agreement": None,
            }
            for i, g in enumerate(kept, 1)
        ],
        "counts": {
            "proposals": len(proposals),
            "parsed": len(parsed),
            "unparsed": len(unparsed),
            "distinct": len(groups),
            "duplicates": len(parsed) - len(groups),
            "not_tested": len(groups) - len(kept),
        },
        "unparsed": unparsed[:UNPARSED_SHOWN],
    }


def execute(ctx: ShardContext) -> tuple[bool, dict[str, Any]]:
    """Propose (a batch at a time), parse and de-duplicate, relabel with the constitution,
    then relabel with each candidate; every step stored before the next starts."""
    from constitutions.selectors import version_content, version_with_content
    from training.engine.mining import Candidate, agreement_of, candidate_content, propose
    from training.engine.seeds import derive_seed

    run = ctx.run
    config = run.config_object()
    result = ctx.stored_result()
    disagreements = _disagreements(run, config)
    reviewed = _reviewed(run, config)
    n_rev = len(reviewed)
    proposals: list[dict[str, str]] = list(result.get("proposals") or [])

    def done() -> int:
        tested = sum(1 for c in result.get("candidates") or [] if c["agreement"] is not None)
        return len(proposals) + n_rev * (tested + ("baseline" in result))

    ctx.progress(done(), stage="proposing", examples_done=len(proposals))
    asked = {p["id"] for p in proposals}
    spent = [0, 0]  # this attempt's prompt and completion tokens
    todo = [d for d in disagreements if d.external_id not in asked]
    if "candidates" not in result:
        for start in range(0, len(todo), config.batch_size):
            if ctx.should_stop():
                return False, {}
            batch = todo[start : start + config.batch_size]
            (model,) = ctx.backends(need(run.judge_model, "model"))
            texts = propose(
                batch,
                model,
                max_new_tokens=config.max_new_tokens,
                temperature=config.temperature,
                seed=derive_seed(config.seed, "proposals", len(proposals)),
            )
            proposals += [
                {"id": d.external_id, "text": text}
                for d, (text, _, _) in zip(batch, texts, strict=True)
            ]
            spent[0] += sum(t[1] for t in texts)
            spent[1] += sum(t[2] for t in texts)
            ctx.add_tokens(*spent)
            result = _store(ctx, proposals=proposals)
            ctx.progress(done(), stage="proposing", examples_done=len(proposals))
        result = _store(ctx, **_candidates_from(proposals, config))
    candidates = result["candidates"]
    # Now the number of candidates is known: the total is what is really left to do.
    total = len(proposals) + n_rev * (len(candidates) + 1)
    ctx.beat(total_units=total)
    ctx.shard.total_units = total  # what finish() marks done
    ctx.update_run(total_units=total)

    def work(stage: str, base: int) -> Any:
        return lambda finished, _all: ctx.progress(base + finished, stage=stage)

    (judge,) = ctx.backends(need(run.judge_model, "model"))
    if "baseline" not in result:
        version_id = need(run.constitution_version_id, "constitution version")
        content = version_content(version_with_content(version_id))
        baseline = agreement_of(
            reviewed,
            content=content,
            backend=judge,
            seed=config.seed,
            k_principles=config.k_principles,
            batch_size=config.batch_size,
            should_stop=ctx.should_stop,
            progress=work("constitution", done()),
        )
        if baseline is None:
            return False, {}
        result = _store(ctx, baseline=baseline.to_dict())
    for position, candidate in enumerate(candidates):
        if candidate["agreement"] is not None:
            continue
        agreement = agreement_of(
            reviewed,
            content=candidate_content(
                Candidate(
                    critique_request=candidate["critique_request"],
                    revision_request=candidate["revision_request"],
                    comparison_question=candidate["comparison_question"],
                )
            ),
            backend=judge,
            seed=config.seed,
            batch_size=config.batch_size,
            should_stop=ctx.should_stop,
            # RunShard.stage is 20 characters: "candidate 2/5" is the 2nd of 5 being tested.
            progress=work(f"candidate {position + 1}/{len(candidates)}", done()),
        )
        if agreement is None:
            return False, {}
        candidates[position] = {**candidate, "agreement": agreement.to_dict()}
        result = _store(ctx, candidates=candidates)
        ctx.progress(done(), stage="relabelling")
    return True, {"relabelled": n_rev}


# --- what the run page shows -----------------------------------------------------------


def charts(run: Run) -> list[Chart]:
    """Agreement with the humans, with Wilson intervals: the constitution, then each
    tested candidate best first; the dashed line is the constitution's agreement."""
    from labelling.charts import rate_bars
    from training.selectors import mined_principles

    mined = mined_principles(run)
    if mined is None or mined.baseline is None:
        return []
    version = run.constitution_version
    rows = [(f"constitution v{version.number}" if version else "constitution", mined.baseline)]
    rows += [(f"#{c.index}", c.agreement) for c in mined.candidates if c.agreement is not None]
    svg = rate_bars(
        rows,
        title="Agreement with the human verdicts (95% Wilson interval)",
        x_title="agreement with the human verdicts",
        y_title="labelled with",
        reference=mined.baseline.rate,
    )
    latest = {"constitution": float(mined.baseline.rate or 0.0)}
    return [Chart(id="mined-agreement", svg=str(svg), latest=latest)]


SPEC = KindSpec(
    name="mining",
    label="Principle mining",
    summary="Ask the model which principle would have produced the human verdict where a "
    "label set's AI labels disagree with it, and test each candidate by relabelling.",
    config_class=MiningRunConfig,
    form_class=LaunchMining,
    inputs=INPUTS,
    build_config=build_config,
    check=check,
    plan=plan,
    execute=execute,
    template="training/kinds/mining.html",
    progress_unit="steps (a proposal or a relabelled pair)",
    charts=charts,
    parent=lambda run: _labelling_run_id(run),
    resume_note="it keeps the proposals and the candidates already tested",
)


def _labelling_run_id(run: Run) -> int | None:
    """The labelling run that made the label set, when it was made by one."""
    return (
        Run.objects.filter(output_label_set_id=run.label_set_id)
        .values_list("pk", flat=True)
        .first()
        if run.label_set_id
        else None
    )


__all__ = ["REFERENCES", "SPEC", "reviewed_label_sets"]
