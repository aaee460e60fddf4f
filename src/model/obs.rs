//! What a replication observes: outcome counters, delay histograms (hdrhistogram), and the
//! streaming timeline. Memory is bounded by the number of timeline intervals, never by calls:
//! events arrive in time order, so one interval's histogram is open at a time.

use crate::time::{SimDuration, SimTime};
use hdrhistogram::Histogram;

/// Defines `Counts` from one list: each counter's name (its CSV column), unit-free meaning (the
/// metric registry's description) and, through the generated `fields`, `add` and `DOCS`, the
/// CSV order. Adding a counter touches this list only.
macro_rules! counts {
    ($($(#[doc = $doc:literal])+ $f:ident,)*) => {
        /// Counters for one replication (or one timeline interval or window). Field names are
        /// CSV column names.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct Counts {
            $($(#[doc = $doc])+ pub $f: u64,)*
        }
        impl Counts {
            /// (column name, description) of every counter, in the CSV order.
            pub const DOCS: &'static [(&'static str, &'static str)] =
                &[$((stringify!($f), concat!($($doc),+)),)*];
            /// (column name, value) for every counter, in a fixed order (the CSV contract).
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($f), self.$f)),*]
            }
            pub fn add(&mut self, o: &Counts) {
                $(self.$f += o.$f;)*
            }
        }
    };
}

counts! {
    /// Calls or requests offered (first attempts and redials).
    offered,
    /// Offered calls that were first attempts.
    first_attempts,
    /// Offered calls that were redials of an abandoned or failed call.
    redials,
    /// Calls answered by a destination.
    connected,
    /// API requests completed through every stage.
    served,
    /// Calls abandoned before any leg rang.
    abandoned_waiting,
    /// Calls abandoned while a leg rang.
    abandoned_ringing,
    /// Calls whose legs all rang out unanswered.
    no_answer,
    /// Calls or requests that failed (carrier or platform).
    failed,
    /// Of `failed`, refused by a stage (sessions, pods, tenant limit) or the carrier (rejected,
    /// queue full, queue timeout).
    failed_refused,
    /// Of `failed`, a dependency error or pod crash.
    failed_error,
    /// Of `failed`, a blocked account (403).
    failed_blocked,
    /// Of `failed`, a client timeout (504).
    failed_timeout,
    /// Client retries (attempts after the first) of calls and requests.
    retries,
    /// Calls sent by backup routing (one leg to the primary number; untracked, unrecorded).
    backup_routed,
    /// Backup-routed calls that connected.
    backup_connected,
    /// Calls still in flight at the drain limit.
    unfinished,
    /// Legs requested from carriers.
    legs_requested,
    /// Legs that had to wait in a carrier queue (did not dial on request).
    legs_queued,
    /// Legs dialled.
    legs_dialed,
    /// Legs rejected by a carrier over its limit.
    legs_rejected,
    /// Legs refused because the carrier queue was full.
    legs_queue_full,
    /// Legs that waited longer than the carrier queue's maximum wait.
    legs_queue_timeout,
    /// Queued legs withdrawn because their call ended.
    legs_cancelled_queued,
    /// Ringing legs hung up because another leg answered or the caller left.
    legs_cancelled_ringing,
    /// Of `legs_dialed`, legs whose call no longer needed them (answered elsewhere or
    /// abandoned) while they were queued, dialled anyway by a carrier that cannot withdraw
    /// them (`cancel_queued = "dial_and_hang_up"`) and hung up at once: wasted dials.
    legs_dialed_wasted,
    /// Retries of legs a carrier rejected (attempts after the first; carrier `retries`).
    legs_retried,
    /// Legs that failed because their last allowed attempt was rejected.
    legs_gave_up,
    /// Rejected legs dropped while waiting for their retry because their call ended.
    legs_cancelled_backoff,
}

