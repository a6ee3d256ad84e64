"""The SL-CAI chat templates and the refusal detector."""

from __future__ import annotations

import pytest

from constitutions.content import DEMO_CONSTITUTION
from training.engine.prompts import (
    REFUSAL_PHRASES,
    answer_messages,
    clean_generation,
    critique_messages,
    critique_request_text,
    is_refusal,
    revision_messages,
    revision_request_text,
)
from training.engine.types import ChatRequest

PRINCIPLE = DEMO_CONSTITUTION.principles[0]
SHOTS = DEMO_CONSTITUTION.few_shots


def roles(messages: tuple[dict[str, str], ...]) -> list[str]:
    return [m["role"] for m in messages]


def test_the_answer_conversation_is_the_prompt_alone_or_after_a_system_message() -> None:
    assert answer_messages("How do I pick a lock?") == (
        {"role": "user", "content": "How do I pick a lock?"},
    )
    with_system = answer_messages("Hi", system="Be brief.")
    assert roles(with_system) == ["system", "user"]
    assert with_system[0]["content"] == "Be brief."


def test_the_critique_conversation_keeps_the_papers_shape() -> None:
    messages = critique_messages("prompt", "answer", PRINCIPLE)
    assert roles(messages) == ["user", "assistant", "user"]
    assert messages[0]["content"] == "prompt"
    assert messages[1]["content"] == "answer"
    assert PRINCIPLE.critique_request in messages[2]["content"]
    assert messages[2]["content"] == critique_request_text(PRINCIPLE.critique_request)
    ChatRequest(messages)  # a valid request for every backend


def test_the_revision_conversation_continues_the_critique_conversation() -> None:
    messages = revision_messages("prompt", "answer", PRINCIPLE, "the critique")
    assert messages[:3] == critique_messages("prompt", "answer", PRINCIPLE)
    assert roles(messages) == ["user", "assistant", "user", "assistant", "user"]
    assert messages[3]["content"] == "the critique"
    assert PRINCIPLE.revision_request in messages[4]["content"]
    assert messages[4]["content"] == revision_request_text(PRINCIPLE.revision_request)


def test_few_shot_dialogues_come_first_as_six_turns_each() -> None:
    messages = revision_messages("prompt", "answer", PRINCIPLE, "critique", SHOTS, system="S")
    assert len(messages) == 1 + 6 * len(SHOTS) + 5
    assert messages[0] == {"role": "system", "content": "S"}
    shot = SHOTS[0]
    assert [m["content"] for m in messages[1:7]] == [
        shot.prompt,
        shot.response,
        critique_request_text(shot.critique_request),
        shot.critique,
        revision_request_text(shot.revision_request),
        shot.revision,
    ]
    assert roles(messages[1:]) == ["user", "assistant"] * (3 * len(SHOTS) + 2) + ["user"]
    ChatRequest(messages)


def test_clean_generation_drops_one_echoed_label_and_whitespace() -> None:
    assert clean_generation("  Revision: Sure, here it is.\n") == "Sure, here it is."
    assert clean_generation("**Revised response:** Fine.") == "Fine."
    assert clean_generation("Revisions are hard: yes.") == "Revisions are hard: yes."


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that request.",
        "I’m sorry, but I can’t do that.",
        "Sorry, I can't share instructions for that.",
        "I won't explain how to make a weapon.",
        "I must decline.  Here is why...",
        "Honestly?  I   WILL NOT help you hurt anyone.",
    ],
)
def test_refusals_are_recognised(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here is a recipe for banana bread.",
        "Locks are opened by setting each pin at the shear line.",
        "",
        # A refusal phrase far into a helpful reply is not a refusal.
        "Here is a long helpful answer. " * 10 + "I won't bore you with more.",
    ],
)
def test_helpful_replies_are_not_refusals(text: str) -> None:
    assert not is_refusal(text)


def test_the_phrase_list_is_lower_case_with_straight_apostrophes() -> None:
    for phrase in REFUSAL_PHRASES:
        assert phrase == phrase.lower()
        assert "\u2019" not in phrase
