"""TrueFX client against a local HTTP server that speaks the protocol, failures included."""

import logging
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError
from fxwatch.schema import BadLine, Quote, Reason
from fxwatch.sources.truefx import (
    TrueFXClient,
    backoff_delay,
    mask_url,
    parse_truefx_body,
    parse_truefx_line,
)

USER, PASSWORD = "jsmith", "s3cr3t-pw"
NOW_MS = int(time.time() * 1000)


def line(
    pair, ts, bid_big, bid_pts, ask_big, ask_pts, low="1.08922", high="1.09673", opn="1.09384"
):
    return f"{pair},{ts},{bid_big},{bid_pts},{ask_big},{ask_pts},{low},{high},{opn}"


class FakeTrueFX:
    """A TrueFX Web API look-alike: sessions, incremental updates, snapshots, scripted failures."""

    def __init__(self):
        self.sessions: set[str] = set()
        self.script: list[
            str | None
        ] = []  # one action per request: None, "500", "503", "timeout", "garbage", "expire"
        self.requests: list[dict] = []
        self.tick = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.requests.append({"path": url.path, **q})
                    action = fake.script.pop(0) if fake.script else None
                if url.path.endswith("disconnect.html"):
                    fake.sessions.discard(q.get("di"))
                    return self.reply(200, "")
                if action == "timeout":
                    time.sleep(1.0)
                    return self.reply(200, "")
                if action in ("500", "503"):
                    return self.reply(int(action), "oops")
                if action == "garbage":
                    return self.reply(
                        200, "<html><body>Service Unavailable</body></html>\n<p>try later</p>"
                    )
                if action == "expire":
                    fake.sessions.clear()
                if "u" in q:
                    if q.get("u") == USER and q.get("p") == PASSWORD:
                        sid = f"{USER}:{PASSWORD}:ozrates:{1281379013613 + len(fake.sessions)}"
                        fake.sessions.add(sid)
                        return self.reply(200, sid + "\r\n")
                    return self.reply(200, "not authorized")
                if "id" in q:
                    if q["id"] not in fake.sessions:
                        return self.reply(200, "not authorized")
                    return self.reply(200, fake.update())
                return self.reply(200, fake.snapshot())

            def reply(self, code, body):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rates/connect.html"

    def update(self):
        self.tick += 1
        return (
            line(
                "EUR/USD",
                NOW_MS - 1000 + self.tick,
                "1.09",
                f"{self.tick % 1000:03d}",
                "1.09",
                "999",
            )
            + "\n"
        )

    def snapshot(self):
        return (
            "\n".join(
                [
                    line("EUR/USD", NOW_MS - 2000, "1.09", "034", "1.09", "038"),
                    line(
                        "USD/JPY",
                        NOW_MS - 2000,
                        "157.",
                        "123",
                        "157.",
                        "130",
                        "156.5",
                        "157.9",
                        "157.2",
                    ),
                ]
            )
            + "\n\n"
        )


@pytest.fixture
def fake():
    f = FakeTrueFX()
    t = threading.Thread(target=f.server.serve_forever, daemon=True)
    t.start()
    yield f
    f.server.shutdown()
    f.server.server_close()


class Waits:
    """Injected clock and sleep: records waits instead of sleeping."""

    def __init__(self):
        self.t = 0.0
        self.waits: list[float] = []

    def clock(self):
        return self.t

    def sleep(self, s):
        self.waits.append(round(s, 6))
        self.t += s


def client(fake, waits, user=USER, password=PASSWORD, **kw):
    opts = dict(
        interval_s=1.0,
        jitter=0.0,
        timeout_s=0.3,
        backoff_base_s=1.0,
        backoff_cap_s=8.0,
        sleep=waits.sleep,
        clock=waits.clock,
        rng=random.Random(1),
    )
    opts.update(kw)
    return TrueFXClient(fake.url, user, password, ("EUR/USD", "USD/JPY"), **opts)