impl Counts {
    pub fn abandoned(&self) -> u64 {
        self.abandoned_waiting + self.abandoned_ringing
    }
    /// Calls that ended in exactly one outcome (or are counted unfinished).
    pub fn outcomes(&self) -> u64 {
        self.connected
            + self.served
            + self.abandoned()
            + self.no_answer
            + self.failed
            + self.unfinished
    }
}

/// A delay histogram in microseconds, 3 significant digits, up to 48 hours, plus an exact sum.
#[derive(Clone, Debug)]
pub struct DelayHist {
    pub hist: Histogram<u64>,
    pub sum_ns: u128,
    /// Values below 1 us (most dial delays on a healthy platform) counted here and added to
    /// `hist` in one step by `settle`: the same histogram, without a record per call.
    zeros: u64,
}

pub const HIST_MAX_US: u64 = 48 * 3_600 * 1_000_000;

impl Default for DelayHist {
    fn default() -> Self {
        Self::new(3)
    }
}

impl DelayHist {
    pub fn new(sigfig: u8) -> Self {
        DelayHist {
            hist: Histogram::new_with_bounds(1, HIST_MAX_US, sigfig)
                .expect("valid histogram bounds"),
            sum_ns: 0,
            zeros: 0,
        }
    }
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        self.sum_ns += d.as_ns() as u128;
        if d.as_ns() < 1_000 {
            self.zeros += 1;
            return;
        }
        self.hist
            .saturating_record((d.as_ns() / 1_000).min(HIST_MAX_US));
    }
    /// Adds the counted zeros to the histogram; call before reading quantiles.
    pub fn settle(&mut self) {
        if self.zeros > 0 {
            self.hist.saturating_record_n(0, self.zeros);
            self.zeros = 0;
        }
    }
    pub fn count(&self) -> u64 {
        self.hist.len() + self.zeros
    }
    fn settled(&self) {
        assert_eq!(self.zeros, 0, "DelayHist read before settle()");
    }
    pub fn mean_ms(&self) -> f64 {
        if self.count() == 0 {
            return f64::NAN;
        }
        self.sum_ns as f64 / self.count() as f64 / 1e6
    }
    /// Quantile in milliseconds (NaN when nothing was recorded).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.count() == 0 {
            return f64::NAN;
        }
        self.settled();
        self.hist.value_at_quantile(q) as f64 / 1e3
    }
    pub fn max_ms(&self) -> f64 {
        if self.count() == 0 {
            return f64::NAN;
        }
        self.settled();
        self.hist.max() as f64 / 1e3
    }
    pub fn reset(&mut self) {
        self.hist.reset();
        self.sum_ns = 0;
        self.zeros = 0;
    }
}

/// A running mean of durations (exact sum), where no percentile is reported.
#[derive(Clone, Debug, Default)]
pub struct MeanAcc {
    pub sum_ns: u128,
    pub n: u64,
}

impl MeanAcc {
    pub fn record(&mut self, d: SimDuration) {
        self.sum_ns += d.as_ns() as u128;
        self.n += 1;
    }
    pub fn mean_ms(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.sum_ns as f64 / self.n as f64 / 1e6
        }
    }
}

/// One timeline interval of one replication.
#[derive(Clone, Debug)]
pub struct TimelineRow {
    pub start: SimTime,
    pub counts: Counts,
    pub dial_delay_ms_p50: f64,
    pub dial_delay_ms_p90: f64,
    pub dial_delay_ms_p95: f64,
    pub dial_delay_ms_p99: f64,
    pub dial_delay_ms_max: f64,
    pub pdd_ms_p50: f64,
    pub pdd_ms_p90: f64,
    pub pdd_ms_p95: f64,
    pub pdd_ms_p99: f64,
    pub pdd_ms_max: f64,
    pub queue_len_max: u64,
    pub channels_in_use_max: u64,
    pub accounts_blocked_max: u64,
    pub backup_on: bool,
}

