"""The one Wilson interval (labelling.stats.intervals), used by labelling and the evaluation run."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from django.conf import settings

from labelling import stats
from labelling.stats.intervals import Z_95, wilson_interval, z_for
from training.engine import evaluation


def wilson_by_hand(k: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927): (p + z²/2n ± z √(p(1−p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return (centre - half) / denom, (centre + half) / denom


@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (5, 13), (8, 10), (0, 50), (50, 50), (7.5, 20)])
def test_the_interval_is_wilsons_formula(k, n):
    low, high = wilson_interval(k, n)
    exp_low, exp_high = wilson_by_hand(k, n)
    assert low == pytest.approx(max(0.0, exp_low), abs=1e-12)
    assert high == pytest.approx(min(1.0, exp_high), abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_the_interval_agrees_with_statsmodels_where_statsmodels_is_defined():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 3), (2, 3), (13, 40), (39, 40), (2.5, 7)]:
        for confidence in (0.9, 0.95, 0.99):
            expected = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
            assert wilson_interval(k, n, confidence=confidence) == pytest.approx(
                expected, abs=1e-12
            )


def test_an_empty_sample_gives_the_whole_unit_interval_everywhere():
    # The decision for n = 0: nothing observed rules nothing out, so [0, 1].
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert evaluation.wilson_interval(0, 0) == (0.0, 1.0)
    rate = stats.wilson_rate(0, 0)
    assert (rate.rate, rate.ci_low, rate.ci_high) == (None, 0.0, 1.0)


def test_labelling_rates_and_the_evaluation_run_use_the_same_function():
    assert evaluation.wilson_interval is wilson_interval is stats.wilson_interval
    rate = stats.wilson_rate(8, 10)
    assert (rate.ci_low, rate.ci_high) == evaluation.wilson_interval(8, 10)
    assert (round(rate.ci_low, 4), round(rate.ci_high, 4)) == (0.4902, 0.9433)


def test_z_is_the_two_sided_normal_quantile():
    assert Z_95 == pytest.approx(1.959963984540054, abs=1e-12)
    assert z_for(0.99) == pytest.approx(2.5758293035489, abs=1e-9)
    with pytest.raises(ValueError, match="confidence"):
        z_for(95)


@pytest.mark.parametrize(
    "k, n, message",
    [(5, 4, "successes"), (-1, 4, "successes"), (1, -1, "n must"), (1, 2.5, "n must")],
)
def test_impossible_counts_are_refused_naming_the_argument(k, n, message):
    with pytest.raises(ValueError, match=message):
        wilson_interval(k, n)


def test_the_statistics_package_imports_no_heavy_library():
    code = (
        "import json, sys\n"
        "import labelling.stats, labelling.stats.intervals\n"
        "print(json.dumps(sorted(m for m in ('scipy', 'statsmodels', 'pandas', 'krippendorff',"
        " 'django', 'torch') if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
