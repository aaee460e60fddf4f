//! Pure rate limiters, time in, decision out; no I/O, no clock, knows nothing of calls.
//!
//! Every limiter answers one question, "when could the next unit go?", and records one fact,
//! "a unit went at `now`". The simulator owns the clock and the queues; keeping those out of
//! here is what makes the limiters exact, deterministic and testable in isolation.
//!
//! All arithmetic is integer. Token buckets count their level in fixed-point units where one
//! token is `rate.per_ns` units and each nanosecond adds `rate.count` units, so refill is exact
//! for any rational rate; only the *reported* wait is rounded (up, to a whole nanosecond), never
//! the stored level, so rounding cannot accumulate into drift. GCRA works in the same scale
//! (time multiplied by `rate.count`), which is why the two make identical decisions.
//!
//! ## Sub-nanosecond credit
//!
//! A token usually completes between two whole nanoseconds, and the unit waiting for it can only
//! be admitted at the next whole one. With burst 1 the bucket is then already full, so a plain
//! "clamp to burst, then take a token" would throw away the fraction of a nanosecond's refill
//! that fell after the token completed, and every admission would push the schedule back by up
//! to 1 ns: at 7/s that is 3.6 us an hour, enough to lose the unit due exactly on the hour.
//!
//! So a unit admitted within 1 ns of its token completing is taken at the exact (rational)
//! instant the token completed. The resulting "virtual" admission times form an exact
//! continuous-time token-bucket schedule; real times lag them by less than 1 ns, and saturated
//! demand passes exactly burst + floor(r * h) units in [0, h]. A unit arriving at a bucket that
//! has been full for a whole nanosecond or more is taken at `now` as usual, so after an idle
//! spell the next unit still waits the full interval, rounded up. With a whole-ns interval
//! (count 1 in the reduced rate) virtual and real times coincide.
//!
//! Time must not run backwards between calls on one limiter (asserted): a limiter's state
//! describes the past up to its last update, and answering for an earlier instant would be wrong.

use std::collections::VecDeque;

use crate::time::{Rate, SimDuration, SimTime};

#[derive(Clone, Debug, PartialEq)]
pub enum LimiterSpec {
    /// No rate limit: everything is admitted at once.
    Unlimited,
    /// Token bucket (RFC 2697 style): tokens refill continuously at `rate` up to `burst`; starts full.
    ///
    /// A zero rate or zero burst admits nothing, ever: the burst is headroom for a flowing rate,
    /// not a free allowance for a blocked one (and it keeps the bucket equivalent to GCRA, for
    /// which a zero rate has no emission interval).
    TokenBucket { rate: Rate, burst: u64 },
    /// GCRA (virtual scheduling, as in the `governor` crate): emission interval T = 1/rate,
    /// tolerance tau = (burst - 1) * T; starts able to pass `burst` back to back.
    ///
    /// Decisions are identical to `TokenBucket` with the same parameters (also after
    /// `reconfigure`); zero rate or zero burst admits nothing.
    Gcra { rate: Rate, burst: u64 },
    /// Fixed window: at most `limit` admissions per aligned window [k*W, (k+1)*W) of clock time.
    /// `window` must be non-zero.
    FixedWindow { limit: u64, window: SimDuration },
    /// Rolling (sliding-log) window: at most `limit` admissions in any half-open interval (t - W, t].
    /// `window` must be non-zero.
    RollingWindow { limit: u64, window: SimDuration },
}

/// A rate limiter built from a [`LimiterSpec`], carrying the state the spec's algorithm needs.
#[derive(Clone, Debug)]
pub struct Limiter {
    spec: LimiterSpec,
    state: State,
    /// Latest instant passed to `new`, `admit` or `reconfigure`; queries must not precede it.
    last_update: SimTime,
}

#[derive(Clone, Debug)]
enum State {
    Unlimited,
    Bucket(TokenBucket),
    Gcra(Gcra),
    Fixed(FixedWindow),
    Rolling(RollingWindow),
}

impl Limiter {
    pub fn new(spec: &LimiterSpec, now: SimTime) -> Limiter {
        validate(spec);
        let state = match *spec {
            LimiterSpec::Unlimited => State::Unlimited,
            LimiterSpec::TokenBucket { rate, burst } => {
                State::Bucket(TokenBucket::full(rate, burst, now))
            }
            LimiterSpec::Gcra { rate, burst } => State::Gcra(Gcra::full(rate, burst, now)),
            LimiterSpec::FixedWindow { limit, window } => {
                State::Fixed(FixedWindow::empty(limit, window.as_ns(), now))
            }
            LimiterSpec::RollingWindow { limit, window } => {
                State::Rolling(RollingWindow::empty(limit, window.as_ns()))
            }
        };
        Limiter {
            spec: spec.clone(),
            state,
            last_update: now,
        }
    }

    pub fn spec(&self) -> &LimiterSpec {
        &self.spec
    }

    /// Earliest instant >= now at which one unit could be admitted; `now` if it can be admitted now.
    /// Returns SimTime::MAX if it can never be admitted (zero rate or zero limit).
    pub fn next_admit(&self, now: SimTime) -> SimTime {
        self.check_not_before_last_update(now);
        let t = match &self.state {
            State::Unlimited => now,
            State::Bucket(b) => b.next_admit(now),
            State::Gcra(g) => g.next_admit(now),
            State::Fixed(f) => f.next_admit(now),
            State::Rolling(r) => r.next_admit(now),
        };
        debug_assert!(t >= now);
        t
    }

    /// Admits one unit at `now`. Precondition: next_admit(now) == now (asserted in release too,
    /// because admitting early would silently break the carrier's limit the simulation models).
    pub fn admit(&mut self, now: SimTime) {
        let next = self.next_admit(now);
        assert!(
            !self.admits_nothing(),
            "limiter admit at {now:?} but {:?} admits nothing",
            self.spec
        );
        assert!(
            next == now,
            "limiter admit at {now:?} but the next admission is allowed at {next:?} ({:?})",
            self.spec
        );
        match &mut self.state {
            State::Unlimited => {}
            State::Bucket(b) => b.admit(now),
            State::Gcra(g) => g.admit(now),
            State::Fixed(f) => f.admit(now),
            State::Rolling(r) => r.admit(now),
        }
        self.last_update = now;
    }

    /// Convenience: admit if possible now, returning Ok(()) or Err(next_admit time).
    pub fn try_admit(&mut self, now: SimTime) -> Result<(), SimTime> {
        let next = self.next_admit(now);
        // At now == SimTime::MAX "never" and "now" look alike; only the spec can tell them apart.
        if next == now && !self.admits_nothing() {
            self.admit(now);
            Ok(())
        } else {
            Err(next)
        }
    }

