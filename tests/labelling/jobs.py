"""Running a file job's worker side inside a test (the task's own function, called
directly: a test's transaction never commits, so ``delay_on_commit`` sends nothing)."""

from __future__ import annotations

from django.test import TestCase
from django.urls import resolve, reverse

from labelling.models import FileJob


def run_job(response) -> FileJob:
    """Run the job a view redirected to (imports and exports) and return it at its end."""
    from labelling.services.exports import labelset_export_run
    from labelling.services.imports import labelset_import_run

    assert response.status_code == 302, response.content[:500]
    match = resolve(response["Location"])
    assert match.url_name == "filejob_detail"
    job = FileJob.objects.get(pk=match.kwargs["pk"])
    run = {
        FileJob.Kind.LABEL_IMPORT: labelset_import_run,
        FileJob.Kind.LABEL_EXPORT: labelset_export_run,
    }
    if job.kind == FileJob.Kind.PROMPT_IMPORT:
        from training.services.prompt_sets import promptset_import_run as runner
    elif job.kind == FileJob.Kind.DATASET_EXPORT:
        from training.exports import dataset_export_run as runner
    else:
        runner = run[FileJob.Kind(job.kind)]
    with TestCase.captureOnCommitCallbacks(execute=True):
        runner(job.pk)
    return FileJob.objects.get(pk=job.pk)


def download_export(client, team, label_set, fmt: str) -> tuple[bytes, object]:
    """Ask for an export as a person would (the button), let the worker build it, and
    download it from the job's page; returns (bytes, download response)."""
    job = run_job(client.post(reverse("labelset_export", args=[team.slug, label_set.pk, fmt])))
    assert job.status == "done", job.error
    page = client.get(reverse("filejob_detail", args=[team.slug, job.pk])).content.decode()
    url = reverse("filejob_download", args=[team.slug, job.pk])
    assert url in page
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content), response


def post_and_run(client, url: str, data: dict):
    """Post an upload form; when it queued a job, run it and answer the job's page with
    the job as ``.job`` (a refused form's response is returned as it is)."""
    posted = client.post(url, data)
    if posted.status_code != 302:
        return posted
    job = run_job(posted)
    page = client.get(posted["Location"])
    page.job = job
    return page
