"""The training pages as each member of the cast sees them, on a fake backend."""

from __future__ import annotations

import gzip
import html
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import published_demo_version
from tests.labelling.jobs import post_and_run, run_job
from tests.training import run_fixtures
from tests.training.run_fixtures import PROMPTS, cr_start, small_config
from training import services, shards
from training.models import Example, ModelEntry, Prompt, PromptSet, Run, RunStatus

# Fixtures shared with the other run tests (pytest finds them by module name).
fake_llm = run_fixtures.fake_llm
fake_model_dir = run_fixtures.fake_model_dir

READ_ROLES = ("owner", "author", "auditor", "viewer")
LAUNCH_ROLES = ("owner", "author")


@pytest.fixture
def setup(cast, team, author, fake_model_dir, fake_llm, django_capture_on_commit_callbacks):
    version = published_demo_version(team, author)
    data = "\n".join(PROMPTS + ["<script>alert('x')</script> how do I hack a bank?"]).encode()
    prompt_set = services.promptset_import(
        team=team, user=author, name="locks", data=data, filename="p.txt", held_out_fraction=0.0
    )
    model = services.model_register(team=team, user=author, name="fake", path=str(fake_model_dir))
    with django_capture_on_commit_callbacks(execute=False):
        run = cr_start(
            team=team,
            user=author,
            version=version,
            prompt_set=prompt_set,
            model=model,
            config=small_config(),
            shard_size=6,
            prompt_selection="all",
        )
    for shard in run.shards.all():
        shards.shard_execute(shard.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    return {"version": version, "prompt_set": prompt_set, "model": model, "run": run, "team": team}


def page_urls(setup) -> dict[str, str]:
    slug, run, ps = setup["team"].slug, setup["run"], setup["prompt_set"]
    return {
        "run_list": reverse("run_list", args=[slug]),
        "run_detail": reverse("run_detail", args=[slug, run.pk]),
        "run_logs": reverse("run_logs", args=[slug, run.pk]),
        "run_results": reverse("run_results", args=[slug, run.pk]),
        "run_stats": reverse("run_stats", args=[slug, run.pk]),
        "export_trl": reverse("run_export", args=[slug, run.pk, "trl.jsonl"]),
        "export_provenance": reverse("run_export", args=[slug, run.pk, "provenance.json"]),
        "promptset_list": reverse("promptset_list", args=[slug]),
        "promptset_detail": reverse("promptset_detail", args=[slug, ps.pk]),
        "model_list": reverse("model_list", args=[slug]),
        "dashboard": reverse("team_dashboard", args=[slug]),
    }


def test_every_page_is_readable_by_members_only(setup, cast, client_for) -> None:
    # One setup, every role in turn: the matrix is URLs x roles.
    for role in (*READ_ROLES, "outsider", "anonymous"):
        client = client_for(cast.get(role))
        for name, url in page_urls(setup).items():
            response = client.get(url)
            if role == "anonymous":
                assert response.status_code == 302, (role, name)
                assert "/accounts/login/" in response["Location"], (role, name)
            elif role == "outsider":
                assert response.status_code == 404, (role, name)
            else:
                assert response.status_code == 200, (role, name, response.status_code)


def write_actions(setup, fake_model_dir, role: str) -> dict[str, tuple[str, dict]]:
    slug, run = setup["team"].slug, setup["run"]
    return {
        "launch": (
            reverse("run_launch", args=[slug, "critique_revision"]),
            launch_data(setup),
        ),
        "cancel": (reverse("run_cancel", args=[slug, run.pk]), {}),
        "resume": (reverse("run_resume", args=[slug, run.pk]), {}),
        "register": (
            reverse("model_list", args=[slug]),
            {
                "name": f"another-{role}",
                "backend": "transformers",
                "path": str(fake_model_dir),
                "dtype": "auto",
                "context_length": 2048,
            },
        ),
        "upload": (
            reverse("promptset_list", args=[slug]),
            {
                "name": f"more-{role}",
                "held_out_fraction": 0.1,
                "split_seed": 1,
                "file": ("more.txt", b"one\ntwo\nthree\n"),
            },
        ),
    }


def launch_data(setup, **changes) -> dict:
    data = {
        "version": setup["version"].pk,
        "prompt_set": setup["prompt_set"].pk,
        "prompt_selection": "all",
        "model": setup["model"].pk,
        "rounds": 1,
        "few_shot": "on",
        "seed": 0,
        "batch_size": 4,
        "shard_size": 5,
        "name": "from the form",
    }
    for stage in ("answer", "critique", "revision"):
        data |= {f"{stage}_temperature": 0.7, f"{stage}_top_p": 0.95, f"{stage}_max_new_tokens": 8}
    data.update(changes)
    # Every launch form is prefixed with its kind (several kinds can share one page).
    return {f"critique_revision-{k}": v for k, v in data.items()}


def post(client, url: str, data: dict):
    files = {k: v for k, v in data.items() if isinstance(v, tuple)}
    plain = {k: v for k, v in data.items() if not isinstance(v, tuple)}
    for key, (name, content) in files.items():
        upload = io.BytesIO(content)
        upload.name = name
        plain[key] = upload
    return client.post(url, plain)


@pytest.mark.parametrize("action", ["launch", "cancel", "resume", "register", "upload"])
def test_only_owners_and_authors_launch_cancel_resume_upload_and_register(
    setup, cast, client_for, fake_model_dir, action: str, django_capture_on_commit_callbacks
) -> None:
    for role in (*READ_ROLES, "outsider"):
        url, data = write_actions(setup, fake_model_dir, role)[action]
        with django_capture_on_commit_callbacks(execute=False):
            response = post(client_for(cast[role]), url, data)
        if role == "outsider":
            assert response.status_code == 404, role
        elif role not in LAUNCH_ROLES:
            assert response.status_code == 403, role
        else:
            # cancel/resume of a succeeded run are refused with a message, still a redirect.
            assert response.status_code == 302, (role, response.content.decode()[:2000])


def test_the_launch_form_offers_only_published_versions_and_the_teams_objects(
    setup, team, author, other_team, client_for, fake_model_dir
) -> None:
    from constitutions import services as constitution_services
    from constitutions.content import DEMO_CONSTITUTION

    draft = constitution_services.constitution_create(
        team=team, user=author, name="Draft one", content=DEMO_CONSTITUTION
    )
    foreign = ModelEntry.objects.create(team=other_team, name="theirs", path=str(fake_model_dir))
    client = client_for(author)
    page = client.get(reverse("run_launch", args=[team.slug, "critique_revision"])).content.decode()
    assert f'value="{setup["version"].pk}"' in page
    assert "Draft one" not in page and "theirs" not in page
    for field, bad in (("version", draft.pk), ("model", foreign.pk)):
        response = client.post(
            reverse("run_launch", args=[team.slug, "critique_revision"]),
            launch_data(setup, **{field: bad}),
        )
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()
    assert Run.objects.count() == 1


def test_launching_from_the_form_queues_the_shards_and_shows_the_run(
    setup, team, author, client_for, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(author).post(
            reverse("run_launch", args=[team.slug, "critique_revision"]), launch_data(setup)
        )
    run = Run.objects.exclude(pk=setup["run"].pk).get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "run_detail", args=[team.slug, run.pk]
    )
    assert len(callbacks) == 3  # 11 prompts in shards of at most 5
    assert run.config["answer"]["max_new_tokens"] == 8 and run.config["few_shot"] is True
    assert run.name == "from the form"


def test_bad_sampling_values_are_refused_by_the_form(setup, team, author, client_for) -> None:
    response = client_for(author).post(
        reverse("run_launch", args=[team.slug, "critique_revision"]),
        launch_data(setup, rounds=5, critique_top_p=0),
    )
    assert response.status_code == 400
    assert Run.objects.count() == 1


def test_the_progress_fragment_polls_while_running_and_stops_with_286(
    setup, team, viewer, client_for
) -> None:
    run = setup["run"]
    client = client_for(viewer)
    url = reverse("run_detail", args=[team.slug, run.pk])
    finished = client.get(url, HTTP_HX_REQUEST="true")
    assert finished.status_code == 286
    assert "<html" not in finished.content.decode()
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        stage="critique",
        round=1,
        tokens_per_s=12.5,
        eta_seconds=42,
        heartbeat_at=timezone.now(),
    )
    running = client.get(url, HTTP_HX_REQUEST="true")
    body = running.content.decode()
    assert running.status_code == 200 and 'hx-trigger="every 2s"' in body
    assert "critique" in body and "12.5 tok/s" in body
    # The worker's 42 s estimate, counted down since it was written (a second at most).
    assert re.search(r'ETA <strong><span data-countdown="4[12]">4[12] s</span>', body)
    assert "HX-Request" in running["Vary"]
    full = client.get(url).content.decode()
    assert "<html" in full and 'id="live"' in full


