"""Bad input: 413 over the size limit (unread), malformed JSON and schema errors as 4xx."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from tests.api.conftest import APP_KEY, Serve


def test_declared_oversize_body_is_413_before_it_is_read(serve: Serve) -> None:
    """A content-length over the limit is refused with 413 after the headers alone."""
    with serve(max_body_bytes=1000) as served:
        address = urlparse(served.url)
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            sock.sendall(b"POST /v1/moderations HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Bearer " + APP_KEY.encode() + b"\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n")
            received = b""
            while chunk := sock.recv(4096):  # the server closes after answering
                received += chunk
            reply = received.decode()
    assert reply.startswith("HTTP/1.1 413")
    assert "larger than 1000 bytes" in reply


def test_chunked_oversize_body_is_cut_off_with_413(serve: Serve) -> None:
    """A body without a length is counted as it arrives and refused once past the limit."""
    with serve(max_body_bytes=1000) as served:
        # a generator handed to httpx as a streamed body
        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(100):
                yield b'{"input": "' + b"a" * 500

        response = served.client().post("/v1/moderations", content=chunks(),
                                        headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


def test_malformed_json_and_wrong_fields_name_the_problem(serve: Serve) -> None:
    """Never a 500: a 400 whose message and param name what to fix."""
    with serve() as served:
        client = served.client()
        broken = client.post("/v1/moderations", content=b'{"input": ',
                             headers={"content-type": "application/json"})
        typed = client.post("/v1/supervise", json={"output": 42})
        empty = client.post("/v1/supervise", json={})
        chat = client.post("/v1/chat/completions", json={"model": "x", "messages": [
            {"role": "wizard", "content": "hi"}]})
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]["message"]
    assert typed.status_code == 400 and typed.json()["error"]["param"] == "output"
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "prompt"
    assert chat.status_code == 400 and chat.json()["error"]["param"] == "messages[0].role"
