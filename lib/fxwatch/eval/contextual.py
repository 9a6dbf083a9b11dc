"""Contextual novelty (after Smirnov & Dubinin's CAD OSE): share of new contexts among the facts.

Evaluation only (a NAB scalar detector, see `fxwatch.eval.nab_detectors`).
"""

from __future__ import annotations

import bisect
import math
from collections import deque

__all__ = ["ContextMemory", "ContextualNovelty", "RecentMaxGate", "value_facts"]

_VALUE_FACT = 65536  # facts for value bits: 65536 + 2*bit_position + bit
_NEURON_FACT = 2**31  # facts for active contexts fed back: 2**31 + context id


class _Semi:
    """One half of a context (a fact set) and what the current crossing matched of it."""

    __slots__ = ("size", "hits", "ctx", "zero")

    def __init__(self, size: int):
        self.size = size  # number of facts in the half
        self.hits: list = []  # facts of the current input found in it
        self.ctx: dict = {}  # (left halves only) right-half id -> context id, in id order
        # (left halves only) (context id, right-half id) of zero-level contexts, sorted
        self.zero: list = []


class ContextMemory:
    """Contexts = (left fact set, right fact set) pairs, stored as shared halves indexed by fact.

    A context row is [selected weight, hit weight, times fully active, right facts, zero-level flag,
    left hash, right hash]; the hit/selected ratio is its prediction weight.
    """

    def __init__(self, max_left: int = 7):
        self.max_left = max_left
        self.ids = ({}, {})  # per side: facts tuple -> half id
        self.halves: tuple[list, list] = ([], [])
        self.by_fact: tuple[dict, dict] = ({}, {})
        self.crossed: list[list] = [[], []]  # halves matched at the last crossing of each side
        self.contexts: list[list] = []
        self.fresh = -1  # zero-level context created at this step (not scored at this step)

    def _half(self, side: int, facts: tuple) -> tuple[int, _Semi]:
        ids = self.ids[side]
        hid = ids.get(facts)
        if hid is None:
            hid = ids[facts] = len(self.halves[side])
            half = _Semi(len(facts))
            self.halves[side].append(half)
            index = self.by_fact[side]
            for f in facts:
                index.setdefault(f, []).append(half)
            return hid, half
        return hid, self.halves[side][hid]

    def store_zero(self, left: tuple, right: tuple) -> bool:
        """Store the zero-level context left->right; True if it was new."""
        _, lh = self._half(0, left)
        rid, _ = self._half(1, right)
        cid = lh.ctx.get(rid)
        if cid is None:
            cid = lh.ctx[rid] = len(self.contexts)
            self.contexts.append([0, 0, 0, right, 1, hash(left), hash(right)])
            lh.zero.append((cid, rid))
            self.fresh = cid
            return True
        c = self.contexts[cid]
        if not c[4]:
            c[4] = 1
            bisect.insort(lh.zero, (cid, rid))
        return False

    def store(self, pairs) -> int:
        """Store crossed (left, right) contexts; return how many were new."""
        added = 0
        for left, right in pairs:
            _, lh = self._half(0, left)
            rid, _ = self._half(1, right)
            if rid not in lh.ctx:
                lh.ctx[rid] = len(self.contexts)
                self.contexts.append([0, 0, 0, right, 0, hash(left), hash(right)])
                added += 1
        return added

    def _cross(self, side: int, facts) -> list:
        for h in self.crossed[side]:
            h.hits = []
        touched = []
        index = self.by_fact[side]
        for f in facts:
            for h in index.get(f, ()):
                if not h.hits:
                    touched.append(h)
                h.hits.append(f)
        self.crossed[side] = touched
        return touched

    def cross_right(self, facts, new_flag: bool) -> tuple[list, int, list]:
        """Match the current facts to right halves; credit contexts whose left half was fully
        matched.

        Returns (active contexts [id, count, lhash, rhash], number of selected contexts, potential
        new contexts built from partial matches when this step added a zero-level context).
        """
        self._cross(1, facts)
        right = self.halves[1]
        contexts = self.contexts
        active, potential = [], []
        selected = 0
        fresh, max_left = self.fresh, self.max_left
        for lh in self.crossed[0]:
            hits = lh.hits
            if lh.size == len(hits):
                short = len(hits) <= max_left
                for rid, cid in lh.ctx.items():
                    if cid == fresh:
                        continue
                    c = contexts[cid]
                    rh = right[rid]
                    nr = len(rh.hits)
                    selected += 1
                    c[0] += rh.size
                    if nr:
                        c[1] += nr
                        if nr == rh.size:
                            c[2] += 1
                            active.append((cid, c[2], c[5], c[6]))
                        elif c[4] and new_flag and short:
                            potential.append((tuple(hits), tuple(rh.hits)))
            elif new_flag and len(hits) <= max_left:
                # a partly matched left half only seeds new contexts from its zero-level ones
                for cid, rid in lh.zero:
                    if cid != fresh:
                        rh = right[rid]
                        if rh.hits:
                            potential.append((tuple(hits), tuple(rh.hits)))
        self.fresh = -1
        return active, selected, potential

    def cross_left(self, facts, potential) -> tuple[int, set]:
        """Store `potential` contexts, match `facts` to left halves, predict the next right
        facts."""
        added = self.store(potential) if potential else 0
        best, preds = 0.0, []
        contexts = self.contexts
        for lh in self._cross(0, facts):
            if lh.size != len(lh.hits):
                continue
            for cid in lh.ctx.values():
                c = contexts[cid]
                w = c[1] / c[0] if c[0] > 0 else 0.0
                if w > best:
                    best, preds = w, [c]
                elif w == best:
                    preds.append(c)
        out: set = set()
        for c in preds:
            out.update(c[3])
        return added, out