/// Streams timeline rows: counts of what happened in each interval (by event time).
pub struct Timeline {
    origin: SimTime,
    interval: SimDuration,
    current_index: u64,
    /// First instant after the open interval: events before it need no index arithmetic.
    current_end: u64,
    current: Counts,
    dial: DelayHist,
    pdd: DelayHist,
    queue_len_max: u64,
    channels_max: u64,
    /// Current levels, which open the next interval's maxima (a level held through a quiet
    /// interval is still its maximum).
    queue_len_now: u64,
    channels_now: u64,
    accounts_blocked_max: u64,
    accounts_blocked_now: u64,
    backup_on: bool,
    /// Store the rows (an output reads them); off: closed intervals are dropped.
    pub keep: bool,
    /// Record anything at all: rows are kept or alert rules read the intervals. Off: the
    /// model skips its timeline updates.
    pub on: bool,
    pub rows: Vec<TimelineRow>,
    /// The alert rules' streaming state, fed as each interval closes (None: no rules).
    pub alerts: Option<crate::alerts::AlertEval>,
    /// Waits of the open interval (alert rules on `answer_wait_s_mean`, `abandon_wait_s_mean`).
    answer_wait: MeanAcc,
    abandon_wait: MeanAcc,
}

impl Timeline {
    pub fn new(origin: SimTime, interval: SimDuration, backup_on: bool, keep: bool) -> Self {
        Timeline {
            origin,
            interval,
            current_index: 0,
            current_end: origin.as_ns().saturating_add(interval.as_ns()),
            current: Counts::default(),
            // 2 significant digits are plenty per minute and keep the histogram small.
            dial: DelayHist::new(2),
            pdd: DelayHist::new(2),
            queue_len_max: 0,
            channels_max: 0,
            queue_len_now: 0,
            channels_now: 0,
            accounts_blocked_max: 0,
            accounts_blocked_now: 0,
            backup_on,
            keep,
            on: keep,
            rows: Vec::new(),
            alerts: None,
            answer_wait: MeanAcc::default(),
            abandon_wait: MeanAcc::default(),
        }
    }

    /// Evaluates `rules` on every interval as it closes (the timeline records even when its
    /// rows are not kept).
    pub fn with_alerts(mut self, rules: &[crate::alerts::AlertRule]) -> Self {
        if !rules.is_empty() {
            self.alerts = Some(crate::alerts::AlertEval::new(rules));
            self.on = true;
        }
        self
    }

    /// Closes every interval that ends at or before `now`; returns the counters of the open one.
    pub fn at(&mut self, now: SimTime, backup_on_now: bool) -> &mut Counts {
        if now.as_ns() < self.current_end {
            return &mut self.current;
        }
        let idx = now.as_ns().saturating_sub(self.origin.as_ns()) / self.interval.as_ns();
        while idx > self.current_index {
            self.flush(backup_on_now);
        }
        &mut self.current
    }

