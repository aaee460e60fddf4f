//! Exact queueing formulas used to validate the simulator (Erlang B, Erlang C,
//! Erlang A = M/M/c+M, M/D/1); pure functions with no I/O, depending on nothing
//! else in the crate.
//!
//! Units: every time is in seconds (`f64`), every rate is per second and offered
//! load is in Erlangs (arrival rate × mean service time). Every public function
//! checks its arguments and returns `Err(String)` with a clear message (negative
//! or non-finite input, zero channels, patience <= 0, an unstable system, a
//! target that cannot be met, a problem too large to solve exactly) instead of
//! panicking.
//!
//! Methods, in short (details and error bounds on each item):
//! * Erlang B: the recurrence `B(k) = A B(k-1) / (k + A B(k-1))`, which only adds,
//!   multiplies and divides positive numbers (relative error O(c·eps)).
//! * Erlang C from Erlang B: `C = c B / (c - A (1 - B))`.
//! * Erlang A: the stationary law of the birth–death chain built by ratios outward
//!   from its mode (no factorials or powers), truncated with a proved tail bound;
//!   waiting-time means from closed forms derived from the Laplace transform of the
//!   offered wait; waiting-time tails by uniformisation of a pure-death chain.
//! * M/D/1: the waiting-time CDF from the queue-length law and the elapsed service
//!   time. This is exactly Erlang's (1909) / Crommelin's alternating sum rewritten
//!   so that every term is positive, so it does not suffer that sum's cancellation.

/// Largest number of birth–death states the Erlang A solver will allocate.
const MAX_CHAIN_STATES: usize = 20_000_000;
/// Largest `steps × states` product the Erlang A wait-tail uniformisation will do.
const MAX_UNIFORMISATION_WORK: f64 = 4e9;
/// Largest number of queue-length probabilities the M/D/1 solver will compute.
const MD1_MAX_STATES: usize = 10_000_000;
/// Relative tolerance of the Erlang A birth–death chain truncation.
const TAIL_REL_TOL: f64 = 1e-16;
/// Largest percentile accepted by the M/D/1 percentile functions (the CDF is
/// guaranteed to 1e-9 absolute, so higher percentiles would not be meaningful).
pub const MD1_MAX_PERCENTILE: f64 = 1.0 - 1e-9;

// ---------------------------------------------------------------------------
// Argument checks and small numerical helpers
// ---------------------------------------------------------------------------

fn finite_nonneg(name: &str, x: f64) -> Result<f64, String> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(format!("{name} must be a finite number >= 0, got {x}"))
    }
}

fn finite_pos(name: &str, x: f64) -> Result<f64, String> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(format!("{name} must be a finite number > 0, got {x}"))
    }
}

fn nonzero_channels(channels: impl Into<u64>) -> Result<(), String> {
    let channels: u64 = channels.into();
    if channels == 0 {
        Err("channels must be at least 1, got 0".to_string())
    } else {
        Ok(())
    }
}

/// A target probability: 0 < p <= 1.
fn target_probability(name: &str, p: f64) -> Result<f64, String> {
    if p > 0.0 && p <= 1.0 {
        Ok(p)
    } else {
        Err(format!("{name} must be a probability in (0, 1], got {p}"))
    }
}

/// A percentile for the M/D/1 functions: 0 < q <= 1 - 1e-9.
fn md1_percentile(q: f64) -> Result<f64, String> {
    if q > 0.0 && q <= MD1_MAX_PERCENTILE {
        Ok(q)
    } else {
        Err(format!(
            "percentile must be in (0, 1 - 1e-9] (e.g. 0.95), got {q}"
        ))
    }
}

fn offered_load(arrival_rate_per_s: f64, mean_service_s: f64) -> Result<f64, String> {
    let lambda = finite_nonneg("arrival_rate_per_s", arrival_rate_per_s)?;
    let s = finite_pos("mean_service_s", mean_service_s)?;
    let a = lambda * s;
    if a.is_finite() {
        Ok(a)
    } else {
        Err(format!(
            "offered load arrival_rate_per_s × mean_service_s overflows ({lambda} × {s})"
        ))
    }
}

/// Neumaier (improved Kahan) compensated summation.
#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.s + x;
        if self.s.abs() >= x.abs() {
            self.c += (self.s - t) + x;
        } else {
            self.c += (x - t) + self.s;
        }
        self.s = t;
    }

    fn value(&self) -> f64 {
        self.s + self.c
    }
}

// ---------------------------------------------------------------------------
// Erlang B
// ---------------------------------------------------------------------------

#[inline]
fn erlang_b_step(b_prev: f64, k: u64, a: f64) -> f64 {
    let ab = a * b_prev;
    ab / (k as f64 + ab)
}

/// Channel counts above which Erlang B is summed around its largest term instead of run
/// through the recurrence (which costs one step per channel).
const ERLANG_B_RECURRENCE_MAX: u64 = 1 << 20;

/// Largest load `min_channels_for_blocking` takes beyond the recurrence's range: about 10 s.
pub const ERLANG_B_MAX_LOAD: f64 = 1e13;

/// Largest channel count the Erlang B functions take: every count up to it is exact in an f64.
pub const ERLANG_B_MAX_CHANNELS: u64 = 1 << 53;

/// Erlang B blocking probability of an M/M/c/c (or M/G/c/c) loss system with
/// `channels` servers and `load_erl` Erlangs offered.
///
/// Method: up to 2^20 channels, `B(0) = 1`, `B(k) = A B(k-1) / (k + A B(k-1))`. Each step only
/// adds, multiplies and divides non-negative numbers, so the relative error is at most a few
/// ulps per step (verified against an independent positive-series evaluation to 1e-12
/// relative at c = A = 10,000). Cost O(channels). Above, [`erlang_b_sum`]: cost
/// O(sqrt(A) + c - A), whatever c.
pub fn erlang_b(channels: u64, load_erl: f64) -> Result<f64, String> {
    nonzero_channels(channels)?;
    let a = finite_nonneg("load_erl", load_erl)?;
    if channels > ERLANG_B_MAX_CHANNELS {
        return Err(format!(
            "channels must be at most 2^53 = {ERLANG_B_MAX_CHANNELS}, got {channels}"
        ));
    }
    if channels <= ERLANG_B_RECURRENCE_MAX {
        let mut b = 1.0;
        for k in 1..=channels {
            b = erlang_b_step(b, k, a);
        }
        Ok(b)
    } else {
        Ok(erlang_b_sum(channels, a))
    }
}

/// The load an Erlang B system carries, `A (1 - B(c, A))`, computed as `A c / (c + A B(c-1, A))`
/// (from the recurrence `B(c) = A B(c-1) / (c + A B(c-1))`): at extreme load `1 - B` cancels
/// (at A = 1e17, c = 10 it gave 11.1 Erlangs on 10 channels), this form does not.
pub fn erlang_b_carried(channels: u64, load_erl: f64) -> Result<f64, String> {
    nonzero_channels(channels)?;
    finite_nonneg("load_erl", load_erl)?;
    // B(c-1) only: B(c) follows from it, and is 0 exactly when A or B(c-1) is.
    let prev = if channels == 1 {
        1.0
    } else {
        erlang_b(channels - 1, load_erl)?
    };
    let (a, c) = (load_erl, channels as f64);
    Ok(if a == 0.0 || prev == 0.0 {
        a // nothing blocked (to f64 precision): all of it is carried
    } else if a >= 1.0 {
        c / (c / a + prev) // divided through by A, which may be near f64::MAX
    } else {
        a * c / (c + a * prev)
    })
}

/// Erlang B for many channels, from `1/B = sum_{m=0..c} u_m` with `u_0 = 1` and
/// `u_m = u_{m-1} (c-m+1)/A` (the Poisson ratio P(N <= c) / P(N = c) written from the top).
/// The terms rise while `c-m+1 > A` and fall after, so the sum is taken around its largest
/// term `u_p` in log space: `ln(1/B) = ln u_p + ln(sum u_m/u_p)`, each side stopped once the rest
/// (a geometric tail bound) is below 1e-19 of the sum. All terms are positive: no cancellation.
/// B under 1e-320 (ln u_p > 740) is returned as 0, which it is in f64.
fn erlang_b_sum(c: u64, a: f64) -> f64 {
    let cf = c as f64;
    if a == 0.0 {
        return 0.0;
    }
    // u_m / u_{m-1} = (c - m + 1) / A >= 1 exactly while m <= c + 1 - A.
    let peak = if cf + 1.0 > a {
        ((cf + 1.0 - a).floor() as u64).min(c)
    } else {
        0
    };
    let log_peak = ln_ratio_sum(c, peak, a);
    if log_peak > 740.0 {
        return 0.0;
    }
    let mut s = Sum::default();
    s.add(1.0);
    let stop = |t: f64, r: f64, s: &Sum| r < 1.0 && t * r <= 1e-19 * (1.0 - r) * s.value();
    let (mut t, mut m) = (1.0f64, peak);
    while m > 0 {
        let r = a / ((c - m + 1) as f64);
        t *= r;
        m -= 1;
        s.add(t);
        if stop(t, a / ((c - m + 1) as f64), &s) {
            break;
        }
    }
    let (mut t, mut m) = (1.0f64, peak);
    while m < c {
        m += 1;
        t *= ((c - m + 1) as f64) / a;
        s.add(t);
        if stop(t, ((c - m) as f64) / a, &s) {
            break;
        }
    }
    (-(log_peak + s.value().ln())).exp()
}

/// `sum_{i=0..n-1} ln((c - i) / A)` for `n <= c`: term by term up to 2^16 terms, else by
/// Euler-Maclaurin (the terms vary on a scale of `c - n`, so the first correction terms already
/// leave an error far below an ulp of the sum).
fn ln_ratio_sum(c: u64, n: u64, a: f64) -> f64 {
    if n <= 1 << 16 {
        let mut s = Sum::default();
        for i in 0..n {
            s.add((((c - i) as f64 - a) / a).ln_1p());
        }
        return s.value();
    }
    // h(t) = (1+t) ln(1+t) - t, with a series where the subtraction would cancel.
    let h = |t: f64| {
        if t.abs() < 1e-3 {
            t * t * (0.5 - t / 6.0 + t * t / 12.0 - t * t * t / 20.0)
        } else {
            (1.0 + t) * t.ln_1p() - t
        }
    };
    let (cf, lf) = (c as f64, (c - n) as f64);
    // Integral of ln(u/A) du from c-n to c, written as A (h(tc) - h(tl)).
    let integral = a * (h((cf - a) / a) - h((lf - a) / a));
    let f = |u: f64| ((u - a) / a).ln_1p();
    // sum_{i<n} f(c-i) = integral + (f(c) - f(c-n))/2 + (f'(c-n) - f'(c))/12, f' = 1/u.
    integral + (f(cf) - f(lf)) / 2.0 + (1.0 / lf - 1.0 / cf) / 12.0
}

/// Fewest channels `c >= 1` with `erlang_b(c, load_erl) <= target_blocking`.
///
/// B is strictly decreasing in c. Up to 2^20 Erlangs the recurrence is run upward once and
/// stops at the first channel count that meets the target: cost O(answer), and the value it
/// compares is bit-for-bit the one [`erlang_b`] returns. Above, a bisection over [`erlang_b`]
/// between `A (1 - P)` (carried load never exceeds the channels, so B > P below it) and a
/// doubling upper bound: about 60 evaluations of O(sqrt(A)) each.
pub fn min_channels_for_blocking(load_erl: f64, target_blocking: f64) -> Result<u64, String> {
    let a = finite_nonneg("load_erl", load_erl)?;
    let target = target_probability("target_blocking", target_blocking)?;
    if a <= ERLANG_B_RECURRENCE_MAX as f64 / 2.0 {
        let mut b = 1.0;
        // B(c) <= P is reached by c = A + 40 sqrt(A) + 800 for any P >= 1e-308, inside the
        // recurrence's range for these loads.
        for k in 1..=ERLANG_B_RECURRENCE_MAX {
            b = erlang_b_step(b, k, a);
            if b <= target {
                return Ok(k);
            }
        }
    }
    if a > ERLANG_B_MAX_LOAD {
        return Err(format!(
            "load_erl {a} is above the {ERLANG_B_MAX_LOAD:e} Erlangs this search handles (its cost grows with the square root of the load); a load this size is past any telephone network"
        ));
    }
    let too_many = || {
        format!(
            "{a} Erlangs at blocking <= {target} needs more than 2^53 channels, past what callsim counts exactly"
        )
    };
    // B(lo) > P: A (1 - B) <= c gives B >= 1 - c/A > P for c < A (1 - P).
    let mut lo = ((a * (1.0 - target)).floor() - 1.0).max(0.0) as u64;
    let mut step = (a.sqrt().ceil() as u64).max(1);
    let mut hi = lo.saturating_add(step);
    loop {
        if hi > ERLANG_B_MAX_CHANNELS {
            return Err(too_many());
        }
        if erlang_b(hi, a)? <= target {
            break;
        }
        lo = hi;
        step = step.saturating_mul(2);
        hi = hi.saturating_add(step);
    }
    // Invariant: lo == 0 or B(lo) > P; B(hi) <= P. Bisect down to 2^16 channels, then walk
    // the (cheap, stable) recurrence up from lo.
    while hi - lo > 1 << 16 {
        let mid = lo + (hi - lo) / 2;
        if erlang_b(mid, a)? <= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let mut b = if lo == 0 { 1.0 } else { erlang_b(lo, a)? };
    for k in lo + 1..hi {
        b = erlang_b_step(b, k, a);
        if b <= target {
            return Ok(k);
        }
    }
    Ok(hi)
}

// ---------------------------------------------------------------------------
// Erlang C (M/M/c, unlimited FIFO queue)
// ---------------------------------------------------------------------------

/// Steady-state results of the M/M/c queue with unlimited waiting room (FIFO).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    pub channels: u32,
    /// A = λ × mean service time, Erlangs.
    pub offered_load_erl: f64,
    /// A / c, the mean fraction of busy channels.
    pub utilisation: f64,
    /// Erlang C: probability that an arrival has to wait, P(W > 0).
    pub p_wait: f64,
    /// Mean wait over all arrivals, s: C / (cμ - λ).
    pub mean_wait_s: f64,
    /// Mean wait of the arrivals that do wait, s: 1 / (cμ - λ).
    pub mean_wait_delayed_s: f64,
    /// Mean number waiting (not in service): λ × mean_wait_s.
    pub mean_queue_len: f64,
    /// Mean time in system (wait + service), s.
    pub mean_response_s: f64,
    /// cμ - λ, per second: P(W > t) = p_wait × exp(-wait_decay_per_s × t).
    pub wait_decay_per_s: f64,
}

