"""Fixtures for the integrations: a tracked site, a model that counts page views, a receiver."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.models import TrackingSite
from scoring.services import scoring_model_load

ORIGIN = "https://www.shop.example"
MODEL = {
    "slug": "web", "name": "Web", "mql_threshold": 10,
    "bands": [{"label": "cold", "min": 0}, {"label": "warm", "min": 5}, {"label": "hot", "min": 10}],
    "criteria": [
        {"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 2},
        {"name": "Download", "type": "activity", "kinds": ["download"], "points": 3},
    ],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _webhooks_to_this_machine(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """The receiver listens on 127.0.0.1, a private address webhooks refuse unless allowed; the
    environment variable reaches the live workers these tests start."""
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true")


@pytest.fixture
def site(db):  # type: ignore[no-untyped-def]
    return TrackingSite.objects.create(name="Shop", allowed_origins=[ORIGIN])


@pytest.fixture
def web_model(db):  # type: ignore[no-untyped-def]
    scoring_model, _ = scoring_model_load(data=MODEL)
    return scoring_model


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers with scripted codes."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.codes: list[int] = []  # answered in order; 204 once they run out
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                code = receiver.codes.pop(0) if receiver.codes else 204
                self.send_response(code, "Receiver Says No" if code >= 300 else None)
                self.end_headers()
                if code >= 300:
                    # As some receivers do: the refused payload echoed back.
                    self.wfile.write(b"receiver says no to " + body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def json(self, index: int = -1) -> dict:
        return json.loads(self.requests[index]["body"])


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
