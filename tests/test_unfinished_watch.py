"""The watch every browser test runs under (``tests.conftest.UnfinishedWatch``) must both catch
an answer a script leaves unread and forgive one whose body is merely still on its way when the
test ends. CI failed once on the second: the watch slept without letting Playwright deliver the
``requestfinished`` that had come, and named a pull the app had read."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import UnfinishedWatch

pytestmark = pytest.mark.browser

PAGE = b"""<!doctype html><meta charset=utf-8><title>watch</title>
<script>
window.ignore = () => fetch('/answer').then(r => r.status);
window.read = () => fetch('/answer').then(r => r.json());
window.slow = () => fetch('/slow').then(r => r.text()).then(t => { window.got = t.length; });
</script>"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _head(self, ctype: str, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path == "/":
            self._head("text/html; charset=utf-8", len(PAGE))
            self.wfile.write(PAGE)
        elif self.path == "/answer":
            # As large as a pull page: an unread body of this size cannot fit the socket buffers
            body = b'{"rows": "' + b"x" * 2_000_000 + b'"}'
            self._head("application/json", len(body))
            self.wfile.write(body)
        elif self.path == "/slow":
            # The headers now, the body a moment later: the test ends in between
            body = b"y" * 50_000
            self._head("text/plain", len(body))
            self.wfile.flush()
            time.sleep(0.8)
            self.wfile.write(body)
        else:
            self.send_error(404)


@pytest.fixture
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _watched(browser, origin: str):
    context = browser.new_context()
    watch = UnfinishedWatch(context)
    pg = context.new_page()
    pg.goto(origin + "/")
    return context, watch, pg


def test_an_answer_the_script_ignores_is_named(browser, origin: str) -> None:
    context, watch, pg = _watched(browser, origin)
    try:
        assert pg.evaluate("ignore()") == 200
        with pytest.raises(AssertionError, match="GET /answer"):
            watch.check()
    finally:
        context.close()


def test_an_answer_read_to_the_end_passes(browser, origin: str) -> None:
    context, watch, pg = _watched(browser, origin)
    try:
        assert len(pg.evaluate("read()")["rows"]) == 2_000_000
        watch.check()
    finally:
        context.close()


def test_a_body_still_arriving_when_the_test_ends_is_waited_for(browser, origin: str) -> None:
    context, watch, pg = _watched(browser, origin)
    try:
        with pg.expect_response(lambda r: r.url.endswith("/slow")):
            pg.evaluate("slow(); 0")
        # The test is over here; the body is not yet sent, and its event must be seen
        watch.check()
        assert pg.evaluate("window.got") == 50_000
    finally:
        context.close()
