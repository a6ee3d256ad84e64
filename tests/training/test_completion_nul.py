"""A NUL character a model emits never reaches the database (PostgreSQL refuses it in
text): every backend's Completion carries U+FFFD in its place."""

from __future__ import annotations

from training.engine.types import Completion


def test_a_nul_in_a_completion_becomes_the_replacement_character():
    c = Completion(text="a\x00b\x00", prompt_tokens=3, completion_tokens=2, finish_reason="stop")
    assert c.text == "a\ufffdb\ufffd"
    assert Completion("plain", 1, 1, "stop").text == "plain"
