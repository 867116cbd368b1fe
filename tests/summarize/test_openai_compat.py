"""OpenAICompatibleSummarizer against a fake chat-completions server on a real 127.0.0.1 socket."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rtk_sessions.exports import Segment
from rtk_sessions.summarize import (
    OpenAICompatibleSummarizer,
    Summarizer,
    SummarizerError,
    count_words,
)

from .ami import load_meeting


class FakeLLM(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []  # noqa: RUF012

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        FakeLLM.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        mode = self.path.split("/")[1]
        if mode == "ok":
            answer = {
                "id": "x",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {
                            "role": "assistant",
                            "content": "Meeting summary\n\nLaura opened the kick-off meeting.",
                        },
                    }
                ],
            }
            self._send(200, json.dumps(answer).encode())
        elif mode == "long":
            content = " ".join(f"word{i}." for i in range(500))
            answer = {"choices": [{"message": {"role": "assistant", "content": content}}]}
            self._send(200, json.dumps(answer).encode())
        elif mode == "e500":
            self._send(500, b'{"error": {"message": "model overloaded"}}')
        elif mode == "e401":
            self._send(401, b'{"error": {"message": "invalid api key"}}')
        elif mode == "slow":
            time.sleep(1.5)
            self._send(200, b"{}")
        elif mode == "badjson":
            self._send(200, b"<html>not json</html>", "text/html")
        elif mode == "noshape":
            self._send(200, b'{"choices": []}')
        elif mode == "empty":
            self._send(200, b'{"choices": [{"message": {"content": "  "}}]}')
        else:
            self._send(404, b"{}")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def segments() -> list[Segment]:
    return load_meeting("ES2002a").segments


KW: dict[str, Any] = {"word_limit": 100, "text_format": "markdown", "summary_type": "team_meeting"}


def test_success_and_request_shape(server: str, segments: list[Segment]) -> None:
    FakeLLM.requests.clear()
    s = OpenAICompatibleSummarizer(
        base_url=f"{server}/ok/v1/", model="tiny-model", api_key="sk-test", timeout=5
    )
    assert isinstance(s, Summarizer)
    out = s.summarize(segments, **KW)
    assert out == "Meeting summary\n\nLaura opened the kick-off meeting.\n"
    (req,) = FakeLLM.requests
    assert req["path"] == "/ok/v1/chat/completions"
    assert req["auth"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "tiny-model" and body["temperature"] == 0
    system, user = body["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert "at most 100 words" in user["content"] and "Markdown" in user["content"]
    assert '"Team meeting summary"' in user["content"]
    assert "Laura (Project Manager): Okay Right" in user["content"]
    assert "{vocalsound}" not in user["content"]


def test_no_api_key_sends_no_authorization(server: str, segments: list[Segment]) -> None:
    FakeLLM.requests.clear()
    OpenAICompatibleSummarizer(f"{server}/ok/v1/chat/completions", "m").summarize(segments, **KW)
    assert FakeLLM.requests[0]["auth"] is None
    assert FakeLLM.requests[0]["path"] == "/ok/v1/chat/completions"


def test_overlong_answer_is_cut_to_the_word_limit(server: str, segments: list[Segment]) -> None:
    out = OpenAICompatibleSummarizer(f"{server}/long/v1", "m").summarize(segments, **KW)
    assert count_words(out) <= 100


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("e500", "HTTP 500"),
        ("e401", "HTTP 401"),
        ("badjson", "non-JSON"),
        ("noshape", "choices[0].message.content"),
        ("empty", "empty summary"),
    ],
)
def test_failures_raise_summarizer_error(
    server: str, segments: list[Segment], mode: str, message: str
) -> None:
    s = OpenAICompatibleSummarizer(f"{server}/{mode}/v1", "m", api_key="k", timeout=5)
    with pytest.raises(SummarizerError, match=message.replace("[", r"\[").replace("]", r"\]")):
        s.summarize(segments, **KW)


def test_timeout(server: str, segments: list[Segment]) -> None:
    s = OpenAICompatibleSummarizer(f"{server}/slow/v1", "m", timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(SummarizerError, match=r"timed out after 0\.3s"):
        s.summarize(segments, **KW)
    assert time.monotonic() - t0 < 1.4


def test_connection_refused(segments: list[Segment]) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    s = OpenAICompatibleSummarizer(f"http://127.0.0.1:{port}/v1", "m", timeout=2)
    with pytest.raises(SummarizerError, match="failed"):
        s.summarize(segments, **KW)


def test_empty_transcript_needs_no_server() -> None:
    s = OpenAICompatibleSummarizer("http://127.0.0.1:9/v1", "m", timeout=0.1)
    out = s.summarize([], word_limit=50, text_format="plain_text", summary_type="general")
    assert "No speech was transcribed" in out
