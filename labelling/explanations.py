"""One line per statistic or term: what it measures and what a good value looks like.

The one home of these explanations: the statistics page shows them where each
figure stands (``{% explain "key" %}`` from ``labelling_tags``), and any other page
that uses a term (the label-set page's "final label rule", the comparison view's
"leaned second") asks here rather than writing its own.
"""

from __future__ import annotations

EXPLANATIONS: dict[str, str] = {
    # position bias
    "consistent": "Same verdict whichever answer was shown first. Higher is better; near 100% "
    "means the order does not matter.",
    "biased_first": "The verdict changed with the order and followed whichever answer came "
    "first. Lower is better; ideally near 0%.",
    "biased_second": "The verdict followed whichever answer came second (“leaned second”). "
    "Lower is better; ideally near 0%.",
    "leaned": "The two presentation orders disagreed, and the judge picked the answer in this "
    "slot (first or second) in the order that decided: a position habit, not a preference.",
    "error": "At least one order gave no parsable answer. Lower is better; above a few percent, "
    "check the judge's prompt or output parsing.",
    "positional_agreement": "Both orders gave the same answer, counting two missing answers as "
    "agreeing (as LLMBar does). Higher is better.",
    "mean_p_first": "The judge's average probability for whatever was shown first. 0.5 means no "
    "lean; far from 0.5 means a position habit.",
    "binomial": "Could the first/second split arise by chance? A small p (below 0.05) means the "
    "lean to one slot is real.",
    # the final label
    "rule_agree": "Final label rule “agree”: a win counts only if both presentation orders give "
    "it; anything else (the orders disagree, or one is missing) is a tie.",
    "rule_mean_prob": "Final label rule “mean_prob”: the mean P(a) of both orders, a above the "
    "threshold, b below one minus it, a tie between.",
    "debiased": "The final label (both orders combined by the set's rule), the one training "
    "uses; a label resting on a missing verdict counts as no verdict here.",
    # AI vs human
    "agreement": "Share of pairs where the AI's verdict equals the human one. Higher is better; "
    "compare with how often humans agree with each other.",
    "accuracy": "Mean of the two single-order agreements, as LLMBar reports it. Higher is "
    "better; 50% is a coin flip on a/b pairs.",
    "kappa": "Cohen’s κ: agreement beyond what chance would give with these label frequencies. "
    "1 is perfect, 0 is chance; above 0.6 is usually read as substantial.",
    "gold": "Gold: the labels imported with the set (expert or paper labels); in-app reviews "
    "never change them.",
    "audit": "Audit: reviews made here, on the review screen.",
    "auditor_gold": "Do the auditors read the task as the experts did? Each in-app review is "
    "compared with the gold label of the same comparison; every verdict is a category, both "
    "unacceptable included. High agreement (κ above 0.6) means audit figures can stand in for "
    "gold ones.",
    "gate": "One row per review (a comparison reviewed twice counts twice). This is the figure "
    "the approval gate reads.",
    # human vs human
    "fleiss": "Chance-corrected agreement of many raters at once. 1 is perfect, 0 is chance; "
    "above 0.6 is substantial.",
    "alpha": "Chance-corrected agreement that tolerates missing ratings. 1 is perfect; above "
    "0.8 is reliable, below 0.667 is doubtful.",
    # calibration
    "calibration": "Does the judge's confidence mean what it says? Pairs are grouped by "
    "confidence ([lo, hi), the last bin includes 1.0); in a calibrated judge each bin's "
    "agreement is close to its mean confidence (points on the dashed line). Uses pairs with "
    "both probabilities and a human a or b.",
}


def explain(key: str) -> str:
    """The explanation of ``key``; an unknown key is a programming error."""
    try:
        return EXPLANATIONS[key]
    except KeyError:
        raise KeyError(f"no explanation for {key!r}; add it to labelling.explanations") from None