    /// Change parameters mid-run (e.g. the carrier raises the limit 50% at 17:30), carrying state over.
    ///
    /// The rule throughout: admissions already made keep counting against the caller, and the
    /// change never hands out capacity the new spec would not have had.
    ///
    /// * Token bucket and GCRA (either to either; they are one algorithm in two representations):
    ///   the *level* at `now` is kept in tokens, converted exactly to the new rate's units
    ///   (rounding any sub-unit remainder down), then clamped to the new burst. So raising the
    ///   burst does not fill the bucket (the new headroom fills at the new rate), lowering it
    ///   clamps, and changing the rate changes only how fast the remainder refills. GCRA's
    ///   theoretical arrival time is recomputed from that level, which keeps GCRA and the token
    ///   bucket in lockstep. The level is taken clamped at `now`, so a sub-ns credit pending at
    ///   that very nanosecond (module docs) is not carried over; that can delay one burst-1 unit
    ///   by under 1 ns and affects both representations alike.
    /// * Fixed window to fixed window: admissions counted in the window containing `now` stay
    ///   counted in the new window containing `now` (even if the new length moves the boundary,
    ///   since we do not know when within the old window they happened). A count above a lowered
    ///   limit blocks until the next boundary.
    /// * Rolling window to rolling window: the log is kept. Entries older than the *old* window
    ///   were already forgotten, so lengthening the window cannot recall them. After lowering the
    ///   limit the log may briefly hold more than `limit` entries, until they expire.
    /// * Any other change of kind starts from the new kind's initial state (full bucket, empty
    ///   window) and then charges it with the admissions the old state still held against the
    ///   caller: a bucket's deficit (`burst` minus whole tokens held), a fixed window's count
    ///   in its current window, a rolling log's live entries. A bucket loses that many tokens;
    ///   a fixed window counts them in its current window; a rolling log records them at `now`
    ///   (conservatively: at most `limit` of them) unless they come from another log with their
    ///   true times. From `Unlimited` nothing is charged (it keeps no history). A bucket's
    ///   deficit includes headroom added by an earlier burst increase and not yet refilled, so
    ///   it can overstate real admissions; it errs towards the carrier's limit.
    ///
    /// Reconfiguring to the spec already in force is an exact no-op.
    pub fn reconfigure(&mut self, spec: &LimiterSpec, now: SimTime) {
        validate(spec);
        self.check_not_before_last_update(now);
        if *spec == self.spec {
            self.last_update = now;
            return;
        }
        let old = std::mem::replace(&mut self.state, State::Unlimited);
        self.state = match (spec.clone(), old) {
            (LimiterSpec::Unlimited, _) => State::Unlimited,
            (LimiterSpec::TokenBucket { rate, burst }, old) => {
                let level = new_bucket_level(&old, rate, burst, now);
                State::Bucket(TokenBucket::with_level(rate, burst, level, now))
            }
            (LimiterSpec::Gcra { rate, burst }, old) => {
                let level = new_bucket_level(&old, rate, burst, now);
                State::Gcra(Gcra::with_level(rate, burst, level, now))
            }
            (LimiterSpec::FixedWindow { limit, window }, old) => {
                let window_ns = window.as_ns();
                let mut fixed = FixedWindow::empty(limit, window_ns, now);
                fixed.count = match &old {
                    State::Rolling(r) => {
                        let window_start_ns = now.as_ns() / window_ns * window_ns;
                        r.live(now).filter(|t| t.as_ns() >= window_start_ns).count() as u64
                    }
                    other => in_force(other, now),
                };
                State::Fixed(fixed)
            }
            (LimiterSpec::RollingWindow { limit, window }, old) => {
                let mut rolling = RollingWindow::empty(limit, window.as_ns());
                match old {
                    State::Rolling(r) => {
                        rolling.log = r.log;
                        rolling.prune(now);
                    }
                    other => {
                        let charged = in_force(&other, now).min(limit);
                        rolling.log.extend((0..charged).map(|_| now));
                    }
                }
                State::Rolling(rolling)
            }
        };
        self.spec = spec.clone();
        self.last_update = now;
    }

    fn admits_nothing(&self) -> bool {
        match self.spec {
            LimiterSpec::Unlimited => false,
            LimiterSpec::TokenBucket { rate, burst } | LimiterSpec::Gcra { rate, burst } => {
                rate.is_zero() || burst == 0
            }
            LimiterSpec::FixedWindow { limit, .. } | LimiterSpec::RollingWindow { limit, .. } => {
                limit == 0
            }
        }
    }

    fn check_not_before_last_update(&self, now: SimTime) {
        assert!(
            now >= self.last_update,
            "limiter queried at {now:?}, before its last update at {:?}: time ran backwards",
            self.last_update
        );
    }
}

/// Rejects specs no algorithm can give a meaning to; config validation should have caught them.
fn validate(spec: &LimiterSpec) {
    match spec {
        LimiterSpec::Unlimited => {}
        LimiterSpec::TokenBucket { rate, .. } | LimiterSpec::Gcra { rate, .. } => {
            assert!(rate.per_ns > 0, "limiter rate {rate:?} has a zero period");
        }
        LimiterSpec::FixedWindow { window, .. } | LimiterSpec::RollingWindow { window, .. } => {
            assert!(
                window.as_ns() > 0,
                "limiter window must be non-zero: {spec:?}"
            );
        }
    }
}

/// How many admissions `state` still holds against the caller at `now`, for charging a limiter
/// of a different kind on reconfiguration.
fn in_force(state: &State, now: SimTime) -> u64 {
    match state {
        State::Unlimited => 0,
        State::Bucket(b) => bucket_deficit_tokens(b.burst, b.rate, b.level_at(now)),
        State::Gcra(g) => bucket_deficit_tokens(g.burst, g.rate, g.level_at(now)),
        State::Fixed(f) => f.count_at(now),
        State::Rolling(r) => r.live(now).count() as u64,
    }
}

/// Tokens spent and not yet refilled: `burst` minus whole tokens held.
fn bucket_deficit_tokens(burst: u64, rate: Rate, level_units: u128) -> u64 {
    let whole_tokens = (level_units / rate.per_ns as u128) as u64;
    burst - whole_tokens
}

/// The level (in the new rate's units) a reconfigured bucket or GCRA starts with.
fn new_bucket_level(old: &State, rate: Rate, burst: u64, now: SimTime) -> u128 {
    let cap = cap_units(rate, burst);
    let carried = match old {
        State::Bucket(b) => Some(convert_level(b.level_at(now), b.rate, rate)),
        State::Gcra(g) => Some(convert_level(g.level_at(now), g.rate, rate)),
        State::Unlimited | State::Fixed(_) | State::Rolling(_) => None,
    };
    match carried {
        Some(level) => level.min(cap),
        None => {
            let charged = in_force(old, now).min(burst);
            (burst - charged) as u128 * rate.per_ns as u128
        }
    }
}

/// Re-expresses a level from `from` units (per_ns per token) in `to` units, rounding down so
/// a conversion never creates capacity. Split into whole tokens and remainder to stay in u128.
fn convert_level(level_units: u128, from: Rate, to: Rate) -> u128 {
    let from_per = from.per_ns as u128;
    let to_per = to.per_ns as u128;
    let whole_tokens = level_units / from_per;
    let remainder = level_units % from_per;
    whole_tokens * to_per + remainder * to_per / from_per
}

fn cap_units(rate: Rate, burst: u64) -> u128 {
    burst as u128 * rate.per_ns as u128
}