impl ErlangC {
    /// P(W > t) for an arbitrary arrival: `C exp(-(cμ - λ) t)`.
    pub fn p_wait_gt(&self, t_s: f64) -> Result<f64, String> {
        let t = finite_nonneg("t_s", t_s)?;
        Ok(self.p_wait * (-self.wait_decay_per_s * t).exp())
    }
}

/// C from B without cancellation: C = B / (1 - ρ(1 - B)) = c B / (c - A + A B).
#[inline]
fn erlang_c_from_b(channels: u32, a: f64, b: f64) -> f64 {
    let c = f64::from(channels);
    c * b / (c - a + a * b)
}

/// Erlang C (M/M/c, unlimited queue, FIFO) with `channels` servers, Poisson
/// arrivals at `arrival_rate_per_s` and exponential service of mean
/// `mean_service_s`. Errors if the offered load A = λ·s is >= channels (unstable).
///
/// Method: `C = B / (1 - ρ (1 - B))`, ρ = A/c, with B from [`erlang_b`]; written as
/// `c B / (c - A + A B)` so no difference of nearly equal numbers is formed.
pub fn erlang_c(
    channels: u32,
    arrival_rate_per_s: f64,
    mean_service_s: f64,
) -> Result<ErlangC, String> {
    nonzero_channels(channels)?;
    let a = offered_load(arrival_rate_per_s, mean_service_s)?;
    let c = f64::from(channels);
    if a >= c {
        return Err(format!(
            "erlang_c: offered load {a} Erlangs >= {channels} channels, the queue is unstable \
             (needs arrival_rate_per_s × mean_service_s < channels)"
        ));
    }
    let b = erlang_b(u64::from(channels), a)?;
    let p_wait = erlang_c_from_b(channels, a, b);
    let s = mean_service_s;
    let mean_wait_delayed_s = s / (c - a);
    let mean_wait_s = p_wait * mean_wait_delayed_s;
    Ok(ErlangC {
        channels,
        offered_load_erl: a,
        utilisation: a / c,
        p_wait,
        mean_wait_s,
        mean_wait_delayed_s,
        mean_queue_len: arrival_rate_per_s * mean_wait_s,
        mean_response_s: mean_wait_s + s,
        wait_decay_per_s: (c - a) / s,
    })
}

/// Erlang C waiting-time tail P(W > t) = C exp(-(cμ - λ) t) for an arbitrary
/// arrival (FIFO).
pub fn erlang_c_p_wait_gt(
    channels: u32,
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    t_s: f64,
) -> Result<f64, String> {
    erlang_c(channels, arrival_rate_per_s, mean_service_s)?.p_wait_gt(t_s)
}

/// Fewest channels such that the Erlang C tail P(W > t_s) <= target_p_wait_gt.
///
/// Starts at the first stable count floor(A)+1 and walks upward; C(c) and
/// exp(-(cμ-λ)t) both decrease in c, so the first hit is the minimum. B is carried
/// along with one recurrence step per channel (cost O(answer)) and the compared
/// value is computed exactly as [`erlang_c_p_wait_gt`] computes it.
pub fn min_channels_for_wait(
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    t_s: f64,
    target_p_wait_gt: f64,
) -> Result<u32, String> {
    let a = offered_load(arrival_rate_per_s, mean_service_s)?;
    let t = finite_nonneg("t_s", t_s)?;
    let target = target_probability("target_p_wait_gt", target_p_wait_gt)?;
    let first = a.floor() + 1.0;
    if first > f64::from(u32::MAX) {
        return Err(format!(
            "offered load {a} Erlangs needs more than {} channels",
            u32::MAX
        ));
    }
    let first = first as u32;
    let mut b = 1.0;
    for k in 1..first {
        b = erlang_b_step(b, u64::from(k), a);
    }
    for c in first..=u32::MAX {
        b = erlang_b_step(b, u64::from(c), a);
        let cf = f64::from(c);
        let p = erlang_c_from_b(c, a, b) * (-((cf - a) / mean_service_s) * t).exp();
        if p <= target {
            return Ok(c);
        }
    }
    Err(format!(
        "no channel count up to {} meets P(W > {t}) <= {target}",
        u32::MAX
    ))
}

// ---------------------------------------------------------------------------
// Erlang A (M/M/c+M, Palm's model)
// ---------------------------------------------------------------------------

/// Steady-state results of the M/M/c+M queue (Erlang A): c servers, Poisson
/// arrivals, exponential service, FIFO queue, each waiting customer abandons
/// after an independent exponential patience time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangA {
    pub channels: u32,
    /// A = λ × mean service time, Erlangs.
    pub offered_load_erl: f64,
    /// P(wait > 0) = P(N >= c) as seen by arrivals (PASTA).
    pub p_wait: f64,
    /// Fraction of arrivals that abandon before service.
    pub p_abandon: f64,
    /// Fraction of arrivals that are served, 1 - p_abandon (computed without
    /// cancellation).
    pub p_served: f64,
    /// Mean wait over all arrivals (time to service or to abandonment), s.
    pub mean_wait_all_s: f64,
    /// Mean wait of the arrivals that are eventually served, s.
    pub mean_wait_served_s: f64,
    /// Mean time to abandonment of the arrivals that abandon, s.
    pub mean_wait_abandoned_s: f64,
    /// Mean number waiting (not in service), E[(N - c)^+].
    pub mean_queue_len: f64,
    /// Mean number of busy channels, = λ (1 - p_abandon) × mean service time.
    pub carried_load_erl: f64,
    /// carried_load_erl / channels.
    pub utilisation: f64,
    /// Number of states 0..states-1 of the chain kept after truncation.
    pub states: usize,
}

/// The truncated, normalised stationary law of the M/M/c+M chain.
struct ErlangAChain {
    c: usize,
    mu: f64,
    theta: f64,
    /// pi[n] = P(N = n), n = 0..pi.len()-1, summing to 1; always pi.len() > c.
    pi: Vec<f64>,
}

impl ErlangAChain {
    /// Stationary probabilities of the queue states, pi[c + j], j = 0, 1, ...
    fn queue(&self) -> &[f64] {
        &self.pi[self.c..]
    }
}

/// Death rate out of state n of the Erlang A chain: n busy servers, or c busy servers and
/// n - c callers waiting, each abandoning at rate theta.
fn death_rate(n: usize, c: usize, mu: f64, theta: f64) -> f64 {
    if n <= c {
        n as f64 * mu
    } else {
        c as f64 * mu + (n - c) as f64 * theta
    }
}

fn chain_too_big() -> String {
    format!(
        "erlang_a: the birth–death chain would need more than {MAX_CHAIN_STATES} states \
         (the offered load, or the queue it must cover, is too large for the exact chain); reduce the load, the channels sought or the patience"
    )
}

/// The mode of the Erlang A chain: pi[n+1] / pi[n] = lambda / d(n+1) decreases in n, so the
/// mode is the smallest n with lambda <= d(n+1); from a closed-form guess, adjusted.
fn chain_mode(lambda: f64, c: usize, mu: f64, theta: f64) -> Result<usize, String> {
    let d = |n: usize| death_rate(n, c, mu, theta);
    let cmu = c as f64 * mu;
    let mut m: usize = if lambda <= cmu {
        ((lambda / mu).ceil() as usize).saturating_sub(1)
    } else {
        let extra = ((lambda - cmu) / theta).ceil();
        if extra >= MAX_CHAIN_STATES as f64 {
            return Err(chain_too_big());
        }
        (c + extra as usize).saturating_sub(1)
    };
    while m > 0 && lambda <= d(m) {
        m -= 1;
    }
    while lambda > d(m + 1) {
        m += 1;
    }
    if m >= MAX_CHAIN_STATES {
        return Err(chain_too_big());
    }
    Ok(m)
}

fn erlang_a_chain(
    channels: u32,
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    mean_patience_s: f64,
) -> Result<ErlangAChain, String> {
    nonzero_channels(channels)?;
    offered_load(arrival_rate_per_s, mean_service_s)?;
    let patience = finite_pos("mean_patience_s", mean_patience_s)?;
    let lambda = arrival_rate_per_s;
    let mu = 1.0 / mean_service_s;
    let theta = 1.0 / patience;
    if !(mu.is_finite() && theta.is_finite() && mu > 0.0 && theta > 0.0) {
        return Err(format!(
            "service rate 1/mean_service_s = {mu} and abandonment rate 1/mean_patience_s = \
             {theta} must be finite and > 0"
        ));
    }
    let c = channels as usize;
    let d = |n: usize| death_rate(n, c, mu, theta);
    let m = chain_mode(lambda, c, mu, theta)?;
    // Unnormalised probabilities with pi[m] = 1: every value is <= 1, so nothing
    // overflows; values that underflow to 0 are below 1e-308 of the mode.
    let mut pi = vec![0.0f64; m + 1];
    pi[m] = 1.0;
    for n in (1..=m).rev() {
        let v = pi[n] * (d(n) / lambda); // d(n) <= lambda below the mode
        if v == 0.0 {
            break; // all lower states underflow as well
        }
        pi[n - 1] = v;
    }
    // Upward from the mode. Truncation rule (a proof, not a heuristic): for n >= m
    // the ratio q_n = lambda / d(n+1) < 1 and the ratios keep decreasing, so
    //     pi[n+k] <= pi[n] q_n^k                           (k >= 1),
    // and for the weight w_j = j + 1 (j = n - c, the queue position weight that
    // dominates every per-state weight used below) the omitted tail obeys
    //     sum_{k>=1} (n-c+1+k) pi[n+k] <= pi[n] [ (n-c+1) q/(1-q) + q/(1-q)^2 ].
    // We stop at the first n >= c where this geometric bound is <= 1e-16 times the
    // mass already kept in the queue states (sum_{i=c..n} pi[i]). When q <= 1/2
    // the bound is at most pi[n] (2 (n-c+1) + 2), i.e. this contains the simple
    // rule "ratio < 1/2 and remaining geometric tail < 1e-16 relative"; allowing
    // any q < 1 is equally rigorous and only stops earlier when pi[n] is tiny.
    // Every reported quantity (mass, queue length, abandonment, wait sums) has
    // per-state weights <= (j+1) × (its weight at j = 0), so each is truncated
    // with relative error <= 1e-16.
    let mut swait = Sum::default();
    for &p in pi.iter().skip(c) {
        swait.add(p);
    }
    let mut n = m;
    loop {
        let q = lambda / d(n + 1);
        if n >= c {
            let pn = pi[n];
            if pn == 0.0 {
                break;
            }
            if q < 1.0 {
                let j1 = (n - c + 1) as f64;
                let bound = pn * (j1 * q / (1.0 - q) + q / ((1.0 - q) * (1.0 - q)));
                if bound <= TAIL_REL_TOL * swait.value() {
                    break;
                }
            }
        }
        if pi.len() >= MAX_CHAIN_STATES {
            return Err(chain_too_big());
        }
        let next = pi[n] * q;
        pi.push(next);
        n += 1;
        if n >= c {
            swait.add(next);
        }
    }
    let mut total = Sum::default();
    for &p in &pi {
        total.add(p);
    }
    let total = total.value();
    for p in &mut pi {
        *p /= total;
    }
    Ok(ErlangAChain { c, mu, theta, pi })
}