def value_facts(value: float, lo: float, step: float, bits: int) -> tuple:
    """Facts of a value: the bits of floor-to-zero((value − lo)/step), at least `bits` of them;
    a sign fact below lo."""
    q = int((value - lo) / step)
    facts = [_VALUE_FACT - 1] if q < 0 else []
    q = abs(q)
    n = max(bits, q.bit_length())
    facts.extend(_VALUE_FACT + 2 * i + ((q >> i) & 1) for i in range(n))
    return tuple(sorted(facts))


class ContextualNovelty:
    """CAD-OSE-style raw score: (1 − share of selected contexts active + share of new contexts)
    / 2.

    The value is quantised to 2**bits − 1 steps over the [min, max] of the first `probation`
    values (NAB's CAD gets the whole file's min/max instead; here nothing after the current value
    is used) and written as bit facts. Contexts link the previous step's facts plus up to
    `max_active` active contexts (left) to the current facts (right); the score is 0 when every
    current fact was predicted. `margin` widens that range by margin·span on each side (0 = as
    learnt). Defaults are the original's: bits=3, max_left=7, max_active=15. Output is 0 during
    probation.
    """

    name = "contextual"

    def __init__(
        self,
        probation: int,
        bits: int = 3,
        max_left: int = 7,
        max_active: int = 15,
        margin: float = 0.0,
    ):
        self.probation = max(int(probation), 1)
        self.bits, self.max_active, self.margin = bits, max_active, margin
        self.mem = ContextMemory(max_left)
        self.buf: list[float] | None = []
        self.lo, self.step = 0.0, 1.0
        self.left: tuple = ()
        self.predicted: set = set()

    def _step(self, facts: tuple) -> tuple[set, float, float]:
        mem = self.mem
        new_flag, n_pot = False, 0
        uniq = set()
        if self.left and facts:
            uniq.add((self.left, facts))
            new_flag = mem.store_zero(self.left, facts)
        active, selected, potential = mem.cross_right(facts, new_flag)
        uniq.update(potential)
        a1 = len(active) / selected if selected else 0.0
        active.sort(key=lambda c: (c[1], c[2], c[3]))
        group = set(facts)
        group.update(_NEURON_FACT + c[0] for c in active[-self.max_active :])
        self.left = tuple(sorted(group))
        added, preds = mem.cross_left(self.left, potential)
        added += 1 if new_flag else 0
        n_pot = len(uniq)
        a2 = added / n_pot if new_flag and n_pot else 0.0
        return preds, a1, a2

    def _score(self, value: float) -> float:
        facts = value_facts(value, self.lo, self.step, self.bits)
        missed = any(f not in self.predicted for f in facts)
        self.predicted, a1, a2 = self._step(facts)
        return (1.0 - a1 + a2) / 2.0 if missed else 0.0

    def update(self, ts_ms: int, value: float) -> float:
        buf = self.buf
        if buf is None:
            return self._score(value)
        buf.append(value)
        if len(buf) >= self.probation:
            lo, hi = min(buf), max(buf)
            span = hi - lo
            if not span > 0 or not math.isfinite(span):
                span = float(2**self.bits - 1)
            lo -= self.margin * span
            span *= 1.0 + 2.0 * self.margin
            self.lo, self.step = lo, span / (2**self.bits - 1)
            for x in buf:
                self._score(x)
            self.buf = None
        return 0.0


class RecentMaxGate:
    """CAD's rest rule: pass the inner score only if all of the last `rest` inner scores were
    below `threshold`.

    Unlike `RestGate`, suppressed scores keep the gate closed. Defaults: threshold=0.75, rest=150;
    the history starts with one 1.0, so the first `rest` records output 0 (inside NAB's probation).
    """

    def __init__(self, inner, threshold: float = 0.75, rest: int = 150):
        self.inner, self.threshold = inner, threshold
        self.name = inner.name
        self.recent: deque = deque([1.0], maxlen=max(int(rest), 1))

    def update(self, ts_ms: int, value: float) -> float:
        s = self.inner.update(ts_ms, value)
        out = s if max(self.recent) < self.threshold else 0.0
        self.recent.append(s)
        return out
