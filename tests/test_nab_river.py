"""river's online detectors as NAB scalar detectors: quiet in probation, causal, and they react."""

import numpy as np

from fxwatch.eval.nab_detectors import SCALAR_DETECTORS, score_series


def _series(n=600, shift_at=None, spike_at=None, seed=0):
    x = np.random.default_rng(seed).normal(10.0, 1.0, n)
    if shift_at is not None:
        x[shift_at:] += 8.0
    if spike_at is not None:
        x[spike_at] += 15.0
    return np.arange(n, dtype=np.int64) * 60_000, x


def test_halfspacetrees_scores_a_spike_above_the_usual():
    ts, x = _series(spike_at=450)
    s = score_series(SCALAR_DETECTORS["river-hst"], ts, x, probation=100)
    assert (s[:100] == 0).all()
    assert s[450] > np.percentile(s[100:], 90)


def test_drift_detectors_fire_after_a_level_shift_only():
    ts, x = _series(shift_at=400)
    for name in ("river-adwin", "river-pagehinkley"):
        s = score_series(SCALAR_DETECTORS[name], ts, x, probation=100)
        assert set(np.unique(s)) <= {0.0, 1.0}
        assert s[400:].max() == 1.0, name
        assert s[:400].sum() <= 1, name


def test_scores_up_to_t_do_not_depend_on_later_values():
    ts, x = _series(seed=3)
    y = x.copy()
    y[300:] += 50.0
    for name in ("river-hst", "river-adwin", "river-pagehinkley", "river-hst-gated"):
        a = score_series(SCALAR_DETECTORS[name], ts, x, probation=100)
        b = score_series(SCALAR_DETECTORS[name], ts, y, probation=100)
        assert np.array_equal(a[:300], b[:300]), name