/// Erlang A (M/M/c+M, Palm's model): `channels` servers, Poisson arrivals at
/// `arrival_rate_per_s`, exponential service of mean `mean_service_s`, FIFO, and
/// exponential patience of mean `mean_patience_s` (θ = 1/mean_patience_s) while
/// waiting. Stable for any load because waiting customers abandon.
///
/// Stationary law: the birth–death chain with birth rate λ and death rate
/// `min(n,c) μ + max(n-c,0) θ`, built by ratios from the mode and truncated with
/// the geometric tail bound documented in the code (relative error <= 1e-16).
///
/// Waiting-time results (exact, not Little-based subtractions). An arrival that
/// finds j = n - c >= 0 customers waiting has an *offered* wait V (the wait of an
/// infinitely patient customer) that is hypoexponential with stages of rates
/// `a_k = cμ + kθ`, k = j, ..., 0 (each stage ends when someone ahead starts
/// service or abandons). With its own patience τ ~ Exp(θ), its wait is min(V, τ)
/// and it is served iff V < τ. From the Laplace transform E[e^{-sV}] = Π a_k/(a_k+s):
/// * P(served | j) = E[e^{-θV}] = Π_{k=0..j} a_k / a_{k+1} = cμ / a_{j+1};
/// * E[V; served | j] = -d/ds E[e^{-sV}] at s=θ = (cμ/a_{j+1}) Σ_{k=1..j+1} 1/a_k;
/// * E[τ; abandoned | j] = (j+1)/a_{j+1} - E[V; served | j]
///   = (θ/a_{j+1}) Σ_{k=1..j+1} k/a_k (all terms positive, no cancellation).
///
/// Averaging over j with the PASTA weights pi[c+j] gives p_abandon, the served and
/// abandoned mean waits, and mean_wait_all_s = E[min(V,τ)]. These agree with the
/// Little-law identities `p_abandon = θ E[Lq] / λ` and `E[W_all] = E[Lq] / λ` (so
/// `p_abandon = θ E[W_all]`); the tests check both to 1e-12. The tempting split
/// `W_served = (E[Lq]/λ - P_ab/θ) / (1 - P_ab)` is identically zero (both terms
/// equal `E[W_all]`), hence the transform-based formulas above.
///
/// When no arrival ever abandons (p_abandon underflows to 0),
/// mean_wait_abandoned_s is reported as its light-load limit 1/(cμ + θ).
pub fn erlang_a(
    channels: u32,
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    mean_patience_s: f64,
) -> Result<ErlangA, String> {
    let chain = erlang_a_chain(
        channels,
        arrival_rate_per_s,
        mean_service_s,
        mean_patience_s,
    )?;
    let ErlangAChain { c, mu, theta, .. } = chain;
    let cmu = c as f64 * mu;
    let mut p_below = Sum::default();
    let mut busy = Sum::default();
    for (n, &p) in chain.pi[..c].iter().enumerate() {
        p_below.add(p);
        busy.add(n as f64 * p);
    }
    let mut p_wait = Sum::default();
    let mut lq = Sum::default();
    let mut p_ab = Sum::default();
    let mut p_served_q = Sum::default();
    let mut w_served = Sum::default();
    let mut w_ab = Sum::default();
    let mut h1 = Sum::default(); // Σ_{k=1..j+1} 1/a_k
    let mut h2 = Sum::default(); // Σ_{k=1..j+1} k/a_k
    for (j, &p) in chain.queue().iter().enumerate() {
        let j1 = (j + 1) as f64;
        let a_next = cmu + j1 * theta; // a_{j+1}
        h1.add(1.0 / a_next);
        h2.add(j1 / a_next);
        p_wait.add(p);
        lq.add(j as f64 * p);
        busy.add(c as f64 * p);
        p_ab.add(p * (j1 * theta / a_next));
        p_served_q.add(p * (cmu / a_next));
        w_served.add(p * (cmu / a_next) * h1.value());
        w_ab.add(p * (theta / a_next) * h2.value());
    }
    let p_abandon = p_ab.value();
    let p_served = p_below.value() + p_served_q.value();
    let w_served = w_served.value();
    let w_ab = w_ab.value();
    let carried = busy.value();
    Ok(ErlangA {
        channels,
        offered_load_erl: arrival_rate_per_s * mean_service_s,
        p_wait: p_wait.value(),
        p_abandon,
        p_served,
        mean_wait_all_s: w_served + w_ab,
        mean_wait_served_s: if p_served > 0.0 {
            w_served / p_served
        } else {
            0.0
        },
        mean_wait_abandoned_s: if p_abandon > 0.0 {
            w_ab / p_abandon
        } else {
            1.0 / (cmu + theta)
        },
        mean_queue_len: lq.value(),
        carried_load_erl: carried,
        utilisation: carried / c as f64,
        states: chain.pi.len(),
    })
}

/// Waiting-time tail probabilities of the Erlang A queue at one threshold t.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangAWaitTail {
    pub t_s: f64,
    /// P(V > t): the *offered* wait of an infinitely patient virtual arrival,
    /// Σ_j pi[c+j] P(hypoexponential(a_j, ..., a_0) > t).
    pub p_offered_wait_gt: f64,
    /// P(W > t) for the actual wait W = min(V, τ) of all arrivals (still waiting at
    /// t, whether served or abandoning later) = exp(-θ t) P(V > t).
    pub p_wait_gt: f64,
    /// P(served and W > t): fraction of all arrivals answered after more than t.
    pub p_served_wait_gt: f64,
    /// P(served and W <= t): fraction of all arrivals answered within t (the usual
    /// call-centre "service level" counting abandonments as failures).
    pub p_served_within: f64,
}

/// Erlang A waiting-time tails at threshold `t_s` (same model and arguments as
/// [`erlang_a`]).
///
/// Method: the distance to service of the virtual customer is a pure-death chain
/// on j = number ahead, leaving j at rate a_j = cμ + jθ and absorbed after j = 0
/// (service start). Its initial law is pi[c+j], so the mixture of hypoexponential
/// survivals is one transient solve, done by **uniformisation** with rate
/// Λ = a_J (the largest rate): v(t) = Σ_n Poisson(Λt; n) v_0 P^n with
/// P = I + Q/Λ. P has only non-negative entries (stay (J-j)θ/Λ, move a_j/Λ, both
/// formed without subtraction), so every operation adds non-negative numbers and
/// rounding adds at most a small multiple of (steps × eps) relative error; the
/// Poisson weights are built outward from their mode and truncated with a
/// geometric bound at 1e-20 of their mass, which adds at most 1e-20 absolute
/// error. So results are exact to ~1e-12 relative plus 1e-20 absolute: a tail
/// far below 1e-20 may be returned as 0 or as a value of the wrong magnitude
/// (verified: ∫ P(W > t) dt reproduces mean_wait_all_s to 2e-13, the explicit
/// hypoexponential formula to 1e-12, and the Erlang C tail in the θ -> 0 limit). (The classical closed form
/// Σ_i Π_{m≠i} a_m/(a_m - a_i) e^{-a_i t} is used only in tests, for a few stages,
/// since it cancels catastrophically for many stages.)
/// From the final law v_j(t) (j still ahead at time t):
/// p_offered_wait_gt = Σ v_j, p_wait_gt = e^{-θt} Σ v_j, and, since a customer
/// still waiting with j ahead is served with probability cμ/a_{j+1},
/// p_served_wait_gt = e^{-θt} Σ v_j cμ/a_{j+1}.
///
/// Cost O(Λt × J); refused with an error above 4e9 elementary steps, except that a
/// t so long that P(Poisson(cμ t) <= J) < e^-745 (a proven upper bound on every
/// survival) returns zeros at once.
pub fn erlang_a_wait_tail(
    channels: u32,
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    mean_patience_s: f64,
    t_s: f64,
) -> Result<ErlangAWaitTail, String> {
    let t = finite_nonneg("t_s", t_s)?;
    let chain = erlang_a_chain(
        channels,
        arrival_rate_per_s,
        mean_service_s,
        mean_patience_s,
    )?;
    let cmu = chain.c as f64 * chain.mu;
    let theta = chain.theta;
    let v = linear_death_chain(chain.queue(), cmu, theta, t)?;
    let mut offered = Sum::default();
    let mut served = Sum::default();
    for (j, &x) in v.iter().enumerate() {
        offered.add(x);
        served.add(x * (cmu / (cmu + (j + 1) as f64 * theta)));
    }
    let decay = (-theta * t).exp();
    let p_served_wait_gt = decay * served.value();
    let mut p_served = Sum::default();
    for &p in &chain.pi[..chain.c] {
        p_served.add(p);
    }
    for (j, &p) in chain.queue().iter().enumerate() {
        p_served.add(p * (cmu / (cmu + (j + 1) as f64 * theta)));
    }
    Ok(ErlangAWaitTail {
        t_s: t,
        p_offered_wait_gt: offered.value(),
        p_wait_gt: decay * offered.value(),
        p_served_wait_gt,
        p_served_within: (p_served.value() - p_served_wait_gt).max(0.0),
    })
}

/// Normalised Poisson(x) probabilities on a window [lo, lo + w.len()) holding all
/// but < 1e-20 (relative) of the mass. Built from the mode outward by ratios, so
/// nothing overflows or underflows prematurely even for x in the millions.
/// Truncation bound: beyond the right end n the ratios x/(k+1) are < q = x/(n+1)
/// < 1 and decreasing, so the omitted mass is <= w_n q/(1-q); symmetrically on
/// the left with q = n/x.
fn poisson_window(x: f64) -> (usize, Vec<f64>) {
    let mode = x.floor() as usize;
    let mut right = vec![1.0f64]; // right[i] = weight of mode + i
    let mut sum = Sum::default();
    sum.add(1.0);
    loop {
        let n = mode + right.len() - 1;
        let q = x / (n + 1) as f64;
        let wn = *right.last().unwrap_or(&0.0);
        if wn == 0.0 || (q < 1.0 && wn * q / (1.0 - q) <= 1e-20 * sum.value()) {
            break;
        }
        right.push(wn * q);
        sum.add(wn * q);
    }
    let mut left = Vec::new(); // left[i] = weight of mode - 1 - i
    let mut wn = 1.0f64;
    let mut n = mode;
    while n > 0 {
        let q = n as f64 / x;
        if wn == 0.0 || (q < 1.0 && wn * q / (1.0 - q) <= 1e-20 * sum.value()) {
            break;
        }
        wn *= q;
        left.push(wn);
        sum.add(wn);
        n -= 1;
    }
    let lo = mode - left.len();
    let total = sum.value();
    let mut w: Vec<f64> = left.into_iter().rev().collect();
    w.extend(right);
    for p in &mut w {
        *p /= total;
    }
    (lo, w)
}

/// Transient law at time t of the pure-death chain on {0..J} (J = init.len()-1)
/// leaving state j at rate base + j·step (to j-1, or out of the chain from 0),
/// started from the (sub-)probability vector `init`. Uniformisation; see
/// [`erlang_a_wait_tail`].
fn linear_death_chain(init: &[f64], base: f64, step: f64, t: f64) -> Result<Vec<f64>, String> {
    if init.is_empty() || t == 0.0 {
        return Ok(init.to_vec());
    }
    let big_j = init.len() - 1;
    // Shortcut for very long t: every stage has rate >= base, so from any start
    // j <= J the chain is still alive at t with probability at most
    // P(Poisson(base t) <= J) <= (J+1) × (its largest term, at J when base t > J).
    // If that bound is below e^-745 (under the smallest f64) the answer is 0.
    let x0 = base * t;
    if x0 > big_j as f64 {
        let ln_fact: f64 = (1..=big_j).map(|k| (k as f64).ln()).sum();
        let ln_bound = ((big_j + 1) as f64).ln() - x0 + big_j as f64 * x0.ln() - ln_fact;
        if ln_bound < -745.0 {
            return Ok(vec![0.0; init.len()]);
        }
    }
    let lam = base + big_j as f64 * step; // the largest rate
    let x = lam * t;
    let approx_steps = x + 10.0 * x.sqrt() + 50.0;
    let work = approx_steps * init.len() as f64;
    if work.is_nan() || work > MAX_UNIFORMISATION_WORK {
        return Err(format!(
            "erlang_a_wait_tail: threshold t = {t} s is too long for an exact solve \
             (about {approx_steps:.3e} uniformisation steps over {} states)",
            init.len()
        ));
    }
    let (lo, w) = poisson_window(x);
    let hi = lo + w.len() - 1;
    let stay: Vec<f64> = (0..=big_j)
        .map(|j| (big_j - j) as f64 * step / lam)
        .collect();
    let mv: Vec<f64> = (0..=big_j)
        .map(|j| (base + j as f64 * step) / lam)
        .collect();
    let mut v = init.to_vec();
    let mut out = vec![0.0f64; init.len()];
    for n in 0..=hi {
        if n >= lo {
            let wn = w[n - lo];
            for (o, &x) in out.iter_mut().zip(&v) {
                *o += wn * x;
            }
        }
        if n == hi {
            break;
        }
        // One step of P = I + Q/lam; ascending j reads v[j+1] before it changes.
        for j in 0..big_j {
            v[j] = v[j] * stay[j] + v[j + 1] * mv[j + 1];
        }
        v[big_j] *= stay[big_j];
        if n >= lo && v.iter().all(|&x| x < 1e-300) {
            break;
        }
    }
    Ok(out)
}

/// Fewest channels such that the Erlang A abandonment probability is
/// <= target_p_abandon. P(abandon) decreases in c (more servers never make a
/// customer wait longer on a coupled sample path), so the answer is found by
/// doubling from c ≈ A and then bisecting: O(log answer) solves of [`erlang_a`],
/// each returning exactly the value [`erlang_a`] reports.
pub fn min_channels_for_abandon(
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    mean_patience_s: f64,
    target_p_abandon: f64,
) -> Result<u32, String> {
    let a = offered_load(arrival_rate_per_s, mean_service_s)?;
    finite_pos("mean_patience_s", mean_patience_s)?;
    let target = target_probability("target_p_abandon", target_p_abandon)?;
    let meets = |c: u32| -> Result<bool, String> {
        Ok(erlang_a(c, arrival_rate_per_s, mean_service_s, mean_patience_s)?.p_abandon <= target)
    };
    fewest_channels(a, target, meets)
}

// ---------------------------------------------------------------------------
// M/M/c+D (Erlang A with a fixed patience)
// ---------------------------------------------------------------------------

/// Steady-state results of the M/M/c+D queue: Erlang A with every caller's patience the same
/// fixed time τ. With FIFO, a caller abandons exactly when the wait it was offered exceeds τ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangAFixed {
    /// P(all channels busy on arrival) = P(V > 0), V the offered wait.
    pub p_wait: f64,
    /// P(V > τ): the callers who give up.
    pub p_abandon: f64,
    /// E[min(V, τ)]: the time in queue of all callers, served or abandoned, s.
    pub mean_wait_all_s: f64,
    /// E[V | V <= τ]: the wait of the callers served, s.
    pub mean_wait_served_s: f64,
}

