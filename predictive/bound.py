"""The bound: the best non-anticipating pacing policy for a workload, as a constrained MDP.

The model (an exponential approximation of the workload, solved exactly):

- State `(t, w, k)`: agents talking, agents in wrap-up, calls in flight (ringing). With
  `phases=1` talk and wrap-up are one exponential "busy" phase of mean `H = talk + wrap`
  and the state is `(b, k)`. Free agents `f = N − t − w`.
- Each call in flight ends after an exponential time of mean `D` (the dial time): a live
  person with probability `p` (the hour's answer probability), else nobody. A live answer is
  an AMD false positive with probability `fp` (counted against the abandon budget when the
  campaign says so); otherwise it takes a free agent if there is one; if not, it is kept
  when an agent frees within the drop time — probability `1 − exp(−drop · μ)`, `μ` the
  rate at which some busy agent frees — and abandoned otherwise.
- Talk ends at rate `t / T` (into wrap-up), wrap-up at rate `w / W` (agent free).
- Control: at any instant the dialer may place new calls, `k → k' ≥ k`, with
  `k' ≤ K = ceil(max_lines_per_agent · N)` (the truncation). Deciding at every event of
  the uniformised chain is continuous-time control, the most a ticking dialer can do.

Objective: maximise the long-run occupancy `(t + w) / N` subject to
`abandons ≤ cap · live answers`. Lagrangian relaxation turns the ratio constraint into
the reward rate `occupancy − λ · (abandon rate − cap · live-answer rate)`; relative value
iteration on the uniformised chain (vectorised over the whole state cube) finds the best
deterministic policy for each `λ`, the stationary distribution of that policy gives its
occupancy and abandon rate, a bisection finds the smallest feasible `λ`, and time-sharing
the two policies either side of it meets the cap exactly (the CMDP optimum may randomise).

Hour-varying answer probability: one `λ` for the whole day (the cap is a daily
constraint), each distinct hourly `p` solved separately, results weighted by time; the
transients between hours are ignored.

What the approximation does not capture: non-exponential times (low-variance talk or a
constant wrap-up make pacing easier, so a real policy can beat this figure slightly on
such workloads; on all-exponential workloads it is a true upper bound up to the drop-time
approximation), per-agent elapsed times (the dialer only sees counts), and the ages of
ringing calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from predictive.workload import Workload

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_MAX_LINES_PER_AGENT = 4.0
_MAX_ITERATIONS = 200_000
_TWO_PHASE_STATE_LIMIT = 20_000  # above this many states, busy is one phase


@dataclass(frozen=True, slots=True)
class Bound:
    """What the best policy achieves: fractions, not percent. `multiplier`: the Lagrange
    multiplier λ on the abandon constraint (occupancy points per abandon-rate unit)."""

    occupancy: float
    abandon_rate: float
    talk_minutes_per_agent_hour: float
    lines_per_agent: float
    multiplier: float
    phases: int


@dataclass(frozen=True, slots=True)
class Params:
    """The exponential model of one stretch of a campaign (seconds)."""

    agents: int
    answer_probability: float
    dial_s: float
    talk_s: float
    wrap_s: float
    drop_s: float
    abandon_cap: float
    amd_false_positive: float = 0.0
    amd_counts_as_abandoned: bool = True
    max_lines: int = 0
    phases: int = 2

    @property
    def lines(self) -> int:
        """The truncation K of calls in flight."""
        if self.max_lines > 0:
            return self.max_lines
        return math.ceil(DEFAULT_MAX_LINES_PER_AGENT * self.agents)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Long-run rates of one stationary policy (per second, or fractions)."""

    occupancy: float
    talk_fraction: float
    abandons: float        # abandon events per second (budget-counted)
    live: float            # live answers per second
    lines: float           # mean calls in flight

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.live if self.live > 0 else 0.0