fn ns_to_time_saturating(ns: u128) -> SimTime {
    SimTime(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// Level in units: one token is `rate.per_ns` units; each ns adds `rate.count` units.
#[derive(Clone, Debug)]
struct TokenBucket {
    rate: Rate,
    burst: u64,
    level_units: u128,
    updated: SimTime,
}

impl TokenBucket {
    fn full(rate: Rate, burst: u64, now: SimTime) -> Self {
        Self::with_level(rate, burst, cap_units(rate, burst), now)
    }

    fn with_level(rate: Rate, burst: u64, level_units: u128, now: SimTime) -> Self {
        assert!(
            level_units <= cap_units(rate, burst),
            "bucket above its burst"
        );
        TokenBucket {
            rate,
            burst,
            level_units,
            updated: now,
        }
    }

    /// Level at `now` as if the bucket had no ceiling; only `admit` needs the difference.
    fn unclamped_level_at(&self, now: SimTime) -> u128 {
        let elapsed_ns = now.since(self.updated).as_ns() as u128;
        self.level_units
            .saturating_add(elapsed_ns * self.rate.count as u128)
    }

    fn level_at(&self, now: SimTime) -> u128 {
        self.unclamped_level_at(now)
            .min(cap_units(self.rate, self.burst))
    }

    fn next_admit(&self, now: SimTime) -> SimTime {
        if self.rate.count == 0 || self.burst == 0 {
            return SimTime::MAX;
        }
        let token = self.rate.per_ns as u128;
        let level = self.level_at(now);
        if level >= token {
            return now;
        }
        let wait_ns = (token - level).div_ceil(self.rate.count as u128);
        ns_to_time_saturating(now.as_ns() as u128 + wait_ns)
    }

    /// A token that completed less than 1 ns ago is taken at the instant it completed, not at
    /// `now`, so its sub-ns overflow is kept (see "Sub-nanosecond credit" in the module docs).
    fn admit(&mut self, now: SimTime) {
        let token = self.rate.per_ns as u128;
        let cap = cap_units(self.rate, self.burst);
        let raw = self.unclamped_level_at(now);
        assert!(raw >= token, "bucket admit without a token");
        let completed_within_last_ns = raw < token + self.rate.count as u128;
        self.level_units = if completed_within_last_ns {
            (raw - token).min(cap)
        } else {
            raw.min(cap) - token
        };
        assert!(self.level_units <= cap, "bucket above its burst");
        self.updated = now;
    }
}

/// Virtual scheduling in scaled time (ns * rate.count), where the emission interval is exactly
/// `rate.per_ns` and the tolerance `(burst - 1) * rate.per_ns`.
///
/// With a zero rate scaled time is always zero, so `tat_scaled` then simply holds the backlog,
/// which keeps the level frozen exactly as a zero-rate bucket's is.
#[derive(Clone, Debug)]
struct Gcra {
    rate: Rate,
    burst: u64,
    tat_scaled: u128,
}

impl Gcra {
    fn full(rate: Rate, burst: u64, now: SimTime) -> Self {
        Self::with_level(rate, burst, cap_units(rate, burst), now)
    }

    /// The GCRA state equivalent to a token bucket holding `level_units`: the backlog
    /// (TAT - now) is exactly the bucket's missing units.
    fn with_level(rate: Rate, burst: u64, level_units: u128, now: SimTime) -> Self {
        let cap = cap_units(rate, burst);
        assert!(level_units <= cap, "GCRA above its burst");
        Gcra {
            rate,
            burst,
            tat_scaled: scaled(now, rate).saturating_add(cap - level_units),
        }
    }

    fn level_at(&self, now: SimTime) -> u128 {
        let cap = cap_units(self.rate, self.burst);
        let backlog = self.tat_scaled.saturating_sub(scaled(now, self.rate));
        assert!(backlog <= cap, "GCRA backlog beyond its burst");
        cap - backlog
    }

    fn tolerance_scaled(&self) -> u128 {
        (self.burst as u128 - 1) * self.rate.per_ns as u128
    }

    fn next_admit(&self, now: SimTime) -> SimTime {
        if self.rate.count == 0 || self.burst == 0 {
            return SimTime::MAX;
        }
        let earliest_scaled = self.tat_scaled.saturating_sub(self.tolerance_scaled());
        if scaled(now, self.rate) >= earliest_scaled {
            return now;
        }
        ns_to_time_saturating(earliest_scaled.div_ceil(self.rate.count as u128))
    }

    /// Textbook GCRA sets TAT = max(TAT, now) + T. When the unit became conforming less than
    /// 1 ns ago it is instead taken at that exact instant ("Sub-nanosecond credit" in the module
    /// docs), giving TAT = max(TAT + T, now). The two differ only when the bucket filled within
    /// that last nanosecond, exactly where the token bucket keeps its sub-ns overflow.
    fn admit(&mut self, now: SimTime) {
        let now_scaled = scaled(now, self.rate);
        let emission = self.rate.per_ns as u128;
        let tolerance = self.tolerance_scaled();
        assert!(
            now_scaled.saturating_add(tolerance) >= self.tat_scaled,
            "GCRA admit of a non-conforming unit"
        );
        let conformed_within_last_ns = self.tat_scaled.saturating_add(self.rate.count as u128)
            > now_scaled.saturating_add(tolerance);
        self.tat_scaled = if conformed_within_last_ns {
            self.tat_scaled.saturating_add(emission).max(now_scaled)
        } else {
            self.tat_scaled.max(now_scaled).saturating_add(emission)
        };
    }
}

fn scaled(t: SimTime, rate: Rate) -> u128 {
    t.as_ns() as u128 * rate.count as u128
}

#[derive(Clone, Debug)]
struct FixedWindow {
    limit: u64,
    window_ns: u64,
    /// Which aligned window `count` belongs to (k in [k*W, (k+1)*W)).
    index: u64,
    count: u64,
}

impl FixedWindow {
    fn empty(limit: u64, window_ns: u64, now: SimTime) -> Self {
        FixedWindow {
            limit,
            window_ns,
            index: now.as_ns() / window_ns,
            count: 0,
        }
    }

    fn count_at(&self, now: SimTime) -> u64 {
        if now.as_ns() / self.window_ns == self.index {
            self.count
        } else {
            0
        }
    }

    fn next_admit(&self, now: SimTime) -> SimTime {
        if self.limit == 0 {
            return SimTime::MAX;
        }
        if self.count_at(now) < self.limit {
            return now;
        }
        let next_start = (self.index as u128 + 1) * self.window_ns as u128;
        ns_to_time_saturating(next_start)
    }

    fn admit(&mut self, now: SimTime) {
        let index = now.as_ns() / self.window_ns;
        if index != self.index {
            self.index = index;
            self.count = 0;
        }
        assert!(self.count < self.limit, "fixed window admit over its limit");
        self.count += 1;
    }
}

/// Admission times, oldest first; only entries that can still matter are kept, so the log
/// never holds more than `limit` entries after an admission.
#[derive(Clone, Debug)]
struct RollingWindow {
    limit: u64,
    window_ns: u64,
    log: VecDeque<SimTime>,
}

impl RollingWindow {
    fn empty(limit: u64, window_ns: u64) -> Self {
        RollingWindow {
            limit,
            window_ns,
            log: VecDeque::new(),
        }
    }

    /// An admission at `t` stops counting once `now - W >= t`: the window is (now - W, now].
    fn expired(&self, t: SimTime, now: SimTime) -> bool {
        t.as_ns() as u128 + self.window_ns as u128 <= now.as_ns() as u128
    }

    fn live(&self, now: SimTime) -> impl Iterator<Item = &SimTime> + '_ {
        self.log.iter().filter(move |&&t| !self.expired(t, now))
    }

    fn prune(&mut self, now: SimTime) {
        while let Some(&oldest) = self.log.front() {
            if !self.expired(oldest, now) {
                break;
            }
            self.log.pop_front();
        }
    }

    /// Work-conserving: when `limit` or more entries are logged, the next unit may go exactly
    /// when the oldest of the newest `limit` entries leaves the window (with a full log, the
    /// oldest entry + W); entries are in time order, so that is the binding one.
    fn next_admit(&self, now: SimTime) -> SimTime {
        if self.limit == 0 {
            return SimTime::MAX;
        }
        let logged = self.log.len() as u64;
        if logged < self.limit {
            return now;
        }
        let binding = self.log[(logged - self.limit) as usize];
        let free_at = binding.as_ns() as u128 + self.window_ns as u128;
        ns_to_time_saturating(free_at).max(now)
    }

    fn admit(&mut self, now: SimTime) {
        self.prune(now);
        assert!(
            (self.log.len() as u64) < self.limit,
            "rolling window admit over its limit"
        );
        self.log.push_back(now);
    }
}

/// Concurrent-channel pool: an optional limit on legs in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelPool {
    limit: Option<u64>,
    in_use: u64,
}

