"""constitutions.diff on hand-built contents (no database)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from constitutions.content import CategorySpec, ConstitutionContent, FewShotSpec, PrincipleSpec
from constitutions.diff import diff_contents, segments_html, word_diff, word_diff_html


def _principle(key: str, category: str = "Safe", **kw) -> PrincipleSpec:
    defaults = dict(
        critique_request=f"Critique the reply for {key}.",
        revision_request=f"Revise the reply for {key}.",
        comparison_question=f"Which reply is better for {key}?",
    )
    return PrincipleSpec(key=key, category=category, **{**defaults, **kw})


BASE = ConstitutionContent(
    categories=(
        CategorySpec("Safe", "Do no harm.", weight=1.0, priority=1),
        CategorySpec("Helpful", "Answer well.", weight=1.0, priority=2),
    ),
    principles=(
        _principle("harm"),
        _principle("honesty"),
        _principle("clarity", "Helpful"),
    ),
)


def _texts(segments, *ops):
    return "".join(text for op, text in segments if op in ops)


def test_word_diff_rebuilds_both_texts_from_its_segments():
    old = "Point out anything harmful, dangerous or illegal in the reply."
    new = "Point out anything harmful or unethical in the assistant's reply, please."
    segments = word_diff(old, new)
    assert _texts(segments, "equal", "delete") == old
    assert _texts(segments, "equal", "insert") == new
    assert ("delete", "dangerous") in [(op, t.strip(" ,")) for op, t in segments]


def test_word_diff_of_equal_texts_is_one_equal_segment():
    assert word_diff("same words", "same words") == [("equal", "same words")]


def test_word_diff_marks_a_changed_punctuation_mark_without_its_word():
    assert word_diff("Stop the reply.", "Stop the reply!") == [
        ("equal", "Stop the reply"),
        ("delete", "."),
        ("insert", "!"),
    ]


def test_word_diff_reads_a_missing_text_as_empty():
    assert word_diff(None, "new text") == [("insert", "new text")]
    assert word_diff("old", None) == [("delete", "old")]
    assert word_diff_html(None, None) == ""


def test_the_html_word_diff_escapes_every_text_inside_its_markup():
    out = word_diff_html("Say hi & go", "Say <script>alert(1)</script> & go")
    assert "<script>" not in out and "&lt;script&gt;alert" in out
    assert out.startswith("Say ") and "<del>" in out and "<ins>" in out and "&amp; go" in out
    assert segments_html([("equal", "a'\""), ("insert", "<")]) == "a&#x27;&quot;<ins>&lt;</ins>"


def test_identical_contents_have_an_empty_diff():
    diff = diff_contents(BASE, BASE)
    assert diff.is_empty
    assert diff.principles == () and diff.categories == () and diff.probabilities == ()


def test_it_reports_added_removed_and_changed_principles_matched_by_key():
    new = replace(
        BASE,
        principles=(
            replace(BASE.principles[0], critique_request="Critique the answer for harm to people."),
            BASE.principles[2],
            _principle("privacy"),
        ),
    )
    diff = diff_contents(BASE, new)
    statuses = {p.key: p.status for p in diff.principles}
    assert statuses == {"harm": "changed", "privacy": "added", "honesty": "removed"}
    change = diff.principle("harm").change("critique_request")
    assert change.old == "Critique the reply for harm." and change.new.endswith("to people.")
    assert ("delete", "reply") in change.segments and ("insert", "answer") in change.segments
    assert diff.principle("harm").weight_change is None


def test_weight_changes_come_with_the_effective_probability_changes():
    new = replace(BASE, principles=(replace(BASE.principles[0], weight=3.0), *BASE.principles[1:]))
    diff = diff_contents(BASE, new)
    weight = diff.principle("harm").weight_change
    assert (weight.old, weight.new) == (1.0, 3.0)
    probs = {p.key: (p.old, p.new) for p in diff.probabilities}
    # Safe has half the draws; inside it harm goes from 1/2 to 3/4.
    assert probs["harm"] == pytest.approx((0.25, 0.375))
    assert probs["honesty"] == pytest.approx((0.25, 0.125))
    assert "clarity" not in probs  # unchanged probabilities are not listed


def test_it_reports_enabled_flips_and_category_moves():
    new = replace(
        BASE,
        principles=(
            replace(BASE.principles[0], enabled=False),
            replace(BASE.principles[1], category="Helpful"),
            BASE.principles[2],
        ),
    )
    diff = diff_contents(BASE, new)
    flip = diff.principle("harm").enabled_change
    assert (flip.old, flip.new) == (True, False)
    move = diff.principle("honesty").category_move
    assert (move.old, move.new) == ("Safe", "Helpful")
    # Nothing drawable is left in Safe, so Helpful takes every draw.
    probs = {p.key: p.new for p in diff.probabilities}
    assert probs["harm"] == 0.0 and probs["honesty"] == pytest.approx(0.5)


def test_it_reports_added_removed_and_changed_categories():
    new = replace(
        BASE,
        categories=(
            CategorySpec("Safe", "Do no harm to anyone.", weight=2.0, priority=1),
            CategorySpec("Honest", "", weight=1.0, priority=3),
        ),
        principles=tuple(replace(p, category="Safe") for p in BASE.principles),
    )
    diff = diff_contents(BASE, new)
    assert {c.name: c.status for c in diff.categories} == {
        "Safe": "changed",
        "Honest": "added",
        "Helpful": "removed",
    }
    fields = {f.field: (f.old, f.new) for f in diff.category("Safe").fields}
    assert fields == {"description": ("Do no harm.", "Do no harm to anyone."), "weight": (1.0, 2.0)}


def test_a_priority_change_is_a_category_change():
    new = replace(BASE, categories=(replace(BASE.categories[0], priority=5), BASE.categories[1]))
    (change,) = diff_contents(BASE, new).categories
    assert [(f.field, f.old, f.new) for f in change.fields] == [("priority", 1, 5)]


def test_a_draft_with_nothing_drawable_shows_probabilities_as_unavailable():
    empty = ConstitutionContent(categories=BASE.categories)
    diff = diff_contents(BASE, empty)
    assert not diff.probabilities_available
    assert diff.probabilities_unavailable["old"] is None
    assert "no principle can be drawn" in diff.probabilities_unavailable["new"]
    assert diff.probabilities == ()
    assert {p.status for p in diff.principles} == {"removed"}


def test_few_shot_changes_are_noticed():
    shot = FewShotSpec("p", "r", "cr", "c", "rr", "rev")
    diff = diff_contents(BASE, replace(BASE, few_shots=(shot,)))
    assert diff.few_shots_changed and (diff.few_shots_old, diff.few_shots_new) == (0, 1)


def test_database_ids_do_not_count_as_changes():
    with_ids = replace(
        BASE, principles=tuple(replace(p, id=i + 100) for i, p in enumerate(BASE.principles))
    )
    assert diff_contents(BASE, with_ids).principles == ()


def test_a_rewrite_is_shown_side_by_side_and_a_small_edit_stays_inline():
    from constitutions.diff import changed_share

    small = word_diff_html("The cat sat on the mat.", "The cat sat on the red mat.")
    assert small == "The cat sat on the <ins>red </ins>mat."
    old, new = "I cannot help with that <b>request</b>.", "Here is a careful overview of locks."
    out = word_diff_html(old, new)
    assert 'data-diff="side-by-side"' in out
    assert "<del>I cannot help with that &lt;b&gt;request&lt;/b&gt;.</del>" in out
    assert f"<ins>{new}</ins>" in out
    assert changed_share(word_diff(old, new)) > 2 / 3 > changed_share(word_diff("a b c", "a b d"))
    # A text that only appears (or only goes) stays one inline insertion (deletion).
    assert word_diff_html(None, "new text") == "<ins>new text</ins>"
