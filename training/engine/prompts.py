"""Chat templates for the SL-CAI critique-revision loop, written in our own words.

The shape follows Bai et al. 2022 (Constitutional AI, section 3): the model answers a
red-team prompt, is then asked in a new user turn to critique that answer against one
principle, and in a further user turn to rewrite it. Optional few-shot dialogues with
the same six-turn shape go first, so that a small model sees what a critique and a
revision look like before it is asked for one.

Every builder returns a tuple of ``{"role": ..., "content": ...}`` dicts, ready for a
``ChatRequest``; nothing here imports torch or Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constitutions.content import FewShotSpec, PrincipleSpec

Message = dict[str, str]
Messages = tuple[Message, ...]

# The wording wraps the principle's own text; the principle says *what* to look for,
# these lines say *how* to answer (a critique only, then a rewrite only).
CRITIQUE_TEMPLATE = (
    "{request}\nAnswer with a short critique of that reply only; do not rewrite it yet."
)
REVISION_TEMPLATE = (
    "{request}\n"
    "Give only the new reply, as you would send it to the user, with no preamble "
    "and no mention of this critique."
)

# Labels small models like to echo in front of a rewrite ("Revision: ..."); stripped so
# that the stored revision is the reply itself.
_LEADING_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:revision|revised (?:reply|response|answer)|rewritten (?:reply|response|answer)"
    r"|new (?:reply|response|answer)|critique)(?:\*\*)?\s*:(?:\*\*)?\s*",
    re.IGNORECASE,
)


def _user(content: str) -> Message:
    return {"role": "user", "content": content}


def _assistant(content: str) -> Message:
    return {"role": "assistant", "content": content}


def critique_request_text(critique_request: str) -> str:
    """The user turn that asks for a critique, built from a principle's request."""
    return CRITIQUE_TEMPLATE.format(request=critique_request.strip())


def revision_request_text(revision_request: str) -> str:
    """The user turn that asks for a revision, built from a principle's request."""
    return REVISION_TEMPLATE.format(request=revision_request.strip())


def _few_shot_turns(few_shots: Iterable[FewShotSpec]) -> list[Message]:
    turns: list[Message] = []
    for shot in few_shots:
        turns += [
            _user(shot.prompt),
            _assistant(shot.response),
            _user(critique_request_text(shot.critique_request)),
            _assistant(shot.critique),
            _user(revision_request_text(shot.revision_request)),
            _assistant(shot.revision),
        ]
    return turns


def _head(system: str | None, few_shots: Sequence[FewShotSpec]) -> list[Message]:
    head: list[Message] = []
    if system:
        head.append({"role": "system", "content": system})
    head += _few_shot_turns(few_shots)
    return head


def answer_messages(prompt: str, system: str | None = None) -> Messages:
    """The conversation that asks the model for its first answer to ``prompt``."""
    return (*_head(system, ()), _user(prompt))


def critique_messages(
    prompt: str,
    answer: str,
    principle: PrincipleSpec,
    few_shots: Sequence[FewShotSpec] = (),
    *,
    system: str | None = None,
) -> Messages:
    """The conversation that asks the model to critique ``answer`` against ``principle``.

    ``answer`` is the response under review: the initial answer in round 1, the
    previous round's revision afterwards.
    """
    return (
        *_head(system, few_shots),
        _user(prompt),
        _assistant(answer),
        _user(critique_request_text(principle.critique_request)),
    )


def revision_messages(
    prompt: str,
    answer: str,
    principle: PrincipleSpec,
    critique: str,
    few_shots: Sequence[FewShotSpec] = (),
    *,
    system: str | None = None,
) -> Messages:
    """The conversation that asks the model to rewrite ``answer`` in light of ``critique``."""
    return (
        *critique_messages(prompt, answer, principle, few_shots, system=system),
        _assistant(critique),
        _user(revision_request_text(principle.revision_request)),
    )


def clean_generation(text: str) -> str:
    """Strip whitespace and one echoed leading label such as ``Revision:``."""
    return _LEADING_LABEL.sub("", text.strip(), count=1).strip()


# Openings that mark a reply as a refusal. Matched case-insensitively, with curly
# apostrophes folded to straight ones, within the first REFUSAL_WINDOW characters:
# refusals say so up front, and a later "I won't" inside a helpful reply is not one.
REFUSAL_PHRASES: tuple[str, ...] = (
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i can't do that",
    "i can't provide",
    "i cannot provide",
    "i won't",
    "i will not",
    "i'm not able to help",
    "i am not able to help",
    "i'm unable to",
    "i am unable to",
    "i'm not going to help",
    "i refuse to",
    "i must decline",
    "i have to decline",
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "sorry, i can't",
    "as an ai, i can't",
    "that's not something i can help with",
    "that is not something i can help with",
)
REFUSAL_WINDOW = 200


def is_refusal(text: str) -> bool:
    """True when the opening of ``text`` contains one of :data:`REFUSAL_PHRASES`."""
    folded = " ".join(text.lower().replace("\u2019", "'").replace("\u2018", "'").split())
    for phrase in REFUSAL_PHRASES:
        at = folded.find(phrase)
        if 0 <= at < REFUSAL_WINDOW:
            return True
    return False
