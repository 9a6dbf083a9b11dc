"""fxwatch.progress: a tqdm bar on a terminal, whole lines per step elsewhere."""

from __future__ import annotations

import io

from tqdm import tqdm

from fxwatch.progress import LineProgress, progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_known_total_prints_a_line_per_ten_percent_and_a_last_one():
    out = io.StringIO()
    with progress(desc="produce sample", total=1000, unit=" ticks", file=out) as bar:
        assert isinstance(bar, LineProgress)
        for _ in range(1000):
            bar.update()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 10  # 10 %, 20 %, ... 90 %, then 100 % when the bar closes
    assert lines[0].startswith("produce sample:  10% (100/1,000 ticks) in ")
    assert lines[4].startswith("produce sample:  50% (500/1,000 ticks)")
    assert lines[-1].startswith("produce sample: 100% (1,000/1,000 ticks)")
    assert lines[-1].endswith(" done")


def test_big_updates_print_one_line_not_one_per_step_crossed():
    out = io.StringIO()
    bar = progress(total=100, file=out)
    bar.update(55)
    bar.update(1)  # 56 %: no new step reached
    bar.update(44)
    bar.close()
    bar.close()  # idempotent, like tqdm
    lines = out.getvalue().splitlines()
    assert [ln.split("%")[0].strip() for ln in lines] == ["55", "100"]


def test_unknown_total_prints_every_n_items_and_the_count_at_the_end():
    out = io.StringIO()
    with progress(desc="history", unit=" ticks", file=out, every=250) as bar:
        for _ in range(600):
            bar.update(1)
    lines = out.getvalue().splitlines()
    counts = [ln.split(" ticks")[0] for ln in lines]
    assert counts == ["history: 250", "history: 500", "history: 600"]
    assert lines[-1].endswith("done")


def test_a_terminal_gets_tqdm_and_disable_prints_nothing():
    tty = _Tty()
    bar = progress(total=10, file=tty)
    try:
        assert isinstance(bar, tqdm)
    finally:
        bar.close()
    quiet = io.StringIO()
    with progress(total=10, file=quiet, disable=True) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""
