"""Print a label set's statistics: the same figures, from the same selector, as its page."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from labelling import selectors, services
from labelling.models import LabelSet
from labelling.templatetags.labelling_tags import fmt_kappa_ci, fmt_num, fmt_p, fmt_pct


def _rate(r) -> str:
    if r.rate is None:
        return f"n/a (k = {r.k}, n = {r.n})"
    return f"{fmt_pct(r.rate)} [{fmt_pct(r.ci_low)} – {fmt_pct(r.ci_high)}] ({r.k} / {r.n})"


def _kappa(k) -> str:
    how = f", {k.interval}" if k.has_interval else ""
    return f"{fmt_num(k.kappa)} {fmt_kappa_ci(k)} (n = {k.n}{how})"


class Command(BaseCommand):
    help = "Print position bias, AI-human and human-human agreement and calibration of a label set."

    def add_arguments(self, parser) -> None:
        parser.add_argument("labelset_id", type=int)
        parser.add_argument("--by", choices=sorted(selectors.SLICE_FIELDS), default="")
        parser.add_argument("--judge", default="")
        parser.add_argument("--principle", default="")
        parser.add_argument("--category", default="")
        parser.add_argument(
            "--combined",
            action="store_true",
            help="also compare the AI with the combined consensus of gold and audit",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="print the figures as strict JSON (null = undefined)",
        )

    def handle(
        self, *args, labelset_id: int, by: str, judge: str, principle: str, category: str, **options
    ) -> None:
        label_set = LabelSet.objects.filter(pk=labelset_id).select_related("team").first()
        if label_set is None:
            raise CommandError(f"No label set with id {labelset_id}.")
        s = selectors.labelset_statistics(
            label_set,
            selectors.Filters(judge=judge, principle=principle, category=category),
            by=by,
            combined=options["combined"],
        )
        gate = services.labelset_approval_gate(label_set=label_set, audit=s.audit)
        if options["json"]:
            # Strict JSON: an undefined figure is null; a NaN that escaped would raise here.
            self.stdout.write(json.dumps(_as_json(s, gate), indent=2, allow_nan=False))
            return
        w = self.stdout.write
        pb = s.position_bias
        w(f"Label set {label_set.pk}: {label_set.name} ({label_set.status}); {pb.n} AI labels")
        if s.filters.active:
            w(
                f"Slice: judge={judge or 'all'} principle={principle or 'all'} category={category or 'all'}"
            )
        w("\nPosition bias (Zheng et al. 2023; Wilson 95% intervals)")
        w(f"  consistent             {_rate(pb.consistency)}")
        w(f"  biased toward first    {_rate(pb.biased_first)}")
        w(f"  biased toward second   {_rate(pb.biased_second)}")
        w(f"  no usable verdict      {_rate(pb.error)}")
        w(f"  positional agreement   {_rate(pb.positional_agreement)}  (LLMBar Agr.)")
        w(f"  mean P(first slot)     {fmt_num(pb.mean_p_first)} (n = {pb.n_prob} orders)")
        t = pb.first_slot_test
        w(
            f"  binomial test          p = {fmt_p(t.p_value)} ({t.k} first-slot of {t.n} inconsistent)"
        )
        w(
            "\nAI-human agreement (percent with Wilson 95%; Cohen's kappa; a missing AI verdict "
            "is a miss in percent and left out of kappa)"
        )
        w(f"  {s.gold_count} comparisons with a gold label, {s.audit_count} with an in-app review")
        for ref in s.references:
            acc = s.accuracy_by_reference[ref]
            w(f"  against {selectors.REFERENCE_NAMES[ref]}:")
            for name in ("ab", "ba", "debiased"):
                a = s.agreements_by_reference[ref][name]
                w(f"    {name:<9} {_rate(a.percent)}  kappa {_kappa(a.kappa)}")
            w(
                f"    order-averaged accuracy (LLMBar Acc.) {fmt_pct(acc.accuracy)} "
                f"({acc.ab.k + acc.ba.k} / {acc.ab.n + acc.ba.n})"
            )
            a = s.agreements_by_reference[ref]["debiased"]
            w(
                "    table (debiased; rows AI a/b/tie/none, columns human a/b/tie/both_bad): "
                f"{[list(r) for r in a.table]}"
            )
            w(
                f"    {a.excluded_no_human} without a human label, {a.excluded_both_bad} both "
                f"unacceptable (not in percent or kappa); {a.ai_missing} without an AI verdict"
            )
        if "combined" in s.references:
            w(f"  combined consensus rule: {services.COMBINED_RULE}")
        ag = s.auditor_vs_gold
        if ag is not None:
            w(
                f"\nAuditors vs gold: {ag.n_with_gold} of {ag.n_reviews} in-app reviews are on a "
                f"comparison with a gold label; agreement {_rate(ag.overall.percent)}; "
                f"kappa {_kappa(ag.overall.kappa)}"
            )
            for name, ra in ag.by_reviewer:
                w(f"  {name}: {_rate(ra.percent)}; kappa {_kappa(ra.kappa)}")
        w(
            f"\nAudit: {gate.n_reviews} in-app reviews; agreement {_rate(gate.agreement.percent)}; "
            f"gate {'met' if gate.passes else 'not met: ' + '; '.join(gate.shortfalls)}"
        )
        h = s.human
        w(
            f"\nHuman-human agreement: {h.n_items} items with >= 2 reviews, {h.n_reviewers} reviewers"
        )
        if h.n_items:
            w(
                f"  Fleiss' kappa          {fmt_num(h.fleiss_kappa)} (n = {h.fleiss_items} items, {h.fleiss_raters_per_item} raters each)"
            )
            w(
                f"  Krippendorff's alpha   {fmt_num(h.krippendorff_alpha)} (n = {h.alpha_items} items)"
            )
            for p in h.pairwise:
                w(
                    f"  Cohen's kappa {p.reviewer_1} x {p.reviewer_2}: {_kappa(p.kappa)}; agreement {_rate(p.percent)}"
                )
        w("\nCalibration (debiased confidence vs human agreement)")
        for b in s.calibration:
            if b.n:
                w(
                    f"  {b.lo:.2f}-{b.hi:.2f}  mean {fmt_num(b.mean_confidence)}  agree {fmt_pct(b.human_agreement_rate)} ({b.k} / {b.n})"
                )
        if s.slices:
            w(f"\nBy {by}")
            for row in s.slices:
                r = row.position_bias
                w(
                    f"  {row.value}: n = {r.n}; consistent {fmt_pct(r.consistency.rate)}; first {fmt_pct(r.biased_first.rate)}; "
                    f"second {fmt_pct(r.biased_second.rate)}; binomial p = {fmt_p(r.first_slot_test.p_value)}; "
                    f"debiased agreement {_rate(row.agreement.percent)}; kappa {_kappa(row.agreement.kappa)}"
                )


def _as_json(s: selectors.LabelSetStatistics, gate: services.ApprovalGate) -> dict:
    return {
        "label_set": s.label_set.pk,
        "position_bias": s.position_bias.as_dict(),
        "primary_reference": s.primary,
        "agreements": {k: v.as_dict() for k, v in s.agreements.items()},
        "accuracy": s.accuracy.as_dict(),
        "agreements_by_reference": {
            ref: {k: v.as_dict() for k, v in by.items()}
            for ref, by in s.agreements_by_reference.items()
        },
        "accuracy_by_reference": {k: v.as_dict() for k, v in s.accuracy_by_reference.items()},
        "combined_rule": services.COMBINED_RULE if "combined" in s.references else None,
        "auditor_vs_gold": None
        if s.auditor_vs_gold is None
        else {
            "n_reviews": s.auditor_vs_gold.n_reviews,
            "n_with_gold": s.auditor_vs_gold.n_with_gold,
            "overall": s.auditor_vs_gold.overall.as_dict(),
            "by_reviewer": {n: r.as_dict() for n, r in s.auditor_vs_gold.by_reviewer},
        },
        "human": s.human.as_dict(),
        "calibration": [b.as_dict() for b in s.calibration],
        "audit": {
            "passes": gate.passes,
            "n_reviews": s.audit.n_reviews,
            "agreement": s.audit.agreement.as_dict(),
        },
        "slices": [
            {
                "value": r.value,
                "position_bias": r.position_bias.as_dict(),
                "agreement": r.agreement.as_dict(),
                "agreements_by_reference": {k: v.as_dict() for k, v in r.agreements.items()},
            }
            for r in s.slices
        ],
    }
