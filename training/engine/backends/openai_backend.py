"""A client for OpenAI-compatible servers: ``vllm serve``, llama.cpp's server, TGI.

Requests run concurrently on a thread pool over one ``httpx.Client`` (which is
thread-safe and keeps connections alive). Transient failures (connection errors,
timeouts, 429 and 5xx) are retried with exponential backoff; any other 4xx is a
mistake in the request and fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from training.engine.backends.base import (
    check_choices,
    check_requests,
    probabilities_from_top_logprobs,
)
from training.engine.types import (
    BackendError,
    ChatRequest,
    Completion,
    ModelSpec,
    SamplingParams,
)

T = TypeVar("T")

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Servers spell "hit a stop condition" several ways; everything that is not a length
# cut-off ended on purpose.
_LENGTH_REASONS = frozenset({"length", "max_tokens", "model_length"})
# Tokenize endpoints, tried in order: vLLM and llama.cpp's own server use /tokenize
# (with different field names, so the body carries both); llama-cpp-python uses
# /extras/tokenize.
_TOKENIZE_PATHS = ("/tokenize", "/extras/tokenize")


def _split_base_url(base_url: str) -> tuple[str, str]:
    """(server root, OpenAI API root): accepts ``http://host:port`` or ``.../v1``."""
    url = base_url.rstrip("/")
    if url.endswith("/v1"):
        return url[: -len("/v1")], url
    return url, url + "/v1"