    fn flush(&mut self, backup_on_next: bool) {
        self.dial.settle();
        self.pdd.settle();
        if let Some(a) = self.alerts.as_mut() {
            let end = SimTime(self.current_end);
            a.observe(
                end,
                &CallStats {
                    counts: &self.current,
                    dial_delay: &self.dial,
                    pdd: &self.pdd,
                    answer_wait: &self.answer_wait,
                    abandon_wait: &self.abandon_wait,
                },
            );
            self.answer_wait = MeanAcc::default();
            self.abandon_wait = MeanAcc::default();
        }
        if !self.keep {
            if self.on {
                self.dial.reset();
                self.pdd.reset();
            }
            self.current = Counts::default();
            self.backup_on = backup_on_next;
            self.current_index += 1;
            self.current_end = self.current_end.saturating_add(self.interval.as_ns());
            return;
        }
        let start = SimTime(self.origin.as_ns() + self.current_index * self.interval.as_ns());
        self.rows.push(TimelineRow {
            start,
            counts: std::mem::take(&mut self.current),
            dial_delay_ms_p50: self.dial.quantile_ms(0.50),
            dial_delay_ms_p90: self.dial.quantile_ms(0.90),
            dial_delay_ms_p95: self.dial.quantile_ms(0.95),
            dial_delay_ms_p99: self.dial.quantile_ms(0.99),
            dial_delay_ms_max: self.dial.max_ms(),
            pdd_ms_p50: self.pdd.quantile_ms(0.50),
            pdd_ms_p90: self.pdd.quantile_ms(0.90),
            pdd_ms_p95: self.pdd.quantile_ms(0.95),
            pdd_ms_p99: self.pdd.quantile_ms(0.99),
            pdd_ms_max: self.pdd.max_ms(),
            queue_len_max: self.queue_len_max,
            channels_in_use_max: self.channels_max,
            accounts_blocked_max: self.accounts_blocked_max,
            backup_on: self.backup_on,
        });
        self.dial.reset();
        self.pdd.reset();
        self.queue_len_max = self.queue_len_now;
        self.channels_max = self.channels_now;
        self.accounts_blocked_max = self.accounts_blocked_now;
        self.backup_on = backup_on_next;
        self.current_index += 1;
        self.current_end = self.current_end.saturating_add(self.interval.as_ns());
    }

    pub fn record_pdd(&mut self, pdd: SimDuration) {
        if self.on {
            self.pdd.record(pdd);
        }
    }
    pub fn record_dial(&mut self, delay: SimDuration) {
        if self.on {
            self.dial.record(delay);
        }
    }
    /// A call answered after waiting `w` (only alert rules read it; call after `at`).
    pub fn record_answer_wait(&mut self, w: SimDuration) {
        if self.alerts.is_some() {
            self.answer_wait.record(w);
        }
    }
    /// A caller who hung up after `w` (only alert rules read it; call after `at`).
    pub fn record_abandon_wait(&mut self, w: SimDuration) {
        if self.alerts.is_some() {
            self.abandon_wait.record(w);
        }
    }
    /// Legs now waiting in all carrier queues (call after `at`).
    pub fn set_queue_len(&mut self, n: u64) {
        self.queue_len_now = n;
        self.queue_len_max = self.queue_len_max.max(n);
    }
    /// Accounts now blocked (call after `at`).
    pub fn set_accounts_blocked(&mut self, n: u64) {
        self.accounts_blocked_now = n;
        self.accounts_blocked_max = self.accounts_blocked_max.max(n);
    }
    /// Index of the interval holding `now` (0 = the first).
    pub fn index_of(&self, now: SimTime) -> usize {
        (now.as_ns().saturating_sub(self.origin.as_ns()) / self.interval.as_ns()) as usize
    }
    pub fn origin(&self) -> SimTime {
        self.origin
    }
    pub fn interval(&self) -> SimDuration {
        self.interval
    }
    /// Channels now in use on all carriers (call after `at`).
    pub fn set_channels(&mut self, n: u64) {
        self.channels_now = n;
        self.channels_max = self.channels_max.max(n);
    }
    pub fn note_backup_on(&mut self) {
        self.backup_on = true;
    }
    /// Closes the open interval (end of run).
    pub fn finish(&mut self, last: SimTime) {
        let _ = self.at(last, false);
        self.flush(false);
    }
}

/// One source's (tenant and method's) counts: totals over the measured calls, and per-interval
/// rows when the timeline is kept.
#[derive(Clone, Debug, Default)]
pub struct SourceObs {
    pub total: Counts,
    pub rows: Vec<Counts>,
}

impl SourceObs {
    pub fn row(&mut self, idx: usize) -> &mut Counts {
        if idx >= self.rows.len() {
            self.rows.resize(idx + 1, Counts::default());
        }
        &mut self.rows[idx]
    }
}

