"""TrueFX Web API client: sessions or snapshots, polite polling, back-off, re-connect."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from fxwatch.errors import FxwatchError
from fxwatch.schema import BadLine, Quote, Reason, SourceItem, make_quote, now_ms

__all__ = [
    "TrueFXClient",
    "parse_truefx_line",
    "parse_truefx_body",
    "mask_url",
    "backoff_delay",
    "DEFAULT_PAIRS",
]

log = logging.getLogger(__name__)

DEFAULT_PAIRS = (
    "EUR/USD",
    "USD/JPY",
    "GBP/USD",
    "EUR/GBP",
    "USD/CHF",
    "EUR/JPY",
    "EUR/CHF",
    "USD/CAD",
    "AUD/USD",
    "GBP/JPY",
)
_SECRET_PARAMS = {"u", "p", "id", "di"}  # the session id embeds user and password
_NOT_AUTHORIZED = re.compile(
    r"not\s+authori[sz]ed|invalid\s+session|session\s+expired", re.IGNORECASE
)
_SESSION_ID = re.compile(r"^[^\s,<>]+:[^\s,<>]*:[^\s,<>]+:\d+$")


def mask_url(url: str) -> str:
    """The URL with user, password and session id replaced by *** (safe to log)."""
    parts = urlsplit(url)
    query = [
        (k, "***" if k in _SECRET_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/,*")))


_SECRET_IN_TEXT = re.compile(r"([?&](?:u|p|id|di)=)[^&\s\"']*")


class _MaskSecrets(logging.Filter):
    """Masks TrueFX credentials in records of the HTTP libraries (urllib3 logs request URLs at
    DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = _SECRET_IN_TEXT.sub(r"\1***", text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


for _name in ("urllib3.connectionpool", "requests"):
    logging.getLogger(_name).addFilter(_MaskSecrets())


def backoff_delay(
    failures: int, base_s: float, cap_s: float, jitter: float, rng: random.Random
) -> float:
    """Exponential back-off: base·2^(failures-1), jittered by ±jitter, never above cap."""
    raw = base_s * (2 ** max(0, failures - 1))
    return min(cap_s, raw * (1.0 + jitter * (2.0 * rng.random() - 1.0)))


def parse_truefx_line(line: str, source: str = "truefx", now: int | None = None) -> Quote:
    """One live CSV line -> Quote; ValueError(reason) if bad.

    Fields: symbol, epoch ms, bid big figure, bid points, offer big figure, offer points, then
    low, high, open as TrueFX actually serves them (its documentation says high, low, open).
    Prices are rebuilt as text: '1.09' + '034' -> 1.09034, '157.' + '123' -> 157.123.
    """
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 9:
        raise ValueError(f"{Reason.FIELD_COUNT}: expected 9 fields, got {len(parts)}")
    pair, ts, bid_big, bid_pts, ask_big, ask_pts, f_low, f_high, f_open = parts
    if not re.fullmatch(r"\d{10,14}", ts):
        raise ValueError(f"{Reason.BAD_TS}: {ts!r} is not epoch milliseconds")
    bid = _join_price("bid", bid_big, bid_pts)
    ask = _join_price("ask", ask_big, ask_pts)
    low, high, opn = (
        _plain_price(n, v) for n, v in (("low", f_low), ("high", f_high), ("open", f_open))
    )
    if low > high:  # served in the documented order after all: keep the meaning, not the position
        low, high = high, low
    return make_quote(pair, int(ts), bid, ask, source, low=low, high=high, open=opn, now=now)


def _join_price(name: str, big: str, points: str) -> float:
    if not re.fullmatch(r"\d+\.\d*", big) or not re.fullmatch(r"\d+", points):
        raise ValueError(
            f"{Reason.BAD_PRICE}: {name} big figure {big!r} / points {points!r} are malformed"
        )
    value = float(big + points)  # text join keeps the leading zeros of the points
    if value <= 0:
        raise ValueError(f"{Reason.BAD_PRICE}: {name}={value} is not positive")
    return value


def _plain_price(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{Reason.BAD_PRICE}: {name}={text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{Reason.BAD_PRICE}: {name}={text!r} is not a finite positive number")
    return value


def parse_truefx_body(
    body: str, source: str = "truefx", now: int | None = None
) -> list[SourceItem]:
    """Every non-empty line of a CSV response -> Quote or BadLine."""
    out: list[SourceItem] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            out.append(parse_truefx_line(line, source, now))
        except ValueError as exc:
            out.append(BadLine(line, str(exc), source, now_ms(), "truefx"))
    return out


class _Transient(Exception):
    """A failure worth retrying after a back-off (timeout, 5xx, garbage body)."""


class _SessionLost(Exception):
    """The server no longer knows our session: connect again."""


class TrueFXClient:
    """Poll TrueFX: an authenticated incremental session when credentials are set, else
    snapshots."""

    def __init__(
        self,
        url: str = "https://webrates.truefx.com/rates/connect.html",
        user: str | None = None,
        password: str | None = None,
        pairs: Iterable[str] | None = None,
        *,
        interval_s: float = 1.0,
        jitter: float = 0.2,
        timeout_s: float = 5.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        max_failures: int | None = 30,
        http: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        source: str = "truefx",
    ) -> None:
        if bool(user) != bool(password):
            raise FxwatchError(
                "set both TRUEFX_USER and TRUEFX_PASSWORD, or neither for snapshot mode"
            )
        self.url = url
        self._user = user
        self._password = password
        self.pairs = tuple(pairs) if pairs else None
        self.interval_s = interval_s
        self.jitter = jitter
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_failures = max_failures
        self.http = http or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.source = source
        self.session_id: str | None = None
        self.failures = 0  # consecutive
        self.reconnects = 0
        self._last_seen: dict[str, tuple[int, float, float]] = {}

    @classmethod
    def from_settings(cls, settings, **kwargs) -> TrueFXClient:
        """A client for Settings.truefx_url with TRUEFX_USER / TRUEFX_PASSWORD (if set)."""
        return cls(settings.truefx_url, settings.truefx_user, settings.truefx_password, **kwargs)

    def __repr__(self) -> str:  # never show credentials
        mode = "session" if self.authenticated else "snapshot"
        return f"TrueFXClient(url={self.url!r}, mode={mode})"

    @property
    def authenticated(self) -> bool:
        return bool(self._user)

    # ---- HTTP ------------------------------------------------------------------------------
    def _get(self, params: dict[str, str]) -> str:
        full = f"{self.url}?{urlencode(params, safe='/,')}"
        log.debug("GET %s", mask_url(full))
        try:
            resp = self.http.get(self.url, params=params, timeout=self.timeout_s)
        except requests.Timeout:
            raise _Transient(f"timeout after {self.timeout_s} s on {mask_url(full)}") from None
        except requests.ConnectionError as exc:
            raise _Transient(f"cannot connect to {mask_url(full)}: {type(exc).__name__}") from None
        if resp.status_code in (401, 403):
            raise _SessionLost(f"HTTP {resp.status_code}")
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Transient(f"HTTP {resp.status_code} from {mask_url(full)}")
        if resp.status_code >= 400:
            raise FxwatchError(
                f"TrueFX answered HTTP {resp.status_code} for {mask_url(full)} "
                "— check FXWATCH_TRUEFX_URL"
            )
        return resp.text

    # ---- protocol --------------------------------------------------------------------------
    def connect(self) -> str:
        """Open an authenticated session; FxwatchError if the credentials are refused."""
        if not self.authenticated:
            raise FxwatchError(
                "TrueFX sessions need TRUEFX_USER and TRUEFX_PASSWORD in the environment"
            )
        params = {"u": self._user, "p": self._password, "q": "ozrates", "f": "csv", "s": "n"}
        if self.pairs:
            params["c"] = ",".join(self.pairs)
        try:
            body = self._get(params).strip()
        except _SessionLost:
            body = "not authorized"
        if not _SESSION_ID.match(body) or _NOT_AUTHORIZED.search(body):
            self.session_id = None
            raise FxwatchError(
                "TrueFX refused TRUEFX_USER/TRUEFX_PASSWORD (no session id) — check them at "
                "truefx.com, or unset both to use unauthenticated snapshot mode"
            )
        self.session_id = body
        log.info("TrueFX session opened (%s)", mask_url(f"{self.url}?id={body}"))
        return body

    def disconnect(self) -> None:
        """Close the session (best effort)."""
        if self.session_id:
            try:
                self.http.get(
                    self.url.replace("connect.html", "disconnect.html"),
                    params={"di": self.session_id},
                    timeout=self.timeout_s,
                )
            except requests.RequestException:
                pass
            self.session_id = None

    def fetch(self) -> list[SourceItem]:
        """One request: incremental updates of the session, or a snapshot without credentials."""
        if self.authenticated:
            if self.session_id is None:
                self.connect()
            body = self._get({"id": self.session_id})
            if _NOT_AUTHORIZED.search(body):
                raise _SessionLost("session expired")
        else:
            params = {"f": "csv"}
            if self.pairs:
                params["c"] = ",".join(self.pairs)
            body = self._get(params)
        items = parse_truefx_body(body, self.source)
        if items and not any(isinstance(i, Quote) for i in items):
            # Not TrueFX CSV at all (an HTML error page, a proxy message): one DLQ record, then
            # back off.
            raise _Transient(
                BadLine(
                    body[:2000],
                    f"{Reason.UNPARSEABLE}: response body is not TrueFX CSV",
                    self.source,
                    now_ms(),
                    "truefx",
                )
            )
        return [i for i in items if not self._seen(i)]

    def _seen(self, item: SourceItem) -> bool:
        # Snapshots repeat unchanged quotes; pass each (pair, time, bid, ask) once.
        if not isinstance(item, Quote):
            return False
        key = (item.ts_ms, item.bid, item.ask)
        if self._last_seen.get(item.pair) == key:
            return True
        self._last_seen[item.pair] = key
        return False

    def _pause(self) -> float:
        return max(0.0, self.interval_s * (1.0 + self.jitter * (2.0 * self.rng.random() - 1.0)))

    def stream(
        self, duration_s: float | None = None, limit: int | None = None
    ) -> Iterator[SourceItem]:
        """Poll until `duration_s` has passed or `limit` items were yielded; back off on
        failures."""
        deadline = None if duration_s is None else self.clock() + duration_s
        count = 0
        try:
            while deadline is None or self.clock() < deadline:
                try:
                    items = self.fetch()
                    self.failures = 0
                    wait = self._pause()
                except _SessionLost as exc:
                    log.warning("TrueFX session lost (%s); connecting again", exc)
                    self.session_id = None
                    self.reconnects += 1
                    self.failures += 1
                    items = []
                    wait = 0.0 if self.failures == 1 else self._backoff()
                except _Transient as exc:
                    self.failures += 1
                    items = [exc.args[0]] if isinstance(exc.args[0], BadLine) else []
                    wait = self._backoff()
                    log.warning(
                        "TrueFX poll failed (%s); retry %d in %.1f s",
                        items[0].reason if items else exc,
                        self.failures,
                        wait,
                    )
                for item in items:
                    yield item
                    count += 1
                    if limit is not None and count >= limit:
                        return
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - self.clock()))
                if wait > 0:
                    self.sleep(wait)
        finally:
            self.disconnect()

    def _backoff(self) -> float:
        if self.max_failures is not None and self.failures > self.max_failures:
            raise FxwatchError(
                f"TrueFX failed {self.failures} times in a row at {mask_url(self.url)} — check the "
                "network and https://www.truefx.com status, then run again"
            )
        return backoff_delay(
            self.failures, self.backoff_base_s, self.backoff_cap_s, self.jitter, self.rng
        )
