"""Big imports and exports as file jobs: stored uploads, one pass in one transaction,
every bad line reported (the first 100 with line numbers, then a count), cancellation
and failure leave nothing, the job page polls until the end, exports are files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from labelling import formats, services
from labelling.models import AILabel, AILabelTally, Comparison, FileJob, HumanReview, LabelSet
from labelling.services import imports as import_service
from labelling.services.imports import labelset_import_run

from .jobs import download_export, run_job
from .labelling_fixtures import hand_records

pytestmark = pytest.mark.django_db


def jsonl(records) -> bytes:
    return formats.export_jsonl(records).encode()


def post_file(client, team, data: bytes, name: str = "Big", filename: str = "labels.jsonl"):
    return client.post(
        reverse("labelset_import", args=[team.slug]),
        {"name": name, "fmt": "jsonl", "file": SimpleUploadedFile(filename, data)},
    )


def uploads_left(settings) -> list[Path]:
    folder = Path(settings.ARTIFACTS_DIR) / "uploads"
    return list(folder.iterdir()) if folder.exists() else []


def nothing_imported() -> bool:
    return not (
        LabelSet.objects.exists()
        or Comparison.objects.exists()
        or AILabel.objects.exists()
        or HumanReview.objects.exists()
        or AILabelTally.objects.exists()
    )


def test_a_gzip_jsonl_upload_is_stored_to_disk_and_imported_by_the_worker(
    client_for, author, team, settings
):
    data = gzip.compress(jsonl(hand_records()))
    response = post_file(client_for(author), team, data, filename="labels.jsonl.gz")
    job = FileJob.objects.get()
    assert Path(job.upload_path).parent == Path(settings.ARTIFACTS_DIR) / "uploads"
    assert Path(job.upload_path).read_bytes() == data  # the bytes as sent, not unpacked
    assert not LabelSet.objects.exists()  # the request only stored the file
    job = run_job(response)
    assert job.status == "done", (job.error, job.problems)
    label_set = LabelSet.objects.get(pk=job.result_id)
    assert label_set.comparison_count == len({r.id for r in hand_records()})
    assert label_set.ai_label_count == len(hand_records())
    assert uploads_left(settings) == []


def test_the_stored_set_equals_a_recount_and_exports_back_to_the_same_records(
    client_for, author, team
):
    """The worker's batched writes (COPY on PostgreSQL) keep tallies and human
    consensus exact: a full recount changes nothing and the export round-trips."""
    client = client_for(author)
    job = run_job(post_file(client, team, jsonl(hand_records())))
    label_set = LabelSet.objects.get(pk=job.result_id)
    before = sorted(
        AILabelTally.objects.filter(label_set=label_set).values_list(
            "judge",
            "principle_key",
            "category",
            "verdict_ab",
            "verdict_ba",
            "n",
            "n_p_ab",
            "n_p_ba",
        ),
        key=repr,
    )
    services.labelset_refresh_tallies(label_set=label_set)
    after = sorted(
        AILabelTally.objects.filter(label_set=label_set).values_list(
            "judge",
            "principle_key",
            "category",
            "verdict_ab",
            "verdict_ba",
            "n",
            "n_p_ab",
            "n_p_ba",
        ),
        key=repr,
    )
    assert before == after and len(before) > 1
    body, _ = download_export(client, team, label_set, "jsonl")
    assert sorted(formats.parse_label_jsonl(body), key=lambda r: r.id) == sorted(
        hand_records(), key=lambda r: r.id
    )


def test_every_bad_line_is_counted_the_first_100_are_listed_and_nothing_is_kept(
    client_for, author, team, settings
):
    good = [json.dumps(r.to_json_dict()) for r in hand_records()]
    bad = [f'{{"id": "bad{i}", "prompt": ' for i in range(150)]
    # Good lines first: the worker has stored a batch when it meets the first bad one.
    data = ("\n".join(good * 1 + bad) + "\n").encode()
    monkey = pytest.MonkeyPatch()
    monkey.setattr(import_service, "IMPORT_BATCH", 2)
    try:
        response = post_file(client_for(author), team, data)
        with TestCase.captureOnCommitCallbacks(execute=True):
            labelset_import_run(FileJob.objects.get().pk, batch_size=2)
    finally:
        monkey.undo()
    job = FileJob.objects.get()
    assert job.status == "failed" and job.problem_count == 150 and len(job.problems) == 100
    first_bad = len(good) + 1
    assert job.problems[0].startswith(f"line {first_bad}: malformed JSON")
    assert job.problems[99].startswith(f"line {first_bad + 99}:")
    page = client_for(author).get(response["Location"]).content.decode()
    assert "150 problems" in page and "… and 50 more." in page
    assert f"line {first_bad + 99}:" in page and f"line {first_bad + 100}:" not in page
    assert nothing_imported()
    assert uploads_left(settings) == []


@pytest.mark.parametrize(
    ("cut", "problem"),
    [
        (lambda data: data[: len(data) // 2], "not a complete gzip file (it is truncated)"),
        (lambda data: data[:10] + b"garbage" * 20, "not valid gzip data"),
        (lambda data: b"\x1f\x8b\x08\x00garbage", "not"),
    ],
    ids=["truncated", "corrupt", "header-only"],
)
def test_a_broken_gzip_upload_fails_naming_it_and_keeps_nothing(
    client_for, author, team, settings, cut, problem
):
    """CI's fuzz found a truncated gzip label upload ending the worker in EOFError."""
    data = cut(gzip.compress(jsonl(hand_records() * 40)))
    job = run_job(post_file(client_for(author), team, data, filename="labels.jsonl.gz"))
    assert job.status == "failed"
    assert any(problem in p for p in job.problems), job.problems
    assert nothing_imported()
    assert uploads_left(settings) == []