class Chain:
    """The uniformised chain of one `Params`: coefficient cubes over `(t, w, k)` and a
    zero-bordered work buffer so that every transition is a shifted view, not a copy."""

    def __init__(self, params: Params) -> None:
        n, k_max = params.agents, params.lines
        if n < 1:
            raise ValueError(f"agents must be ≥ 1, got {n}")
        two = params.phases == 2 and params.wrap_s > 0
        self.params = params
        self.two_phase = two
        t = np.arange(n + 1, dtype=np.float64)[:, None, None]
        w = (np.arange(n + 1, dtype=np.float64) if two else np.zeros(1))[None, :, None]
        k = np.arange(k_max + 1, dtype=np.float64)[None, None, :]
        shape = (n + 1, w.shape[1], k_max + 1)
        self.shape = shape
        busy = t + w
        self.valid = np.broadcast_to(busy <= n, shape)
        free = busy < n
        hold = params.talk_s + params.wrap_s
        if two:
            talk_rate, wrap_rate = t / params.talk_s, w / params.wrap_s
            freeing = wrap_rate  # only the end of a wrap-up frees an agent
            max_rate = n / min(params.talk_s, params.wrap_s)
        else:
            talk_rate, wrap_rate = t / hold, np.zeros_like(w)
            freeing = talk_rate
            max_rate = n / hold
        talk_rate = np.where(busy <= n, talk_rate, 0.0)
        wrap_rate = np.where(busy <= n, wrap_rate, 0.0)
        q = np.where(free, 0.0, 1.0 - np.exp(-params.drop_s * freeing))
        p, fp = params.answer_probability, params.amd_false_positive
        ring = np.where(busy <= n, k / params.dial_s, 0.0)
        live = p * (1.0 - fp)
        rate = (k_max / params.dial_s + max_rate) * 1.02
        self.rate = rate
        self.c_conn = np.broadcast_to(ring * live * free, shape) / rate
        keep = ring * live * (~free) * q
        lose = ring * (live * (~free) * (1.0 - q) + p * fp + (1.0 - p))
        if two:
            self.c_keep = np.broadcast_to(keep, shape) / rate
            self.c_lose = np.broadcast_to(lose, shape) / rate
        else:  # the freed agent takes the waiting call: busy count unchanged
            self.c_keep = np.zeros(shape)
            self.c_lose = np.broadcast_to(lose + keep, shape) / rate
        self.c_talk = np.broadcast_to(talk_rate, shape) / rate
        self.c_wrap = np.broadcast_to(wrap_rate, shape) / rate
        self.c_self = np.broadcast_to((rate - ring - talk_rate - wrap_rate) / rate, shape)
        counted = fp if params.amd_counts_as_abandoned else 0.0
        self.abandons = np.broadcast_to(
            ring * p * ((1.0 - fp) * (~free) * (1.0 - q) + counted), shape)
        self.live = np.broadcast_to(ring * p, shape)
        self.occupancy = np.broadcast_to(np.where(busy <= n, busy / n, 0.0), shape)
        talk_share = 1.0 if two else params.talk_s / hold
        self.talk = np.broadcast_to(np.where(busy <= n, t / n * talk_share, 0.0), shape)
        self.k = np.broadcast_to(k, shape)
        self._pad = np.zeros((shape[0] + 2, shape[1] + 2, shape[2] + 2))
        self._tmp = np.empty(shape)

    def _view(self, dt: int, dw: int, dk: int) -> FloatArray:
        a, b, c = self.shape
        return self._pad[1 + dt:1 + dt + a, 1 + dw:1 + dw + b, 1 + dk:1 + dk + c]

    def _transitions(self) -> list[tuple[FloatArray, tuple[int, int, int]]]:
        """(rate coefficients, state shift (talking, wrap-up, in flight)) of each event."""
        terms: list[tuple[FloatArray, tuple[int, int, int]]] = [
            (self.c_conn, (1, 0, -1)), (self.c_lose, (0, 0, -1))]
        if self.two_phase:
            terms += [(self.c_keep, (1, -1, -1)), (self.c_talk, (-1, 1, 0)),
                      (self.c_wrap, (0, -1, 0))]
        else:
            terms.append((self.c_talk, (-1, 0, 0)))
        return terms

    def expect(self, v: FloatArray) -> FloatArray:
        """E[v(next state)] from each post-decision state, one uniformised step."""
        self._view(0, 0, 0)[...] = v
        out = self.c_self * v
        tmp = self._tmp
        terms = self._transitions()
        for coef, (dt, dw, dk) in terms:
            np.multiply(coef, self._view(dt, dw, dk), out=tmp)
            out += tmp
        return out

    def push(self, x: FloatArray) -> FloatArray:
        """The distribution after one uniformised step from post-decision mass `x`."""
        out = self.c_self * x
        terms = self._transitions()
        for coef, (dt, dw, dk) in terms:
            self._pad.fill(0.0)
            self._view(dt, dw, dk)[...] = coef * x
            out += self._view(0, 0, 0)
        return out

    def reward(self, lam: float) -> FloatArray:
        """The Lagrangian reward per uniformised step."""
        cap = self.params.abandon_cap
        return (self.occupancy - lam * (self.abandons - cap * self.live)) / self.rate


