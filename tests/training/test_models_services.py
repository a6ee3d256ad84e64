"""Services, the demo seeder and the management commands of the training app."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from tests.factories import published_demo_version
from tests.training import run_fixtures
from tests.training.run_fixtures import PROMPTS, cr_start, small_config
from training import demo, services
from training.artifacts import run_dir
from training.models import Example, ExampleRound, ModelEntry, Prompt, PromptSet, Run, RunStatus

fake_llm = run_fixtures.fake_llm
fake_model_dir = run_fixtures.fake_model_dir


def import_prompts(team, user, **kwargs) -> PromptSet:
    values = dict(
        name="locks", data="\n".join(PROMPTS).encode(), filename="p.txt", held_out_fraction=0.2
    )
    values.update(kwargs)
    return services.promptset_import(team=team, user=user, **values)


def test_a_prompt_set_keeps_file_order_and_a_seeded_split(team, author) -> None:
    a = import_prompts(team, author, split_seed=5)
    b = import_prompts(team, author, name="again", split_seed=5)
    assert list(a.prompts.values_list("text", flat=True)) == PROMPTS
    assert a.held_out_count == 2 and a.train_count == 8
    assert list(a.prompts.values_list("split", flat=True)) == list(
        b.prompts.values_list("split", flat=True)
    )


def test_a_bad_file_imports_nothing_and_lists_every_problem(team, author) -> None:
    with pytest.raises(services.PromptSetError) as error:
        import_prompts(
            team, author, data=b'{"prompt": "a"}\n{"x": 1}\nnot json\n', filename="p.jsonl"
        )
    assert len(error.value.problems) == 2
    assert error.value.problems[0].startswith("line 2") and error.value.problems[1].startswith(
        "line 3"
    )
    assert not PromptSet.objects.exists() and not Prompt.objects.exists()


def test_model_register_validates_paths_and_names(
    team, author, fake_model_dir: Path, tmp_path
) -> None:
    entry = services.model_register(team=team, user=author, name="m", path=str(fake_model_dir))
    assert entry.to_spec().path == str(fake_model_dir)
    with pytest.raises(services.TrainingError, match="already has a model"):
        services.model_register(team=team, user=author, name="m", path=str(fake_model_dir))
    (tmp_path / "only-gguf").mkdir()
    (tmp_path / "only-gguf" / "x.gguf").write_bytes(b"GGUF")
    with pytest.raises(services.TrainingError, match="name one as the GGUF file"):
        services.model_register(team=team, user=author, name="n", path=str(tmp_path / "only-gguf"))


@pytest.fixture
def ready(team, author, fake_model_dir):
    return {
        "version": published_demo_version(team, author),
        "prompt_set": import_prompts(team, author),
        "model": services.model_register(
            team=team, user=author, name="fake", path=str(fake_model_dir)
        ),
    }


def test_a_trained_model_registers_under_a_free_name_when_its_own_is_taken(
    team, author, ready, fake_model_dir: Path, settings, tmp_path: Path
) -> None:
    settings.ARTIFACTS_DIR = str(tmp_path / "artifacts")
    run = cr_start(
        team=team,
        user=author,
        version=ready["version"],
        prompt_set=ready["prompt_set"],
        model=ready["model"],
        config=small_config(),
    )
    own = f"{run.kind}-run-{run.pk}"
    for name in (own, f"{own}-2"):  # registered by hand before the run ended
        services.model_register(team=team, user=author, name=name, path=str(fake_model_dir))
    final = run_dir(run) / "final"  # where a trainer leaves its model
    shutil.copytree(fake_model_dir, final)
    entry = services.trained_model_register(run=run, final_dir=str(final))
    assert entry.name == f"{own}-3" and entry.source_run == run
    # Registering again (a resumed finish) returns the same entry.
    assert services.trained_model_register(run=run, final_dir=str(final)) == entry


def test_drafts_and_other_teams_objects_are_refused(team, other_team, author, ready) -> None:
    from constitutions import services as cs
    from constitutions.content import DEMO_CONSTITUTION

    draft = cs.constitution_create(team=team, user=author, name="Draft", content=DEMO_CONSTITUTION)
    base = dict(
        team=team,
        user=author,
        prompt_set=ready["prompt_set"],
        model=ready["model"],
        config=small_config(),
    )
    with pytest.raises(services.TrainingError, match="only published versions"):
        cr_start(version=draft, **base)
    with pytest.raises(services.TrainingError, match="another team"):
        cr_start(**{**base, "team": other_team, "version": ready["version"]})
    empty = import_prompts(team, author, name="one", data=b"only one\n", held_out_fraction=0.0)
    with pytest.raises(services.TrainingError, match="no prompts in the held-out split"):
        cr_start(
            **{
                **base,
                "prompt_set": empty,
                "version": ready["version"],
                "prompt_selection": "held_out",
            }
        )
    assert not Run.objects.exists()


def test_the_database_refuses_duplicate_examples_and_rounds(team, author, ready, fake_llm) -> None:
    from training import shards

    run = cr_start(
        team=team,
        user=author,
        version=ready["version"],
        prompt_set=ready["prompt_set"],
        model=ready["model"],
        config=small_config(rounds=1),
        enqueue=False,
    )
    shards.shard_execute(run.shards.get().pk)
    example = Example.objects.filter(run=run).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Example.objects.create(
            run=run, index=example.index, prompt=example.prompt, initial_answer="dup"
        )
    first = example.rounds.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ExampleRound.objects.create(
            example=example, round=1, principle=first.principle, critique="dup"
        )


def test_saving_a_batch_twice_leaves_one_row_each(team, author, ready, fake_llm) -> None:
    from training.engine.critique_revision import StageOutput
    from training.kinds.critique_revision import DbResultStore

    run = cr_start(
        team=team,
        user=author,
        version=ready["version"],
        prompt_set=ready["prompt_set"],
        model=ready["model"],
        config=small_config(rounds=1),
        enqueue=False,
    )
    prompt_ids = list(ready["prompt_set"].prompts.order_by("index").values_list("id", flat=True))
    store = DbResultStore(run, 0, 8, prompt_ids)
    principle = ready["version"].principles.first()
    batch = [
        StageOutput(index=i, prompt=PROMPTS[i], text=f"a{i}", tokens=2, finish_reason="stop")
        for i in range(3)
    ]
    crit = [
        StageOutput(
            index=i,
            prompt=PROMPTS[i],
            text=f"c{i}",
            tokens=2,
            finish_reason="length",
            principle_key=principle.key,
            principle_id=principle.pk,
        )
        for i in range(3)
    ]
    for _ in range(2):
        store.save_batch("answer", 0, batch)
        store.save_batch("critique", 1, crit)
        store.save_batch(
            "revision", 1, [StageOutput(**{**o.__dict__, "text": f"r{o.index}"}) for o in crit]
        )
    assert Example.objects.filter(run=run).count() == 3
    assert ExampleRound.objects.filter(example__run=run).count() == 3
    states = store.load()
    assert states[1].rounds[0].revision == "r1" and states[1].rounds[0].critique_finish == "length"
    # A different answer drops the rounds built on the old one.
    store.save_batch(
        "answer",
        0,
        [StageOutput(index=1, prompt=PROMPTS[1], text="new", tokens=1, finish_reason="stop")],
    )
    assert store.load()[1].rounds == []


def test_demo_seed_imports_64_red_team_prompts_and_registers_the_demo_model(
    team, author, shared_data, settings, tmp_path
) -> None:
    settings.MODELS_DIR = tmp_path
    out = io.StringIO()
    demo.seed(team=team, users={"author": author}, stdout=out)
    prompt_set = PromptSet.objects.get(team=team, name=demo.DEMO_PROMPT_SET)
    assert prompt_set.count == 64 and prompt_set.format == "hh-rlhf.gz"
    assert "prepare_demo_model" in out.getvalue()
    assert not ModelEntry.objects.exists()
    model_dir = tmp_path / demo.DEMO_MODEL_DIRNAME
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    demo.seed(team=team, users={"author": author}, stdout=out)  # idempotent
    assert PromptSet.objects.filter(team=team).count() == 1
    assert ModelEntry.objects.get(team=team).path == str(model_dir)
    assert demo.register_demo_model(model_dir) == []


def test_demo_seed_skips_the_prompts_when_the_data_file_is_missing(
    team, author, settings, tmp_path
) -> None:
    settings.SHARED_DATA_DIR = tmp_path
    settings.MODELS_DIR = tmp_path
    out = io.StringIO()
    demo.seed(team=team, users={"author": author}, stdout=out)
    assert "is missing" in out.getvalue() and not PromptSet.objects.exists()


def test_the_shell_commands_import_launch_inline_report_and_cancel(
    team, author, ready, fake_llm, tmp_path, django_capture_on_commit_callbacks
) -> None:
    file = tmp_path / "more.txt"
    file.write_text("first\nsecond\nthird\n")
    out = io.StringIO()
    call_command(
        "promptset_import", team.slug, str(file), "--name", "cli", "--held-out", "0", stdout=out
    )
    assert "3 prompts" in out.getvalue()
    version = f"{ready['version'].constitution.name}@{ready['version'].number}"
    tokens = [f"--set={stage}.max_new_tokens=4" for stage in ("answer", "critique", "revision")]
    call_command(
        "run_start",
        "critique_revision",
        "--team",
        team.slug,
        "--version",
        version,
        "--prompt-set",
        "cli",
        "--model",
        "fake",
        "--set",
        "rounds=2",
        *tokens,
        "--prompt-selection",
        "all",
        "--inline",
        stdout=out,
    )
    run = Run.objects.get(prompt_set__name="cli")
    assert (
        run.status == RunStatus.SUCCEEDED
        and ExampleRound.objects.filter(example__run=run).count() == 6
    )
    call_command("run_status", str(run.pk), stdout=out)
    assert f"run #{run.pk}" in out.getvalue() and "succeeded" in out.getvalue()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        call_command(
            "run_start",
            "critique_revision",
            "--team",
            team.slug,
            "--version",
            version,
            "--prompt-set",
            "cli",
            "--model",
            "fake",
            "--prompt-selection",
            "all",
            stdout=out,
        )
    assert len(queued) == 1
    queued_run = Run.objects.latest("pk")
    call_command("run_cancel", str(queued_run.pk), stdout=out)
    queued_run.refresh_from_db()
    assert queued_run.status == RunStatus.CANCELLED
    with pytest.raises(CommandError, match="nothing to cancel"):
        call_command("run_cancel", str(queued_run.pk), stdout=out)
    with pytest.raises(CommandError, match="rounds must be"):
        call_command(
            "run_start",
            "critique_revision",
            "--team",
            team.slug,
            "--version",
            version,
            "--prompt-set",
            "cli",
            "--model",
            "fake",
            "--set",
            "rounds=7",
            stdout=out,
        )