# ---- parsing -----------------------------------------------------------------------------------
def test_live_line_prices_keep_leading_zeros_and_low_high_order():
    q = parse_truefx_line(
        "EUR/USD,1437569931314,1.09,034,1.09,038,1.08922,1.09673,1.09384", now=NOW_MS
    )
    assert (q.pair, q.ts_ms, q.bid, q.ask) == ("EUR/USD", 1437569931314, 1.09034, 1.09038)
    assert (q.low, q.high, q.open) == (1.08922, 1.09673, 1.09384)  # served as low, high, open
    assert (
        parse_truefx_line("EUR/USD,1437569931314,1.09,004,1.09,010,1,2,1.5", now=NOW_MS).bid
        == 1.09004
    )
    jpy = parse_truefx_line("USD/JPY,1437569931314,157.,123,157.,130,156.5,157.9,157.2", now=NOW_MS)
    assert (jpy.bid, jpy.ask) == (157.123, 157.130)
    swapped = parse_truefx_line(
        "EUR/USD,1437569931314,1.09,034,1.09,038,1.09673,1.08922,1.09384", now=NOW_MS
    )
    assert swapped.low < swapped.high


@pytest.mark.parametrize(
    "bad,code",
    [
        ("EUR/USD,1437569931314,1.09,034,1.09,038", Reason.FIELD_COUNT),
        ("EUR/USD,14375699313xx,1.09,034,1.09,038,1,2,1.5", Reason.BAD_TS),
        ("EUR/USD,1437569931314,1.09,-34,1.09,038,1,2,1.5", Reason.BAD_PRICE),
        ("EUR/USD,1437569931314,1.09,034,1.09,038,nan,2,1.5", Reason.BAD_PRICE),
        ("EURUSDX,1437569931314,1.09,034,1.09,038,1,2,1.5", Reason.BAD_PAIR),
    ],
)
def test_bad_live_lines_give_reasons(bad, code):
    (item,) = parse_truefx_body(bad + "\n", now=NOW_MS)
    assert isinstance(item, BadLine) and item.code == code and item.raw == bad