/// M/M/c+D by level crossing on the offered wait V: with π_{c-1} the probability of c - 1
/// busy channels, V has density λ π_{c-1} e^{(λ - cμ) t} below τ and that value at τ decaying
/// as e^{-cμ (t - τ)} above it (above τ no caller adds work); the states below c are Erlang B's
/// (Σ_{n<c} π_n = π_{c-1} / B(c-1, A)). Every mass is scaled by e^{-max(0, (λ - cμ) τ)}, so
/// overload with a long patience does not overflow. Limits: τ = 0 gives Erlang B, τ → ∞ below
/// capacity Erlang C; for one channel P(abandon) = (1-ρ) ρ E / (1 - ρ² E), E = e^{(λ-μ) τ}.
pub fn erlang_a_fixed(
    channels: u32,
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    patience_s: f64,
) -> Result<ErlangAFixed, String> {
    nonzero_channels(channels)?;
    let load = offered_load(arrival_rate_per_s, mean_service_s)?;
    let tau = finite_nonneg("patience_s", patience_s)?;
    let lambda = arrival_rate_per_s;
    if lambda == 0.0 {
        return Ok(ErlangAFixed {
            p_wait: 0.0,
            p_abandon: 0.0,
            mean_wait_all_s: 0.0,
            mean_wait_served_s: 0.0,
        });
    }
    let cmu = f64::from(channels) / mean_service_s;
    let below = if channels == 1 {
        1.0
    } else {
        1.0 / erlang_b(u64::from(channels - 1), load)?
    };
    let x = (lambda - cmu) * tau;
    let shift = x.max(0.0);
    // p1 = e^{-shift} (e^x - 1) / x and p2 = e^{-shift} (e^x (x - 1) + 1) / x², so that
    // λ τ p1 = ∫_0^τ λ e^{(λ-cμ) t} dt and λ τ² p2 = ∫_0^τ t λ e^{(λ-cμ) t} dt, scaled.
    let (p1, p2) = if x.abs() < 0.5 {
        let (mut term, mut s1, mut s2) = (1.0, 0.0, 0.0);
        for k in 0..40 {
            // term = x^k / k!
            s1 += term / (k + 1) as f64;
            s2 += term / (k + 2) as f64;
            term *= x / (k + 1) as f64;
        }
        let scale = (-shift).exp();
        (s1 * scale, s2 * scale)
    } else if x > 0.0 {
        (-(-x).exp_m1() / x, (x - 1.0 + (-x).exp()) / (x * x))
    } else {
        (x.exp_m1() / x, (x.exp() * (x - 1.0) + 1.0) / (x * x))
    };
    let below = below * (-shift).exp();
    let queued_in_time = lambda * tau * p1;
    let beyond = lambda / cmu * (x - shift).exp();
    let total = below + queued_in_time + beyond;
    let waits_served = lambda * tau * tau * p2;
    Ok(ErlangAFixed {
        p_wait: (queued_in_time + beyond) / total,
        p_abandon: beyond / total,
        mean_wait_all_s: (waits_served + tau * beyond) / total,
        mean_wait_served_s: waits_served / (below + queued_in_time),
    })
}

/// The fewest channels meeting a P(abandon) target, for a `meets` that is monotone in c
/// (false, then true): doubling from c ≈ A, then bisecting.
fn fewest_channels(
    a: f64,
    target: f64,
    meets: impl Fn(u32) -> Result<bool, String>,
) -> Result<u32, String> {
    let start = a.round().clamp(1.0, f64::from(u32::MAX)) as u32;
    // Invariant: `lo` fails (0 stands for "no channels", which always fails), `hi` meets.
    let (mut lo, mut hi) = if meets(start)? {
        (0u32, start)
    } else {
        let mut lo = start;
        loop {
            if lo > u32::MAX / 2 {
                return Err(format!(
                    "no channel count up to {} meets P(abandon) <= {target}",
                    u32::MAX
                ));
            }
            let next = lo * 2;
            if meets(next)? {
                break (lo, next);
            }
            lo = next;
        }
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if meets(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// Fewest channels such that the abandonment probability with a fixed patience (M/M/c+D,
/// [`erlang_a_fixed`]) is <= target_p_abandon; monotone in c as for [`min_channels_for_abandon`].
pub fn min_channels_for_abandon_fixed(
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    patience_s: f64,
    target_p_abandon: f64,
) -> Result<u32, String> {
    let a = offered_load(arrival_rate_per_s, mean_service_s)?;
    finite_nonneg("patience_s", patience_s)?;
    let target = target_probability("target_p_abandon", target_p_abandon)?;
    fewest_channels(a, target, |c| {
        Ok(erlang_a_fixed(c, arrival_rate_per_s, mean_service_s, patience_s)?.p_abandon <= target)
    })
}

// ---------------------------------------------------------------------------
// M/M/c/K (Erlang C with a finite waiting room)
// ---------------------------------------------------------------------------

/// Steady-state results of the M/M/c/K queue: `channels` servers and room for `queue_capacity`
/// waiting calls (Kendall's K = channels + queue_capacity); an arrival that finds the room full
/// is blocked. No abandonment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmck {
    /// P(an arrival is blocked) = P(N = c + capacity) (PASTA).
    pub p_block: f64,
    /// P(an arrival waits) = P(c <= N < c + capacity), a share of all arrivals.
    pub p_wait: f64,
    /// Mean number waiting.
    pub mean_queue_len: f64,
    /// Mean wait of the admitted calls (zero waits included), s: by Little,
    /// mean_queue_len / (λ (1 - p_block)).
    pub mean_wait_admitted_s: f64,
}

/// M/M/c/K from the birth-death stationary law. Written relative to the Erlang B state
/// probabilities (the states n <= c are those of the loss system, with weight B on n = c) and
/// the queue states as B ρ^j, j = 1..capacity, with ρ = A / c; when ρ > 1 every weight is
/// divided by ρ^capacity, so nothing overflows at any capacity. Cost O(c + capacity); the
/// capacity is at most 10^7.
pub fn mmck(
    channels: u32,
    queue_capacity: u64,
    arrival_rate_per_s: f64,
    mean_service_s: f64,
) -> Result<Mmck, String> {
    nonzero_channels(channels)?;
    if queue_capacity > 10_000_000 {
        return Err(format!(
            "mmck: queue capacity {queue_capacity} is above 10^7; with so much room the system \
             is Erlang C (if stable)"
        ));
    }
    let a = offered_load(arrival_rate_per_s, mean_service_s)?;
    let b = erlang_b(u64::from(channels), a)?;
    let rho = a / f64::from(channels);
    let k = queue_capacity as f64;
    // Weights of the queue states j = 0..=capacity (j = 0: all channels busy, nobody waiting),
    // as ρ^(j - shift), and of the states below c as (1 - B) ρ^(-shift).
    let shift = if rho > 1.0 { k } else { 0.0 };
    if rho == 0.0 {
        // No calls: nothing waits or is blocked (and ln ρ below would be -inf).
        return Ok(Mmck {
            p_block: 0.0,
            p_wait: 0.0,
            mean_queue_len: 0.0,
            mean_wait_admitted_s: 0.0,
        });
    }
    let w = |j: f64| ((j - shift) * rho.ln()).exp();
    // Sums over the queue states: all, all but the full one (an arrival waits), those with
    // someone waiting (j >= 1), and weighted by the number waiting.
    let (mut sum_all, mut sum_wait, mut sum_waiting, mut sum_len) = (0.0, 0.0, 0.0, 0.0);
    for j in 0..=queue_capacity {
        let x = w(j as f64);
        sum_all += x;
        if j < queue_capacity {
            sum_wait += x;
        }
        if j > 0 {
            sum_waiting += x;
        }
        sum_len += j as f64 * x;
    }
    let below = (1.0 - b) * w(0.0);
    let total = below + b * sum_all;
    let p_block = b * w(k) / total;
    let mean_queue_len = b * sum_len / total;
    // The admitted rate is the throughput, μ × mean busy channels (Little), computed from the
    // states rather than as λ (1 - p_block), which cancels when nearly every call is blocked:
    // below c as in Erlang B (A (1 - B), carried without cancellation), c in every queue state.
    let busy =
        erlang_b_carried(u64::from(channels), a)? * w(0.0) + f64::from(channels) * b * sum_waiting;
    let admitted = busy / total / mean_service_s;
    Ok(Mmck {
        p_block,
        p_wait: b * sum_wait / total,
        mean_queue_len,
        mean_wait_admitted_s: mean_queue_len / admitted,
    })
}

// ---------------------------------------------------------------------------
// M/D/1
// ---------------------------------------------------------------------------

/// Steady-state results of the M/D/1 queue (Poisson arrivals, constant service
/// D = 1 / dial rate, one server, FIFO): e.g. a dialler paced at a carrier limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Md1 {
    pub arrival_rate_per_s: f64,
    pub dial_rate_per_s: f64,
    /// D = 1 / dial_rate_per_s, s.
    pub service_s: f64,
    /// ρ = λ D.
    pub utilisation: f64,
    /// P(W > 0) = ρ.
    pub p_wait: f64,
    /// Pollaczek–Khinchine mean wait ρ D / (2 (1 - ρ)), s.
    pub mean_wait_s: f64,
    /// λ × mean_wait_s.
    pub mean_queue_len: f64,
    /// mean_wait_s + D, s.
    pub mean_response_s: f64,
}

fn md1_rates(arrival_rate_per_s: f64, dial_rate_per_s: f64) -> Result<(f64, f64), String> {
    let lambda = finite_nonneg("arrival_rate_per_s", arrival_rate_per_s)?;
    let r = finite_pos("dial_rate_per_s", dial_rate_per_s)?;
    if lambda >= r {
        return Err(format!(
            "md1: arrival rate {lambda}/s >= dial rate {r}/s, the queue is unstable \
             (needs arrival_rate_per_s < dial_rate_per_s)"
        ));
    }
    Ok((lambda, r))
}

/// M/D/1 means (Pollaczek–Khinchine). Errors unless 0 <= λ < dial rate.
pub fn md1(arrival_rate_per_s: f64, dial_rate_per_s: f64) -> Result<Md1, String> {
    let (lambda, r) = md1_rates(arrival_rate_per_s, dial_rate_per_s)?;
    let d = 1.0 / r;
    let rho = lambda / r;
    let one_minus_rho = (r - lambda) / r;
    let mean_wait_s = rho * d / (2.0 * one_minus_rho);
    Ok(Md1 {
        arrival_rate_per_s: lambda,
        dial_rate_per_s: r,
        service_s: d,
        utilisation: rho,
        p_wait: rho,
        mean_wait_s,
        mean_queue_len: lambda * mean_wait_s,
        mean_response_s: mean_wait_s + d,
    })
}

/// Steady-state means of the M/G/1 queue (Poisson arrivals, one server, FIFO, service times
/// of any distribution with a finite second moment).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mg1 {
    /// ρ = λ E[S].
    pub utilisation: f64,
    /// P(W > 0) = ρ (PASTA: an arrival waits when the server is busy).
    pub p_wait: f64,
    /// Pollaczek–Khinchine mean wait λ E[S²] / (2 (1 - ρ)), s.
    pub mean_wait_s: f64,
}

/// M/G/1 means (Pollaczek–Khinchine), from the service time's mean and second moment. Errors
/// unless 0 <= λ, ρ < 1, and the moments are finite with E[S²] >= E[S]² (the variance cannot
/// be negative).
pub fn mg1(
    arrival_rate_per_s: f64,
    mean_service_s: f64,
    second_moment_s2: f64,
) -> Result<Mg1, String> {
    let lambda = finite_nonneg("arrival_rate_per_s", arrival_rate_per_s)?;
    let m = finite_pos("mean_service_s", mean_service_s)?;
    let m2 = finite_pos("second_moment_s2", second_moment_s2)?;
    if m2 < m * m * (1.0 - 1e-12) {
        return Err(format!(
            "mg1: second moment {m2} s^2 is below the squared mean {} s^2, which no distribution has",
            m * m
        ));
    }
    let rho = lambda * m;
    if rho >= 1.0 {
        return Err(format!(
            "mg1: utilisation {rho} >= 1, the queue is unstable (needs arrival_rate_per_s x mean_service_s < 1)"
        ));
    }
    Ok(Mg1 {
        utilisation: rho,
        p_wait: rho,
        mean_wait_s: lambda * m2 / (2.0 * (1.0 - rho)),
    })
}

/// tails[j] = P(Poisson(y) > j) for j = 0.. until it underflows (y in [0, 1]);
/// summed backward from the smallest term, never as 1 - CDF.
fn poisson_upper_tails(y: f64) -> Vec<f64> {
    let mut pmf = Vec::with_capacity(200);
    let mut p = (-y).exp();
    let mut i = 0usize;
    loop {
        pmf.push(p);
        i += 1;
        p = p * y / i as f64;
        if p == 0.0 || i > 1000 {
            break;
        }
    }
    let mut tails = vec![0.0f64; pmf.len()];
    let mut acc = 0.0;
    for j in (0..pmf.len()).rev() {
        tails[j] = acc;
        acc += pmf[j];
    }
    tails
}

/// The M/D/1 queue-length law and waiting-time CDF.
///
/// Derivation (all terms positive). By PASTA an arrival's wait W is the workload
/// V = (N-1) D + R found at an arbitrary time, with N in system and R the residual
/// service (R in (0, D]). For t = kD + u, 0 <= u < D:
///     W <= t  <=>  N <= k, or N = k+1 and R <= u.
/// Service starts happen at rate λ; right after a start there are m >= 1 in
/// system with probability s_m (s_1 = π_0 + π_1, s_m = π_m for m >= 2, π the
/// departure = time-stationary law), the elapsed service x is uniform in
/// density λ dx on [0, D), and N = m + Poisson(λx). Hence
///     F(kD+u) = Σ_{n<=k} π_n + Σ_{m=1}^{k+1} s_m [T_{k+1-m}(ρ) - T_{k+1-m}(λ(D-u))],
/// T_j(y) = P(Poisson(y) > j). The queue law comes from the M/G/1 level-crossing
/// recursion π_0 = 1-ρ, π_j = (π_0 ā_{j-1} + Σ_{i=1}^{j-1} π_i ā_{j-i}) / a_0 with
/// a_i = P(Poisson(ρ) = i), ā_i = P(Poisson(ρ) > i): positive terms only, so the
/// relative error grows at most linearly in j (no amplification). For u < D this
/// reproduces F(u) = (1-ρ) e^{λu}, and overall it equals Erlang's alternating sum
/// (1-ρ) Σ_{k<=t/D} e^{λ(t-kD)} (-λ(t-kD))^k / k!, which cancels catastrophically
/// (terms of size e^{λt}) and is used only as a double-double test reference.
struct Md1Dist {
    lambda: f64,
    d: f64,
    /// ā_i = P(Poisson(ρ) > i), i = 0.. (stops where it underflows).
    abar: Vec<f64>,
    /// a_0 = e^{-ρ}.
    a0: f64,
    /// π_n = P(N = n), n = 0..pi.len()-1.
    pi: Vec<f64>,
    /// cum[k] = Σ_{n<=k} π_n, compensated.
    cum: Vec<f64>,
    acc: Sum,
    /// No further π are needed: Σπ >= 1 - 1e-15 or π underflowed.
    saturated: bool,
}

