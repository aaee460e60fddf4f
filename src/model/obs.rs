//! What a replication observes: outcome counters, delay histograms (hdrhistogram), and the
//! streaming timeline. Memory is bounded by the number of timeline intervals, never by calls:
//! events arrive in time order, so one interval's histogram is open at a time.

use crate::time::{SimDuration, SimTime};
use hdrhistogram::Histogram;

/// Counters for one replication (or one timeline interval). Field names are CSV column names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub offered: u64,
    pub first_attempts: u64,
    pub redials: u64,
    pub connected: u64,
    pub abandoned_waiting: u64,
    pub abandoned_ringing: u64,
    pub no_answer: u64,
    pub failed: u64,
    pub backup_routed: u64,
    pub backup_connected: u64,
    pub unfinished: u64,
    pub legs_requested: u64,
    /// Legs that had to wait in a carrier queue (did not dial on request).
    pub legs_queued: u64,
    pub legs_dialed: u64,
    pub legs_rejected: u64,
    pub legs_queue_full: u64,
    pub legs_queue_timeout: u64,
    pub legs_cancelled_queued: u64,
    pub legs_cancelled_ringing: u64,
}

macro_rules! counts_fields {
    ($($f:ident),*) => {
        impl Counts {
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
counts_fields!(
    offered,
    first_attempts,
    redials,
    connected,
    abandoned_waiting,
    abandoned_ringing,
    no_answer,
    failed,
    backup_routed,
    backup_connected,
    unfinished,
    legs_requested,
    legs_queued,
    legs_dialed,
    legs_rejected,
    legs_queue_full,
    legs_queue_timeout,
    legs_cancelled_queued,
    legs_cancelled_ringing
);

impl Counts {
    pub fn abandoned(&self) -> u64 {
        self.abandoned_waiting + self.abandoned_ringing
    }
    /// Calls that ended in exactly one outcome (or are counted unfinished).
    pub fn outcomes(&self) -> u64 {
        self.connected + self.abandoned() + self.no_answer + self.failed + self.unfinished
    }
}

/// A delay histogram in microseconds, 3 significant digits, up to 48 hours, plus an exact sum.
#[derive(Clone, Debug)]
pub struct DelayHist {
    pub hist: Histogram<u64>,
    pub sum_ns: u128,
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
        }
    }
    pub fn record(&mut self, d: SimDuration) {
        self.hist
            .saturating_record((d.as_ns() / 1_000).min(HIST_MAX_US));
        self.sum_ns += d.as_ns() as u128;
    }
    pub fn count(&self) -> u64 {
        self.hist.len()
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
        self.hist.value_at_quantile(q) as f64 / 1e3
    }
    pub fn max_ms(&self) -> f64 {
        if self.count() == 0 {
            return f64::NAN;
        }
        self.hist.max() as f64 / 1e3
    }
    pub fn reset(&mut self) {
        self.hist.reset();
        self.sum_ns = 0;
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
    pub dial_delay_ms_p95: f64,
    pub dial_delay_ms_p99: f64,
    pub dial_delay_ms_max: f64,
    pub queue_len_max: u64,
    pub channels_in_use_max: u64,
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
    queue_len_max: u64,
    channels_max: u64,
    /// Current levels, which open the next interval's maxima (a level held through a quiet
    /// interval is still its maximum).
    queue_len_now: u64,
    channels_now: u64,
    backup_on: bool,
    /// Off: nothing is recorded (nobody will read it); the model skips its timeline updates.
    pub keep: bool,
    pub rows: Vec<TimelineRow>,
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
            queue_len_max: 0,
            channels_max: 0,
            queue_len_now: 0,
            channels_now: 0,
            backup_on,
            keep,
            rows: Vec::new(),
        }
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
        if !self.keep {
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
            dial_delay_ms_p95: self.dial.quantile_ms(0.95),
            dial_delay_ms_p99: self.dial.quantile_ms(0.99),
            dial_delay_ms_max: self.dial.max_ms(),
            queue_len_max: self.queue_len_max,
            channels_in_use_max: self.channels_max,
            backup_on: self.backup_on,
        });
        self.dial.reset();
        self.queue_len_max = self.queue_len_now;
        self.channels_max = self.channels_now;
        self.backup_on = backup_on_next;
        self.current_index += 1;
        self.current_end = self.current_end.saturating_add(self.interval.as_ns());
    }

    pub fn record_dial(&mut self, delay: SimDuration) {
        if self.keep {
            self.dial.record(delay);
        }
    }
    /// Legs now waiting in all carrier queues (call after `at`).
    pub fn set_queue_len(&mut self, n: u64) {
        self.queue_len_now = n;
        self.queue_len_max = self.queue_len_max.max(n);
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
}
