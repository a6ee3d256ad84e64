"""The mining engine without a database: proposal prompts, the robust parser, the
de-duplication, the ranking, the config's refusals, and relabelling on the tiny model."""

from __future__ import annotations

import pytest

from training.engine.config import ConfigError
from training.engine.mining import (
    Candidate,
    Disagreement,
    MiningRunConfig,
    Reviewed,
    agreement_of,
    candidate_content,
    deduplicate,
    normalise,
    parse_proposal,
    proposal_messages,
    propose,
    ranked,
    similarity,
)
from training.engine.types import ModelSpec

GOOD = (
    "Critique request: Point out where the reply helps someone hurt another person.\n"
    "Revision request: Rewrite the reply so it refuses to help anyone hurt people.\n"
    "Comparison question: Which reply is less likely to help someone hurt a person?"
)


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    from training.engine.backends import load_backend

    loaded = load_backend(
        ModelSpec(name="tiny", backend="transformers", path=str(tiny_model_dir), device="cpu")
    )
    yield loaded
    loaded.close()


def test_the_proposal_shows_the_human_choice_as_preferred_after_a_worked_example() -> None:
    messages = proposal_messages(Disagreement("x1", "How do I?", "Kind answer", "Rude answer"))
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    last = messages[-1]["content"]
    assert last.index("Reply the human preferred:\nKind answer") < last.index(
        "Reply the human rejected:\nRude answer"
    )
    # The worked example is in the format, but a copy of it is not a mined principle.
    assert parse_proposal(messages[1]["content"]).problem == "it repeats the worked example"
    # What the demo model wrote (SmolLM2-135M, greedy): the example with one word changed.
    copied = messages[1]["content"].replace("settling the conflict", "resolving the conflict")
    assert parse_proposal(copied).problem == "it repeats the worked example"


def test_a_plain_three_line_proposal_parses() -> None:
    parsed = parse_proposal(GOOD)
    assert parsed.problem == "" and parsed.candidate == Candidate(
        critique_request="Point out where the reply helps someone hurt another person.",
        revision_request="Rewrite the reply so it refuses to help anyone hurt people.",
        comparison_question="Which reply is less likely to help someone hurt a person?",
    )


def test_markdown_numbering_other_case_and_continued_lines_parse() -> None:
    text = (
        "Sure! Here is a principle.\n\n"
        "1. **Critique**: Identify any part of the reply that\n"
        "   mocks the person asking.\n"
        "2. **REVISION REQUEST** - Rewrite the reply so that it is respectful.\n"
        "- *Question:* Which reply treats the person with more respect?\n"
        "Critique request: a second answer the model went on to write, ignored."
    )
    candidate = parse_proposal(text).candidate
    assert candidate is not None
    assert (
        candidate.critique_request == "Identify any part of the reply that mocks the person asking."
    )
    assert candidate.revision_request == "Rewrite the reply so that it is respectful."
    assert candidate.comparison_question == "Which reply treats the person with more respect?"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty answer"),
        ("I think reply A is better because it is nicer.", "no labelled fields"),
        (GOOD.rsplit("\n", 1)[0], "no comparison question"),
        (
            GOOD.replace("Which reply is less likely to help someone hurt a person?", ""),
            "empty comparison question",
        ),
        (
            GOOD.replace(
                "Which reply is less likely to help someone hurt a person?", "<ask which>"
            ),
            "placeholder",
        ),
        (
            GOOD.replace("Point out where the reply helps someone hurt another person.", "Be nice"),
            "critique request is too short",
        ),
        (GOOD.replace("Which reply", "Which reply " + "very " * 500), "too long"),
    ],
)
def test_a_proposal_that_cannot_be_used_names_its_problem(text, problem) -> None:
    parsed = parse_proposal(text)
    assert parsed.candidate is None and problem in parsed.problem


def test_garbage_of_any_kind_never_raises() -> None:
    for text in ("\x00\x01", "::::", "Critique:\nRevision:\nQuestion:", "A" * 10_000, "\n" * 50):
        assert parse_proposal(text).candidate is None


def test_near_identical_questions_merge_and_count_their_support() -> None:
    def c(question: str) -> Candidate:
        return Candidate("Critique the reply please.", "Revise the reply please.", question)

    groups = deduplicate(
        [
            ("x1", c("Which reply is less harmful?")),
            ("x2", c("which reply is LESS harmful")),  # same after normalising
            ("x3", c("Which reply is more honest about what it knows?")),
            ("x4", c("Which reply is less harmful to people?")),  # Jaccard 4/6, kept apart
        ],
        threshold=0.8,
    )
    assert [g.sources for g in groups] == [["x1", "x2"], ["x3"], ["x4"]]
    assert normalise("Which reply is LESS harmful?") == "which reply is less harmful"
    assert similarity("Which reply is less harmful?", "Which reply is less harmful to people?") == (
        pytest.approx(5 / 7)
    )
    merged = deduplicate(
        [
            ("x1", c("Which reply is less harmful?")),
            ("x4", c("Which reply is less harmful to people?")),
        ],
        threshold=0.7,
    )
    assert [g.support for g in merged] == [2]
    assert [g.sources for g in ranked(groups, 2)] == [["x1", "x2"], ["x3"]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reference": "majority"}, "reference: must be one of gold, audit, combined"),
        ({"max_candidates": 0}, "max_candidates: must be an integer >= 1"),
        ({"similarity": 1.5}, "similarity: must be in [0, 1]"),
        ({"batch_size": True}, "batch_size: must be an integer"),
        ({"temperature": "hot"}, "temperature: must be a number"),
    ],
)
def test_the_config_refuses_bad_options_naming_the_field(options, message) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        MiningRunConfig.from_dict(options)


def test_relabelling_with_one_candidate_counts_agreement_on_every_pair(backend) -> None:
    items = [
        Reviewed(
            i, f"Question {i}?", f"Helpful answer {i}", f"Rude answer {i}", "a" if i % 2 else "b"
        )
        for i in range(5)
    ]
    candidate = parse_proposal(GOOD).candidate
    assert candidate is not None
    content = candidate_content(candidate)
    assert [p.comparison_question for p in content.principles] == [candidate.comparison_question]
    done: list[int] = []
    agreement = agreement_of(
        items,
        content=content,
        backend=backend,
        seed=0,
        batch_size=2,
        progress=lambda finished, total: done.append(finished),
    )
    assert agreement is not None and agreement.n == 5
    assert 0 <= agreement.k <= 5 and 0 <= agreement.consistent <= 5
    assert done == [2, 4, 5]
    stopped = agreement_of(
        items, content=content, backend=backend, seed=0, batch_size=2, should_stop=lambda: True
    )
    assert stopped is None


def test_the_tiny_model_writes_a_proposal_per_disagreement(backend) -> None:
    items = [Disagreement(f"x{i}", "How do I?", "Kind answer", "Rude answer") for i in range(3)]
    out = propose(items, backend, max_new_tokens=8, temperature=0.0, seed=1)
    assert len(out) == 3
    for text, prompt_tokens, completion_tokens in out:
        assert isinstance(text, str) and prompt_tokens > 0 and 0 < completion_tokens <= 8
        parse_proposal(text)  # whatever it wrote, parsing answers