impl Md1Dist {
    fn new(lambda: f64, r: f64) -> Self {
        let rho = lambda / r;
        let pi0 = (r - lambda) / r;
        let mut acc = Sum::default();
        acc.add(pi0);
        let mut dist = Md1Dist {
            lambda,
            d: 1.0 / r,
            abar: poisson_upper_tails(rho),
            a0: (-rho).exp(),
            pi: vec![pi0],
            cum: vec![pi0],
            acc,
            saturated: false,
        };
        dist.saturated = pi0 >= 1.0 - 1e-15;
        dist
    }

    /// Makes π_0..π_k available (or stops early once the law is exhausted).
    fn ensure(&mut self, k: usize) -> Result<(), String> {
        while self.pi.len() <= k && !self.saturated {
            let j = self.pi.len();
            if j >= MD1_MAX_STATES {
                return Err(format!(
                    "md1: more than {MD1_MAX_STATES} queue states are needed \
                     (utilisation too close to 1 for this threshold)"
                ));
            }
            let la = self.abar.len();
            let mut s = Sum::default();
            // i = 0 term: π_0 ā_{j-1}
            if let Some(&ab) = self.abar.get(j - 1) {
                s.add(self.pi[0] * ab);
            }
            // i >= 1 terms: π_i ā_{j-i}, with ā_{j-i} = 0 once j - i >= la.
            let i_lo = (j + 1).saturating_sub(la).max(1);
            for i in i_lo..j {
                s.add(self.pi[i] * self.abar[j - i]);
            }
            let v = s.value() / self.a0;
            self.pi.push(v);
            self.acc.add(v);
            let cum = self.acc.value();
            self.cum.push(cum);
            if v == 0.0 || cum >= 1.0 - 1e-15 {
                self.saturated = true;
            }
        }
        Ok(())
    }

    /// s_m: probability of m in system just after a service start.
    fn start_prob(&self, m: usize) -> f64 {
        match m {
            0 => 0.0,
            1 => self.pi[0] + self.pi.get(1).copied().unwrap_or(0.0),
            _ => self.pi.get(m).copied().unwrap_or(0.0),
        }
    }

    /// P(W <= t), t >= 0.
    fn cdf(&mut self, t: f64) -> Result<f64, String> {
        if t <= 0.0 {
            return Ok(if t < 0.0 { 0.0 } else { self.pi[0] });
        }
        let x = t / self.d;
        if x >= MD1_MAX_STATES as f64 && !self.saturated {
            self.ensure(MD1_MAX_STATES)?;
        }
        let kf = x.floor();
        let k = if kf >= (MD1_MAX_STATES + 2) as f64 {
            usize::MAX - 2
        } else {
            kf as usize
        };
        let u = ((x - kf) * self.d).clamp(0.0, self.d);
        self.ensure(k.saturating_add(1))?;
        let cum_k = self.cum[k.min(self.cum.len() - 1)];
        let ty = poisson_upper_tails(self.lambda * (self.d - u));
        let mut extra = Sum::default();
        // j = k + 1 - m for m = 1..=k+1; T_j vanishes for j >= abar.len().
        for (j, &ab) in self.abar.iter().enumerate() {
            if j > k {
                break;
            }
            let diff = (ab - ty.get(j).copied().unwrap_or(0.0)).max(0.0);
            if diff > 0.0 {
                extra.add(self.start_prob(k + 1 - j) * diff);
            }
        }
        Ok((cum_k + extra.value()).clamp(0.0, 1.0))
    }

