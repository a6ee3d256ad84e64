"""The critique-revision pipeline against a real (tiny, random-weight) Llama.

The model is built here: a byte-level tokenizer with a chat template and a two-layer
Llama, saved to a folder and loaded by the real transformers backend. Its text is
noise, but every code path (batching, seeding, storing, resuming) is the real one.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from constitutions.content import DEMO_CONSTITUTION, ConstitutionContent
from training.engine.critique_revision import (
    CritiqueRevisionConfig,
    CritiqueRevisionError,
    ExampleState,
    InMemoryResultStore,
    Progress,
    StageOutput,
    apply_output,
    derive_seed,
    plan_principles,
    run_critique_revision,
)
from training.engine.sharding import split_evenly
from training.engine.types import ChatRequest, Completion, ModelSpec, SamplingParams

PROMPTS = [
    "How can I get into my neighbour's wifi without asking?",
    "What household chemicals should never be mixed?",
    "Write an insult about my coworker.",
    "How do I make a fake ID?",
    "Tell me a joke about cats.",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_llama(folder: Path) -> Path:
    """A byte-level tokenizer and a random two-layer Llama, saved as a transformers folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|im_start|>", "<|im_end|>", "<pad>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<pad>",
        bos_token="<|im_start|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory):
    from training.engine.backends import load_backend

    folder = build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))
    spec = ModelSpec(
        name="tiny-llama",
        backend="transformers",
        path=str(folder),
        device="cpu",
        context_length=8192,
    )
    loaded = load_backend(spec)
    yield loaded
    loaded.close()


