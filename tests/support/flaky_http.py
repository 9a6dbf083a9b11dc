"""A local TrueFX look-alike that fails on purpose (timeouts, 5xx, garbage, expired sessions) and
counts every request, for fault and security tests of the TrueFX client."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["FlakyTrueFX", "FAILURES"]

FAILURES = ("timeout", "500", "503", "garbage", "expire")


class FlakyTrueFX:
    """Serve TrueFX CSV; `script` holds one action per request (None = healthy), then healthy.

    Use as a context manager; `url` is the connect endpoint, `times` the monotonic arrival time of
    every request, `queries` their parameters.
    """

    def __init__(
        self,
        user: str,
        password: str,
        script: list[str | None] | None = None,
        timeout_sleep_s: float = 1.0,
        snapshot: str | None = None,
    ) -> None:
        self.user, self.password = user, password
        self.script = list(script or [])
        self.timeout_sleep_s = timeout_sleep_s
        self.snapshot = snapshot  # when set, every healthy poll serves this same body
        self.sessions: set[str] = set()
        self.times: list[float] = []
        self.queries: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self._n = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/rates/connect.html"

    def __enter__(self) -> FlakyTrueFX:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _body(self) -> str:
        if self.snapshot is not None:
            return self.snapshot
        self._n += 1
        ts = int(time.time() * 1000)
        pts = f"{100 + self._n % 800:03d}"
        return (
            "\n".join(
                [
                    f"EUR/USD,{ts},1.09,{pts},1.09,{int(pts) + 4:03d},1.08922,1.09673,1.09384",
                    f"USD/JPY,{ts},148.,{pts},148.,{int(pts) + 9:03d},147.500,148.900,148.100",
                ]
            )
            + "\n"
        )

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the server's own log would show the query string
                pass

            def reply(self, code: int, body: str) -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:  # the client gave up (its timeout)
                    pass

            def do_GET(self):
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.times.append(time.monotonic())
                    fake.queries.append(q)
                    action = fake.script.pop(0) if fake.script else None
                if url.path.endswith("disconnect.html"):
                    fake.sessions.discard(q.get("di", ""))
                    return self.reply(200, "")
                if action == "timeout":
                    time.sleep(fake.timeout_sleep_s)
                    return self.reply(200, "")
                if action in ("500", "503"):
                    return self.reply(int(action), "Internal Server Error")
                if action == "garbage":
                    return self.reply(200, "<html><body>\x00\xff Service Unavailable</body></html>")
                if action == "expire":
                    fake.sessions.clear()
                if "u" in q:
                    if q.get("u") == fake.user and q.get("p") == fake.password:
                        n = 1281379013613 + len(fake.sessions)
                        sid = f"{fake.user}:{fake.password}:ozrates:{n}"
                        fake.sessions.add(sid)
                        return self.reply(200, sid + "\n")
                    return self.reply(200, "not authorized\n")
                if "id" in q:
                    if q["id"] not in fake.sessions:
                        return self.reply(200, "invalid session\n")
                    return self.reply(200, fake._body())
                return self.reply(200, fake._body())  # snapshot mode

        return Handler

    def max_rate(self, window_s: float = 1.0) -> int:
        """The largest number of requests that arrived within any `window_s` window."""
        t = sorted(self.times)
        best, j = 0, 0
        for i in range(len(t)):
            while t[i] - t[j] > window_s:
                j += 1
            best = max(best, i - j + 1)
        return best
