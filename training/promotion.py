"""Whether a retrained model replaces the served one: a paired comparison on the same covers.

Champion and challenger are scored on the same covers (the base validation split plus the
held-out feedback slice), so only the covers they disagree on carry information: `b` the
challenger alone gets right, `c` the champion alone. McNemar's exact test asks whether b and c
differ by more than chance (two-sided binomial test of b against b + c at p = 1/2); the 95 %
interval of the top-1 difference comes from a seeded paired bootstrap over the covers.

The rule (non-inferiority), applied to the pooled covers and to the base validation split alone
(so a gain on people's votes cannot pay for a loss on the base genres):
- `worse`: the champion is significantly better (p < alpha, c > b): the challenger is rejected.
- `better`: significantly better: promoted.
- `tie`: no significant difference either way: promoted, since it learned from more labelled
  covers and is not measurably worse. A fixed tolerance below the split's noise (a 1-point
  threshold against a standard error of about 1.8 points) rejected good retrains at random.
The original model (the shipped one, normally) is a floor too, tested the same way on base
validation, so small losses cannot add up over many promotions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import binomtest

ALPHA = 0.05
BOOTSTRAP = 2000
SEED = 0

Verdict = Literal["better", "worse", "tie"]


@dataclass(frozen=True)
class PairedTest:
    """Challenger minus champion, top-1, on the same covers."""

    n: int
    challenger_only: int  # covers only the challenger got right (b)
    champion_only: int  # covers only the champion got right (c)
    difference: float  # challenger top-1 minus champion top-1
    low: float  # 95 % paired-bootstrap interval of the difference
    high: float
    p_value: float  # McNemar exact, two-sided
    verdict: Verdict

    def describe(self) -> str:
        return (f"top-1 {self.difference * 100:+.1f} points (95 % CI {self.low * 100:+.1f} to {self.high * 100:+.1f}), "
                f"McNemar p = {self.p_value:.3f} on {self.n} covers")


def paired_test(champion_hits: np.ndarray, challenger_hits: np.ndarray, *, alpha: float = ALPHA,
                seed: int = SEED, resamples: int = BOOTSTRAP) -> PairedTest:
    """McNemar's exact test and a paired bootstrap interval; hits are one bool per cover, same order."""
    old = np.asarray(champion_hits, dtype=bool)
    new = np.asarray(challenger_hits, dtype=bool)
    if old.shape != new.shape or old.ndim != 1:
        raise ValueError("champion and challenger must be scored on the same covers")
    n = len(old)
    b = int(np.sum(new & ~old))
    c = int(np.sum(old & ~new))
    p = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    delta = new.astype(np.int8) - old.astype(np.int8)
    if n:
        rng = np.random.default_rng(seed)
        means = delta[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        low, high = (float(x) for x in np.quantile(means, [0.025, 0.975]))
    else:
        low = high = 0.0
    verdict: Verdict = "tie"
    if p < alpha:
        verdict = "better" if b > c else "worse"
    return PairedTest(n, b, c, float(delta.mean()) if n else 0.0, low, high, float(p), verdict)


def decide(tests: dict[str, PairedTest]) -> tuple[bool, str]:
    """(promote?, why): rejected when any paired test (by what it compares) finds the challenger worse."""
    why = "; ".join(f"{name}: {test.describe()}" for name, test in tests.items())
    worse = [name for name, test in tests.items() if test.verdict == "worse"]
    if worse:
        return False, f"{why}: significantly worse ({', '.join(worse)})"
    better = any(test.verdict == "better" for test in tests.values())
    return True, f"{why}: {'significantly better' if better else 'no significant difference'}"


def below_floor(challenger_hits: np.ndarray, floor_top1: float, alpha: float = ALPHA) -> bool:
    """The challenger's top-1 is significantly below a recorded top-1 (one-sided exact binomial test).

    For an original model known only by its recorded number (not on disk to be paired with).
    """
    hits = np.asarray(challenger_hits, dtype=bool)
    if not len(hits):
        return False
    return bool(binomtest(int(hits.sum()), len(hits), min(max(floor_top1, 0.0), 1.0), alternative="less").pvalue < alpha)