def _suffix_max(u: FloatArray) -> FloatArray:
    return np.maximum.accumulate(u[:, :, ::-1], axis=2)[:, :, ::-1]


def _suffix_argmax(u: FloatArray) -> IntArray:
    """For each pre-decision k, the k' ≥ k with the largest u (the largest on ties)."""
    k_max = u.shape[2] - 1
    best = np.full(u.shape, k_max, dtype=np.int64)
    best_val = u[:, :, k_max].copy()
    for k in range(k_max - 1, -1, -1):
        better = u[:, :, k] > best_val + 1e-12
        best_val = np.where(better, u[:, :, k], best_val)
        best[:, :, k] = np.where(better, k, best[:, :, k + 1])
    return best


def optimise(chain: Chain, lam: float, v0: FloatArray | None = None,
             tolerance: float = 1e-5) -> tuple[FloatArray, float]:
    """Relative value iteration for the Lagrangian reward at multiplier `lam`: the
    relative values and the optimal gain (per second)."""
    reward = chain.reward(lam)
    v = np.zeros(chain.shape) if v0 is None else v0.copy()
    valid = chain.valid
    for i in range(_MAX_ITERATIONS):
        new = _suffix_max(reward + chain.expect(v))
        new -= new[0, 0, 0]
        if i % 16 == 15:
            diff = (new - v)[valid]
            lo, hi = float(diff.min()), float(diff.max())
            if (hi - lo) * chain.rate < tolerance:
                v = new
                break
        v = new
    new = _suffix_max(reward + chain.expect(v))
    diff = (new - new[0, 0, 0] - v)[valid]
    gain = (float(diff.min()) + float(diff.max())) / 2.0 * chain.rate
    # new[0, 0, 0] is the gain per step the normalisation removed
    gain += float(new[0, 0, 0]) * chain.rate
    return v, gain


def greedy(chain: Chain, lam: float, v: FloatArray) -> IntArray:
    """The policy `a[t, w, k]`: calls in flight to hold, given the relative values."""
    return _suffix_argmax(chain.reward(lam) + chain.expect(v))


def evaluate(chain: Chain, policy: IntArray, x0: FloatArray | None = None,
             tolerance: float = 1e-7) -> tuple[Evaluation, FloatArray]:
    """The stationary distribution of `policy` (power iteration) and its long-run rates."""
    shape = chain.shape
    index = np.arange(policy.size, dtype=np.int64).reshape(shape)
    flat_target = (index - np.arange(shape[2])[None, None, :] + policy).ravel()
    if x0 is None:
        x = np.zeros(shape)
        x[0, 0, 0] = 1.0
    else:
        x = x0.copy()

    def decide(m: FloatArray) -> FloatArray:
        counts = np.bincount(flat_target, weights=m.ravel(), minlength=m.size)
        return counts.astype(np.float64).reshape(shape)

    for i in range(_MAX_ITERATIONS):
        new = chain.push(decide(x))
        if i % 16 == 15 and float(np.abs(new - x).sum()) < tolerance:
            x = new
            break
        x = new
    post = decide(x)
    ev = Evaluation(
        occupancy=float((post * chain.occupancy).sum()),
        talk_fraction=float((post * chain.talk).sum()),
        abandons=float((post * chain.abandons).sum()),
        live=float((post * chain.live).sum()),
        lines=float((post * chain.k).sum()),
    )
    return ev, x


def params_for(workload: Workload, answer_probability: float, *,
               max_lines_per_agent: float = DEFAULT_MAX_LINES_PER_AGENT,
               phases: int | None = None) -> Params:
    """The exponential model of `workload` at one answer probability. `phases=None`:
    two busy phases (talk, wrap-up) when the state cube stays small, else one."""
    n = workload.agents
    lines = max(1, math.ceil(max_lines_per_agent * n))
    if phases is None:
        phases = 2 if (n + 1) ** 2 * (lines + 1) <= _TWO_PHASE_STATE_LIMIT else 1
    return Params(
        agents=n, answer_probability=answer_probability,
        dial_s=max(workload.dial_seconds.mean, 1e-3),
        talk_s=max(workload.talk_seconds.mean, 1e-3), wrap_s=workload.wrap_seconds.mean,
        drop_s=workload.drop_seconds, abandon_cap=workload.abandon_cap,
        amd_false_positive=workload.amd_false_positive,
        amd_counts_as_abandoned=workload.amd_counts_as_abandoned,
        max_lines=lines, phases=phases)