impl ChannelPool {
    pub fn new(limit: Option<u64>) -> Self {
        ChannelPool { limit, in_use: 0 }
    }

    /// `in_use < limit` (always true with no limit).
    pub fn available(&self) -> bool {
        self.limit.is_none_or(|limit| self.in_use < limit)
    }

    pub fn acquire(&mut self) {
        assert!(
            self.available(),
            "channel acquire with all {:?} channels in use",
            self.limit
        );
        self.in_use += 1;
    }

    pub fn release(&mut self) {
        assert!(self.in_use > 0, "channel release with no channel in use");
        self.in_use -= 1;
    }

    pub fn in_use(&self) -> u64 {
        self.in_use
    }

    /// Lowering below `in_use` is allowed: legs in progress are never cut, but no new acquire
    /// succeeds until enough have been released.
    pub fn set_limit(&mut self, limit: Option<u64>) {
        self.limit = limit;
    }

    pub fn limit(&self) -> Option<u64> {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{NS_PER_H, NS_PER_MS, NS_PER_S};
    use proptest::prelude::*;

    const HOUR: SimTime = SimTime(NS_PER_H);

    fn per_s(count: u64) -> Rate {
        Rate::new(count, NS_PER_S)
    }
    fn tb(rate: Rate, burst: u64) -> LimiterSpec {
        LimiterSpec::TokenBucket { rate, burst }
    }
    fn gcra(rate: Rate, burst: u64) -> LimiterSpec {
        LimiterSpec::Gcra { rate, burst }
    }
    fn fixed(limit: u64, window_ns: u64) -> LimiterSpec {
        LimiterSpec::FixedWindow {
            limit,
            window: SimDuration(window_ns),
        }
    }
    fn rolling(limit: u64, window_ns: u64) -> LimiterSpec {
        LimiterSpec::RollingWindow {
            limit,
            window: SimDuration(window_ns),
        }
    }
    fn t(ns: u64) -> SimTime {
        SimTime(ns)
    }

    /// Saturated demand: a unit is always waiting, so each goes at the next allowed instant.
    /// Returns every admission time before `until` (exclusive).
    fn saturated(lim: &mut Limiter, start: SimTime, until: SimTime) -> Vec<SimTime> {
        let mut admitted = Vec::new();
        let mut now = start;
        loop {
            now = lim.next_admit(now);
            if now >= until {
                return admitted;
            }
            lim.admit(now);
            admitted.push(now);
        }
    }

    /// FIFO waiting: each arrival is admitted at the first allowed instant at or after both its
    /// arrival and the previous admission. `arrivals` must be sorted.
    fn fifo(lim: &mut Limiter, arrivals: &[SimTime]) -> Vec<SimTime> {
        let mut now = SimTime::ZERO;
        arrivals
            .iter()
            .map(|&a| {
                now = lim.next_admit(now.max(a));
                lim.admit(now);
                now
            })
            .collect()
    }

    // ---- Unlimited -------------------------------------------------------------------------

    #[test]
    fn unlimited_admits_everything_at_once() {
        let mut lim = Limiter::new(&LimiterSpec::Unlimited, t(5));
        for _ in 0..10_000 {
            assert_eq!(lim.try_admit(t(5)), Ok(()));
        }
        assert_eq!(lim.next_admit(t(5)), t(5));
        assert_eq!(lim.spec(), &LimiterSpec::Unlimited);
    }

    // ---- Token bucket and GCRA -------------------------------------------------------------

    #[test]
    fn buckets_start_full_and_pass_exactly_burst_back_to_back() {
        for spec in [tb(per_s(10), 5), gcra(per_s(10), 5)] {
            let mut lim = Limiter::new(&spec, t(1_000));
            for _ in 0..5 {
                assert_eq!(lim.try_admit(t(1_000)), Ok(()), "{spec:?}");
            }
            assert_eq!(lim.try_admit(t(1_000)), Err(t(1_000 + 100 * NS_PER_MS)));
            assert_eq!(
                lim.next_admit(t(1_000 + 100 * NS_PER_MS - 1)),
                t(1_000 + 100 * NS_PER_MS)
            );
        }
    }

    #[test]
    fn bucket_refill_caps_at_burst() {
        for spec in [tb(per_s(10), 3), gcra(per_s(10), 3)] {
            let mut lim = Limiter::new(&spec, t(0));
            lim.admit(t(0));
            // A long idle period refills only up to the burst.
            let later = t(3_600 * NS_PER_S);
            let passed = (0..10).filter(|_| lim.try_admit(later).is_ok()).count();
            assert_eq!(passed, 3, "{spec:?}");
        }
    }

    /// The headline exactness property. Admissions under saturation are at 0 (x burst) and then
    /// at k/r for k = 1, 2, ...; with 3600 * r whole, the (3600 r)-th falls exactly on 3600 s.
    /// So the half-open hour [0, 3600 s) holds 3600 r + burst - 1 and the closed hour
    /// [0, 3600 s] holds 3600 r + burst: no conforming limiter can put 3600 r + burst into the
    /// half-open hour.
    #[test]
    fn saturated_hour_admits_rate_times_hour_plus_burst() {
        let rates = [
            (Rate::new(5, 2 * NS_PER_S), 9_000),   // 2.5/s
            (Rate::new(40_000, NS_PER_H), 40_000), // 40000/h: 90 ms
            (per_s(7), 25_200),                    // 142857142.857... ns
            (per_s(1), 3_600),
            (Rate::new(1, 90_000_000), 40_000), // 40000/h spelt reduced
        ];
        for (rate, per_hour) in rates {
            for burst in [1, 5, 20] {
                for spec in [tb(rate, burst), gcra(rate, burst)] {
                    let mut lim = Limiter::new(&spec, SimTime::ZERO);
                    let before_hour = saturated(&mut lim, SimTime::ZERO, HOUR);
                    assert_eq!(before_hour.len() as u64, per_hour + burst - 1, "{spec:?}");
                    // The next one goes exactly on the hour, closing [0, 3600 s].
                    assert_eq!(lim.next_admit(before_hour[before_hour.len() - 1]), HOUR);
                    let mut lim = Limiter::new(&spec, SimTime::ZERO);
                    let closed = saturated(&mut lim, SimTime::ZERO, t(NS_PER_H + 1));
                    assert_eq!(closed.len() as u64, per_hour + burst, "{spec:?}");
                }
            }
        }
    }

    /// Waits round up to whole ns, but the level does not: the k-th refill lands at exactly
    /// ceil(k / r), never drifting later as rounded waits would accumulate.
    #[test]
    fn rounding_up_waits_does_not_drift() {
        let rate = per_s(7);
        for spec in [tb(rate, 1), gcra(rate, 1)] {
            let mut lim = Limiter::new(&spec, SimTime::ZERO);
            let times = saturated(&mut lim, SimTime::ZERO, t(100 * NS_PER_S));
            assert_eq!(times.len(), 700);
            for (k, &at) in times.iter().enumerate() {
                assert_eq!(
                    at.as_ns(),
                    (k as u64 * NS_PER_S).div_ceil(7),
                    "{spec:?} k={k}"
                );
            }
        }
    }

    /// Interval 1.5 ns: saturated units go at ceil(1.5 k) with no drift, while a unit after an
    /// idle spell still makes the next wait the full interval, rounded up.
    #[test]
    fn fractional_ns_interval_credits_the_token_completion_instant() {
        let rate = Rate::new(2, 3);
        for spec in [tb(rate, 1), gcra(rate, 1)] {
            let mut lim = Limiter::new(&spec, SimTime::ZERO);
            let got: Vec<u64> = saturated(&mut lim, SimTime::ZERO, t(12))
                .iter()
                .map(|x| x.as_ns())
                .collect();
            assert_eq!(got, [0, 2, 3, 5, 6, 8, 9, 11], "{spec:?}");
            lim.admit(t(100));
            assert_eq!(lim.next_admit(t(100)), t(102), "{spec:?}");
            lim.admit(t(102));
            assert_eq!(lim.next_admit(t(102)), t(103), "{spec:?}");
        }
    }

    #[test]
    fn token_bucket_burst_one_is_exact_lindley_at_integer_interval() {
        // 20/s: emission interval exactly 50 ms.
        let interval_ns = 50 * NS_PER_MS;
        let arrivals: Vec<SimTime> = [0, 1, 2, 3, 170, 171, 400, 401, 402, 403, 404, 650]
            .iter()
            .map(|&ms| t(ms * NS_PER_MS))
            .collect();
        let mut lim = Limiter::new(&tb(per_s(20), 1), SimTime::ZERO);
        let admitted = fifo(&mut lim, &arrivals);
        let mut prev: Option<u64> = None;
        for (a, got) in arrivals.iter().zip(&admitted) {
            let want = match prev {
                None => a.as_ns(),
                Some(p) => a.as_ns().max(p + interval_ns),
            };
            assert_eq!(got.as_ns(), want);
            prev = Some(want);
        }
        let ms: Vec<u64> = admitted.iter().map(|x| x.as_ns() / NS_PER_MS).collect();
        assert_eq!(
            ms,
            [0, 50, 100, 150, 200, 250, 400, 450, 500, 550, 600, 650]
        );
    }

    #[test]
    fn zero_rate_or_zero_burst_never_admits() {
        for spec in [
            tb(Rate::new(0, NS_PER_S), 10),
            gcra(Rate::new(0, NS_PER_S), 10),
            tb(per_s(10), 0),
            gcra(per_s(10), 0),
            fixed(0, NS_PER_S),
            rolling(0, NS_PER_S),
        ] {
            let mut lim = Limiter::new(&spec, t(0));
            assert_eq!(lim.next_admit(t(0)), SimTime::MAX, "{spec:?}");
            assert_eq!(lim.try_admit(t(NS_PER_H)), Err(SimTime::MAX), "{spec:?}");
            assert_eq!(lim.try_admit(SimTime::MAX), Err(SimTime::MAX), "{spec:?}");
        }
    }

    #[test]
    fn extreme_parameters_do_not_overflow() {
        let big = Rate::new(u64::MAX, 1);
        let slow = Rate::new(1, u64::MAX);
        let late = t(u64::MAX - 10);
        for spec in [
            tb(big, u64::MAX),
            gcra(big, u64::MAX),
            tb(slow, u64::MAX),
            gcra(slow, u64::MAX),
        ] {
            let mut lim = Limiter::new(&spec, t(0));
            for _ in 0..3 {
                lim.admit(t(0));
            }
            assert_eq!(lim.next_admit(late), late);
            lim.admit(late);
        }
        for spec in [tb(slow, 1), gcra(slow, 1)] {
            let mut lim = Limiter::new(&spec, late);
            lim.admit(late);
            assert_eq!(lim.next_admit(late), SimTime::MAX, "{spec:?}");
        }
        for spec in [fixed(1, u64::MAX), rolling(1, u64::MAX)] {
            let mut lim = Limiter::new(&spec, late);
            lim.admit(late);
            assert_eq!(lim.next_admit(late), SimTime::MAX, "{spec:?}");
        }
    }

    #[test]
    #[should_panic(expected = "next admission is allowed")]
    fn admitting_without_permission_panics() {
        let mut lim = Limiter::new(&tb(per_s(1), 1), t(0));
        lim.admit(t(0));
        lim.admit(t(1));
    }

    #[test]
    #[should_panic(expected = "time ran backwards")]
    fn querying_the_past_panics() {
        let mut lim = Limiter::new(&gcra(per_s(1), 2), t(0));
        lim.admit(t(10));
        lim.next_admit(t(9));
    }

    #[test]
    #[should_panic(expected = "window must be non-zero")]
    fn zero_window_is_rejected() {
        Limiter::new(&fixed(3, 0), t(0));
    }

    // ---- Fixed window ----------------------------------------------------------------------

    #[test]
    fn fixed_window_resets_at_aligned_boundaries() {
        let w = NS_PER_S;
        let mut lim = Limiter::new(&fixed(3, w), t(250 * NS_PER_MS));
        for _ in 0..3 {
            lim.admit(t(300 * NS_PER_MS));
        }
        // Blocked until the aligned boundary, not 1 s after the first admission.
        assert_eq!(lim.try_admit(t(400 * NS_PER_MS)), Err(t(w)));
        assert_eq!(lim.next_admit(t(w - 1)), t(w));
        assert_eq!(lim.try_admit(t(w)), Ok(()));
        // Skipping a whole window still resets the count.
        for _ in 0..3 {
            lim.admit(t(5 * w + 1));
        }
        assert_eq!(lim.next_admit(t(5 * w + 2)), t(6 * w));
    }

    /// The known weakness of fixed windows: `limit` at the end of window k and `limit` at the
    /// start of window k+1 puts 2 x limit inside a span shorter than one window.
    #[test]
    fn fixed_window_passes_twice_the_limit_across_a_boundary() {
        let (limit, w) = (10, NS_PER_S);
        let mut lim = Limiter::new(&fixed(limit, w), SimTime::ZERO);
        let mut admitted = Vec::new();
        for i in 0..limit {
            let at = t(w - 10 + i / 2);
            lim.admit(at);
            admitted.push(at);
        }
        assert!(lim.try_admit(t(w - 1)).is_err());
        for i in 0..limit {
            let at = t(w + i / 2);
            lim.admit(at);
            admitted.push(at);
        }
        let span_ns = admitted[admitted.len() - 1].as_ns() - admitted[0].as_ns();
        assert_eq!(admitted.len() as u64, 2 * limit);
        assert!(span_ns < w, "span {span_ns} ns");
    }

    // ---- Rolling window --------------------------------------------------------------------

    #[test]
    fn rolling_window_frees_exactly_window_after_oldest() {
        let w = NS_PER_S;
        let mut lim = Limiter::new(&rolling(3, w), SimTime::ZERO);
        lim.admit(t(100));
        lim.admit(t(200));
        lim.admit(t(300));
        assert_eq!(lim.next_admit(t(400)), t(100 + w));
        // Half-open (t - W, t]: at t = 100 + W the admission at 100 no longer counts.
        assert_eq!(lim.try_admit(t(99 + w)), Err(t(100 + w)));
        assert_eq!(lim.try_admit(t(100 + w)), Ok(()));
        assert_eq!(lim.next_admit(t(100 + w)), t(200 + w));
        // Unlike a fixed window there is no boundary to exploit.
        assert_eq!(lim.next_admit(t(2 * w - 1)), t(2 * w - 1));
    }

    #[test]
    fn rolling_window_memory_is_bounded_by_limit() {
        let mut lim = Limiter::new(&rolling(4, 1_000), SimTime::ZERO);
        let mut now = SimTime::ZERO;
        for _ in 0..1_000 {
            now = lim.next_admit(now);
            lim.admit(now);
            let State::Rolling(r) = &lim.state else {
                unreachable!()
            };
            assert!(r.log.len() <= 4);
        }
        // Sparse admissions drop what has expired.
        let State::Rolling(r) = &mut lim.state else {
            unreachable!()
        };
        r.admit(t(now.as_ns() + 10_000));
        assert_eq!(r.log.len(), 1);
    }

    // ---- reconfigure -----------------------------------------------------------------------

    #[test]
    fn raising_token_bucket_rate_shortens_spacing() {
        let mut lim = Limiter::new(&tb(per_s(10), 1), SimTime::ZERO);
        let before = saturated(&mut lim, SimTime::ZERO, t(NS_PER_S));
        assert_eq!(before.len(), 10);
        assert_eq!(before[1].as_ns() - before[0].as_ns(), 100 * NS_PER_MS);
        // At 1 s the next token is due (level 0 just refilled to 1); raise 10/s -> 20/s.
        lim.reconfigure(&tb(per_s(20), 1), t(NS_PER_S));
        let after = saturated(&mut lim, t(NS_PER_S), t(2 * NS_PER_S));
        assert_eq!(after.len(), 20);
        assert_eq!(after[0], t(NS_PER_S));
        assert!(after
            .windows(2)
            .all(|p| p[1].as_ns() - p[0].as_ns() == 50 * NS_PER_MS));
    }

    #[test]
    fn rate_change_keeps_partial_level_in_tokens() {
        // Half a token accumulated at 10/s is still half a token at 20/s: 25 ms more, not 50.
        for (from, to) in [
            (tb(per_s(10), 1), tb(per_s(20), 1)),
            (gcra(per_s(10), 1), gcra(per_s(20), 1)),
            (tb(per_s(10), 1), gcra(per_s(20), 1)),
        ] {
            let mut lim = Limiter::new(&from, SimTime::ZERO);
            lim.admit(SimTime::ZERO);
            lim.reconfigure(&to, t(50 * NS_PER_MS));
            assert_eq!(
                lim.next_admit(t(50 * NS_PER_MS)),
                t(75 * NS_PER_MS),
                "{to:?}"
            );
        }
    }

    #[test]
    fn lowering_burst_clamps_level_and_raising_does_not_fill() {
        for make in [tb as fn(Rate, u64) -> LimiterSpec, gcra] {
            let mut lim = Limiter::new(&make(per_s(1), 10), SimTime::ZERO);
            lim.admit(SimTime::ZERO); // level 9
            lim.reconfigure(&make(per_s(1), 3), t(1)); // clamped to 3
            let passed = (0..10).filter(|_| lim.try_admit(t(1)).is_ok()).count();
            assert_eq!(passed, 3);
            // Raising the burst again does not hand out the new headroom at once.
            lim.reconfigure(&make(per_s(1), 10), t(2));
            assert_eq!(lim.next_admit(t(2)), t(NS_PER_S + 1));
            // It refills at the rate, up to the new burst.
            let later = t(100 * NS_PER_S);
            let passed = (0..20).filter(|_| lim.try_admit(later).is_ok()).count();
            assert_eq!(passed, 10);
        }
    }

    #[test]
    fn reconfigure_to_the_same_spec_changes_nothing() {
        let specs = [
            LimiterSpec::Unlimited,
            tb(per_s(7), 3),
            gcra(per_s(7), 3),
            tb(per_s(7), 1),
            gcra(per_s(7), 1),
            fixed(4, 300 * NS_PER_MS),
            rolling(4, 300 * NS_PER_MS),
        ];
        for spec in specs {
            let arrivals: Vec<SimTime> = (0..40).map(|i| t(i * 37 * NS_PER_MS)).collect();
            let mut plain = Limiter::new(&spec, SimTime::ZERO);
            let mut poked = Limiter::new(&spec, SimTime::ZERO);
            let mut now_plain = SimTime::ZERO;
            let mut now_poked = SimTime::ZERO;
            for &a in &arrivals {
                now_plain = plain.next_admit(now_plain.max(a));
                plain.admit(now_plain);
                poked.reconfigure(&spec, now_poked.max(a));
                now_poked = poked.next_admit(now_poked.max(a));
                poked.reconfigure(&spec, now_poked);
                poked.admit(now_poked);
                assert_eq!(now_plain, now_poked, "{spec:?}");
            }
        }
    }

    #[test]
    fn fixed_window_reconfigure_keeps_current_window_count() {
        let w = NS_PER_S;
        let mut lim = Limiter::new(&fixed(5, w), SimTime::ZERO);
        for _ in 0..4 {
            lim.admit(t(10));
        }
        lim.reconfigure(&fixed(6, w), t(20));
        assert_eq!((0..5).filter(|_| lim.try_admit(t(30)).is_ok()).count(), 2);
        // Lowering below the count blocks until the next boundary.
        lim.reconfigure(&fixed(3, w), t(40));
        assert_eq!(lim.next_admit(t(40)), t(w));
        // A count from a window that has already ended is not carried.
        lim.reconfigure(&fixed(3, 2 * w), t(w + 5));
        assert_eq!(
            (0..5).filter(|_| lim.try_admit(t(w + 6)).is_ok()).count(),
            3
        );
    }

    #[test]
    fn rolling_window_reconfigure_keeps_log() {
        let w = NS_PER_S;
        let mut lim = Limiter::new(&rolling(5, w), SimTime::ZERO);
        for i in 0..5 {
            lim.admit(t(i * 100));
        }
        // Lower the limit: only when the newest 2 leave room may the next go.
        lim.reconfigure(&rolling(2, w), t(500));
        assert_eq!(lim.next_admit(t(500)), t(300 + w));
        // Raise it again: the earlier admissions still count.
        lim.reconfigure(&rolling(7, w), t(600));
        assert_eq!((0..5).filter(|_| lim.try_admit(t(700)).is_ok()).count(), 2);
        // Shorter window: entries expire sooner.
        lim.reconfigure(&rolling(7, 500), t(800));
        assert_eq!(lim.next_admit(t(800)), t(800));
        // Live now: 400, 700, 700 (0..=300 have left (300, 800]).
        assert_eq!((0..9).filter(|_| lim.try_admit(t(800)).is_ok()).count(), 4);
        assert_eq!(lim.next_admit(t(800)), t(900));
    }

    #[test]
    fn changing_kind_charges_admissions_still_in_force() {
        let w = NS_PER_S;
        // Bucket deficit 3 of burst 5 -> a fixed window of 4 has 1 left in its window.
        let mut lim = Limiter::new(&tb(per_s(1), 5), SimTime::ZERO);
        for _ in 0..3 {
            lim.admit(SimTime::ZERO);
        }
        lim.reconfigure(&fixed(4, w), t(10));
        assert_eq!((0..5).filter(|_| lim.try_admit(t(10)).is_ok()).count(), 1);
        assert_eq!(lim.next_admit(t(10)), t(w));

        // Fixed window count 4 -> bucket of burst 6 keeps 2 tokens.
        lim.reconfigure(&gcra(per_s(1), 6), t(20));
        assert_eq!((0..5).filter(|_| lim.try_admit(t(20)).is_ok()).count(), 2);
        assert_eq!(lim.next_admit(t(20)), t(20 + NS_PER_S));

        // Bucket (deficit 6, whole tokens only) -> rolling log charged at `now`, capped at limit.
        lim.reconfigure(&rolling(4, w), t(30));
        assert_eq!(lim.next_admit(t(30)), t(30 + w));

        // Rolling log with true times -> fixed window counts those in its current window.
        let mut lim = Limiter::new(&rolling(10, w), SimTime::ZERO);
        lim.admit(t(w - 100));
        lim.admit(t(w - 50));
        lim.admit(t(w + 10));
        lim.reconfigure(&fixed(2, w), t(w + 20));
        assert_eq!(
            (0..5).filter(|_| lim.try_admit(t(w + 30)).is_ok()).count(),
            1
        );

        // Rolling live entries -> bucket.
        let mut lim = Limiter::new(&rolling(10, w), SimTime::ZERO);
        for i in 0..4 {
            lim.admit(t(i));
        }
        lim.reconfigure(&tb(per_s(1), 5), t(w - 1));
        assert_eq!(
            (0..5).filter(|_| lim.try_admit(t(w - 1)).is_ok()).count(),
            1
        );

        // Fixed -> rolling: the window's count is charged at `now`.
        let mut lim = Limiter::new(&fixed(3, w), SimTime::ZERO);
        lim.admit(t(0));
        lim.admit(t(0));
        lim.reconfigure(&rolling(3, w), t(w - 10));
        assert_eq!(
            (0..5).filter(|_| lim.try_admit(t(w - 10)).is_ok()).count(),
            1
        );
        assert_eq!(lim.next_admit(t(w - 10)), t(2 * w - 10));

        // Unlimited keeps no history: the new limiter starts fresh, but never above its own burst.
        let mut lim = Limiter::new(&LimiterSpec::Unlimited, SimTime::ZERO);
        for _ in 0..100 {
            lim.admit(t(5));
        }
        lim.reconfigure(&tb(per_s(1), 3), t(5));
        assert_eq!((0..10).filter(|_| lim.try_admit(t(5)).is_ok()).count(), 3);
        assert_eq!(lim.spec(), &tb(per_s(1), 3));
        lim.reconfigure(&LimiterSpec::Unlimited, t(6));
        assert_eq!(lim.next_admit(t(6)), t(6));
    }

    // ---- ChannelPool -----------------------------------------------------------------------

    #[test]
    fn channel_pool_without_limit_is_always_available() {
        let mut pool = ChannelPool::new(None);
        for _ in 0..1_000 {
            assert!(pool.available());
            pool.acquire();
        }
        assert_eq!(pool.in_use(), 1_000);
        assert_eq!(pool.limit(), None);
    }

    #[test]
    fn channel_pool_enforces_limit_and_release_frees() {
        let mut pool = ChannelPool::new(Some(2));
        pool.acquire();
        pool.acquire();
        assert!(!pool.available());
        pool.release();
        assert!(pool.available());
        assert_eq!(pool.in_use(), 1);
    }

    #[test]
    fn channel_pool_lowering_below_in_use_blocks_until_drained() {
        let mut pool = ChannelPool::new(Some(5));
        for _ in 0..4 {
            pool.acquire();
        }
        pool.set_limit(Some(2));
        assert_eq!(pool.limit(), Some(2));
        assert_eq!(pool.in_use(), 4);
        assert!(!pool.available());
        pool.release();
        pool.release();
        assert!(!pool.available());
        pool.release();
        assert!(pool.available());
        pool.set_limit(None);
        assert!(pool.available());
        let mut zero = ChannelPool::new(Some(0));
        assert!(!zero.available());
        zero.set_limit(Some(1));
        zero.acquire();
    }

    #[test]
    #[should_panic(expected = "channel acquire")]
    fn channel_pool_acquire_when_full_panics() {
        let mut pool = ChannelPool::new(Some(1));
        pool.acquire();
        pool.acquire();
    }

    #[test]
    #[should_panic(expected = "channel release")]
    fn channel_pool_release_when_empty_panics() {
        ChannelPool::new(Some(1)).release();
    }

    // ---- Properties ------------------------------------------------------------------------

    fn any_rate() -> impl Strategy<Value = Rate> {
        prop_oneof![
            1 => Just(Rate::new(0, NS_PER_S)),
            10 => (1u64..1_000, 1u64..20_000_000_000).prop_map(|(c, p)| Rate::new(c, p)),
            3 => (1u64..100, 1u64..1_000).prop_map(|(c, p)| Rate::new(c, p)),
        ]
    }

    fn any_bucket_params() -> impl Strategy<Value = (Rate, u64)> {
        (any_rate(), prop_oneof![1 => Just(0u64), 10 => 1u64..20])
    }

    /// Sorted arrival times built from gaps, so bursts (gap 0) and idle spells both occur.
    fn arrivals(max_gap_ns: u64, max_len: usize) -> impl Strategy<Value = Vec<SimTime>> {
        prop::collection::vec(
            prop_oneof![1 => Just(0u64), 1 => 0..1_000u64, 3 => 0..max_gap_ns],
            1..max_len,
        )
        .prop_map(|gaps| {
            let mut now = 0u64;
            gaps.iter()
                .map(|g| {
                    now += g;
                    SimTime(now)
                })
                .collect()
        })
    }

    #[derive(Clone, Debug)]
    enum Event {
        Offer(u64),
        Reconfigure(u64, Rate, u64),
    }

    fn events() -> impl Strategy<Value = Vec<Event>> {
        prop::collection::vec(
            prop_oneof![
                12 => prop_oneof![1 => Just(0u64), 3 => 0..3_000_000_000u64].prop_map(Event::Offer),
                1 => (0..3_000_000_000u64, any_bucket_params())
                    .prop_map(|(gap, (rate, burst))| Event::Reconfigure(gap, rate, burst)),
            ],
            1..150,
        )
    }

    /// Closed-interval conformance: in any [a_i, a_j], at most burst + r (a_j - a_i) units.
    /// With a fractional-ns interval the first unit may be credited with an instant up to 1 ns
    /// before its real time (see the module docs), so the span then gets that nanosecond too,
    /// strictly.
    fn conforms_to_bucket(times: &[SimTime], rate: Rate, burst: u64) -> bool {
        let whole_ns_interval = rate.count == 1;
        (0..times.len()).all(|i| {
            (i..times.len()).all(|j| {
                let n = (j - i + 1) as u128;
                let span = (times[j].as_ns() - times[i].as_ns()) as u128;
                let excess = n.saturating_sub(burst as u128) * rate.per_ns as u128;
                if whole_ns_interval {
                    excess <= span * rate.count as u128
                } else {
                    excess < (span + 1) * rate.count as u128
                }
            })
        })
    }

    /// Most admissions in any (t - W, t]; the busiest such interval ends at an admission.
    fn busiest_half_open_window(times: &[SimTime], window_ns: u64) -> u64 {
        (0..times.len())
            .map(|i| {
                let end = times[i].as_ns() as u128;
                times[..=i]
                    .iter()
                    .filter(|h| h.as_ns() as u128 + window_ns as u128 > end)
                    .count() as u64
            })
            .max()
            .unwrap_or(0)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Token bucket and GCRA are one algorithm: same answers at every step, whether units
        /// are dropped when refused or queued FIFO, and across reconfigurations of either kind.
        #[test]
        fn token_bucket_and_gcra_decide_identically(
            (rate, burst) in any_bucket_params(),
            evs in events(),
            queue in any::<bool>(),
        ) {
            let mut a = Limiter::new(&tb(rate, burst), SimTime::ZERO);
            let mut b = Limiter::new(&gcra(rate, burst), SimTime::ZERO);
            let mut now = SimTime::ZERO;
            for (i, ev) in evs.iter().enumerate() {
                match *ev {
                    Event::Offer(gap) => {
                        now = t(now.as_ns() + gap);
                        let (na, nb) = (a.next_admit(now), b.next_admit(now));
                        prop_assert_eq!(na, nb);
                        if queue && na != SimTime::MAX {
                            now = na;
                        }
                        prop_assert_eq!(a.try_admit(now), b.try_admit(now));
                    }
                    Event::Reconfigure(gap, rate, burst) => {
                        now = t(now.as_ns() + gap);
                        // Cross the representations too, so either can be carried into the other.
                        let (sa, sb) = if i % 2 == 0 {
                            (tb(rate, burst), gcra(rate, burst))
                        } else {
                            (gcra(rate, burst), tb(rate, burst))
                        };
                        a.reconfigure(&sa, now);
                        b.reconfigure(&sb, now);
                    }
                }
            }
        }

        /// Burst-1 bucket with FIFO waiting is the Lindley recursion on the ns grid:
        /// admit_n = max(arrival_n, ceil(e_{n-1} + 1/r)), where e_n is the exact (rational)
        /// instant unit n is taken at: its token's completion if that is within 1 ns of admit_n
        /// (the sub-ns credit), else admit_n itself.
        #[test]
        fn burst_one_fifo_is_exact_lindley(
            count in 1u64..50,
            per_ns in 1u64..2_000_000_000,
            arr in arrivals(200_000_000, 120),
        ) {
            let rate = Rate::new(count, per_ns);
            for spec in [tb(rate, 1), gcra(rate, 1)] {
                let mut lim = Limiter::new(&spec, SimTime::ZERO);
                let got = fifo(&mut lim, &arr);
                let mut exact_scaled: Option<u128> = None;
                for (a, g) in arr.iter().zip(&got) {
                    let c = rate.count as u128;
                    let arrival_scaled = a.as_ns() as u128 * c;
                    let e = match exact_scaled {
                        None => arrival_scaled,
                        Some(p) => {
                            let token_done = p + rate.per_ns as u128;
                            if token_done.div_ceil(c) >= a.as_ns() as u128 {
                                token_done
                            } else {
                                arrival_scaled
                            }
                        }
                    };
                    exact_scaled = Some(e);
                    prop_assert_eq!(g.as_ns() as u128, e.div_ceil(c));
                }
            }
        }

        /// Bucket admissions never beat burst + r * span, and saturated demand achieves it
        /// to the nanosecond (work-conserving): by instant h, exactly burst + floor(h r) went.
        #[test]
        fn token_bucket_conforms_and_is_work_conserving(
            count in 1u64..50,
            per_ns in 1u64..2_000_000_000,
            burst in 1u64..8,
            arr in arrivals(300_000_000, 60),
            horizon_frac in 0u64..1_000,
        ) {
            let rate = Rate::new(count, per_ns);
            let mut lim = Limiter::new(&tb(rate, burst), SimTime::ZERO);
            let got = fifo(&mut lim, &arr);
            prop_assert!(conforms_to_bucket(&got, rate, burst));
            let horizon_ns = horizon_frac * 50 * rate.per_ns / rate.count / 1_000;
            let mut lim = Limiter::new(&tb(rate, burst), SimTime::ZERO);
            let sat = saturated(&mut lim, SimTime::ZERO, t(horizon_ns + 1));
            let refills = horizon_ns as u128 * rate.count as u128 / rate.per_ns as u128;
            prop_assert_eq!(sat.len() as u128, burst as u128 + refills);
        }

        /// No half-open interval (t - W, t] ever holds more than `limit` admissions, and the
        /// limiter refuses only when it must: next_admit is exactly when the limit-th most recent
        /// admission leaves the window (checked against the whole history, not the log).
        #[test]
        fn rolling_window_respects_limit_and_is_work_conserving(
            limit in 1u64..8,
            window_ns in 1u64..1_000_000_000,
            arr in arrivals(400_000_000, 150),
            queue in any::<bool>(),
        ) {
            let mut lim = Limiter::new(&rolling(limit, window_ns), SimTime::ZERO);
            let mut history: Vec<SimTime> = Vec::new();
            let mut now = SimTime::ZERO;
            for &a in &arr {
                now = now.max(a);
                let next = lim.next_admit(now);
                let in_window = |at: SimTime| history
                    .iter()
                    .filter(|h| h.as_ns() as u128 + window_ns as u128 > at.as_ns() as u128)
                    .count() as u64;
                let want = if in_window(now) < limit {
                    now
                } else {
                    let binding = history[history.len() - limit as usize];
                    t(binding.as_ns() + window_ns)
                };
                prop_assert_eq!(next, want);
                if queue {
                    now = next;
                }
                if lim.try_admit(now).is_ok() {
                    history.push(now);
                }
                let State::Rolling(r) = &lim.state else { unreachable!() };
                prop_assert!(r.log.len() as u64 <= limit);
            }
            prop_assert!(busiest_half_open_window(&history, window_ns) <= limit);
        }

        /// Saturated rolling window: exactly `limit` per window, with each admission exactly W
        /// after the one `limit` places before it.
        #[test]
        fn saturated_rolling_window_is_periodic(
            limit in 1u64..10,
            window_ns in 1u64..1_000_000,
            start in 0u64..1_000_000,
        ) {
            let mut lim = Limiter::new(&rolling(limit, window_ns), t(start));
            let until = t(start + 20 * window_ns);
            let got = saturated(&mut lim, t(start), until);
            prop_assert_eq!(got.len() as u64, 20 * limit);
            prop_assert_eq!(busiest_half_open_window(&got, window_ns), limit);
            for (i, g) in got.iter().enumerate() {
                let want = start + (i as u64 / limit) * window_ns;
                prop_assert_eq!(g.as_ns(), want);
            }
        }

        /// Fixed window: at most `limit` per aligned window, and a refusal always points at the
        /// next boundary.
        #[test]
        fn fixed_window_respects_limit_per_aligned_window(
            limit in 1u64..8,
            window_ns in 1u64..1_000_000_000,
            arr in arrivals(400_000_000, 150),
        ) {
            let mut lim = Limiter::new(&fixed(limit, window_ns), SimTime::ZERO);
            let mut per_window: std::collections::BTreeMap<u64, u64> = Default::default();
            for &a in &arr {
                match lim.try_admit(a) {
                    Ok(()) => *per_window.entry(a.as_ns() / window_ns).or_default() += 1,
                    Err(next) => {
                        prop_assert_eq!(per_window[&(a.as_ns() / window_ns)], limit);
                        prop_assert_eq!(next.as_ns(), (a.as_ns() / window_ns + 1) * window_ns);
                    }
                }
            }
            prop_assert!(per_window.values().all(|&n| n <= limit));
        }
    }
}