    /// Smallest t with P(W <= t) >= q.
    fn quantile(&mut self, q: f64) -> Result<f64, String> {
        if q <= self.pi[0] {
            return Ok(0.0);
        }
        // F(kD) = cum[k]: find the first k with cum[k] >= q.
        let mut k = 1usize;
        loop {
            self.ensure(k)?;
            if k < self.cum.len() {
                if self.cum[k] >= q {
                    break;
                }
                k += 1;
            } else {
                return Err(format!(
                    "md1: percentile {q} is beyond the computable range of the waiting-time \
                     distribution"
                ));
            }
        }
        let (mut lo, mut hi) = ((k - 1) as f64 * self.d, k as f64 * self.d);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.cdf(mid)? >= q {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }
}

/// M/D/1 waiting-time CDF P(W <= t_s) for Poisson arrivals at
/// `arrival_rate_per_s` and constant service 1/`dial_rate_per_s` (FIFO).
///
/// Exact (see the derivation on the internal `Md1Dist`): a positive-term form of
/// Erlang's (1909) / Crommelin's formula. Accuracy: absolute error <= 1e-9 for
/// every t >= 0 and utilisation ρ <= 0.999. Verified: worst difference 3e-16
/// from Erlang's alternating sum evaluated in double-double arithmetic (t <= 30 D,
/// ρ up to 0.97); ∫ P(W>t) dt and 2∫ t P(W>t) dt reproduce the
/// Pollaczek–Khinchine `E[W]` and `E[W²]` to <= 1e-10 relative at ρ = 0.875, 0.99
/// and (slow ignored test) 0.999; F(u) = (1-ρ)e^{λu} for u < D. Note the
/// exponent in Erlang's sum is +λ(t - kD), i.e. e^{-λ(kD - t)}. Beyond ρ = 0.999
/// the method is unchanged but the bound is not verified. Cost O(min(t/D, n*) × 170) where n* is
/// where the queue law is exhausted (Σπ >= 1 - 1e-15); refused above 1e7 states.
pub fn md1_wait_cdf(
    arrival_rate_per_s: f64,
    dial_rate_per_s: f64,
    t_s: f64,
) -> Result<f64, String> {
    let (lambda, r) = md1_rates(arrival_rate_per_s, dial_rate_per_s)?;
    let t = finite_nonneg("t_s", t_s)?;
    Md1Dist::new(lambda, r).cdf(t)
}

/// M/D/1 waiting-time tail P(W > t_s) = 1 - [`md1_wait_cdf`] (same accuracy,
/// absolute).
pub fn md1_p_wait_gt(
    arrival_rate_per_s: f64,
    dial_rate_per_s: f64,
    t_s: f64,
) -> Result<f64, String> {
    Ok(1.0 - md1_wait_cdf(arrival_rate_per_s, dial_rate_per_s, t_s)?)
}

/// The `percentile`-quantile of the M/D/1 wait: the smallest t with
/// P(W <= t) >= percentile (0 if percentile <= 1 - ρ, the atom at zero).
/// The containing service interval [(k-1)D, kD] comes from the queue law
/// (F(kD) = P(N <= k)); inside it the CDF is continuous and increasing and is
/// bisected to the last representable bit. Percentile must be in (0, 1 - 1e-9].
pub fn md1_wait_percentile(
    arrival_rate_per_s: f64,
    dial_rate_per_s: f64,
    percentile: f64,
) -> Result<f64, String> {
    let (lambda, r) = md1_rates(arrival_rate_per_s, dial_rate_per_s)?;
    let q = md1_percentile(percentile)?;
    Md1Dist::new(lambda, r).quantile(q)
}

/// Lowest dial rate r (per second) whose M/D/1 wait has its `percentile`-quantile
/// <= `target_delay_s`, for Poisson arrivals at `arrival_rate_per_s` (> 0).
///
/// The wait is stochastically increasing in the service time D = 1/r (Lindley's
/// recursion W' = max(0, W + D - A) is monotone in D), so "quantile <= t", i.e.
/// F_r(t) >= percentile, is monotone in r. For t = 0 the answer is exact:
/// r = λ / (1 - percentile). Otherwise the answer lies in (λ, λ/(1-percentile)]
/// and is bisected until hi - lo <= 1e-10 × hi; the returned r meets the target and
/// the true minimum lies in [r (1 - 1e-10), r] (up to the 1e-9 CDF accuracy).
pub fn min_dial_rate_for_percentile(
    arrival_rate_per_s: f64,
    percentile: f64,
    target_delay_s: f64,
) -> Result<f64, String> {
    let lambda = finite_pos("arrival_rate_per_s", arrival_rate_per_s)?;
    let q = md1_percentile(percentile)?;
    let t = finite_nonneg("target_delay_s", target_delay_s)?;
    let top = lambda / (1.0 - q);
    if !top.is_finite() {
        return Err(format!("arrival_rate_per_s {lambda} is too large"));
    }
    if t == 0.0 {
        return Ok(top);
    }
    let (mut lo, mut hi) = (lambda, top);
    while hi - lo > 1e-10 * hi {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if Md1Dist::new(lambda, mid).cdf(t)? >= q {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// |a - b| within `abs + rel × max(|a|, |b|)`; an infinity is close only to itself (with
    /// a relative bound, inf would otherwise be "close" to every number).
    fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
        if a.is_infinite() || b.is_infinite() {
            return a == b;
        }
        (a - b).abs() <= abs + rel * a.abs().max(b.abs())
    }

    macro_rules! assert_close {
        ($a:expr, $b:expr, $rel:expr, $abs:expr) => {{
            let (a, b) = ($a, $b);
            assert!(
                close(a, b, $rel, $abs),
                "{} = {a:e} vs {} = {b:e} (diff {:e})",
                stringify!($a),
                stringify!($b),
                (a - b).abs()
            );
        }};
    }

    /// Erlang B by the textbook sum with f64 powers/factorials (fine for c <= 150).
    fn erlang_b_direct(c: u32, a: f64) -> f64 {
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..=c {
            term *= a / f64::from(k);
            sum += term;
        }
        term / sum
    }

    // ----- Erlang B -----

    /// The many-channel sum (used above 2^20 channels) agrees with the recurrence where both
    /// can run: loads from light to heavy overload, and tails down to 1e-200.
    #[test]
    fn erlang_b_sum_matches_the_recurrence() {
        for (a, cs) in [
            (
                2e5,
                &[
                    150_000u64, 199_000, 200_000, 201_000, 202_000, 205_000, 210_000,
                ][..],
            ),
            (
                9e5,
                &[
                    800_000, 899_000, 900_000, 901_500, 905_000, 920_000, 1_000_000,
                ],
            ),
            (1e6, &[1_010_000, 1_040_000]),
            // More than 2^16 rising terms: their log-sum takes the Euler-Maclaurin path.
            (4e6, &[4_066_000, 4_070_000]),
            (300.0, &[300, 2_000, 1_000_000]),
        ] {
            for &c in cs {
                let mut b = 1.0;
                for k in 1..=c {
                    b = erlang_b_step(b, k, a);
                }
                let s = erlang_b_sum(c, a);
                if b < 1e-300 {
                    assert!(s < 1e-290, "c={c} A={a}: {s} vs {b}");
                } else {
                    // The recurrence gathers a few ulps per step: 4e6 steps, ~1e-9.
                    assert_close!(s, b, 2e-9, 0.0);
                }
            }
        }
        // The path switches at 2^20 channels without a step.
        let c = ERLANG_B_RECURRENCE_MAX;
        let (b0, b1) = (
            erlang_b(c, 1.05e6).unwrap(),
            erlang_b(c + 1, 1.05e6).unwrap(),
        );
        assert!(b1 < b0 && b1 > b0 * 0.99, "{b0} {b1}");
    }

    /// The inverse beyond the recurrence's range (bisection, then the recurrence): the answer
    /// meets the target and one channel fewer does not, from heavy overload to deep tails.
    #[test]
    fn min_channels_for_blocking_at_huge_loads() {
        for a in [2e6, 3.3e7, 1e9] {
            for p in [0.5, 0.01, 1e-6, 1e-30] {
                let c = min_channels_for_blocking(a, p).unwrap();
                // The walk's recurrence and the sum differ in the last bits: ties to 1e-12.
                assert!(
                    erlang_b(c, a).unwrap() <= p * (1.0 + 1e-12),
                    "A={a} P={p}: c={c}"
                );
                assert!(
                    erlang_b(c - 1, a).unwrap() > p * (1.0 - 1e-12),
                    "A={a} P={p}: c={c}"
                );
            }
        }
        // Heavy overload: B is 1 - c/A to first order, so c = A (1 - P) + O(1).
        let c = min_channels_for_blocking(1e12, 0.01).unwrap() as f64;
        assert!((c - 0.99e12).abs() < 1e3, "{c}");
        assert!(min_channels_for_blocking(1e14, 0.01)
            .unwrap_err()
            .contains("above"));
    }

    #[test]
    fn erlang_b_published_values() {
        assert_eq!(erlang_b(1, 1.0).unwrap(), 0.5);
        // Exact rational: (2^5/5!) / Σ_{k<=5} 2^k/k! = 0.266.../7.266... = 0.0366972...
        assert_close!(erlang_b(5, 2.0).unwrap(), 4.0 / 109.0, 1e-14, 0.0);
        assert!((erlang_b(5, 2.0).unwrap() - 0.03670).abs() < 5e-6);
        assert!((erlang_b(10, 5.0).unwrap() - 0.01838).abs() < 5e-6);
        // The brief quoted 0.04561 here; exact rational arithmetic gives 0.0455932156.
        assert!((erlang_b(20, 15.0).unwrap() - 0.04559).abs() < 5e-6);
        // Exact rational arithmetic: 0.0039920286.
        assert!((erlang_b(100, 80.0).unwrap() - 0.003992).abs() < 5e-7);
        // erlang.com calculator manual: 15 lines at 1% blocking carry 8.108 E.
        assert!((erlang_b(15, 8.108).unwrap() - 0.01).abs() < 5e-5);
        assert!(erlang_b(15, 8.109).unwrap() > 0.01 && erlang_b(15, 8.107).unwrap() < 0.01);
        // erlang.com: 33.333 E at 1% blocking needs 45 lines.
        assert_eq!(min_channels_for_blocking(33.333, 0.01).unwrap(), 45);
    }

    #[test]
    fn carried_load_is_a_times_one_minus_b_and_never_exceeds_the_channels() {
        for c in [1u64, 2, 10, 57, 500, 3000] {
            for a in [0.0, 1e-300, 0.3, 5.0, 9.5, 40.0, 600.0, 5000.0] {
                let b = erlang_b(c, a).unwrap();
                let got = erlang_b_carried(c, a).unwrap();
                assert_close!(got, a * (1.0 - b), 1e-12, 1e-300);
            }
            // Extreme loads, where 1 - B cancels: every channel busy, no more.
            for a in [1e12, 1e17, 1e20, 1e300, f64::MAX] {
                let got = erlang_b_carried(c, a).unwrap();
                assert!(
                    got <= c as f64 && got >= c as f64 * (1.0 - 1e-9),
                    "c {c}, A {a}: carried {got}"
                );
            }
        }
    }

    #[test]
    fn erlang_b_matches_direct_sum() {
        for &(c, a) in &[
            (1u32, 0.3),
            (3, 7.0),
            (10, 5.0),
            (37, 30.5),
            (100, 80.0),
            (150, 170.0),
        ] {
            assert_close!(
                erlang_b(c.into(), a).unwrap(),
                erlang_b_direct(c, a),
                1e-13,
                0.0
            );
        }
        assert_eq!(erlang_b(7, 0.0).unwrap(), 0.0);
    }

    #[test]
    fn erlang_b_large_is_stable() {
        let c = 10_000u32;
        let a = 10_000.0;
        let b = erlang_b(c.into(), a).unwrap();
        assert!(b.is_finite() && b > 0.0 && b < 1.0);
        // Independent evaluation: 1/B = Σ_{j=0..c} Π_{i<j} (c-i)/A (positive series).
        let mut term = 1.0;
        let mut inv = Sum::default();
        inv.add(1.0);
        for i in 0..c {
            term *= f64::from(c - i) / a;
            if term < 1e-300 {
                break;
            }
            inv.add(term);
        }
        assert_close!(b, 1.0 / inv.value(), 1e-12, 0.0);
        // Asymptotics B(c, c) ≈ 1 / (sqrt(π c / 2) + 2/3).
        let asym = 1.0 / ((std::f64::consts::PI * 1e4 / 2.0).sqrt() + 2.0 / 3.0);
        assert_close!(b, asym, 1e-3, 0.0);
        // Consistent with c - 1 through the defining relation.
        let b1 = erlang_b((c - 1).into(), a).unwrap();
        assert!(b1 > b);
        assert_close!(b, a * b1 / (f64::from(c) + a * b1), 1e-15, 0.0);
        // Huge loads do not overflow.
        let bh = erlang_b(10, 1e300).unwrap();
        assert!(bh > 0.99 && bh <= 1.0);
    }

    #[test]
    fn erlang_b_rejects_bad_input() {
        assert!(erlang_b(0, 1.0).unwrap_err().contains("channels"));
        assert!(erlang_b(3, -1.0).unwrap_err().contains("load_erl"));
        assert!(erlang_b(3, f64::NAN).is_err());
        assert!(erlang_b(3, f64::INFINITY).is_err());
        assert!(min_channels_for_blocking(5.0, 0.0).is_err());
        assert!(min_channels_for_blocking(5.0, 1.5).is_err());
        assert!(min_channels_for_blocking(5.0, f64::NAN).is_err());
    }

    #[test]
    fn min_channels_for_blocking_is_minimal() {
        for &(a, target) in &[
            (5.0, 0.01),
            (0.5, 0.2),
            (80.0, 0.004),
            (1234.5, 0.001),
            (2.0, 1.0),
        ] {
            let c = min_channels_for_blocking(a, target).unwrap();
            assert!(erlang_b(c, a).unwrap() <= target);
            if c > 1 {
                assert!(erlang_b(c - 1, a).unwrap() > target, "a={a} c={c}");
            }
        }
        assert_eq!(min_channels_for_blocking(0.0, 0.01).unwrap(), 1);
        assert_eq!(min_channels_for_blocking(5.0, 0.01).unwrap(), 11); // B(10,5)=0.0184
    }

    // ----- Erlang C -----

    #[test]
    fn erlang_c_textbook_values() {
        let r = erlang_c(2, 1.0, 1.0).unwrap();
        assert_close!(r.p_wait, 1.0 / 3.0, 1e-15, 0.0);
        assert_close!(r.mean_wait_s, 1.0 / 3.0, 1e-15, 0.0);
        assert_close!(r.mean_queue_len, 1.0 / 3.0, 1e-15, 0.0);
        assert_close!(
            r.p_wait_gt(2.0).unwrap(),
            (1.0 / 3.0) * (-2.0f64).exp(),
            1e-15,
            0.0
        );
        // M/M/1: C = ρ, W = ρ/(μ-λ).
        let r = erlang_c(1, 0.6, 1.5).unwrap(); // ρ = 0.9, μ = 2/3
        assert_close!(r.p_wait, 0.9, 1e-14, 0.0);
        assert_close!(r.mean_wait_s, 0.9 / (1.0 / 1.5 - 0.6), 1e-13, 0.0);
        // Against the textbook closed form with explicit powers (c = 12).
        let (c, a) = (12u32, 10.0);
        let mut term = 1.0;
        let mut sum = 1.0; // Σ_{k<c} A^k/k!
        for k in 1..c {
            term *= a / f64::from(k);
            sum += term;
        }
        let last = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
        let r = erlang_c(c, 10.0 / 180.0, 180.0).unwrap();
        assert_close!(r.p_wait, last / (sum + last), 1e-13, 0.0);
        assert_close!(
            erlang_c_p_wait_gt(c, 10.0 / 180.0, 180.0, 20.0).unwrap(),
            r.p_wait * (-(2.0 / 180.0) * 20.0f64).exp(),
            1e-13,
            0.0
        );
        assert_eq!(erlang_c(3, 0.0, 10.0).unwrap().p_wait, 0.0);
    }

    #[test]
    fn erlang_c_errors() {
        assert!(erlang_c(2, 2.0, 1.0).unwrap_err().contains("unstable"));
        assert!(erlang_c(0, 1.0, 1.0).is_err());
        assert!(erlang_c(2, -1.0, 1.0).is_err());
        assert!(erlang_c(2, 1.0, 0.0).is_err());
        assert!(erlang_c_p_wait_gt(2, 1.0, 1.0, -1.0).is_err());
        assert!(min_channels_for_wait(1.0, 1.0, 1.0, 0.0).is_err());
    }

    #[test]
    fn min_channels_for_wait_is_minimal() {
        for &(lam, s, t, target) in &[
            (1.0, 1.0, 0.0, 0.2),
            (10.0 / 180.0, 180.0, 20.0, 0.2),
            (2.0, 180.0, 20.0, 0.05),
            (0.3, 2.0, 0.5, 1.0),
        ] {
            let c = min_channels_for_wait(lam, s, t, target).unwrap();
            assert!(erlang_c_p_wait_gt(c, lam, s, t).unwrap() <= target);
            let prev = erlang_c_p_wait_gt(c - 1, lam, s, t);
            assert!(prev.is_err() || prev.unwrap() > target, "lam={lam} c={c}");
        }
    }

    // ----- Erlang A -----

    /// Independent stationary law: Gaussian elimination on the truncated generator.
    fn erlang_a_by_linear_solve(c: usize, lambda: f64, mu: f64, theta: f64, m: usize) -> Vec<f64> {
        let death = |n: usize| (n.min(c) as f64) * mu + (n.saturating_sub(c) as f64) * theta;
        // Solve π Q = 0, i.e. Q^T π^T = 0, with the last equation replaced by Σπ = 1.
        let mut a = vec![vec![0.0f64; m + 1]; m + 1];
        for n in 0..=m {
            let birth = if n < m { lambda } else { 0.0 };
            // column n of Q^T = row n of Q
            a[n][n] -= birth + death(n);
            if n < m {
                a[n + 1][n] += birth;
            }
            if n > 0 {
                a[n - 1][n] += death(n);
            }
        }
        let mut rhs = vec![0.0f64; m + 1];
        for x in a[m].iter_mut() {
            *x = 1.0;
        }
        rhs[m] = 1.0;
        for col in 0..=m {
            let piv = (col..=m)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap();
            a.swap(col, piv);
            rhs.swap(col, piv);
            let pivot_row = a[col].clone();
            for row in col + 1..=m {
                let f = a[row][col] / pivot_row[col];
                if f != 0.0 {
                    for (x, &p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                        *x -= f * p;
                    }
                    rhs[row] -= f * rhs[col];
                }
            }
        }
        let mut x = vec![0.0f64; m + 1];
        for row in (0..=m).rev() {
            let mut s = rhs[row];
            for k in row + 1..=m {
                s -= a[row][k] * x[k];
            }
            x[row] = s / a[row][row];
        }
        x
    }

    #[test]
    fn erlang_a_small_c_matches_linear_solve() {
        for &(c, lambda, s, patience) in &[
            (1u32, 1.5, 1.0, 2.5),
            (1, 0.4, 1.0, 0.3),
            (3, 4.0, 1.0, 1.0),
        ] {
            let (mu, theta) = (1.0 / s, 1.0 / patience);
            let pi = erlang_a_by_linear_solve(c as usize, lambda, mu, theta, 150);
            let cu = c as usize;
            let p_wait: f64 = pi[cu..].iter().sum();
            let lq: f64 = pi
                .iter()
                .enumerate()
                .map(|(n, p)| n.saturating_sub(cu) as f64 * p)
                .sum();
            let r = erlang_a(c, lambda, s, patience).unwrap();
            assert_close!(r.p_wait, p_wait, 1e-11, 0.0);
            assert_close!(r.mean_queue_len, lq, 1e-11, 0.0);
            assert_close!(r.p_abandon, theta * lq / lambda, 1e-11, 0.0);
            let chain = erlang_a_chain(c, lambda, s, patience).unwrap();
            for (n, &p) in chain.pi.iter().enumerate().take(40) {
                assert_close!(p, pi[n], 1e-11, 1e-15);
            }
        }
    }

    #[test]
    fn erlang_a_identities_and_waits() {
        for &(c, lambda, s, patience) in &[
            (1u32, 1.5, 1.0, 2.5),
            (5, 4.0, 1.0, 0.5),
            (20, 25.0 / 180.0, 180.0, 60.0),
            (50, 0.3, 180.0, 30.0),
        ] {
            let r = erlang_a(c, lambda, s, patience).unwrap();
            let theta = 1.0 / patience;
            // Little: P(ab) = θ E[Lq] / λ and E[W_all] = E[Lq] / λ (PASTA sums vs Little).
            assert_close!(r.p_abandon, theta * r.mean_queue_len / lambda, 1e-12, 0.0);
            assert_close!(r.mean_wait_all_s, r.mean_queue_len / lambda, 1e-12, 0.0);
            assert_close!(r.p_abandon + r.p_served, 1.0, 1e-14, 0.0);
            assert_close!(r.carried_load_erl, lambda * s * r.p_served, 1e-12, 0.0);
            // Split of the mean wait.
            assert_close!(
                r.mean_wait_all_s,
                r.p_served * r.mean_wait_served_s + r.p_abandon * r.mean_wait_abandoned_s,
                1e-12,
                0.0
            );
            // W_served / W_abandoned by an independent first-step recursion over the
            // number ahead k: rates R_k = a_k + θ.
            let chain = erlang_a_chain(c, lambda, s, patience).unwrap();
            let cmu = f64::from(c) / s;
            let (mut h, mut g, mut ab) = (1.0f64, 0.0f64, 0.0f64); // h_{-1}, g_{-1}, ab_{-1}
            let (mut es, mut ea) = (0.0, 0.0);
            for (k, &p) in chain.queue().iter().enumerate() {
                let a_k = cmu + k as f64 * theta;
                let rk = a_k + theta;
                let (h_prev, g_prev, ab_prev) = (h, g, ab);
                h = a_k / rk * h_prev;
                g = a_k / rk * (h_prev / rk + g_prev);
                ab = theta / (rk * rk) + a_k / rk * (ab_prev + (1.0 - h_prev) / rk);
                es += p * g;
                ea += p * ab;
            }
            assert_close!(r.mean_wait_served_s, es / r.p_served, 1e-11, 0.0);
            assert_close!(r.mean_wait_abandoned_s, ea / r.p_abandon, 1e-11, 0.0);
        }
    }

    #[test]
    fn erlang_a_theta_equal_mu_is_poisson() {
        // With θ = μ the death rate is n μ: N ~ Poisson(A) (M/M/∞).
        let (c, a) = (8u32, 6.5);
        let r = erlang_a(c, a, 1.0, 1.0).unwrap();
        let mut p = (-a).exp();
        let (mut below, mut lq_below) = (0.0, 0.0);
        for n in 0..c {
            below += p;
            lq_below += (f64::from(c) - f64::from(n)) * p;
            p *= a / f64::from(n + 1);
        }
        assert_close!(r.p_wait, 1.0 - below, 1e-13, 0.0);
        // E[(N-c)^+] = E[N] - c + E[(c-N)^+]
        assert_close!(r.mean_queue_len, a - f64::from(c) + lq_below, 1e-12, 0.0);
    }

    #[test]
    fn erlang_a_limits() {
        // Patience -> infinity: Erlang C.
        let (c, lambda, s) = (10u32, 8.0 / 180.0, 180.0);
        let ec = erlang_c(c, lambda, s).unwrap();
        let ea = erlang_a(c, lambda, s, 1e9).unwrap();
        assert_close!(ea.p_wait, ec.p_wait, 1e-5, 0.0);
        assert_close!(ea.mean_wait_all_s, ec.mean_wait_s, 1e-5, 0.0);
        assert_close!(ea.mean_wait_served_s, ec.mean_wait_s, 1e-5, 0.0);
        assert!(ea.p_abandon < 1e-6);
        let tail = erlang_a_wait_tail(c, lambda, s, 1e9, 30.0).unwrap();
        assert_close!(
            tail.p_offered_wait_gt,
            ec.p_wait_gt(30.0).unwrap(),
            1e-5,
            0.0
        );
        // Patience -> 0: waiting customers leave at once, P(ab) -> B(c, A).
        let b = erlang_b(c.into(), lambda * s).unwrap();
        let ea = erlang_a(c, lambda, s, 1e-6).unwrap();
        assert_close!(ea.p_abandon, b, 1e-5, 0.0);
        assert_close!(ea.p_wait, b, 1e-5, 0.0);
        // Overload is fine with abandonment.
        let ea = erlang_a(c, 3.0 * f64::from(c) / s, s, 60.0).unwrap();
        assert!(ea.p_abandon > 0.5 && ea.p_abandon < 1.0 && ea.utilisation > 0.99);
    }

    #[test]
    fn erlang_a_large_is_stable() {
        let s = 180.0;
        let lambda = 10_000.0 / s;
        let r = erlang_a(10_000, lambda, s, 60.0).unwrap();
        let r1 = erlang_a(9_999, lambda, s, 60.0).unwrap();
        for x in [
            r.p_wait,
            r.p_abandon,
            r.mean_wait_all_s,
            r.mean_queue_len,
            r.utilisation,
        ] {
            assert!(x.is_finite() && x >= 0.0);
        }
        assert!(r.p_wait > 0.0 && r.p_wait < 1.0 && r.p_abandon < r.p_wait);
        assert!(r1.p_abandon > r.p_abandon && r1.p_wait > r.p_wait);
        assert!((r1.p_abandon - r.p_abandon) < 0.02 * r.p_abandon);
        assert_close!(r.p_abandon, r.mean_queue_len / (60.0 * lambda), 1e-12, 0.0);
        assert_close!(r.carried_load_erl, lambda * s * r.p_served, 1e-12, 0.0);
        let t = erlang_a_wait_tail(10_000, lambda, s, 60.0, 0.0).unwrap();
        assert_close!(t.p_offered_wait_gt, r.p_wait, 1e-15, 0.0);
        let t = erlang_a_wait_tail(10_000, lambda, s, 60.0, 5.0).unwrap();
        assert!(t.p_offered_wait_gt > 0.0 && t.p_offered_wait_gt < r.p_wait);
        // Absurdly long thresholds take the proven-zero shortcut instead of failing.
        let t = erlang_a_wait_tail(10_000, lambda, s, 60.0, 1e7).unwrap();
        assert_eq!((t.p_offered_wait_gt, t.p_served_wait_gt), (0.0, 0.0));
    }

    #[test]
    fn erlang_a_errors() {
        assert!(erlang_a(0, 1.0, 1.0, 1.0).is_err());
        assert!(erlang_a(1, 1.0, 1.0, 0.0)
            .unwrap_err()
            .contains("mean_patience_s"));
        assert!(erlang_a(1, 1.0, 1.0, -2.0).is_err());
        assert!(erlang_a(1, f64::NAN, 1.0, 1.0).is_err());
        assert!(erlang_a(1, 1.0, f64::INFINITY, 1.0).is_err());
        assert!(erlang_a(1, 1e6, 1.0, 1e6).unwrap_err().contains("states"));
        assert!(erlang_a_wait_tail(1, 1.0, 1.0, 1.0, f64::NAN).is_err());
        let zero = erlang_a(4, 0.0, 1.0, 1.0).unwrap();
        assert_eq!(
            (zero.p_wait, zero.p_abandon, zero.mean_wait_all_s),
            (0.0, 0.0, 0.0)
        );
    }

    /// Classical hypoexponential survival for distinct rates (few stages only).
    fn hypo_survival(rates: &[f64], t: f64) -> f64 {
        let mut s = 0.0;
        for (i, &ai) in rates.iter().enumerate() {
            let mut coef = 1.0;
            for (m, &am) in rates.iter().enumerate() {
                if m != i {
                    coef *= am / (am - ai);
                }
            }
            s += coef * (-ai * t).exp();
        }
        s
    }

    #[test]
    fn uniformisation_matches_hypoexponential() {
        let (base, step) = (2.0, 0.7);
        for j in 0..6usize {
            let mut init = vec![0.0; j + 1];
            init[j] = 1.0;
            let rates: Vec<f64> = (0..=j).map(|k| base + k as f64 * step).collect();
            for &t in &[0.0, 0.1, 0.5, 1.3, 4.0] {
                let v = linear_death_chain(&init, base, step, t).unwrap();
                let surv: f64 = v.iter().sum();
                assert_close!(surv, hypo_survival(&rates, t), 1e-12, 1e-15);
            }
        }
        // Poisson window sums to one and has the right mean for a large argument.
        let (lo, w) = poisson_window(12345.6);
        let mean: f64 = w.iter().enumerate().map(|(i, p)| (lo + i) as f64 * p).sum();
        assert_close!(w.iter().sum::<f64>(), 1.0, 1e-14, 0.0);
        assert_close!(mean, 12345.6, 1e-12, 0.0);
    }

    #[test]
    fn erlang_a_wait_tail_integrates_to_mean_wait() {
        // ∫ P(W > t) dt = E[W_all] and ∫ P(served, W > t) dt = E[W; served].
        let (c, lambda, s, patience) = (2u32, 2.0, 1.0, 2.0);
        let r = erlang_a(c, lambda, s, patience).unwrap();
        let t0 = erlang_a_wait_tail(c, lambda, s, patience, 0.0).unwrap();
        assert_close!(t0.p_offered_wait_gt, r.p_wait, 1e-15, 0.0);
        assert_close!(
            t0.p_served_wait_gt,
            r.p_served - (1.0 - r.p_wait),
            1e-13,
            0.0
        );
        // 4-point Gauss–Legendre on [0, 24] in panels of 0.25 (integrands are smooth;
        // unit panels leave a 1.6e-8 quadrature error, 0.25 leaves 2e-13).
        let nodes = [
            (-0.861_136_311_594_052_6, 0.347_854_845_137_453_9),
            (-0.339_981_043_584_856_3, 0.652_145_154_862_546_1),
            (0.339_981_043_584_856_3, 0.652_145_154_862_546_1),
            (0.861_136_311_594_052_6, 0.347_854_845_137_453_9),
        ];
        let (mut iw, mut is) = (0.0, 0.0);
        let h = 0.25;
        for panel in 0..96 {
            for &(x, w) in &nodes {
                let t = h * (panel as f64 + 0.5 + 0.5 * x);
                let tail = erlang_a_wait_tail(c, lambda, s, patience, t).unwrap();
                iw += 0.5 * h * w * tail.p_wait_gt;
                is += 0.5 * h * w * tail.p_served_wait_gt;
            }
        }
        assert_close!(iw, r.mean_wait_all_s, 1e-11, 0.0);
        assert_close!(is, r.p_served * r.mean_wait_served_s, 1e-11, 0.0);
        let t = erlang_a_wait_tail(c, lambda, s, patience, 1.0).unwrap();
        assert_close!(
            t.p_wait_gt,
            (-0.5f64).exp() * t.p_offered_wait_gt,
            1e-15,
            0.0
        );
        assert_close!(
            t.p_served_within + t.p_served_wait_gt,
            r.p_served,
            1e-13,
            0.0
        );
    }

    #[test]
    fn min_channels_for_abandon_is_minimal() {
        for &(lambda, s, patience, target) in &[
            (2.0, 180.0, 60.0, 0.05),
            (0.1, 60.0, 10.0, 0.01),
            (1.0, 1.0, 1.0, 0.5),
            (50.0, 180.0, 30.0, 0.02),
        ] {
            let c = min_channels_for_abandon(lambda, s, patience, target).unwrap();
            assert!(erlang_a(c, lambda, s, patience).unwrap().p_abandon <= target);
            if c > 1 {
                let prev = erlang_a(c - 1, lambda, s, patience).unwrap().p_abandon;
                assert!(prev > target, "lambda={lambda} c={c}");
            }
        }
        assert!(min_channels_for_abandon(1.0, 1.0, 1.0, 0.0).is_err());
        // Monotone in c on a range.
        let ps: Vec<f64> = (1..40)
            .map(|c| erlang_a(c, 0.2, 100.0, 50.0).unwrap().p_abandon)
            .collect();
        assert!(ps.windows(2).all(|w| w[1] < w[0]));
    }

    // ----- M/D/1 -----

    /// Double-double arithmetic (≈ 32 significant digits) for the reference.
    #[derive(Clone, Copy, Debug)]
    struct Dd {
        hi: f64,
        lo: f64,
    }

    fn two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        let bb = s - a;
        (s, (a - (s - bb)) + (b - bb))
    }

    fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        (s, b - (s - a))
    }

