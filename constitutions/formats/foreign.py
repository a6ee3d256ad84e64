"""Importers for the CAI paper's prompt files and llm-swarm's constitution."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from constitutions.content import (
    DEFAULT_COMPARISON_QUESTION,
    CategorySpec,
    ConstitutionContent,
    FewShotSpec,
    PrincipleSpec,
    validate_content,
)

from .common import (
    _CRITIQUE_FEW_SHOTS,
    _CRITIQUE_INSTRUCTIONS,
    _MADISON_FEW_SHOTS,
    _MADISON_INSTRUCTIONS,
    _PAPER_KINDS,
    IMPORTED_CATEGORY,
    FormatError,
    ImportedConstitution,
)

# Keys of the comparison principles imported from RLMadisonInstructions.json (by position).
COMPARISON_KEY_PREFIX = "comparison"


def no_question_warning(filename: str) -> str:
    """What an import without comparison questions tells the user labelling will do."""
    return (
        f"{filename}: its principles have no comparison question (they are used by "
        "critique-revision only); AI labelling of this constitution asks the default "
        f'question instead: "{DEFAULT_COMPARISON_QUESTION}"'
    )


def _imported_category(description: str) -> CategorySpec:
    return CategorySpec(name=IMPORTED_CATEGORY, description=description, weight=1.0, priority=100)


def _finish(
    filename: str,
    name: str,
    description: str,
    content: ConstitutionContent,
    source_format: str,
    problems: list[str],
    warnings: list[str],
    few_shot_file: str | None = None,
) -> ImportedConstitution:
    for p in validate_content(content):
        source = few_shot_file if few_shot_file and p.startswith("few_shots[") else filename
        problems.append(f"{source}: {p}")
    if problems:
        raise FormatError(problems)
    return ImportedConstitution(
        name=name,
        description=description,
        content=content,
        source_format=source_format,
        warnings=tuple(warnings),
    )


_SECTION_RE = re.compile(
    r"\n\n(Human|Assistant|CritiqueRequest|Critique|RevisionRequest|Revision):"
)


def _strip_framing(text: str, request: str | None, answer: str) -> str:
    """Turn '\\n\\nCritiqueRequest: X\\n\\nCritique:' into 'X'."""
    text = text.strip()
    if request:
        text = text.removeprefix(f"{request}:").strip()
    if text.endswith(f"{answer}:"):
        text = text[: -len(answer) - 1].rstrip()
    return text


def _few_shot_from_turns(
    turns: list[tuple[str, str]],
    critique_request: str,
    critique: str,
    revision_request: str,
    revision: str,
) -> FewShotSpec:
    """Build a few-shot from (speaker, text) dialogue turns ending in an assistant reply.

    A single exchange gives the human's text as the prompt; a longer dialogue gives
    the transcript up to the last reply ("Human: ...\\n\\nAssistant: ...\\n\\nHuman: ...").
    """
    *earlier, (_, response) = turns
    if len(earlier) == 1:
        prompt = earlier[0][1]
    else:
        prompt = "\n\n".join(f"{speaker}: {text}" for speaker, text in earlier)
    return FewShotSpec(
        prompt=prompt,
        response=response,
        critique_request=critique_request,
        critique=critique,
        revision_request=revision_request,
        revision=revision,
    )


def _paper_few_shot(text: str) -> FewShotSpec | str:
    """Parse one CritiqueRevisionFewShotPrompts dialogue, or return why it does not fit."""
    parts = _SECTION_RE.split("\n\n" + text.lstrip("\n"))
    if parts[0].strip():
        return "text before the first 'Human:' turn"
    sections = [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts), 2)]
    # The paper's dialogues end with an empty "Human:" that cues the next example.
    if sections and sections[-1] == ("Human", ""):
        sections.pop()
    tail = [s for s, _ in sections[-4:]]
    if tail != ["CritiqueRequest", "Critique", "RevisionRequest", "Revision"]:
        return "does not end with CritiqueRequest, Critique, RevisionRequest, Revision"
    dialogue = sections[:-4]
    speakers = [s for s, _ in dialogue]
    if (
        len(dialogue) < 2
        or len(dialogue) % 2
        or speakers != ["Human", "Assistant"] * (len(dialogue) // 2)
    ):
        return "the dialogue before the critique must alternate Human and Assistant turns"
    (_, cr), (_, c), (_, rr), (_, r) = sections[-4:]
    return _few_shot_from_turns(dialogue, cr, c, rr, r)


def _import_cai_paper(kinds: dict[str, list[tuple[str, Any]]]) -> ImportedConstitution:
    problems: list[str] = []
    warnings: list[str] = []
    for kind, found in kinds.items():
        if len(found) > 1:
            names = ", ".join(f for f, _ in found)
            problems.append(f"{names}: more than one {_PAPER_KINDS[kind]} file")
    if _CRITIQUE_INSTRUCTIONS not in kinds:
        given = ", ".join(f for found in kinds.values() for f, _ in found)
        problems.append(
            f"{given}: the CAI paper's format needs CritiqueRevisionInstructions.json "
            "(the critique and revision requests); the other files only add to it"
        )
    if problems:
        raise FormatError(problems)

    filename, doc = kinds[_CRITIQUE_INSTRUCTIONS][0]
    principles: list[PrincipleSpec] = []
    for key, entry in doc.items():
        unknown = sorted(set(map(str, entry)) - {"prompt", "edit_request"})
        if unknown:
            problems.append(f"{filename}: {key}: unknown field(s) {', '.join(unknown)}")
        prompt = entry.get("prompt")
        if isinstance(prompt, str):
            prompt = [prompt]
        if (
            not isinstance(prompt, list)
            or not prompt
            or not all(isinstance(x, str) for x in prompt)
        ):
            problems.append(
                f"{filename}: {key}.prompt: must be a list holding the critique request text"
            )
            continue
        if len(prompt) > 1:
            warnings.append(f"{filename}: {key}.prompt: has {len(prompt)} texts; kept the first")
        edit = entry.get("edit_request")
        if not isinstance(edit, str):
            problems.append(f"{filename}: {key}.edit_request: must be the revision request text")
            continue
        principles.append(
            PrincipleSpec(
                key=key,
                category=IMPORTED_CATEGORY,
                critique_request=_strip_framing(prompt[0], "CritiqueRequest", "Critique"),
                revision_request=_strip_framing(edit, "RevisionRequest", "Revision"),
            )
        )
    sources = [filename]

    # The paper's two lists are independent: critique-revision instructions for SL-CAI
    # and comparison principles for the RL-CAI feedback model, drawn separately and never
    # paired by position. Each comparison principle becomes a labeller-only principle.
    if _MADISON_INSTRUCTIONS in kinds:
        m_name, m_doc = kinds[_MADISON_INSTRUCTIONS][0]
        sources.append(m_name)
        for i, question in enumerate(m_doc):
            principles.append(
                PrincipleSpec(
                    key=f"{COMPARISON_KEY_PREFIX}{i}",
                    category=IMPORTED_CATEGORY,
                    comparison_question=_strip_framing(question, None, "Options"),
                )
            )
    else:
        warnings.append(no_question_warning(filename))

    few_shots: list[FewShotSpec] = []
    if _CRITIQUE_FEW_SHOTS in kinds:
        f_name, f_doc = kinds[_CRITIQUE_FEW_SHOTS][0]
        sources.append(f_name)
        for i, text in enumerate(f_doc):
            shot = _paper_few_shot(text)
            if isinstance(shot, str):
                problems.append(f"{f_name}: [{i}]: {shot}")
            else:
                few_shots.append(shot)
    if _MADISON_FEW_SHOTS in kinds:
        r_name, r_doc = kinds[_MADISON_FEW_SHOTS][0]
        warnings.append(
            f"{r_name}: its {len(r_doc)} preference examples (a prompt with a better and a "
            "worse reply) have no place in a constitution and were not imported"
        )

    content = ConstitutionContent(
        categories=(_imported_category("Imported from the CAI paper's prompt files."),),
        principles=tuple(principles),
        few_shots=tuple(few_shots),
    )
    return _finish(
        filename,
        "CAI paper constitution",
        "Imported from " + ", ".join(sources) + ".",
        content,
        "cai_paper",
        problems,
        warnings,
        few_shot_file=kinds[_CRITIQUE_FEW_SHOTS][0][0] if _CRITIQUE_FEW_SHOTS in kinds else None,
    )


def _swarm_few_shot(chat: Any) -> FewShotSpec | str:
    """Map one llm-swarm system_chat dialogue to a few-shot, or return why it does not fit."""
    if not isinstance(chat, list) or not all(
        isinstance(m, dict) and set(m) == {"role", "content"} and isinstance(m["content"], str)
        for m in chat
    ):
        return 'must be a list of {"role", "content"} messages'
    roles = [m["role"] for m in chat]
    if len(chat) < 6 or len(chat) % 2 or roles != ["user", "assistant"] * (len(chat) // 2):
        return (
            "must alternate user and assistant messages: the dialogue, then the critique "
            "request, critique, revision request and revision"
        )
    speakers = {"user": "Human", "assistant": "Assistant"}
    turns = [(speakers[m["role"]], m["content"].strip()) for m in chat]
    (_, cr), (_, c), (_, rr), (_, r) = turns[-4:]
    return _few_shot_from_turns(turns[:-4], cr, c, rr, r)


def _import_llm_swarm(filename: str, doc: dict[str, Any]) -> ImportedConstitution:
    problems: list[str] = []
    unknown = sorted(set(map(str, doc)) - {"constitutions", "system_chat"})
    if unknown:
        problems.append(f"{filename}: unknown field(s) {', '.join(unknown)}")
    items = doc.get("constitutions")
    if not isinstance(items, list):
        problems.append(f"{filename}: constitutions: must be a list")
        items = []
    principles = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{filename}: constitutions[{i}]: must be an object")
            continue
        extra = sorted(set(map(str, item)) - {"critic", "revision"})
        if extra:
            problems.append(f"{filename}: constitutions[{i}]: unknown field(s) {', '.join(extra)}")
        missing = [k for k in ("critic", "revision") if not isinstance(item.get(k), str)]
        if missing:
            problems.append(
                f"{filename}: constitutions[{i}]: {' and '.join(missing)} must be present as text"
            )
            continue
        principles.append(
            PrincipleSpec(
                key=f"harmful{i}",
                category=IMPORTED_CATEGORY,
                critique_request=item["critic"].strip(),
                revision_request=item["revision"].strip(),
            )
        )
    chats = doc.get("system_chat", [])
    if not isinstance(chats, list):
        problems.append(f"{filename}: system_chat: must be a list")
        chats = []
    few_shots = []
    for i, chat in enumerate(chats):
        shot = _swarm_few_shot(chat)
        if isinstance(shot, str):
            problems.append(f"{filename}: system_chat[{i}]: {shot}")
        else:
            few_shots.append(shot)
    warnings = [no_question_warning(filename)] if principles else []
    content = ConstitutionContent(
        categories=(_imported_category(f"Imported from llm-swarm's {filename}."),),
        principles=tuple(principles),
        few_shots=tuple(few_shots),
    )
    return _finish(
        filename,
        Path(filename).stem or "llm-swarm constitution",
        f"Imported from llm-swarm's {filename}.",
        content,
        "llm_swarm",
        problems,
        warnings,
    )
