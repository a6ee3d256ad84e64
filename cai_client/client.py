"""The client: one ``httpx.Client`` with the token, one method per verb, problem
details raised as :class:`ApiError`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

Json = dict[str, Any]
FINISHED = frozenset({"succeeded", "failed", "cancelled"})


class ApiError(Exception):
    """A refusal of the API (RFC 9457 problem details): ``status``, ``title``, ``detail``,
    ``field`` (the form field it is about, if any) and every listed problem in ``errors``."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        self.field: str | None = problem.get("field")
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        where = f" [{self.field}]" if self.field else ""
        super().__init__(f"{status} {self.title}{where}: {self.detail}")


class RunFailed(Exception):
    """``wait`` saw the run end in another state than succeeded."""

    def __init__(self, run: Json) -> None:
        self.run = run
        super().__init__(f"run {run['id']} {run['status']}: {run.get('error') or 'no error text'}")


class Client:
    """The API of one team, as one token's user.

    ``base_url`` is the site (``https://host``), ``team`` the team's slug. Any
    ``httpx.Client`` keyword (``transport``, ``verify``...) passes through.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        team: str,
        timeout: float = 60.0,
        **httpx_options: Any,
    ) -> None:
        self.team = team
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            **httpx_options,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # --- plumbing ---------------------------------------------------------------------

    def _t(self, path: str) -> str:
        return f"/teams/{self.team}{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise ApiError(response.status_code, problem)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs).json()

    def paginate(self, path: str, **params: Any) -> Iterator[Json]:
        """Every item of a cursor-paginated list, following ``next`` to the end."""
        page = self.get(path, **params)
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self.request("GET", page["next"]).json()

    # --- teams, constitutions ---------------------------------------------------------

    def teams(self) -> list[Json]:
        return list(self.get("/teams"))

    def constitutions(self) -> list[Json]:
        return list(self.paginate(self._t("/constitutions")))

    def constitution(self, pk: int) -> Json:
        return dict(self.get(self._t(f"/constitutions/{pk}")))

    def import_constitution(
        self, *paths: str | Path, name: str = "", into: int | None = None
    ) -> Json:
        """Import files as a new constitution (its v1 draft), or with ``into`` as a new
        draft of that constitution; returns the draft."""
        files = [("files", (Path(p).name, Path(p).read_bytes())) for p in paths]
        if into is not None:
            return dict(self.post(self._t(f"/constitutions/{into}/versions"), files=files))
        return dict(self.post(self._t("/constitutions"), files=files, data={"name": name}))

    def version(self, pk: int) -> tuple[Json, str]:
        """A version's content and its ETag (send it back as ``etag`` when editing)."""
        response = self.request("GET", self._t(f"/versions/{pk}"))
        return response.json(), response.headers["ETag"]

    def publish(self, version: int, *, changelog: str = "", etag: str | None = None) -> Json:
        headers = {"If-Match": etag} if etag else {}
        return dict(
            self.post(
                self._t(f"/versions/{version}/publish"), {"changelog": changelog}, headers=headers
            )
        )

    def latest_published_version(self, constitution: str) -> Json:
        """The newest published version of the team's constitution named ``constitution``."""
        for c in self.constitutions():
            if c["name"] == constitution:
                versions = self.constitution(c["id"])["versions"]
                published = [v for v in versions if v["status"] == "published"]
                if published:
                    return max(published, key=lambda v: v["number"])
                raise LookupError(f"{constitution} has no published version")
        raise LookupError(f"no constitution named {constitution!r}")

    # --- prompt sets, models ----------------------------------------------------------

    def upload_prompts(
        self,
        source: str | Path | bytes,
        *,
        name: str,
        filename: str = "prompts.txt",
        held_out_fraction: float = 0.1,
        split_seed: int = 0,
    ) -> Json:
        """Upload a prompt file (path or bytes) as a new prompt set."""
        if isinstance(source, bytes):
            data = source
        else:
            path = Path(source)
            data, filename = path.read_bytes(), path.name
        return dict(
            self.post(
                self._t("/prompt-sets"),
                files={"file": (filename, data)},
                data={
                    "name": name,
                    "held_out_fraction": str(held_out_fraction),
                    "split_seed": str(split_seed),
                },
            )
        )

    def prompt_sets(self) -> list[Json]:
        return list(self.paginate(self._t("/prompt-sets")))

    def register_model(self, name: str, **fields: Any) -> Json:
        return dict(self.post(self._t("/models"), {"name": name, **fields}))

    def models(self) -> list[Json]:
        return list(self.paginate(self._t("/models")))

    # --- runs -------------------------------------------------------------------------

    def run_kinds(self) -> list[Json]:
        return list(self.get(self._t("/run-kinds")))

    def start_run(
        self,
        kind: str,
        *,
        inputs: Mapping[str, int | str],
        config: Mapping[str, Any] | None = None,
        name: str = "",
        shard_size: int | None = None,
        idempotency_key: str | None = None,
        retries: int = 3,
    ) -> Json:
        """Start a run of ``kind``; inputs are role → id. Safe to retry: the same
        ``Idempotency-Key`` (a new UUID unless given) is sent on every attempt, so a
        start whose answer was lost is not started twice."""
        key = idempotency_key or str(uuid.uuid4())
        body: dict[str, Any] = {
            "kind": kind,
            "inputs": dict(inputs),
            "config": dict(config or {}),
            "name": name,
        }
        if shard_size is not None:
            body["shard_size"] = shard_size
        for attempt in range(retries):
            try:
                return dict(self.post(self._t("/runs"), body, headers={"Idempotency-Key": key}))
            except httpx.TransportError:
                if attempt == retries - 1:
                    raise
                time.sleep(1.0 + attempt)
        raise AssertionError("unreachable")

    def run(self, run: int | Json) -> Json:
        return dict(self.get(self._t(f"/runs/{_id(run)}")))

    def runs(self, *, kind: str = "", status: str = "") -> list[Json]:
        return list(self.paginate(self._t("/runs"), kind=kind, status=status))

    def wait(
        self,
        run: int | Json,
        *,
        timeout: float = 3600.0,
        poll: float = 2.0,
        on_progress: Callable[[Json], None] | None = None,
        check: bool = True,
    ) -> Json:
        """Poll until the run is over; ``RunFailed`` if it did not succeed (``check``)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.run(run)
            if on_progress is not None:
                on_progress(current)
            if current["status"] in FINISHED:
                if check and current["status"] != "succeeded":
                    raise RunFailed(current)
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"run {current['id']} still {current['status']} after {timeout} s"
                )
            time.sleep(poll)

    def cancel(self, run: int | Json) -> Json:
        return dict(self.post(self._t(f"/runs/{_id(run)}/cancel")))

    def resume(self, run: int | Json) -> Json:
        return dict(self.post(self._t(f"/runs/{_id(run)}/resume")))

    def metrics(self, run: int | Json) -> dict[str, list[Json]]:
        return dict(self.get(self._t(f"/runs/{_id(run)}/metrics")))

    def artifacts(self, run: int | Json) -> Json:
        return dict(self.get(self._t(f"/runs/{_id(run)}/artifacts")))

    # --- label sets -------------------------------------------------------------------

    def label_set(self, pk: int) -> Json:
        return dict(self.get(self._t(f"/label-sets/{pk}")))

    def label_set_statistics(self, pk: int, **filters: str) -> Json:
        return dict(self.get(self._t(f"/label-sets/{pk}/statistics"), **filters))

    def create_queue(
        self,
        label_set: int,
        *,
        strategy: str = "uniform",
        sample_size: int = 50,
        seed: int | None = None,
    ) -> Json:
        body: Json = {"strategy": strategy, "sample_size": sample_size}
        if seed is not None:
            body["seed"] = seed
        return dict(self.post(self._t(f"/label-sets/{label_set}/queues"), body))

    def queue(self, pk: int) -> Json:
        return dict(self.get(self._t(f"/queues/{pk}")))

    def decide(self, label_set: int, action: str, reason: str = "") -> Json:
        return dict(
            self.post(
                self._t(f"/label-sets/{label_set}/decision"), {"action": action, "reason": reason}
            )
        )

    def download_label_set(
        self, pk: int, dest: str | Path, *, format: str = "jsonl", require_approved: bool = True
    ) -> Path:
        """Stream the label set to ``dest``; refuses a set that is not approved unless told."""
        if require_approved:
            status = self.label_set(pk)["status"]
            if status != "approved":
                raise ApiError(
                    409,
                    {
                        "title": "Not approved",
                        "detail": f"label set {pk} is {status}; pass require_approved=False to download it anyway",
                    },
                )
        dest = Path(dest)
        with self.http.stream(
            "GET", self._t(f"/label-sets/{pk}/export"), params={"format": format}
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(response.status_code, response.json())
            with dest.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
        return dest


def _id(run: int | Json) -> int:
    return int(run["id"]) if isinstance(run, Mapping) else int(run)
