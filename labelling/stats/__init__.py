"""Statistics for auditing AI preference labels.

Plain Python and numpy: no Django. scipy, statsmodels and krippendorff are imported
inside the functions that compute with them (a kappa, a binomial test, an alpha),
so importing this package — as the web process does for every page — loads none
of them; the Wilson interval (:mod:`.intervals`) is plain math. Every function takes plain dataclasses (or
pre-aggregated counts, so a view can ``GROUP BY`` in SQL) and returns frozen
dataclasses with ``as_dict()`` for JSON. Every rate carries its ``n``.

Conventions (see docs/statistics.md for formulas and sources):

* Verdicts are canonical: ``"a"`` means response_a won, whichever slot it was shown
  in. Order AB shows a in the first slot; order BA shows b first, and its verdict
  has already been mapped back to canonical a/b. ``None`` means the judge gave no
  usable verdict (parse failure, refusal).
* Position bias follows Zheng et al. 2023 (MT-Bench paper, Table 2): every pair
  lands in exactly one of consistent / biased toward first / biased toward second /
  error, so the four rates sum to 1.
* "Positional agreement" follows LLMBar (Zeng et al. 2023, ``evaluate.py``:
  ``equal += output_True == output_False``), which also counts two missing verdicts
  as agreeing; it is reported separately so the published numbers can be checked.
"""

from __future__ import annotations

from .agreement import (
    AI_ROWS,
    Agreement,
    OrderAveragedAccuracy,
    RaterAgreement,
    agreement,
    agreement_from_counts,
    order_averaged_accuracy,
    rater_agreement_from_counts,
)
from .bias import BinomialTest, PositionBias, position_bias, position_bias_from_counts
from .calibration import (
    CALIBRATION_BINS,
    CalibrationBin,
    calibration,
    calibration_bin_of,
    calibration_edges,
    calibration_from_counts,
)
from .common import (
    BOOTSTRAP_REPS,
    BOOTSTRAP_SEED,
    HUMAN_VERDICTS,
    KAPPA_ASYMPTOTIC_N,
    KAPPA_MIN_N,
    SLICE_KEYS,
    UNSET_SLICE,
    VERDICTS,
    HumanVerdict,
    Kappa,
    PairJudgement,
    Rate,
    Rule,
    Source,
    Verdict,
    kappa_from_table,
    slice_by,
    wilson_rate,
)
from .humans import HumanAgreement, PairwiseKappa, human_agreement
from .intervals import CONFIDENCE_LEVEL, wilson_interval, z_for
from .labels import DerivedLabel, derive_label
from .sampling import sample_size_for_halfwidth

__all__ = [
    "AI_ROWS",
    "Agreement",
    "BOOTSTRAP_REPS",
    "BOOTSTRAP_SEED",
    "KAPPA_ASYMPTOTIC_N",
    "KAPPA_MIN_N",
    "RaterAgreement",
    "rater_agreement_from_counts",
    "BinomialTest",
    "CALIBRATION_BINS",
    "CONFIDENCE_LEVEL",
    "CalibrationBin",
    "DerivedLabel",
    "HUMAN_VERDICTS",
    "HumanAgreement",
    "HumanVerdict",
    "Kappa",
    "OrderAveragedAccuracy",
    "PairJudgement",
    "PairwiseKappa",
    "PositionBias",
    "Rate",
    "Rule",
    "SLICE_KEYS",
    "Source",
    "UNSET_SLICE",
    "VERDICTS",
    "Verdict",
    "agreement",
    "agreement_from_counts",
    "calibration",
    "calibration_bin_of",
    "calibration_edges",
    "calibration_from_counts",
    "derive_label",
    "human_agreement",
    "kappa_from_table",
    "order_averaged_accuracy",
    "position_bias",
    "position_bias_from_counts",
    "sample_size_for_halfwidth",
    "slice_by",
    "wilson_interval",
    "wilson_rate",
    "z_for",
]