    impl Dd {
        fn from(x: f64) -> Dd {
            Dd { hi: x, lo: 0.0 }
        }
        fn add(self, o: Dd) -> Dd {
            let (s, e) = two_sum(self.hi, o.hi);
            let (t, f) = two_sum(self.lo, o.lo);
            let (s, e) = quick_two_sum(s, e + t);
            let (hi, lo) = quick_two_sum(s, e + f);
            Dd { hi, lo }
        }
        fn neg(self) -> Dd {
            Dd {
                hi: -self.hi,
                lo: -self.lo,
            }
        }
        fn mul_f(self, b: f64) -> Dd {
            let p = self.hi * b;
            let e = self.hi.mul_add(b, -p) + self.lo * b;
            let (hi, lo) = quick_two_sum(p, e);
            Dd { hi, lo }
        }
        fn mul(self, o: Dd) -> Dd {
            let p = self.hi * o.hi;
            let e = self.hi.mul_add(o.hi, -p) + (self.hi * o.lo + self.lo * o.hi);
            let (hi, lo) = quick_two_sum(p, e);
            Dd { hi, lo }
        }
        fn div_f(self, b: f64) -> Dd {
            let q1 = self.hi / b;
            let p = q1 * b;
            let pe = q1.mul_add(b, -p);
            let (s, e) = two_sum(self.hi, -p);
            let q2 = (s + (e - pe + self.lo)) / b;
            let (hi, lo) = quick_two_sum(q1, q2);
            Dd { hi, lo }
        }
    }

    /// e^x for x >= 0 in double-double by the all-positive Taylor series.
    fn dd_exp(x: f64) -> Dd {
        let mut sum = Dd::from(1.0);
        let mut term = Dd::from(1.0);
        for n in 1..2000 {
            term = term.mul_f(x).div_f(n as f64);
            sum = sum.add(term);
            if term.hi < 1e-40 * sum.hi {
                break;
            }
        }
        sum
    }

    /// Erlang's alternating formula (1-ρ) Σ_{k<=t/D} e^{λ(t-kD)} (-λ(t-kD))^k / k!
    /// in double-double; requires λ(t-kD) exact in f64 (binary-fraction inputs).
    fn md1_cdf_reference(lambda: f64, d: f64, t: f64) -> f64 {
        let rho = lambda * d;
        let kmax = (t / d).floor() as usize;
        let mut sum = Dd::from(0.0);
        for k in 0..=kmax {
            let x = lambda * (t - k as f64 * d);
            let mut term = dd_exp(x);
            for i in 1..=k {
                term = term.mul_f(x).div_f(i as f64);
            }
            sum = sum.add(if k % 2 == 1 { term.neg() } else { term });
        }
        sum.mul(Dd::from(1.0 - rho)).hi
    }

    #[test]
    fn md1_cdf_matches_erlang_formula_in_double_double() {
        let mut worst = 0.0f64;
        for &(lambda, rate) in &[(0.5, 1.0), (0.875, 1.0), (0.968_75, 1.0), (3.5, 4.0)] {
            let d = 1.0 / rate;
            for &t in &[
                0.0, 0.25, 0.9375, 1.0, 1.5, 2.75, 5.125, 10.0625, 17.5, 25.25, 30.0,
            ] {
                let t = t * d;
                let want = md1_cdf_reference(lambda, d, t);
                let got = md1_wait_cdf(lambda, rate, t).unwrap();
                worst = worst.max((got - want).abs());
                assert!(
                    (got - want).abs() < 1e-13,
                    "λ={lambda} r={rate} t={t}: {got} vs {want}"
                );
            }
        }
        assert!(worst < 1e-13);
        // For t < D the CDF is (1-ρ) e^{λt}.
        let got = md1_wait_cdf(0.9, 1.0, 0.7).unwrap();
        assert_close!(got, 0.1 * (0.63f64).exp(), 1e-14, 0.0);
        // At t = D it is P(N <= 1) = (1-ρ) e^{ρ}.
        assert_close!(
            md1_wait_cdf(0.9, 1.0, 1.0).unwrap(),
            0.1 * 0.9f64.exp(),
            1e-13,
            0.0
        );
    }

    /// (∫ (1 - F(t)) dt, ∫ t (1 - F(t)) dt) by 8-point Gauss–Legendre on each
    /// service interval (F is smooth inside each interval).
    fn md1_tail_moments(lambda: f64, rate: f64, panels: usize) -> (f64, f64) {
        let nodes = [
            (0.183_434_642_495_649_8, 0.362_683_783_378_362),
            (0.525_532_409_916_329, 0.313_706_645_877_887_3),
            (0.796_666_477_413_626_7, 0.222_381_034_453_374_5),
            (0.960_289_856_497_536_3, 0.101_228_536_290_376_3),
        ];
        let d = 1.0 / rate;
        let mut dist = Md1Dist::new(lambda, rate);
        let (mut m0, mut m1) = (Sum::default(), Sum::default());
        for k in 0..panels {
            let mid = (k as f64 + 0.5) * d;
            for &(x, w) in &nodes {
                for sx in [-x, x] {
                    let t = mid + 0.5 * d * sx;
                    let tail = 1.0 - dist.cdf(t).unwrap();
                    m0.add(0.5 * d * w * tail);
                    m1.add(0.5 * d * w * t * tail);
                }
            }
        }
        (m0.value(), m1.value())
    }

