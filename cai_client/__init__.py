"""A small typed client for the cai_web API (``/api/v1/``), on httpx.

>>> from cai_client import Client
>>> cai = Client("https://cai.example.org", token="cai_…", team="red-team")
>>> prompts = cai.upload_prompts("prompts.txt", name="nightly")
>>> run = cai.start_run("critique_revision", inputs={...}, config={...})
>>> run = cai.wait(run)
>>> cai.download_label_set(7, "labels.jsonl")

See docs/api.md.
"""

from .client import ApiError, Client, RunFailed

__all__ = ["ApiError", "Client", "RunFailed"]
