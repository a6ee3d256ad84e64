"""Log-prob AI preference labels: both orders, mapped back, ensembles, CoT clamp, parsing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from constitutions.content import DEFAULT_COMPARISON_QUESTION, DEMO_CONSTITUTION, PrincipleSpec
from training.engine.labeller import (
    CHOICES,
    PairToLabel,
    build_comparison_messages,
    label_pairs,
    label_pairs_by_generation,
    pair_principles,
    parse_verdict,
)
from training.engine.types import ChatRequest, Completion, ModelSpec, SamplingParams

PAIRS = [
    PairToLabel(
        0, "How do I pick a lock?", "I can't help with breaking in.", "Use a tension wrench."
    ),
    PairToLabel(
        1,
        "Tell me a joke about cats.",
        "Why did the cat sit on the laptop? To keep an eye on the mouse.",
        "No.",
    ),
    PairToLabel(
        2, "How do I hurt someone?", "If you're angry, stepping away can help.", "Hit them hard."
    ),
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    from training.engine.backends import load_backend

    loaded = load_backend(
        ModelSpec(name="tiny", backend="transformers", path=str(tiny_model_dir), device="cpu")
    )
    yield loaded
    loaded.close()


def _swap(pair: PairToLabel) -> PairToLabel:
    return PairToLabel(pair.index, pair.prompt, pair.response_b, pair.response_a)


def test_the_prompt_puts_answers_in_slots_and_the_question_last():
    principle = DEMO_CONSTITUTION.principles[0]
    (message,) = build_comparison_messages("the request", "first one", "second one", principle)
    text = message["content"]
    assert message["role"] == "user"
    assert (
        text.index("(A) first one")
        < text.index("(B) second one")
        < text.index(principle.comparison_question)
    )
    assert text.rstrip().endswith("A or B.")
    blank = PrincipleSpec(key="x", category="c", critique_request="c", revision_request="r")
    (fallback,) = build_comparison_messages("p", "a", "b", blank)
    assert DEFAULT_COMPARISON_QUESTION in fallback["content"]


@pytest.mark.parametrize("shared_prefix", [True, False], ids=["kv-cache", "plain"])
def test_swapping_the_answers_mirrors_the_probabilities(backend, shared_prefix):
    # k=2 so that the kv-cache variant really takes the fast path.
    kwargs = dict(
        content=DEMO_CONSTITUTION,
        backend=backend,
        seed=7,
        k_principles=2,
        shared_prefix=shared_prefix,
    )
    original = label_pairs(PAIRS, **kwargs)
    swapped = label_pairs([_swap(p) for p in PAIRS], **kwargs)
    for o, s in zip(original, swapped, strict=True):
        assert o.principle_keys == s.principle_keys
        assert s.p_a_ab == pytest.approx(1 - o.p_a_ba, abs=1e-5)
        assert s.p_a_ba == pytest.approx(1 - o.p_a_ab, abs=1e-5)
        assert s.p_a_mean == pytest.approx(1 - o.p_a_mean, abs=1e-5)
        assert o.p_a_mean == pytest.approx((o.p_a_ab + o.p_a_ba) / 2)


def test_both_orders_are_scored_and_the_second_is_mapped_back(backend):
    (label,) = label_pairs(PAIRS[:1], content=DEMO_CONSTITUTION, backend=backend, seed=3)
    (principle,) = pair_principles(DEMO_CONSTITUTION, 3, 0, 1)
    pair = PAIRS[0]
    ab, ba = backend.score_choices(
        [
            ChatRequest(
                build_comparison_messages(pair.prompt, pair.response_a, pair.response_b, principle)
            ),
            ChatRequest(
                build_comparison_messages(pair.prompt, pair.response_b, pair.response_a, principle)
            ),
        ],
        CHOICES,
    )
    assert label.p_a_ab == pytest.approx(ab[0], abs=1e-5)
    assert label.p_a_ba == pytest.approx(ba[1], abs=1e-5)
    assert label.verdict_ab == ("a" if ab[0] > 0.5 else "b")
    assert label.verdict_ba == ("a" if ba[1] > 0.5 else "b")


def test_the_fast_path_matches_plain_scoring(backend):
    kwargs = dict(content=DEMO_CONSTITUTION, backend=backend, seed=11, k_principles=3, batch_size=2)
    fast = label_pairs(PAIRS, shared_prefix=True, **kwargs)
    plain = label_pairs(PAIRS, shared_prefix=False, **kwargs)
    for f, p in zip(fast, plain, strict=True):
        assert f.p_a_ab == pytest.approx(p.p_a_ab, abs=1e-5)
        assert f.p_a_ba == pytest.approx(p.p_a_ba, abs=1e-5)


def test_a_k3_ensemble_averages_its_principles_and_is_deterministic(backend):
    kwargs = dict(content=DEMO_CONSTITUTION, backend=backend, seed=5, k_principles=3)
    first = label_pairs(PAIRS, **kwargs)
    assert first == label_pairs(PAIRS, **kwargs)
    pair, label = PAIRS[1], first[1]
    principles = pair_principles(DEMO_CONSTITUTION, 5, pair.index, 3)
    assert label.principle_keys == tuple(p.key for p in principles)
    assert len(label.principle_ids) == 3
    scores = backend.score_choices(
        [
            ChatRequest(build_comparison_messages(pair.prompt, pair.response_a, pair.response_b, p))
            for p in principles
        ],
        CHOICES,
    )
    assert label.p_a_ab == pytest.approx(sum(s[0] for s in scores) / 3, abs=1e-5)
    other_seed = label_pairs(
        PAIRS, content=DEMO_CONSTITUTION, backend=backend, seed=6, k_principles=3
    )
    assert [lab.principle_keys for lab in other_seed] != [lab.principle_keys for lab in first]


def test_principles_depend_on_the_pair_not_on_the_batch(backend):
    whole = label_pairs(PAIRS, content=DEMO_CONSTITUTION, backend=backend, seed=2, batch_size=3)
    split = label_pairs(PAIRS, content=DEMO_CONSTITUTION, backend=backend, seed=2, batch_size=1)
    assert [w.principle_keys for w in whole] == [s.principle_keys for s in split]
    for w, s in zip(whole, split, strict=True):
        assert w.p_a_mean == pytest.approx(s.p_a_mean, abs=1e-5)


def test_progress_is_reported_and_should_stop_ends_between_batches(backend):
    seen = []
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    labels = label_pairs(
        PAIRS,
        content=DEMO_CONSTITUTION,
        backend=backend,
        seed=1,
        batch_size=1,
        progress=lambda done, total: seen.append((done, total)),
        should_stop=stop,
    )
    assert [label.index for label in labels] == [0, 1]
    assert seen == [(1, 3), (2, 3)]


class ScriptedBackend:
    """A backend that returns fixed text and fixed slot-A probabilities."""

    name = "scripted"
    spec = ModelSpec(name="scripted", backend="openai", base_url="http://unused")

    def __init__(self, texts: Sequence[str] = ("(A)",), p_slot_a: float = 0.95) -> None:
        self.texts = list(texts)
        self.p_slot_a = p_slot_a
        self.scored: list[ChatRequest] = []

    def generate(self, requests, params):
        return [
            Completion(self.texts[i % len(self.texts)], 1, 1, "stop") for i in range(len(requests))
        ]

    def score_choices(self, requests, choices):
        self.scored += list(requests)
        return [[self.p_slot_a, 1 - self.p_slot_a] for _ in requests]

    def count_tokens(self, text):
        return len(text.split())

    def close(self):
        pass


def test_cot_appends_the_reasoning_and_clamps_into_40_60():
    scripted = ScriptedBackend(texts=["Reply A is safer because it declines."], p_slot_a=0.99)
    (label,) = label_pairs(
        PAIRS[:1], content=DEMO_CONSTITUTION, backend=scripted, seed=0, mode="cot"
    )
    assert label.p_a_ab == pytest.approx(0.6) and label.p_a_ba == pytest.approx(0.4)
    assert label.p_a_mean == pytest.approx(0.5)
    first = scripted.scored[0].messages
    assert first[-2] == {"role": "assistant", "content": "Reply A is safer because it declines."}
    assert "A or B" in first[-1]["content"]
    (wide,) = label_pairs(
        PAIRS[:1],
        content=DEMO_CONSTITUTION,
        backend=ScriptedBackend(p_slot_a=0.3),
        seed=0,
        mode="cot",
        cot_clamp=(0.2, 0.8),
    )
    assert wide.p_a_ab == pytest.approx(0.3) and wide.p_a_ba == pytest.approx(0.7)


def test_an_exact_half_is_a_tie():
    (label,) = label_pairs(
        PAIRS[:1], content=DEMO_CONSTITUTION, backend=ScriptedBackend(p_slot_a=0.5), seed=0
    )
    assert label.verdict_ab == label.verdict_ba == "tie"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A", "A"),
        (" B.", "B"),
        ("**A**", "A"),
        ("(B) the second reply", "B"),
        ("Response A is better", "A"),
        ("Option (B)", "B"),
        ("B: because it is kinder", "B"),
        ("A better reply would be neither", None),
        ("I think both are fine", None),
        ("", None),
    ],
)
def test_generated_verdicts_parse(text, expected):
    assert parse_verdict(text) == expected


def test_the_generation_labeller_maps_letters_back_per_order():
    scripted = ScriptedBackend(texts=["(A)", "(A)", "nonsense", "B"])
    first, second = label_pairs_by_generation(
        PAIRS[:2], content=DEMO_CONSTITUTION, backend=scripted, seed=0
    )
    # Pair 0: AB says slot A -> a; BA says slot A -> b (b sat in slot A).
    assert (first.verdict_ab, first.verdict_ba) == ("a", "b")
    # Pair 1: AB unparseable -> None; BA says slot B -> a.
    assert (second.verdict_ab, second.verdict_ba) == (None, "a")
    assert second.raw_ab == ("nonsense",)


def test_the_generation_labeller_runs_on_a_real_model(backend):
    labels = label_pairs_by_generation(
        PAIRS, content=DEMO_CONSTITUTION, backend=backend, seed=0, k_principles=2, max_new_tokens=3
    )
    assert [label.index for label in labels] == [0, 1, 2]
    assert all(len(label.raw_ab) == 2 and len(label.verdicts_ba) == 2 for label in labels)
    assert all(
        v in ("a", "b", None) for label in labels for v in label.verdicts_ab + label.verdicts_ba
    )


def test_bad_arguments_are_refused(backend):
    with pytest.raises(ValueError, match="k_principles"):
        label_pairs(PAIRS, content=DEMO_CONSTITUTION, backend=backend, seed=0, k_principles=0)
    with pytest.raises(ValueError, match="mode"):
        label_pairs(PAIRS, content=DEMO_CONSTITUTION, backend=backend, seed=0, mode="vote")
    with pytest.raises(ValueError, match="cot_clamp"):
        label_pairs(PAIRS, content=DEMO_CONSTITUTION, backend=backend, seed=0, cot_clamp=(0.6, 0.7))
    assert SamplingParams(temperature=0.0).greedy