def test_a_failed_run_shows_its_error_and_a_resume_button(setup, team, author, client_for) -> None:
    run = setup["run"]
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, error="shard 0: CUDA out of memory"
    )
    body = client_for(author).get(reverse("run_detail", args=[team.slug, run.pk])).content.decode()
    assert "CUDA out of memory" in body
    assert reverse("run_resume", args=[team.slug, run.pk]) in body


def test_cancel_from_the_page_cancels_a_queued_run(
    setup, team, author, client_for, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        run = cr_start(
            team=team,
            user=author,
            version=setup["version"],
            prompt_set=setup["prompt_set"],
            model=setup["model"],
            config=small_config(),
            prompt_selection="all",
        )
    response = client_for(author).post(reverse("run_cancel", args=[team.slug, run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_results_show_initial_and_final_answers_with_an_escaped_word_diff(
    setup, team, viewer, client_for
) -> None:
    run = setup["run"]
    body = client_for(viewer).get(reverse("run_results", args=[team.slug, run.pk])).content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;alert" in body
    assert "<del>" in body and "<ins>" in body
    assert "Round 2" in body and "dangerous-assistance" in body or "Round 2" in body
    assert "11 examples" in body


def test_results_filters_narrow_the_examples(setup, team, viewer, client_for) -> None:
    run = setup["run"]
    url = reverse("run_results", args=[team.slug, run.pk])
    client = client_for(viewer)
    example = Example.objects.filter(run=run).prefetch_related("rounds").first()
    first = example.rounds.get(round=1)
    response = client.get(url, {"principle": first.principle_id, "round": 1})
    expected = Example.objects.filter(
        run=run, rounds__round=1, rounds__principle_id=first.principle_id
    ).count()
    assert f"{expected} example" in response.content.decode()
    truncated = client.get(url, {"truncated": "on"}, HTTP_HX_REQUEST="true")
    assert truncated.status_code == 200 and "<html" not in truncated.content.decode()


def test_statistics_draw_svg_charts_of_usage_length_and_refusals(
    setup, team, viewer, client_for
) -> None:
    body = (
        client_for(viewer)
        .get(reverse("run_stats", args=[team.slug, setup["run"].pk]))
        .content.decode()
    )
    assert body.count("<svg") == 3
    assert "Principle usage" in body and "Refusal-phrase rate" in body
    # The fake backend refuses in round 2 revisions only.
    assert "revision 2" in body


def test_the_trl_export_has_one_prompt_completion_record_per_complete_example(
    setup, team, viewer, client_for
) -> None:
    run = setup["run"]
    response = client_for(viewer).get(reverse("run_export", args=[team.slug, run.pk, "trl.jsonl"]))
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 11
    record = json.loads(lines[0])
    assert record["prompt"] == [
        {"role": "user", "content": Prompt.objects.get(prompt_set=run.prompt_set, index=0).text}
    ]
    final = Example.objects.get(run=run, index=0).rounds.get(round=2).revision
    assert record["completion"] == [{"role": "assistant", "content": final}]


def test_the_provenance_names_the_constitution_hash_model_and_config(
    setup, team, viewer, client_for
) -> None:
    run = setup["run"]
    data = json.loads(
        client_for(viewer)
        .get(reverse("run_export", args=[team.slug, run.pk, "provenance.json"]))
        .content
    )
    assert data["constitution"]["content_hash"] == setup["version"].content_hash
    assert data["model"]["name"] == "fake" and data["config"] == run.config


def test_the_datasets_export_is_a_zipped_save_to_disk_folder(
    setup, team, viewer, client_for, settings, tmp_path
) -> None:
    settings.ARTIFACTS_DIR = tmp_path
    run = setup["run"]
    client = client_for(viewer)
    url = reverse("run_export", args=[team.slug, run.pk, "datasets.zip"])
    assert "Build the file" in client.get(url).content.decode()  # the request builds nothing
    job = run_job(client.post(url))
    assert job.status == "done", job.error
    response = client.get(reverse("filejob_download", args=[team.slug, job.pk]))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    folder = tmp_path / "unzipped"
    archive.extractall(folder)
    (root,) = list(folder.iterdir())
    assert (root / "provenance.json").is_file()
    from datasets import load_from_disk

    dataset = load_from_disk(str(root))
    assert len(dataset) == 11
    # trl's two columns, plus where each row came from
    assert set(dataset.column_names) == {"prompt", "completion", "example_index", "principle_keys"}


# --- prompt-set uploads -------------------------------------------------------------------

BAD_FILES = [
    pytest.param("p.pdf", b"hello", "not a supported prompt file", id="unknown-extension"),
    pytest.param("p.txt", b"", "the file is empty", id="empty"),
    pytest.param(
        "p.jsonl", b'{"prompt": "ok"}\n{"prompt": \n{"text": "x"}\n', "line 2", id="bad-json-lines"
    ),
    pytest.param(
        "p.jsonl", b'{"prompt": "ok"}\n{"text": "x"}\n', 'line 2: no "prompt"', id="missing-field"
    ),
    pytest.param("p.jsonl", b'{"prompt": 5}\n', "line 1", id="prompt-not-a-string"),
    pytest.param("p.csv", b"text\nhello\n", "prompt", id="csv-without-prompt-column"),
    pytest.param("p.txt", b"caf\xe9\n", "not UTF-8", id="not-utf8"),
    pytest.param("p.txt", b"x" * 9000 + b"\n", "line 1", id="prompt-too-long"),
    pytest.param("p.txt.gz", gzip.compress(b"hello\n")[:-6], "truncated", id="truncated-gzip"),
    pytest.param("p.txt.gz", b"not gzip at all", "not valid gzip", id="corrupt-gzip"),
    pytest.param(
        "p.txt.gz", gzip.compress(b"a\n" * 15_000_000), "expands to more than", id="gzip-bomb"
    ),
]


@pytest.mark.parametrize(("filename", "content", "message"), BAD_FILES)
def test_each_bad_prompt_file_is_rejected_with_its_problems_and_nothing_imported(
    team, author, client_for, monkeypatch, filename: str, content: bytes, message: str
) -> None:
    from training.services import prompt_sets

    # The old in-request limit, so the gzip bomb (30 MB expanded) is still one.
    monkeypatch.setattr(prompt_sets, "MAX_PROMPT_IMPORT_BYTES", 20_000_000)
    upload = io.BytesIO(content)
    upload.name = filename
    response = post_and_run(
        client_for(author),
        reverse("promptset_list", args=[team.slug]),
        {"name": "bad", "held_out_fraction": 0.1, "split_seed": 0, "file": upload},
    )
    body = response.content.decode()
    assert response.status_code == 200 and response.job.status == "failed"
    assert "Nothing was imported" in body
    assert html.escape(message) in body, body[body.find("import-problems") - 50 :][:800]
    assert not PromptSet.objects.exists() and not Prompt.objects.exists()


def test_a_file_over_the_upload_limit_is_refused_before_parsing(
    team, author, client_for, monkeypatch
) -> None:
    monkeypatch.setattr("training.services.prompt_sets.MAX_PROMPT_IMPORT_BYTES", 10)
    upload = io.BytesIO(b"one prompt\nanother prompt\n")
    upload.name = "p.txt"
    response = client_for(author).post(
        reverse("promptset_list", args=[team.slug]),
        {"name": "big", "held_out_fraction": 0, "split_seed": 0, "file": upload},
    )
    assert response.status_code == 400 and "larger than 10 bytes" in response.content.decode()
    assert not PromptSet.objects.exists()


def test_a_good_hh_rlhf_upload_imports_deduplicated_prompts_with_a_seeded_split(
    team, author, client_for, shared_data: Path
) -> None:
    raw = gzip.decompress((shared_data / "hh-rlhf-harmless-base-test.jsonl.gz").read_bytes())
    lines = raw.decode().splitlines()[:200]
    upload = io.BytesIO(("\n".join(lines + lines[:5]) + "\n").encode())
    upload.name = "hh.jsonl"
    response = post_and_run(
        client_for(author),
        reverse("promptset_list", args=[team.slug]),
        {"name": "hh", "held_out_fraction": 0.25, "split_seed": 7, "file": upload},
    )
    assert response.job.status == "done"
    prompt_set = PromptSet.objects.get()
    assert prompt_set.format == "hh-rlhf"
    assert prompt_set.duplicates_removed >= 5
    assert prompt_set.held_out_count == round(prompt_set.count * 0.25)
    assert (
        Prompt.objects.filter(prompt_set=prompt_set, split="held_out").count()
        == prompt_set.held_out_count
    )
    assert "Human:" not in Prompt.objects.filter(prompt_set=prompt_set).first().text


def test_a_duplicate_prompt_set_name_is_refused(setup, team, author, client_for) -> None:
    upload = io.BytesIO(b"one\n")
    upload.name = "p.txt"
    response = client_for(author).post(
        reverse("promptset_list", args=[team.slug]),
        {"name": "locks", "held_out_fraction": 0, "split_seed": 0, "file": upload},
    )
    assert response.status_code == 400 and "already has a prompt set" in response.content.decode()


# --- model registry -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"backend": "transformers", "path": "/no/such/folder"}, "No model this team can use"),
        ({"backend": "openai", "base_url": "ftp://x"}, "http(s) base URL"),
        ({"backend": "transformers", "path": "__FILE__"}, "not a .gguf file"),
    ],
)
def test_registering_a_model_checks_the_path_or_url(
    team, author, client_for, tmp_path, data, message
) -> None:
    if data.get("path") == "__FILE__":
        (tmp_path / "weights.bin").write_text("x")
        data = {**data, "path": str(tmp_path / "weights.bin")}
    response = client_for(author).post(
        reverse("model_list", args=[team.slug]),
        {"name": "m", "dtype": "auto", "context_length": 2048, **data},
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert not ModelEntry.objects.exists()


def test_a_gguf_file_and_an_openai_server_can_be_registered(
    team, author, client_for, tmp_path, settings
) -> None:
    settings.ALLOWED_MODEL_HOSTS = ["127.0.0.1:8080"]  # an administrator's choice
    (tmp_path / "m.Q4.gguf").write_bytes(b"GGUF")
    client = client_for(author)
    url = reverse("model_list", args=[team.slug])
    assert (
        client.post(
            url,
            {
                "name": "g",
                "backend": "transformers",
                "path": str(tmp_path / "m.Q4.gguf"),
                "dtype": "auto",
                "context_length": 2048,
            },
        ).status_code
        == 302
    )
    assert (
        client.post(
            url,
            {
                "name": "s",
                "backend": "openai",
                "base_url": "http://127.0.0.1:8080/v1",
                "dtype": "auto",
                "context_length": 4096,
                "options": '{"concurrency": 8}',
            },
        ).status_code
        == 302
    )
    g, s = ModelEntry.objects.get(name="g"), ModelEntry.objects.get(name="s")
    assert (g.path, g.gguf_file) == (str(tmp_path), "m.Q4.gguf")
    assert s.to_spec().options == {"concurrency": 8}


def test_the_dashboard_shows_the_runs_panel(setup, team, viewer, client_for) -> None:
    body = client_for(viewer).get(reverse("team_dashboard", args=[team.slug])).content.decode()
    assert (
        'id="panel-runs"' in body
        and reverse("run_detail", args=[team.slug, setup["run"].pk]) in body
    )
