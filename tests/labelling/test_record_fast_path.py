"""The import's fast check of a label line (``formats._record_fast``) accepts only what the
full check accepts and builds the same record; everything else goes to the full check,
which names the problem."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from labelling import formats

GOOD = {
    "id": "r1",
    "prompt": "Prompt",
    "response_a": "",
    "response_b": "b",
    "judge": "judge-7b",
    "verdict_ab": "a",
    "verdict_ba": "tie",
    "p_a_ab": 0.25,
    "p_a_ba": 1,
    "human": "both_bad",
    "principle": "harm",
    "metadata": {"k": [1]},
}
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "a", "b", "tie", "both_bad", "x"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def full_check(obj):
    """The full validator alone (the fast path switched off)."""
    fast, formats._record_fast = formats._record_fast, lambda obj: None
    try:
        return formats._record_from_object(obj)
    finally:
        formats._record_fast = fast


@settings(max_examples=400, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from([*formats.ALL_FIELDS, "extra"]), ODD_VALUES, max_size=3
    ),
    dropped=st.sets(st.sampled_from(formats.ALL_FIELDS), max_size=2),
)
def test_the_fast_check_agrees_with_the_full_check(changes, dropped):
    obj = {k: v for k, v in {**GOOD, **changes}.items() if k not in dropped}
    fast = formats._record_fast(obj)
    record, problems = full_check(obj)
    if fast is not None:
        assert problems == [] and fast == record
    # With the fast path in front, every line gets the same answer as before.
    assert formats._record_from_object(obj) == (record, problems)


def test_the_good_line_takes_the_fast_path_and_nan_does_not():
    assert formats._record_fast(GOOD) == full_check(GOOD)[0]
    assert formats._record_fast({**GOOD, "p_a_ab": math.nan}) is None
    assert formats._record_from_object({**GOOD, "p_a_ab": math.nan})[1] == [
        "p_a_ab must be a number in [0, 1], got NaN"
    ]