/// Counters of one stage (totals, or one interval).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageCounts {
    /// Jobs started (sessions taken).
    pub jobs: u64,
    /// Attempts refused: sessions or pods full, wait timed out, or over the tenant limit.
    pub refused: u64,
    /// Of `refused`, those over the per-tenant rate limit.
    pub rate_limited: u64,
    /// Jobs whose dependency lookup failed, or that a pod crash killed.
    pub errors: u64,
    /// Accounts blocked by a failed lookup under `disable_account`.
    pub accounts_blocked: u64,
    pub pod_crashes: u64,
    pub pods_added: u64,
    pub failovers: u64,
}

/// One interval of one stage.
#[derive(Clone, Debug)]
pub struct StageRow {
    pub counts: StageCounts,
    pub sessions_in_use_max: u64,
    pub pods_up_min: u64,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p95: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
}

/// What one stage observed.
pub struct StageObs {
    pub total: StageCounts,
    /// Job durations (service plus dependency), measured calls only.
    pub latency: DelayHist,
    pub sessions_in_use_max: u64,
    pub rows: Vec<StageRow>,
    keep: bool,
    row_idx: usize,
    /// The timeline's clock: rows are `interval_ns` long from `origin_ns`.
    origin_ns: u64,
    interval_ns: u64,
    /// First instant after the open row (u64::MAX when rows are not kept): an observation
    /// before it goes to the open row with no index arithmetic.
    row_end_ns: u64,
    row: StageCounts,
    row_hist: DelayHist,
    row_sessions_max: u64,
    row_pods_min: u64,
    sessions_now: u64,
    pods_now: u64,
}

impl StageObs {
    /// `origin` and `interval` are the timeline's: row k covers
    /// [origin + k interval, origin + (k+1) interval), and anything before `origin` row 0.
    pub fn new(keep: bool, pods: u64, origin: SimTime, interval: SimDuration) -> Self {
        StageObs {
            total: StageCounts::default(),
            latency: DelayHist::default(),
            sessions_in_use_max: 0,
            rows: Vec::new(),
            keep,
            row_idx: 0,
            origin_ns: origin.as_ns(),
            interval_ns: interval.as_ns(),
            row_end_ns: if keep {
                origin.as_ns().saturating_add(interval.as_ns())
            } else {
                u64::MAX
            },
            row: StageCounts::default(),
            row_hist: DelayHist::new(2),
            row_sessions_max: 0,
            row_pods_min: pods,
            sessions_now: 0,
            pods_now: pods,
        }
    }

    /// Moves the open row to the interval holding `now`, if `now` is past the open one: a
    /// comparison on every observation, the division only when a row closes.
    #[inline]
    fn roll(&mut self, now: SimTime) {
        if now.as_ns() >= self.row_end_ns {
            self.roll_to(now);
        }
    }

    #[inline(never)]
    fn roll_to(&mut self, now: SimTime) {
        let idx = now.as_ns().saturating_sub(self.origin_ns) / self.interval_ns;
        self.advance(idx as usize);
        let next = (self.row_idx as u64).saturating_add(1);
        self.row_end_ns = self
            .origin_ns
            .saturating_add(next.saturating_mul(self.interval_ns));
    }

    /// Moves the open row to interval `idx`, closing the ones before.
    fn advance(&mut self, idx: usize) {
        while self.keep && self.row_idx < idx {
            self.row_hist.settle();
            self.rows.push(StageRow {
                counts: std::mem::take(&mut self.row),
                sessions_in_use_max: self.row_sessions_max,
                pods_up_min: self.row_pods_min,
                latency_ms_p50: self.row_hist.quantile_ms(0.5),
                latency_ms_p90: self.row_hist.quantile_ms(0.9),
                latency_ms_p95: self.row_hist.quantile_ms(0.95),
                latency_ms_p99: self.row_hist.quantile_ms(0.99),
                latency_ms_max: self.row_hist.max_ms(),
            });
            self.row_hist.reset();
            self.row_sessions_max = self.sessions_now;
            self.row_pods_min = self.pods_now;
            self.row_idx += 1;
        }
    }