def _hour_weights(workload: Workload) -> dict[float, float]:
    """Distinct answer probabilities over the working day and their share of time."""
    weights: dict[float, float] = {}
    for hour in range(workload.start_hour, workload.start_hour + workload.hours):
        p = workload.answer_probability(hour)
        weights[p] = weights.get(p, 0.0) + 1.0 / workload.hours
    return weights


class _Dual:
    """The Lagrangian dual `g(λ) = Σ_h share_h · gain_h(λ)`, with warm-started values."""

    def __init__(self, chains: list[tuple[Chain, float]], tolerance: float) -> None:
        self.chains = chains
        self.tolerance = tolerance
        self.values: list[FloatArray | None] = [None] * len(chains)
        self.cache: dict[float, float] = {}

    def __call__(self, lam: float) -> float:
        if lam not in self.cache:
            total = 0.0
            for i, (chain, share) in enumerate(self.chains):
                v, gain = optimise(chain, lam, self.values[i], self.tolerance)
                self.values[i] = v
                total += share * gain
            self.cache[lam] = total
        return self.cache[lam]


def _golden_min(f: Callable[[float], float], lo: float, hi: float,
                steps: int) -> tuple[float, float]:
    """Golden-section search of a unimodal `f` over [lo, hi]; the final bracket."""
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return a, b


def solve(workload: Workload, *, max_lines_per_agent: float = DEFAULT_MAX_LINES_PER_AGENT,
          tolerance: float = 1e-4, phases: int | None = None) -> Bound:
    """The best achievable occupancy of `workload` with abandon rate ≤ its cap.

    Minimises the Lagrangian dual over log λ (golden section; every dual value is itself
    an upper bound), then time-shares the optimal policies either side of λ* so the
    abandon rate meets the cap exactly and reports that mixture's rates."""
    chains = [(Chain(params_for(workload, p, max_lines_per_agent=max_lines_per_agent,
                                phases=phases)), share)
              for p, share in _hour_weights(workload).items()]
    dual = _Dual(chains, tolerance)
    lo, hi = _golden_min(lambda x: dual(math.exp(x)), math.log(1e-2), math.log(1e4), 13)
    lam_lo, lam_hi = math.exp(lo), math.exp(hi)
    lam_lo = lam_lo if lo > math.log(1e-2) + 1e-9 else 0.0
    cap = workload.abandon_cap
    loose = _evaluate_day(chains, dual, lam_lo)
    tight = _evaluate_day(chains, dual, lam_hi)
    for _ in range(8):  # the bracket can sit a VI tolerance short of feasibility
        if tight.abandons <= cap * tight.live:
            break
        lam_hi *= 1.5
        tight = _evaluate_day(chains, dual, lam_hi)
    excess_loose = loose.abandons - cap * loose.live
    excess_tight = tight.abandons - cap * tight.live
    if excess_loose <= 0:
        share_loose = 1.0
    elif excess_tight >= 0:
        share_loose = 0.0
    else:
        share_loose = -excess_tight / (excess_loose - excess_tight)
    mix = _mix(loose, tight, share_loose)
    phases_used = 2 if chains[0][0].two_phase else 1
    return Bound(
        occupancy=mix.occupancy, abandon_rate=mix.abandon_rate,
        talk_minutes_per_agent_hour=mix.talk_fraction * 60.0,
        lines_per_agent=mix.lines / workload.agents,
        multiplier=math.sqrt(max(lam_lo, 1e-2) * lam_hi), phases=phases_used)




def _evaluate_day(chains: list[tuple[Chain, float]], dual: _Dual, lam: float) -> Evaluation:
    dual(lam)  # leaves the values at this λ
    parts = []
    for (chain, share), v in zip(chains, dual.values, strict=True):
        assert v is not None
        v_lam, _ = optimise(chain, lam, v, dual.tolerance)
        ev, _ = evaluate(chain, greedy(chain, lam, v_lam))
        parts.append((ev, share))
    return Evaluation(*(sum(getattr(ev, f) * s for ev, s in parts)
                        for f in ("occupancy", "talk_fraction", "abandons", "live", "lines")))


def _mix(a: Evaluation, b: Evaluation, share_a: float) -> Evaluation:
    s = share_a
    return Evaluation(
        occupancy=s * a.occupancy + (1 - s) * b.occupancy,
        talk_fraction=s * a.talk_fraction + (1 - s) * b.talk_fraction,
        abandons=s * a.abandons + (1 - s) * b.abandons,
        live=s * a.live + (1 - s) * b.live,
        lines=s * a.lines + (1 - s) * b.lines)