def test_backoff_is_exponential_jittered_and_capped():
    rng = random.Random(3)
    assert [backoff_delay(n, 1, 60, 0, rng) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    jittered = [backoff_delay(3, 1, 60, 0.2, rng) for _ in range(200)]
    assert 3.2 <= min(jittered) < max(jittered) <= 4.8
    assert all(backoff_delay(n, 1, 60, 0.5, rng) <= 60 for n in range(1, 40))


def test_mask_url_hides_user_password_and_session():
    url = f"https://x/rates/connect.html?u={USER}&p={PASSWORD}&q=ozrates&c=EUR/USD&id={USER}:{PASSWORD}:ozrates:1"
    masked = mask_url(url)
    assert (
        PASSWORD not in masked
        and USER not in masked
        and "c=EUR/USD" in masked
        and "q=ozrates" in masked
    )


# ---- protocol ------------------------------------------------------------------------------------
def test_snapshot_mode_without_credentials(fake):
    w = Waits()
    c = client(fake, w, user=None, password=None)
    items = list(c.stream(duration_s=3.5))
    quotes = [i for i in items if isinstance(i, Quote)]
    assert {(q.pair, q.bid, q.ask) for q in quotes} == {
        ("EUR/USD", 1.09034, 1.09038),
        ("USD/JPY", 157.123, 157.130),
    }
    assert len(quotes) == 2  # later snapshots repeat the same quotes: passed once
    assert all("u" not in r and "id" not in r and r["f"] == "csv" for r in fake.requests)
    assert len(fake.requests) == 4 and w.waits == [
        1.0,
        1.0,
        1.0,
        0.5,
    ]  # polite: one poll per interval


def test_session_mode_connects_once_and_polls_with_the_session_id(fake, caplog):
    caplog.set_level(logging.DEBUG, logger="fxwatch")
    w = Waits()
    c = client(fake, w)
    quotes = list(c.stream(limit=3))
    assert [q.bid for q in quotes] == [1.09001, 1.09002, 1.09003]
    connect, *polls = [r for r in fake.requests if r["path"] == "/rates/connect.html"]
    assert (
        connect["u"] == USER
        and connect["p"] == PASSWORD
        and connect["f"] == "csv"
        and connect["s"] == "n"
    )
    assert connect["c"] == "EUR/USD,USD/JPY" and connect["q"] == "ozrates"
    assert len(polls) == 3 and all(p["id"].startswith(f"{USER}:") for p in polls)
    assert fake.requests[-1]["path"].endswith("disconnect.html")  # session closed at the end
    assert PASSWORD not in caplog.text and PASSWORD not in repr(c)
    assert "***" in caplog.text


def test_backoff_on_5xx_timeout_and_garbage_then_recovery(fake):
    w = Waits()
    c = client(fake, w, max_failures=None)
    fake.script = [
        None,
        "500",
        "timeout",
        "garbage",
        "503",
        "500",
        "500",
    ]  # connect ok, then 6 failures
    items = list(c.stream(limit=3))
    bad = [i for i in items if isinstance(i, BadLine)]
    assert (
        len(bad) == 1 and bad[0].code == Reason.UNPARSEABLE and "Service Unavailable" in bad[0].raw
    )
    assert w.waits[:6] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubling, capped at 8 s
    assert w.waits[6:] == [1.0]  # back to the polling interval after a success
    assert c.failures == 0


def test_session_expiry_reconnects(fake):
    w = Waits()
    c = client(fake, w)
    first = list(c.stream(limit=1))
    fake.script = [
        None,
        "expire",
        None,
        None,
    ]  # connect, poll (ok), poll (expired), reconnect, poll
    more = list(c.stream(limit=2))
    assert len(first) == 1 and len(more) == 2 and all(isinstance(i, Quote) for i in more)
    assert c.reconnects == 1
    connects = [r for r in fake.requests if "u" in r]
    assert len(connects) == 3  # first stream, second stream, after expiry


def test_bad_credentials_are_a_clear_error_without_the_password(fake):
    c = client(fake, Waits(), password="wrong-password")
    with pytest.raises(FxwatchError, match="TRUEFX_USER/TRUEFX_PASSWORD") as exc:
        list(c.stream(limit=1))
    assert "wrong-password" not in str(exc.value)
    assert len([r for r in fake.requests if "u" in r]) == 1  # no retry storm on a credential error


def test_gives_up_after_max_failures_with_a_clear_error(fake):
    w = Waits()
    c = client(fake, w, user=None, password=None, max_failures=3)
    fake.script = ["500"] * 10
    with pytest.raises(FxwatchError, match="failed 4 times in a row"):
        list(c.stream())
    assert w.waits == [1.0, 2.0, 4.0]


def test_unreachable_server_backs_off_instead_of_spinning():
    w = Waits()
    c = TrueFXClient(
        "http://127.0.0.1:9/rates/connect.html",
        timeout_s=0.2,
        jitter=0.0,
        max_failures=None,
        sleep=w.sleep,
        clock=w.clock,
        backoff_cap_s=30,
    )
    assert list(c.stream(duration_s=100)) == []
    assert w.waits[:5] == [1.0, 2.0, 4.0, 8.0, 16.0] and sum(w.waits) == pytest.approx(100)


def test_credentials_come_from_the_environment_only():
    s = Settings.from_env({"TRUEFX_USER": USER, "TRUEFX_PASSWORD": PASSWORD}, dotenv=None)
    c = TrueFXClient.from_settings(s)
    assert c.authenticated and PASSWORD not in repr(c)
    assert not TrueFXClient.from_settings(Settings.from_env({}, dotenv=None)).authenticated
    with pytest.raises(FxwatchError, match="both"):
        TrueFXClient("http://x", USER, None)


def test_cli_truefx_source_polls_the_configured_url(fake):
    import argparse

    from fxwatch.cli import bus as cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["produce", "--source", "truefx", "--duration", "0.5s", "--pairs", "EUR/USD,USD/JPY"]
    )
    settings = Settings.from_env({"FXWATCH_TRUEFX_URL": fake.url}, dotenv=None)
    items, _ = cli.build_source(args, settings)
    quotes = list(items)
    assert {q.pair for q in quotes} == {"EUR/USD", "USD/JPY"}
    assert fake.requests[0]["c"] == "EUR/USD,USD/JPY" and "u" not in fake.requests[0]
