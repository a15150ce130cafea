"""An OTLP/HTTP trace collector on loopback: what an app team's OpenTelemetry Collector sees.

It accepts `POST` of an `ExportTraceServiceRequest` (protobuf, as the SDK's OTLP/HTTP
exporter sends it) on any path, answers 200 with an empty `ExportTraceServiceResponse`,
and keeps every request's path and raw bytes, so a test can both read the spans and
search the bytes for what must never be exported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class Exported:
    """One span as the collector received it; ids in hex, attributes as Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    scope: str


@dataclass
class Collector:
    """The collector's memory: (path, body) of every export request, in arrival order."""

    url: str = ""
    received: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def raw(self) -> bytes:
        """Every byte exported so far, for searching."""
        with self.lock:
            return b"".join(body for _, body in self.received)

    def spans(self) -> list[Exported]:
        """Every span exported so far, decoded."""
        with self.lock:
            bodies = [body for _, body in self.received]
        found = []
        for body in bodies:
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                for scoped in resource.scope_spans:
                    for s in scoped.spans:
                        found.append(Exported(
                            name=s.name, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in s.attributes},
                            status_code=s.status.code, status_message=s.status.message,
                            scope=scoped.scope.name))
        return found

    def resources(self) -> list[dict[str, Any]]:
        """The resource attributes of every export request (service.name and the like)."""
        with self.lock:
            bodies = [body for _, body in self.received]
        return [{a.key: _value(a.value) for a in r.resource.attributes}
                for body in bodies
                for r in ExportTraceServiceRequest.FromString(body).resource_spans]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@contextmanager
def collecting() -> Iterator[Collector]:
    """A collector on 127.0.0.1:<free port> until the block ends."""
    collector = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with collector.lock:
                collector.received.append((self.path, body))
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    collector.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
