"""nlsh-http, installed with pip into a fresh venv, against a loopback HTTP server."""

from __future__ import annotations

import http.server
import json
import threading

import pytest


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/items":
                body, ctype = json.dumps([{"name": "a", "n": 1}, {"name": "b", "n": 2}]).encode(), "application/json"
            elif self.path == "/hello.txt":
                body, ctype = b"hello\nworld\n", "text/plain"
            else:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_fetch_json_as_records(nlsh_in_venv, server):
    r = nlsh_in_venv("--yes", "-c", f"fetch {server}/items | where n > 1 | get name")
    assert r.status == 0, r.err
    assert r.out.strip() == "b"


def test_fetch_text_lines(nlsh_in_venv, server):
    r = nlsh_in_venv("--yes", "-c", f"fetch {server}/hello.txt | count")
    assert r.out.strip() == "2"


def test_download_and_errors(nlsh_in_venv, server):
    r = nlsh_in_venv("--yes", "-c", f"download {server}/hello.txt h.txt; cat h.txt")
    assert r.out.splitlines() == ["saved h.txt (12 bytes)", "hello", "world"]
    r = nlsh_in_venv("--yes", "-c", f"fetch {server}/missing")
    assert r.status == 1 and r.err.strip() == f"nlsh: fetch: {server}/missing: HTTP 404 Not Found"