def test_a_cancelled_import_rolls_back_what_it_had_stored(client_for, author, team, settings):
    response = post_file(client_for(author), team, jsonl(hand_records()))
    job = FileJob.objects.get()
    stored = []
    real_store = import_service.labelset_store_records

    def store_then_cancel(**kwargs):
        real_store(**kwargs)
        stored.append(len(kwargs["records"]))
        # The author presses Cancel while the worker is between batches.
        client_for(author).post(reverse("filejob_cancel", args=[team.slug, job.pk]))

    monkey = pytest.MonkeyPatch()
    monkey.setattr(import_service, "labelset_store_records", store_then_cancel)
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            labelset_import_run(job.pk, batch_size=3)
    finally:
        monkey.undo()
    assert stored == [3]  # one batch was written, then the worker saw the cancellation
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert nothing_imported()
    assert uploads_left(settings) == []
    page = client_for(author).get(response["Location"], headers={"HX-Request": "true"})
    assert page.status_code == 286 and "nothing of it was kept" in page.content.decode()


def test_a_crash_in_the_middle_leaves_no_label_set(client_for, author, team, settings):
    post_file(client_for(author), team, jsonl(hand_records()))
    job = FileJob.objects.get()
    calls = []
    real_store = import_service.labelset_store_records

    def store_then_fail(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk gone")
        real_store(**kwargs)

    monkey = pytest.MonkeyPatch()
    monkey.setattr(import_service, "labelset_store_records", store_then_fail)
    try:
        with pytest.raises(OSError), TestCase.captureOnCommitCallbacks(execute=True):
            labelset_import_run(job.pk, batch_size=3)
    finally:
        monkey.undo()
    job.refresh_from_db()
    assert job.status == "failed" and "disk gone" in job.error
    assert nothing_imported()
    assert uploads_left(settings) == []


def test_the_job_page_polls_while_it_runs_and_stops_at_the_end(client_for, author, team):
    client = client_for(author)
    response = post_file(client, team, jsonl(hand_records()))
    running = client.get(response["Location"], headers={"HX-Request": "true"})
    assert running.status_code == 200 and 'hx-trigger="every 2s"' in running.content.decode()
    assert 'role="progressbar"' in running.content.decode()
    run_job(response)
    done = client.get(response["Location"], headers={"HX-Request": "true"})
    assert done.status_code == 286 and "every 2s" not in done.content.decode()
    label_set = LabelSet.objects.get()
    assert reverse("labelset_detail", args=[team.slug, label_set.pk]) in done.content.decode()


def test_an_upload_over_the_limit_is_refused_and_not_kept(
    client_for, author, team, settings, monkeypatch
):
    monkeypatch.setattr("labelling.uploads.MAX_IMPORT_BYTES", 100)
    monkeypatch.setattr("labelling.forms.MAX_IMPORT_BYTES", 100)
    response = post_file(client_for(author), team, jsonl(hand_records()))
    assert response.status_code == 400 and "larger than 100 bytes" in response.content.decode()
    assert uploads_left(settings) == [] and not FileJob.objects.exists()


def test_an_export_is_a_file_built_by_the_worker_not_the_request(
    client_for, viewer, team, hand_set, settings
):
    client = client_for(viewer)
    page = client.get(reverse("labelset_export", args=[team.slug, hand_set.pk, "csv"]))
    assert page.status_code == 200 and "Build the CSV file" in page.content.decode()
    response = client.post(reverse("labelset_export", args=[team.slug, hand_set.pk, "csv"]))
    job = FileJob.objects.get()
    assert job.status == "queued" and not job.artifact_path
    assert client.get(reverse("filejob_download", args=[team.slug, job.pk])).status_code == 404
    job = run_job(response)
    assert Path(job.artifact_path).parent == Path(settings.ARTIFACTS_DIR) / "exports" / str(job.pk)
    body = client.get(reverse("filejob_download", args=[team.slug, job.pk]))
    assert b"".join(body.streaming_content).startswith(b"id,judge,principle")