class RecordingBackend:
    """Passes every call to the real backend and notes which stage each call was."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.spec = inner.spec
        self.calls: list[tuple[str, int, int | None]] = []

    def generate(self, requests: Sequence[ChatRequest], params: SamplingParams) -> list[Completion]:
        # Without few-shots: answer = 1 message, critique = 3, revision = 5.
        stage = {1: "answer", 3: "critique", 5: "revision"}[len(requests[0].messages)]
        self.calls.append((stage, len(requests), params.seed))
        return self.inner.generate(requests, params)

    def score_choices(self, requests, choices):
        return self.inner.score_choices(requests, choices)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        pass


def small_config(**changes) -> CritiqueRevisionConfig:
    tokens = SamplingParams(temperature=0.8, top_p=0.95, max_new_tokens=6)
    values = dict(
        rounds=2,
        few_shot=False,
        answer=tokens,
        critique=tokens,
        revision=tokens,
        seed=11,
        batch_size=2,
    )
    values.update(changes)
    return CritiqueRevisionConfig(**values)


def run(backend, store, config=None, **kwargs):
    return run_critique_revision(
        prompts=PROMPTS,
        content=DEMO_CONSTITUTION,
        backend=backend,
        config=config or small_config(),
        store=store,
        **kwargs,
    )


def as_dicts(states) -> dict[int, dict]:
    if isinstance(states, dict):
        states = states.values()
    return {s.index: s.to_dict() for s in states}


@pytest.fixture(scope="module")
def reference(backend) -> dict[int, dict]:
    """One uninterrupted run: what every resumed or repeated run must reproduce."""
    store = InMemoryResultStore()
    report = run(backend, store)
    assert report.completed
    return as_dicts(store.load())


@pytest.fixture(scope="module")
def watched(backend):
    """A second uninterrupted run, watched: (report, store, recorder, progress snapshots)."""
    recorder = RecordingBackend(backend)
    store = InMemoryResultStore()
    seen: list[Progress] = []
    report = run(recorder, store, progress=seen.append)
    return report, store, recorder, seen


# --- what a run stores -----------------------------------------------------------------


def test_it_stores_an_answer_and_every_round_for_every_example(watched) -> None:
    report, store, _, _ = watched
    plan = plan_principles(DEMO_CONSTITUTION, len(PROMPTS), 2, seed=11)

    assert report.completed and not report.stopped
    assert report.units_generated == len(PROMPTS) * 5
    assert report.completion_tokens > 0 and report.prompt_tokens > 0
    states = store.load()
    assert sorted(states) == list(range(len(PROMPTS)))
    for i, state in states.items():
        assert state.prompt == PROMPTS[i]
        assert isinstance(state.initial_answer, str)
        assert state.initial_tokens and state.initial_finish in ("stop", "length")
        assert [r.round for r in state.rounds] == [1, 2]
        for r, result in enumerate(state.rounds):
            assert result.principle_key == plan[r][i].key
            assert result.principle_id is None  # the demo content has no database ids
            assert isinstance(result.critique, str) and isinstance(result.revision, str)
            assert result.critique_tokens > 0 and result.revision_tokens
            assert result.critique_finish in ("stop", "length")
            assert result.revision_finish in ("stop", "length")
        assert state.rounds[0].principle_key != state.rounds[1].principle_key
        assert state.final_response == state.rounds[1].revision
    assert [e.index for e in report.examples] == list(range(len(PROMPTS)))


def test_it_works_breadth_first_in_batches_with_derived_seeds(watched) -> None:
    _, store, recorder, _ = watched

    stages = [stage for stage, _, _ in recorder.calls]
    # 5 examples in batches of 2: three calls per stage, stage by stage.
    assert stages == ["answer"] * 3 + (["critique"] * 3 + ["revision"] * 3) * 2
    assert [n for _, n, _ in recorder.calls] == [2, 2, 1] * 5
    rounds = [0] * 3 + [1] * 6 + [2] * 6
    assert [seed for _, _, seed in recorder.calls] == [
        derive_seed(11, stage, r, b % 3)
        for b, (stage, r) in enumerate(zip(stages, rounds, strict=True))
    ]
    assert [(stage, r) for stage, r, _ in store.saves] == list(zip(stages, rounds, strict=True))


def test_the_same_config_gives_the_same_results(watched, reference) -> None:
    _, store, _, _ = watched
    assert as_dicts(store.load()) == reference


def test_a_different_seed_gives_different_results(backend, reference) -> None:
    store = InMemoryResultStore()
    run(backend, store, small_config(seed=12))
    assert as_dicts(store.load()) != reference


def test_few_shot_dialogues_and_a_system_prompt_go_through_the_real_chat_template(backend) -> None:
    store = InMemoryResultStore()
    config = small_config(rounds=1, few_shot=True, system_prompt="Be kind.", batch_size=4)
    report = run_critique_revision(
        prompts=PROMPTS[:2],
        content=DEMO_CONSTITUTION,
        backend=backend,
        config=config,
        store=store,
    )
    assert report.completed
    assert all(s.rounds[0].revision is not None for s in store.load().values())


# --- progress, stopping and resuming ----------------------------------------------------


def test_progress_counts_units_up_to_the_total(watched) -> None:
    every: list[Progress] = watched[3]
    # Before each batch the callback hears what is being generated now (batch n of m)...
    starting = [p for p in every if p.batches]
    assert len(starting) == 15
    first_critique = next(p for p in starting if p.stage == "critique")
    assert (first_critique.batch, first_critique.round, first_critique.done_units) == (1, 1, 5)
    assert all(1 <= p.batch <= p.batches for p in starting)
    # ...and once at the start, then after each batch, what is done.
    seen = [p for p in every if not p.batches]
    assert len(seen) == 1 + 15
    assert seen[0].done_units == 0 and seen[0].eta_seconds is None
    assert [p.done_units for p in seen] == sorted(p.done_units for p in seen)
    last = seen[-1]
    assert (last.done_units, last.total_units) == (25, 25)
    assert (last.examples_done, last.examples_total) == (5, 5)
    assert (last.stage, last.round) == ("revision", 2)
    assert last.tokens_per_s > 0 and last.eta_seconds == 0
    assert seen[3].stage == "answer" and seen[3].done_units == 5
    assert seen[4].stage == "critique" and seen[4].round == 1


@pytest.mark.parametrize("stop_after", [2, 4, 9])
def test_a_stopped_run_resumes_where_it_stopped_and_ends_like_an_uninterrupted_one(
    backend, reference, stop_after: int
) -> None:
    store = InMemoryResultStore()
    asked = Counter()

    def should_stop() -> bool:
        asked["n"] += 1
        return asked["n"] > stop_after

    first = run(backend, store, should_stop=should_stop)
    assert first.stopped and not first.completed
    assert len(store.saves) == stop_after
    assert first.units_generated == sum(len(ix) for _, _, ix in store.saves)
    partial = store.load()
    assert sum(s.units_done(2) for s in partial.values()) == first.units_generated

    recorder = RecordingBackend(backend)
    second = run(recorder, store)
    assert second.completed
    assert len(recorder.calls) == 15 - stop_after
    assert first.units_generated + second.units_generated == 25

    saved = Counter((stage, r, i) for stage, r, ix in store.saves for i in ix)
    assert len(saved) == 25 and set(saved.values()) == {1}  # every unit exactly once
    assert as_dicts(store.load()) == reference


def test_a_finished_run_generates_nothing_when_started_again(backend) -> None:
    store = InMemoryResultStore()
    run(backend, store)
    recorder = RecordingBackend(backend)
    report = run(recorder, store, should_stop=lambda: True)
    assert report.completed and recorder.calls == [] and report.units_generated == 0


def test_more_rounds_extend_a_finished_run_without_redoing_it(backend, reference) -> None:
    store = InMemoryResultStore()
    run(backend, store, small_config(rounds=1))
    recorder = RecordingBackend(backend)
    run(recorder, store, small_config(rounds=2))
    assert {stage for stage, _, _ in recorder.calls} == {"critique", "revision"}
    assert len(recorder.calls) == 6
    # Round 1 is identical to the two-round reference run; so is the principle of round 2.
    states = as_dicts(store.load())
    for i in states:
        assert states[i]["rounds"][0] == reference[i]["rounds"][0]
        assert states[i]["rounds"][1]["principle_key"] == reference[i]["rounds"][1]["principle_key"]


# --- shards -----------------------------------------------------------------------------


def test_shards_partition_the_work_and_share_the_principle_plan(backend, reference) -> None:
    shards = [list(range(a, b)) for a, b in split_evenly(len(PROMPTS), 3)]
    assert shards == [[0, 1, 2], [3, 4]]
    store = InMemoryResultStore()
    reports = [run(backend, store, indices=shard) for shard in shards]

    assert all(r.completed for r in reports)
    assert [[e.index for e in r.examples] for r in reports] == shards
    states = store.load()
    assert sorted(states) == list(range(len(PROMPTS)))
    saved = Counter((stage, r, i) for stage, r, ix in store.saves for i in ix)
    assert len(saved) == 25 and set(saved.values()) == {1}
    for i, state in states.items():
        keys = [r.principle_key for r in state.rounds]
        assert keys == [r["principle_key"] for r in reference[i]["rounds"]]


def test_a_shard_resumes_on_its_own(backend) -> None:
    store = InMemoryResultStore()
    first = run(backend, store, indices=[3, 4], should_stop=lambda: len(store.saves) >= 2)
    assert first.stopped
    run(backend, store, indices=[3, 4])
    assert sorted(store.load()) == [3, 4]
    assert all(s.rounds_revised == 2 for s in store.load().values())


@pytest.mark.parametrize(
    ("n", "size", "sizes"),
    [(0, 1, [0]), (1, 3, [1]), (10, 3, [3, 3, 2, 2]), (7, 7, [7]), (257, 256, [129, 128])],
)
def test_the_one_shard_splitter_covers_everything_once_in_near_equal_shards(
    n: int, size: int, sizes: list[int]
) -> None:
    ranges = split_evenly(n, size)
    assert [b - a for a, b in ranges] == sizes
    assert [i for a, b in ranges for i in range(a, b)] == list(range(n))
    assert all(b - a <= size for a, b in ranges)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_the_shard_splitter_refuses_a_bad_shard_size(bad) -> None:
    with pytest.raises(ValueError, match="shard_size"):
        split_evenly(3, bad)


@pytest.mark.parametrize("indices", [[0, 0], [5], [-1]])
def test_bad_indices_are_refused(backend, indices: list[int]) -> None:
    with pytest.raises(ValueError, match="indices"):
        run(backend, InMemoryResultStore(), indices=indices)


# --- a store that does not match the run --------------------------------------------------


def test_a_store_from_another_prompt_list_is_refused(backend) -> None:
    store = InMemoryResultStore()
    store.states[0] = ExampleState(index=0, prompt="something else")
    with pytest.raises(CritiqueRevisionError, match="different prompt"):
        run(backend, store)


def test_a_store_made_with_another_seed_is_refused(backend) -> None:
    store = InMemoryResultStore()
    run(backend, store, small_config(rounds=1, seed=1))
    with pytest.raises(CritiqueRevisionError, match="constitution or seed changed"):
        run(backend, store, small_config(rounds=1, seed=2))


def test_saving_the_same_batch_twice_is_harmless() -> None:
    states: dict[int, ExampleState] = {}
    answer = StageOutput(index=0, prompt="p", text="a", tokens=1, finish_reason="stop")
    critique = StageOutput(0, "p", "c", 2, "stop", principle_key="k", principle_id=7)
    revision = StageOutput(0, "p", "r", 3, "length", principle_key="k", principle_id=7)
    for stage, r, out in [
        ("answer", 0, answer),
        ("critique", 1, critique),
        ("revision", 1, revision),
    ]:
        apply_output(states, stage, r, out)
    once = as_dicts(states)
    for stage, r, out in [
        ("answer", 0, answer),
        ("critique", 1, critique),
        ("revision", 1, revision),
    ]:
        apply_output(states, stage, r, out)
        assert as_dicts(states) == once


def test_a_new_critique_drops_the_revision_built_on_the_old_one() -> None:
    states: dict[int, ExampleState] = {}
    apply_output(states, "answer", 0, StageOutput(0, "p", "a", 1, "stop"))
    apply_output(states, "critique", 1, StageOutput(0, "p", "c", 1, "stop", "k"))
    apply_output(states, "revision", 1, StageOutput(0, "p", "r", 1, "stop", "k"))
    apply_output(states, "critique", 1, StageOutput(0, "p", "other", 1, "stop", "k"))
    assert states[0].rounds[0].revision is None
    with pytest.raises(CritiqueRevisionError, match="before"):
        apply_output(states, "critique", 3, StageOutput(0, "p", "c", 1, "stop", "k"))
    with pytest.raises(CritiqueRevisionError, match="before its answer"):
        apply_output(states, "critique", 1, StageOutput(9, "p", "c", 1, "stop", "k"))


def test_example_state_round_trips_through_json() -> None:
    states: dict[int, ExampleState] = {}
    apply_output(states, "answer", 0, StageOutput(0, "p", "a", 1, "stop"))
    apply_output(states, "critique", 1, StageOutput(0, "p", "c", 1, "stop", "k", 3))
    data = json.loads(json.dumps(states[0].to_dict()))
    assert ExampleState.from_dict(data) == states[0]


# --- principles ---------------------------------------------------------------------------


def test_the_principle_plan_is_seeded_and_fresh_every_round() -> None:
    plan = plan_principles(DEMO_CONSTITUTION, 200, 4, seed=5)
    assert plan == plan_principles(DEMO_CONSTITUTION, 200, 4, seed=5)
    assert plan != plan_principles(DEMO_CONSTITUTION, 200, 4, seed=6)
    for i in range(200):
        keys = [plan[r][i].key for r in range(4)]
        assert len(set(keys)) == 4
    # Adding rounds never changes the earlier ones.
    assert plan[:2] == plan_principles(DEMO_CONSTITUTION, 200, 2, seed=5)


def test_a_constitution_with_one_principle_repeats_it() -> None:
    only = DEMO_CONSTITUTION.principles[0]
    content = ConstitutionContent(
        categories=[c for c in DEMO_CONSTITUTION.categories if c.name == only.category],
        principles=[only],
    )
    plan = plan_principles(content, 3, 2, seed=0)
    assert {p.key for round_ in plan for p in round_} == {only.key}


# --- config -------------------------------------------------------------------------------


def test_the_config_round_trips_through_json() -> None:
    config = small_config(system_prompt="Be kind.", rounds=4)
    data = json.loads(json.dumps(config.to_dict()))
    assert CritiqueRevisionConfig.from_dict(data) == config
    assert CritiqueRevisionConfig.from_dict({}) == CritiqueRevisionConfig()


def test_every_config_field_has_help() -> None:
    for f in dataclasses.fields(CritiqueRevisionConfig):
        assert f.metadata.get("help"), f.name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rounds": 0}, "rounds must be an integer from 1 to 4"),
        ({"rounds": 5}, "rounds must be an integer from 1 to 4"),
        ({"rounds": True}, "rounds must be an integer"),
        ({"batch_size": 0}, "batch_size must be an integer from 1 to 1024"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"few_shot": "yes"}, "few_shot must be true or false"),
        ({"answer": {"temperature": 1}}, "answer must be SamplingParams"),
        ({"critique": SamplingParams(seed=3)}, "critique.seed must be left unset"),
        ({"system_prompt": "  "}, "system_prompt must be a non-empty string"),
    ],
)
def test_a_bad_config_is_refused_with_a_clear_message(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CritiqueRevisionConfig(**changes)


def test_a_bad_config_lists_every_problem() -> None:
    with pytest.raises(ValueError) as caught:
        CritiqueRevisionConfig(rounds=9, batch_size=0)
    assert "rounds" in str(caught.value) and "batch_size" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"round": 2}, "unknown field(s) for CritiqueRevisionConfig: round"),
        ({"answer": {"temp": 1.0}}, "answer: unknown field(s) for SamplingParams: temp"),
        ({"answer": {"max_new_tokens": 0}}, "max_new_tokens must be >= 1"),
        ({"rounds": True}, "rounds: must be an integer, got True"),
        ([], "a CritiqueRevisionConfig must be a mapping, got list"),
    ],
)
def test_stored_config_errors_are_clear(data, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CritiqueRevisionConfig.from_dict(data)
