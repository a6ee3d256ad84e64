"""Big uploads stored straight to disk under ``ARTIFACTS_DIR/uploads/``.

Django keeps an upload up to ``FILE_UPLOAD_MAX_MEMORY_SIZE`` in memory and puts bigger
ones in the system temp folder. The two import pages (label files, prompt sets) take
files up to 2 GiB that a worker reads later, so they install :class:`StoredUploadHandler`
for their own request only (:func:`stored_uploads`): each chunk goes to a file in the
shared artifacts folder, the request never holds the file in memory, and a file over
the limit is cut off and reported by the form instead of filling the disk.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from .formats import MAX_IMPORT_BYTES


def uploads_dir() -> Path:
    path = Path(settings.ARTIFACTS_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


class StoredUploadedFile(UploadedFile):
    """An upload already on disk at :attr:`stored_path`; ``size`` counts every byte sent,
    also those past the limit that were not written."""

    def __init__(self, path: Path, name: str, content_type: str, size: int, charset: Any):
        super().__init__(open(path, "rb"), name, content_type, size, charset)  # noqa: SIM115
        self.stored_path = path

    def discard(self) -> None:
        self.close()
        self.stored_path.unlink(missing_ok=True)


class StoredUploadHandler(FileUploadHandler):
    chunk_size = 4 * 1024 * 1024

    def __init__(self, request: HttpRequest | None = None, *, limit: int = MAX_IMPORT_BYTES):
        super().__init__(request)
        self.limit = limit

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.path = uploads_dir() / f"{uuid.uuid4().hex}.upload"
        self.out = open(self.path, "wb")  # noqa: SIM115 - closed in file_complete
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size <= self.limit:
            self.out.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StoredUploadedFile:
        self.out.close()
        if self.size > self.limit:
            self.path.write_bytes(b"")  # nothing past the limit is kept
        return StoredUploadedFile(
            self.path, self.file_name or "upload", self.content_type or "", self.size, self.charset
        )

    def upload_interrupted(self) -> None:
        out = getattr(self, "out", None)
        if out is not None:
            out.close()
            self.path.unlink(missing_ok=True)


def stored_uploads(request: HttpRequest) -> None:
    """Make this request store its files with :class:`StoredUploadHandler` (call it before
    anything reads ``request.POST``; the view is ``csrf_exempt`` and checks CSRF itself)."""
    request.upload_handlers = [StoredUploadHandler(request)]


def discard_uploads(request: HttpRequest) -> None:
    """Remove what a refused form's request stored."""
    for f in request.FILES.values():
        if isinstance(f, StoredUploadedFile):
            f.discard()