class OpenAIBackend:
    """Talks to an OpenAI-compatible HTTP server; loads no model in this process.

    Options: ``model`` (the served model id; defaults to ``spec.name``), ``concurrency``
    (parallel requests, default 8), ``timeout`` (seconds per request, default 120),
    ``max_retries`` (default 3), ``backoff`` (first retry delay in seconds, default 0.5),
    ``top_logprobs`` (default 20), ``check_server`` (GET /v1/models at start, default True).
    """

    name = "openai"

    def __init__(self, spec: ModelSpec) -> None:
        if spec.backend != "openai":
            raise BackendError(f"spec {spec.name!r} is for backend {spec.backend!r}")
        self.spec = spec
        options = spec.options
        self.model = str(options.get("model", spec.name))
        self.concurrency = int(options.get("concurrency", 8))
        self.timeout = float(options.get("timeout", 120.0))
        self.max_retries = int(options.get("max_retries", 3))
        self.backoff = float(options.get("backoff", 0.5))
        self.top_logprobs = int(options.get("top_logprobs", 20))
        # Set by the worker, not by users: the address its check accepted for the host.
        self.connect_ip = str(options["connect_ip"]) if options.get("connect_ip") else None
        if self.concurrency < 1 or self.max_retries < 0 or self.timeout <= 0:
            raise BackendError(f"bad options for {spec.name!r}: {options!r}")
        self.root_url, self.api_url = _split_base_url(spec.base_url)
        headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
        # Redirects are not followed: the server was checked where it was registered
        # (training.model_access), not wherever it would send us.
        self._client = httpx.Client(
            timeout=self.timeout,
            headers=headers,
            limits=httpx.Limits(max_connections=self.concurrency),
            follow_redirects=False,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix=f"openai-{spec.name}"
        )
        self._tokenize_path: str | None = None
        self._overhead: int | None = None
        self._checked_choices: set[tuple[str, ...]] = set()
        self._closed = False
        if options.get("check_server", True):
            self.models()

    # -- HTTP ----------------------------------------------------------------

    def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """Send one request, retrying transient failures with exponential backoff."""
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self._send(method, url, body)
            except httpx.TransportError as error:
                if attempt >= self.max_retries:
                    raise BackendError(
                        f"{method} {url} failed after {attempt + 1} tries: {error!r}"
                    ) from error
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in _RETRY_STATUS or attempt >= self.max_retries:
                    raise BackendError(
                        f"{method} {url} answered {_status_line(response)} "
                        f"after {attempt + 1} tries"
                    )
            time.sleep(self._delay(attempt, response))
            attempt += 1

    def _send(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        """One HTTP request; with ``connect_ip`` it goes to exactly that address (the Host
        header and, for https, the TLS server name stay the URL's own)."""
        if not self.connect_ip:
            return self._client.request(method, url, json=body)
        target = httpx.URL(url)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        return self._client.request(
            method,
            target.copy_with(host=self.connect_ip),
            json=body,
            headers={"Host": target.netloc.decode("ascii")},
            extensions=extensions,
        )

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.backoff * (2**attempt)
        if response is not None:
            # Honour a server that says when to come back, within reason.
            retry_after = response.headers.get("retry-after", "")
            if retry_after.replace(".", "", 1).isdigit():
                delay = max(delay, min(float(retry_after), 30.0))
        return delay

    def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._request("POST", self.api_url + path, body)
        try:
            return _json(response)
        except ValueError as error:
            raise BackendError(
                f"POST {path} returned no JSON ({_status_line(response)})"
            ) from error

    def _map(self, function: Callable[[ChatRequest], T], requests: list[ChatRequest]) -> list[T]:
        self._check_open()
        # Executor.map keeps the input order whatever order the answers arrive in.
        return list(self._pool.map(function, requests))

    def models(self) -> list[str]:
        """The model ids the server serves (GET /v1/models)."""
        response = self._request("GET", self.api_url + "/models")
        try:
            return [str(item["id"]) for item in _json(response)["data"]]
        except (ValueError, KeyError, TypeError) as error:
            raise BackendError(
                f"GET /v1/models gave no model list ({_status_line(response)}): is this an "
                "OpenAI-compatible server?"
            ) from error

    # -- the protocol --------------------------------------------------------

    def generate(self, requests: Sequence[ChatRequest], params: SamplingParams) -> list[Completion]:
        """One /v1/chat/completions call per request, ``concurrency`` at a time."""
        requests = check_requests(requests)
        if not requests:
            return []
        return self._map(lambda request: self._generate_one(request, params), requests)

    def _generate_one(self, request: ChatRequest, params: SamplingParams) -> Completion:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": 1,
            "stream": False,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        data = self._post_json("/chat/completions", body)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            reason = choice.get("finish_reason") or "stop"
            usage = data["usage"]
            prompt_tokens = int(usage["prompt_tokens"])
            completion_tokens = int(usage["completion_tokens"])
        except (KeyError, IndexError, TypeError) as error:
            raise BackendError(
                "the server's chat completion has no choices[0].message.content "
                f"(keys: {sorted(data) if isinstance(data, dict) else type(data).__name__})"
            ) from error
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason="length" if reason in _LENGTH_REASONS else "stop",
        )

    def score_choices(
        self, requests: Sequence[ChatRequest], choices: Sequence[str]
    ) -> list[list[float]]:
        """One-token completions with ``top_logprobs``; see ``probabilities_from_top_logprobs``."""
        choices = check_choices(choices)
        requests = check_requests(requests)
        if not requests:
            return []
        self._check_single_tokens(choices)
        return self._map(lambda request: self._score_one(request, choices), requests)

    def _score_one(self, request: ChatRequest, choices: list[str]) -> list[float]:
        body = {
            "model": self.model,
            "messages": list(request.messages),
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": self.top_logprobs,
            "n": 1,
            "stream": False,
        }
        data = self._post_json("/chat/completions", body)
        try:
            first = data["choices"][0]["logprobs"]["content"][0]
            pairs = [(item["token"], item["logprob"]) for item in first["top_logprobs"]]
        except (KeyError, IndexError, TypeError) as error:
            raise BackendError(
                f"server gave no top_logprobs for {self.model!r} (does it support logprobs on "
                "chat completions?)"
            ) from error
        return probabilities_from_top_logprobs(pairs, choices)

    def _raw_token_count(self, text: str) -> int | None:
        """Tokens the server's tokenize endpoint reports, or None when it has none."""
        self._check_open()
        body = {
            "model": self.model,
            "prompt": text,  # vLLM
            "content": text,  # llama.cpp server
            "input": text,  # llama-cpp-python
            "add_special_tokens": False,
            "add_special": False,
        }
        paths = [self._tokenize_path] if self._tokenize_path else list(_TOKENIZE_PATHS)
        for path in paths:
            try:
                response = self._send("POST", self.root_url + path, body)
            except httpx.TransportError as error:
                raise BackendError(f"POST {path} failed: {error!r}") from error
            if response.status_code in (404, 405):
                continue
            if response.status_code >= 400:
                raise BackendError(f"POST {path} answered {_status_line(response)}")
            data = _json(response)
            self._tokenize_path = path
            if "count" in data:
                return int(data["count"])
            return len(data["tokens"])
        return None

    def _special_token_overhead(self) -> int:
        # Some endpoints (llama-cpp-python's) add BOS whatever the body says; the empty
        # string shows how many tokens any text gets for free.
        if self._overhead is None:
            self._overhead = self._raw_token_count("") or 0
        return self._overhead

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` without special tokens, from the server's tokenize endpoint."""
        count = self._raw_token_count(text)
        if count is None:
            raise BackendError(
                f"server at {self.root_url} has no tokenize endpoint "
                f"(tried {', '.join(_TOKENIZE_PATHS)})"
            )
        return count - self._special_token_overhead()

    def _check_single_tokens(self, choices: list[str]) -> None:
        """Refuse choices the server tokenizes as several tokens (when it can tell us)."""
        key = tuple(choices)
        if key in self._checked_choices:
            return
        for choice in choices:
            count = self._raw_token_count(choice)
            if count is None:
                # No tokenize endpoint: top-logprob matching still works for one-token
                # choices; longer ones simply never match and get the floor.
                return
            if count - self._special_token_overhead() != 1:
                raise BackendError(
                    f"choice {choice!r} is not a single token for {self.model!r}; "
                    "use short choices like 'A'/'B'"
                )
        self._checked_choices.add(key)

    def close(self) -> None:
        """Stop the thread pool and close the connections."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        self._client.close()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"backend for {self.spec.name!r} is closed")


def _json(response: httpx.Response) -> Any:
    """The answer's JSON, read with the app's limits (``cai_web.jsonlimits``: nesting
    depth) so a server's odd answer is a ValueError, never a RecursionError; NaN and
    Infinity pass, as some servers send them in log-probabilities."""
    from cai_web.jsonlimits import json_loads

    return json_loads(response.content, allow_nan=True)


def _status_line(response: httpx.Response) -> str:
    """Status and content type only: a remote body is never echoed into a run's error
    (it could be any internal page the URL was pointed at)."""
    kind = response.headers.get("content-type", "?").split(";")[0]
    return (
        f"{response.status_code} {response.reason_phrase} ({kind}, {len(response.content)} bytes)"
    )