    #[test]
    fn md1_moments_match_pollaczek_khinchine() {
        for &(lambda, rate, panels) in
            &[(0.875, 1.0, 200usize), (0.99, 1.0, 2000), (3.0, 10.0, 200)]
        {
            let m = md1(lambda, rate).unwrap();
            let d = 1.0 / rate;
            let rho = lambda * d;
            assert_close!(m.mean_wait_s, rho * d / (2.0 * (1.0 - rho)), 1e-14, 0.0);
            // E[W] = ∫ P(W>t) dt; E[W²] = 2 ∫ t P(W>t) dt = 2 E[W]² + λ D³ / (3 (1-ρ)).
            let (ew, half_ew2) = md1_tail_moments(lambda, rate, panels);
            assert_close!(ew, m.mean_wait_s, 1e-9, 0.0);
            let ew2 = 2.0 * half_ew2;
            let want2 = 2.0 * m.mean_wait_s.powi(2) + lambda * d.powi(3) / (3.0 * (1.0 - rho));
            assert_close!(ew2, want2, 1e-8, 0.0);
        }
    }

    /// Slow (about 25 000 service intervals): `cargo test --release -- --ignored`.
    #[test]
    #[ignore]
    fn md1_moments_at_utilisation_0999() {
        let (lambda, rate) = (0.999, 1.0);
        let m = md1(lambda, rate).unwrap();
        let (ew, half_ew2) = md1_tail_moments(lambda, rate, 25_000);
        assert_close!(ew, m.mean_wait_s, 1e-10, 0.0);
        let want2 = 2.0 * m.mean_wait_s.powi(2) + lambda / (3.0 * (1.0 - lambda));
        assert_close!(2.0 * half_ew2, want2, 1e-9, 0.0);
    }

    #[test]
    fn mg1_agrees_with_mm1_and_md1_and_refuses_what_no_queue_has() {
        // Exponential service (E[S^2] = 2 m^2) is M/M/1: Erlang C with one channel.
        for &(lambda, m) in &[(0.5, 1.0), (0.9, 1.0), (3.0, 0.25)] {
            let g = mg1(lambda, m, 2.0 * m * m).unwrap();
            let c = erlang_c(1, lambda, m).unwrap();
            assert_close!(g.p_wait, c.p_wait, 1e-14, 0.0);
            assert_close!(g.mean_wait_s, c.mean_wait_s, 1e-13, 0.0);
            // Fixed service (E[S^2] = m^2) is M/D/1 at dial rate 1/m.
            let d = mg1(lambda, m, m * m).unwrap();
            assert_close!(
                d.mean_wait_s,
                md1(lambda, 1.0 / m).unwrap().mean_wait_s,
                1e-13,
                0.0
            );
        }
        // The bundled lognormal case: mean 1 s, sd 1.5 s, 0.7/s.
        let g = mg1(0.7, 1.0, 1.0 + 1.5 * 1.5).unwrap();
        assert_close!(g.mean_wait_s, 0.7 * 3.25 / 0.6, 1e-14, 0.0);
        assert_eq!(g.utilisation, g.p_wait);
        assert!(mg1(1.0, 1.0, 2.0).unwrap_err().contains("unstable"));
        assert!(mg1(0.5, 1.0, 0.5)
            .unwrap_err()
            .contains("below the squared mean"));
        assert!(mg1(0.5, 1.0, f64::INFINITY).is_err());
        assert!(mg1(-0.5, 1.0, 2.0).is_err());
        assert_eq!(mg1(0.0, 1.0, 2.0).unwrap().mean_wait_s, 0.0);
    }

    /// M/M/c/K by brute force: the birth-death chain's unnormalised weights, summed directly.
    fn mmck_direct(c: u32, cap: u64, lambda: f64, m: f64) -> (f64, f64, f64) {
        let mu = 1.0 / m;
        let mut p = vec![1.0f64];
        for n in 1..=(u64::from(c) + cap) {
            let servers = n.min(u64::from(c)) as f64;
            p.push(p[p.len() - 1] * lambda / (servers * mu));
        }
        let total: f64 = p.iter().sum();
        let c = c as usize;
        let block = p[p.len() - 1] / total;
        let wait: f64 = p[c..p.len() - 1].iter().sum::<f64>() / total;
        let lq: f64 = p
            .iter()
            .enumerate()
            .skip(c)
            .map(|(n, x)| (n - c) as f64 * x)
            .sum::<f64>()
            / total;
        (block, wait, lq)
    }

    #[test]
    fn mmck_agrees_with_the_chain_erlang_b_and_erlang_c() {
        for &(c, cap, lambda, m) in &[
            (1u32, 1u64, 0.5, 1.0),
            (3, 5, 2.0, 1.0),
            (10, 20, 0.1, 100.0),
            (10, 20, 0.15, 100.0),
            (5, 40, 0.5, 10.0),
            (2, 3, 0.0, 1.0),
        ] {
            let got = mmck(c, cap, lambda, m).unwrap();
            let (block, wait, lq) = mmck_direct(c, cap, lambda, m);
            assert_close!(got.p_block, block, 1e-12, 1e-300);
            assert_close!(got.p_wait, wait, 1e-12, 1e-300);
            assert_close!(got.mean_queue_len, lq, 1e-12, 1e-300);
            if lambda > 0.0 {
                // Little's law over the admitted calls only.
                let w = lq / (lambda * (1.0 - block));
                assert_close!(got.mean_wait_admitted_s, w, 1e-12, 0.0);
            }
        }
        // No room: Erlang B, nobody waits.
        let g = mmck(10, 0, 0.05, 100.0).unwrap();
        assert_close!(g.p_block, erlang_b(10, 5.0).unwrap(), 1e-14, 0.0);
        assert_eq!((g.p_wait, g.mean_wait_admitted_s), (0.0, 0.0));
        // Much room below capacity: Erlang C.
        let g = mmck(10, 5_000, 0.08, 100.0).unwrap();
        let e = erlang_c(10, 0.08, 100.0).unwrap();
        assert_close!(g.p_wait, e.p_wait, 1e-12, 0.0);
        assert_close!(g.mean_wait_admitted_s, e.mean_wait_s, 1e-12, 0.0);
        // Overloaded with a large room: no overflow, nearly every state is the full one.
        let g = mmck(4, 1_000_000, 2.0, 10.0).unwrap();
        assert!(
            g.p_block.is_finite() && (g.p_block - 0.8).abs() < 1e-9,
            "{g:?}"
        );
        // So overloaded that λ (1 - p_block) would be 0: the room is always full, so an
        // admitted call waits for the K calls ahead of it, K / (c μ) = 1000 s.
        let g = mmck(1, 1000, 1e17, 1.0).unwrap();
        assert_close!(g.mean_wait_admitted_s, 1000.0, 1e-9, 0.0);
        assert!(mmck(4, 20_000_000, 2.0, 10.0).is_err());
        assert!(mmck(0, 2, 2.0, 10.0).is_err());
    }

    #[test]
    fn erlang_a_fixed_limits_and_the_one_channel_formula() {
        // No patience at all: a loss system, Erlang B.
        for &(c, lambda, m) in &[(1u32, 0.5, 1.0), (10, 0.09, 100.0), (50, 0.5, 100.0)] {
            let g = erlang_a_fixed(c, lambda, m, 0.0).unwrap();
            let b = erlang_b(u64::from(c), lambda * m).unwrap();
            assert_close!(g.p_abandon, b, 1e-12, 0.0);
            assert_close!(g.p_wait, b, 1e-12, 0.0);
            assert_eq!(g.mean_wait_all_s, 0.0);
        }
        // Patience far beyond any wait, below capacity: Erlang C.
        for &(c, lambda, m) in &[(1u32, 0.5, 1.0), (10, 0.08, 100.0)] {
            let g = erlang_a_fixed(c, lambda, m, 1e5).unwrap();
            let e = erlang_c(c, lambda, m).unwrap();
            assert_close!(g.p_wait, e.p_wait, 1e-12, 0.0);
            assert!(g.p_abandon < 1e-12, "{g:?}");
            assert_close!(g.mean_wait_all_s, e.mean_wait_s, 1e-11, 0.0);
        }
        // One channel: P(abandon) = (1-ρ) ρ E / (1 - ρ² E), E = e^{(λ-μ) τ}, on both sides of
        // ρ = 1 and across the series/closed-form boundary of (λ - μ) τ = ±0.5.
        for &(lambda, tau) in &[
            (0.5, 3.0),
            (0.8, 1.0),
            (0.9, 4.9),
            (0.9, 5.1),
            (1.5, 0.3),
            (2.0, 40.0),
        ] {
            let rho: f64 = lambda;
            let e = ((lambda - 1.0) * tau).exp();
            let want = (1.0 - rho) * rho * e / (1.0 - rho * rho * e);
            let g = erlang_a_fixed(1, lambda, 1.0, tau).unwrap();
            assert_close!(g.p_abandon, want, 1e-9, 1e-300);
        }
        // ρ = 1 exactly: the limit (ρ E → 1): P(abandon) = 1 / (2 + τ μ); and next to it, where
        // the one-channel formula itself cancels, still that limit.
        let g = erlang_a_fixed(1, 1.0, 1.0, 3.0).unwrap();
        assert_close!(g.p_abandon, 1.0 / 5.0, 1e-12, 0.0);
        let g = erlang_a_fixed(1, 1.0 - 1e-9, 1.0, 2.0).unwrap();
        assert_close!(g.p_abandon, 1.0 / 4.0, 1e-8, 0.0);
        // Heavy overload with a long patience: no overflow; the channels carry c μ, the rest
        // abandon: P(abandon) = 1 - c μ / λ.
        let g = erlang_a_fixed(4, 100.0, 10.0, 1e4).unwrap();
        assert_close!(g.p_abandon, 1.0 - 0.4 / 100.0, 1e-12, 0.0);
        assert!(g.mean_wait_all_s.is_finite() && g.mean_wait_served_s <= 1e4);
        assert!(erlang_a_fixed(0, 1.0, 1.0, 1.0).is_err());
        assert!(erlang_a_fixed(1, 1.0, 1.0, -1.0).is_err());
        assert!(erlang_a_fixed(1, 1.0, 1.0, f64::NAN).is_err());
    }

    #[test]
    fn fewest_channels_for_a_fixed_patience_is_the_first_that_meets() {
        for &(lambda, m, tau, target) in &[
            (0.09, 100.0, 20.0, 0.05),
            (2.0, 180.0, 30.0, 0.01),
            (0.5, 1.0, 0.0, 0.2),
        ] {
            let c = min_channels_for_abandon_fixed(lambda, m, tau, target).unwrap();
            assert!(erlang_a_fixed(c, lambda, m, tau).unwrap().p_abandon <= target);
            if c > 1 {
                assert!(
                    erlang_a_fixed(c - 1, lambda, m, tau).unwrap().p_abandon > target,
                    "{c}"
                );
            }
        }
        // Patience 0 is Erlang B's question.
        assert_eq!(
            min_channels_for_abandon_fixed(0.05, 100.0, 0.0, 0.01).unwrap() as u64,
            min_channels_for_blocking(5.0, 0.01).unwrap()
        );
    }

    #[test]
    fn md1_high_load_and_edge_cases() {
        // ρ = 0.999: monotone CDF reaching 1 far out.
        let mut prev = 0.0;
        let mut dist = Md1Dist::new(0.999, 1.0);
        for k in 0..60 {
            let f = dist.cdf(k as f64 * 500.0).unwrap();
            assert!(f >= prev - 1e-15 && f <= 1.0);
            prev = f;
        }
        assert!(prev > 1.0 - 1e-9);
        assert_eq!(md1_wait_cdf(0.0, 5.0, 3.0).unwrap(), 1.0);
        assert_eq!(md1_wait_cdf(2.0, 5.0, 0.0).unwrap(), 0.6);
        assert!(md1(5.0, 5.0).unwrap_err().contains("unstable"));
        assert!(md1_wait_cdf(1.0, 2.0, -1.0).is_err());
        assert!(md1_wait_percentile(1.0, 2.0, 1.0).is_err());
        assert!(md1_wait_percentile(1.0, 2.0, 0.0).is_err());
        assert!(min_dial_rate_for_percentile(0.0, 0.9, 1.0).is_err());
        assert_close!(
            md1_p_wait_gt(0.5, 1.0, 0.5).unwrap(),
            1.0 - 0.5 * 0.25f64.exp(),
            1e-14,
            0.0
        );
    }

    #[test]
    fn md1_percentile_inverts_cdf() {
        for &(lambda, rate) in &[(0.5, 1.0), (9.0, 10.0), (0.99, 1.0)] {
            for &q in &[0.3, 0.5, 0.9, 0.95, 0.99, 0.999_999] {
                let t = md1_wait_percentile(lambda, rate, q).unwrap();
                if t == 0.0 {
                    assert!(md1_wait_cdf(lambda, rate, 0.0).unwrap() >= q);
                } else {
                    assert!(md1_wait_cdf(lambda, rate, t).unwrap() >= q);
                    assert!(md1_wait_cdf(lambda, rate, t * (1.0 - 1e-12)).unwrap() < q + 1e-12);
                }
            }
        }
        // Closed form below D: q = (1-ρ) e^{λt}.
        let t = md1_wait_percentile(0.5, 1.0, 0.6).unwrap();
        assert_close!(t, (0.6f64 / 0.5).ln() / 0.5, 1e-12, 0.0);
    }

    #[test]
    fn min_dial_rate_is_minimal() {
        for &(lambda, q, t) in &[
            (8.0, 0.95, 0.5),
            (1.0, 0.99, 10.0),
            (30.0, 0.5, 0.01),
            (5.0, 0.9, 0.0),
        ] {
            let r = min_dial_rate_for_percentile(lambda, q, t).unwrap();
            assert!(r > lambda);
            assert!(md1_wait_cdf(lambda, r, t).unwrap() >= q);
            let slower = r * (1.0 - 1e-8);
            assert!(
                md1_wait_cdf(lambda, slower, t).unwrap() < q,
                "λ={lambda} q={q} t={t}"
            );
            assert!(md1_wait_percentile(lambda, r, q).unwrap() <= t * (1.0 + 1e-12) + 1e-15);
        }
        assert_close!(
            min_dial_rate_for_percentile(5.0, 0.9, 0.0).unwrap(),
            50.0,
            1e-14,
            0.0
        );
    }
}