    /// Counts into the totals (if measured) and the row of the interval holding `now` (if
    /// kept).
    #[inline]
    pub fn count(&mut self, now: SimTime, measured: bool, f: impl Fn(&mut StageCounts)) {
        if measured {
            f(&mut self.total);
        }
        if self.keep {
            self.roll(now);
            f(&mut self.row);
        }
    }

    pub fn latency(&mut self, now: SimTime, measured: bool, d: SimDuration) {
        if measured {
            self.latency.record(d);
        }
        if self.keep {
            self.roll(now);
            self.row_hist.record(d);
        }
    }

    #[inline]
    pub fn levels(&mut self, now: SimTime, sessions: u64, pods_up: u64) {
        self.sessions_now = sessions;
        self.pods_now = pods_up;
        self.sessions_in_use_max = self.sessions_in_use_max.max(sessions);
        if self.keep {
            self.roll(now);
            self.row_sessions_max = self.row_sessions_max.max(sessions);
            self.row_pods_min = self.row_pods_min.min(pods_up);
        }
    }

    /// Closes rows up to and including interval `last`.
    pub fn finish(&mut self, last: usize) {
        self.advance(last + 1);
        self.row_end_ns = u64::MAX;
        self.latency.settle();
    }
}

/// What the calls arriving in one named clock window observed, whatever happens to them later
/// (a call that arrives at 11:59 and is answered at 12:01 belongs to a 10:00-12:00 window).
#[derive(Clone, Debug, Default)]
pub struct WindowObs {
    pub counts: Counts,
    pub dial_delay: DelayHist,
    pub pdd: DelayHist,
    pub answer_wait: MeanAcc,
    pub abandon_wait: MeanAcc,
}

impl WindowObs {
    pub fn view(&self) -> CallStats<'_> {
        CallStats {
            counts: &self.counts,
            dial_delay: &self.dial_delay,
            pdd: &self.pdd,
            answer_wait: &self.answer_wait,
            abandon_wait: &self.abandon_wait,
        }
    }
}

/// The call-level observations every metric is computed from: the run's totals or one window's.
#[derive(Clone, Copy)]
pub struct CallStats<'a> {
    pub counts: &'a Counts,
    pub dial_delay: &'a DelayHist,
    pub pdd: &'a DelayHist,
    pub answer_wait: &'a MeanAcc,
    pub abandon_wait: &'a MeanAcc,
}

/// Everything one replication reports.
pub struct Observations {
    pub counts: Counts,
    pub dial_delay: DelayHist,
    pub pdd: DelayHist,
    /// Time from arrival to answer, connected calls.
    pub answer_wait: MeanAcc,
    /// Time from arrival to hang-up, abandoned calls.
    pub abandon_wait: MeanAcc,
    pub timeline: Timeline,
    pub events: u64,
    pub stale_events: u64,
    pub pending_events_max: usize,
    pub calls_in_flight_max: usize,
    pub end_time: SimTime,
    /// Seconds of backup routing in force during the run.
    pub backup_on_s: f64,
    pub backup_switches: u64,
    /// Per source (tenant and method), in source order.
    pub per_source: Vec<SourceObs>,
    /// Per platform stage, in stage order.
    pub stages: Vec<StageObs>,
    /// Most accounts blocked at once.
    pub accounts_blocked_max: u64,
    /// Dependency failovers (health check or scheduled).
    pub failovers: u64,
    /// Per named window (`[windows]`), in the scenario's order.
    pub windows: Vec<WindowObs>,
}

impl Observations {
    /// The run's totals (calls after the warm-up).
    pub fn totals(&self) -> CallStats<'_> {
        CallStats {
            counts: &self.counts,
            dial_delay: &self.dial_delay,
            pdd: &self.pdd,
            answer_wait: &self.answer_wait,
            abandon_wait: &self.abandon_wait,
        }
    }
}
