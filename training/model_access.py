"""Which models a team may use: the one home of those rules.

Checked when a model is registered (``services.models.model_register``) and again
when a worker is about to load it (``ShardContext.backends``), so a row written
before a rule existed, or by hand, cannot slip through.

* **Local files.** A folder or ``.gguf`` file must resolve (realpath: no ``..``, no
  symlink out) under a model root an administrator lists (``settings.MODEL_ROOTS``,
  env ``CAI_MODEL_ROOTS``; default the shared ``MODELS_DIR``), and not inside another
  team's area (``MODELS_DIR/teams/<slug>/``) or the run artifacts
  (``ARTIFACTS_DIR``): a trained model is registered by its run, with
  ``source_run``, and is only ever reachable through that row. A path that does not
  exist and a path that is not allowed get the same answer, so the registry tells
  nothing about the file system. ``gguf_file`` is a plain ``*.gguf`` file name.
* **Servers.** An OpenAI-compatible base URL must be http(s). Its host is allowed if
  an administrator lists it (``settings.ALLOWED_MODEL_HOSTS``, env
  ``CAI_ALLOWED_MODEL_HOSTS``: ``host`` or ``host:port``); otherwise every address
  the name resolves to must be a public one (no loopback, private, link-local,
  multicast, reserved or unspecified address), so the worker cannot be made to call
  the app itself, Redis or a metadata service.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings

from .errors import TrainingError

if TYPE_CHECKING:
    from cai_web.models import Team

    from .models import ModelEntry, Run

GGUF_NAME = re.compile(r"^[^/\\\x00]+\.gguf$", re.IGNORECASE)


class ModelNotAllowed(ValueError):
    """A stored model that its team may not load (raised in the worker)."""


def model_roots() -> list[Path]:
    roots = getattr(settings, "MODEL_ROOTS", None) or [settings.MODELS_DIR]
    return [Path(r).expanduser().resolve() for r in roots]


def team_area(team: Team) -> Path:
    """Where a team's own uploaded models live: ``MODELS_DIR/teams/<slug>/``."""
    return Path(settings.MODELS_DIR).expanduser().resolve() / "teams" / team.slug


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _refusal(shown: str) -> TrainingError:
    roots = ", ".join(str(r) for r in model_roots())
    return TrainingError(
        f"No model this team can use at {shown}: give an existing model folder (with "
        f"config.json) or .gguf file under the model roots ({roots}) or the team's own "
        "area. Trained models are registered by their run.",
        field="path",
    )


def resolve_local(team: Team, path: str, *, source_run: Run | None = None) -> Path:
    """The real location of ``path`` if ``team`` may use it; one refusal otherwise."""
    shown = (path or "").strip()
    if not shown or "\x00" in shown:
        raise TrainingError("Give the model's local folder or .gguf file.", field="path")
    location = Path(shown).expanduser()
    if not location.is_absolute():
        location = Path(settings.MODELS_DIR) / location
    real = location.resolve()
    artifacts = Path(settings.ARTIFACTS_DIR).expanduser().resolve()
    if source_run is not None:
        from .artifacts import run_dir

        allowed = source_run.team_id == team.pk and _within(real, run_dir(source_run).resolve())
    else:
        teams = Path(settings.MODELS_DIR).expanduser().resolve() / "teams"
        allowed = (
            any(_within(real, root) for root in model_roots())
            and not _within(real, artifacts)
            and (not _within(real, teams) or _within(real, team_area(team)))
        )
    if not allowed or not real.exists():
        raise _refusal(shown)
    return real


def check_gguf_name(gguf_file: str) -> str:
    name = (gguf_file or "").strip()
    if name and (not GGUF_NAME.match(name) or name.startswith(".")):
        raise TrainingError(
            "The GGUF file is a plain file name ending in .gguf (no folders).", field="gguf_file"
        )
    return name


def _allowed_hosts() -> set[str]:
    return {h.strip().lower() for h in getattr(settings, "ALLOWED_MODEL_HOSTS", []) if h.strip()}


def check_server_url(url: str) -> str:
    """The base URL if a worker may call it; TrainingError naming ``base_url`` otherwise."""
    return resolve_server(url)[0]


def resolve_server(url: str) -> tuple[str, str]:
    """(base URL, the address to connect to) if a worker may call the server.

    The address is what the check accepted; the worker connects to exactly it (the
    backend's ``connect_ip``), so a name that answers differently a moment later (DNS
    rebinding) cannot redirect the request to an internal host.
    """
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise TrainingError(
            "Give the server's http(s) base URL, e.g. https://host:8000/v1.", field="base_url"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise TrainingError(
            "The base URL takes no user, password, query or fragment.", field="base_url"
        )
    host = parts.hostname.lower()
    port = port or (443 if parts.scheme == "https" else 80)
    listed = _allowed_hosts()
    try:
        addresses = {
            str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        }
    except (socket.gaierror, UnicodeError):
        raise TrainingError(f"{host} cannot be resolved.", field="base_url") from None
    if host in listed or f"{host}:{port}" in listed:
        return text.rstrip("/"), sorted(addresses)[0]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise TrainingError(
                f"{host} is not a public address and is not on this server's list of model "
                "hosts (CAI_ALLOWED_MODEL_HOSTS); ask an administrator to add it.",
                field="base_url",
            )
    return text.rstrip("/"), sorted(addresses)[0]


def check_entry(entry: ModelEntry) -> dict[str, Any]:
    """Before a worker loads ``entry``: its location must still be one its team may use.

    Returns options the worker sets on the model's spec: for a server, the address the
    check accepted (``connect_ip``), which the backend connects to for every request.
    """
    from .models import Backend

    try:
        if entry.backend == Backend.OPENAI:
            return {"connect_ip": resolve_server(entry.base_url)[1]}
        location = f"{entry.path}/{entry.gguf_file}" if entry.gguf_file else entry.path
        if entry.gguf_file:
            check_gguf_name(entry.gguf_file)
        resolve_local(entry.team, location, source_run=_source(entry))
        return {}
    except TrainingError as exc:
        raise ModelNotAllowed(f"model {entry.name!r} may not be loaded: {exc}") from None


def _source(entry: ModelEntry) -> Any:
    return entry.source_run if entry.source_run_id else None


__all__ = [
    "ModelNotAllowed",
    "check_entry",
    "check_gguf_name",
    "check_server_url",
    "model_roots",
    "resolve_local",
    "resolve_server",
    "team_area",
]
