//! `callsim fit`: from call detail records to a scenario. Records are streamed once (after a
//! bounded pre-scan for the ring timeout), grouped into calls with a bounded window
//! (`group`), reduced to per-call observations feeding fixed-size histograms and counters
//! (`estimate`), and summarised into estimates with confidence intervals (`summary`) that
//! `out` writes as a commented scenario. See docs/fit.md.

pub mod estimate;
pub mod group;
pub mod hist;
pub mod mle;
pub mod out;
pub mod read;
pub mod summary;
pub mod synth;
pub mod ts;

use read::{CdrReader, ColRef, Field, Format, Status};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// An error for the user; `input` errors exit 2, others 1.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct FitError {
    pub message: String,
    pub input: bool,
}

impl FitError {
    pub fn input(m: impl Into<String>) -> Self {
        FitError {
            message: m.into(),
            input: true,
        }
    }
    pub fn io(m: impl Into<String>) -> Self {
        FitError {
            message: m.into(),
            input: false,
        }
    }
}

/// Skipped or suspicious records by kind: a count and the first few locations.
#[derive(Debug, Default, Clone)]
pub struct Issues {
    pub kinds: BTreeMap<&'static str, (u64, Vec<String>)>,
    order: Vec<&'static str>,
}

impl Issues {
    pub fn add(&mut self, kind: &'static str, msg: String) {
        let e = self.kinds.entry(kind).or_insert_with(|| (0, Vec::new()));
        if e.0 == 0 {
            self.order.push(kind);
        }
        e.0 += 1;
        if e.1.len() < 5 {
            e.1.push(msg);
        }
    }
    pub fn count(&self, kind: &str) -> u64 {
        self.kinds.get(kind).map_or(0, |e| e.0)
    }
    pub fn first(&self) -> Option<String> {
        self.order
            .first()
            .and_then(|k| self.kinds.get(k))
            .and_then(|e| e.1.first().cloned())
    }
    /// One line per kind: `warning: 3 rows skipped (unparseable timestamp), e.g. f:12:10: ...`.
    pub fn lines(&self) -> Vec<String> {
        self.order
            .iter()
            .map(|k| {
                let (n, ex) = &self.kinds[k];
                format!("{n} row(s): {k}; first at {}", ex.join(" | "))
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct FitOptions {
    pub format: Format,
    pub columns: Vec<(Field, ColRef)>,
    /// Profile interval in seconds (None: chosen from the data).
    pub interval: Option<f64>,
    /// Target relative half-width of a bin's 95% CI when choosing the interval.
    pub target_rel_ci: f64,
    /// Grouping window (seconds of record time).
    pub window: f64,
    /// A row starting this long before the latest start seen is out of order.
    pub disorder: f64,
    pub ring_timeout: Option<f64>,
    pub redial_window: f64,
    pub trace: Option<PathBuf>,
    pub progress: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            format: Format::Csv,
            columns: Vec::new(),
            interval: None,
            target_rel_ci: 0.2,
            window: 600.0,
            disorder: 4.0 * 3600.0,
            ring_timeout: None,
            redial_window: 1800.0,
            trace: None,
            progress: false,
        }
    }
}

/// The longest `--interval`: a bin is a part of one clock day (see `FitOptions::check`).
pub const MAX_INTERVAL_S: f64 = 86_400.0;
/// The range of `--ring-timeout` (see `FitOptions::check`).
pub const RING_TIMEOUT_RANGE_S: (f64, f64) = (1.0, 3600.0);

impl FitOptions {
    /// Refuses option values that cannot give a meaningful (or a loadable) scenario, before
    /// anything is read.
    pub fn check(&self) -> Result<(), FitError> {
        if let Some(s) = self.interval {
            if !(60.0..=MAX_INTERVAL_S).contains(&s) || (s / 60.0).fract() != 0.0 {
                return Err(FitError::input(format!(
                    "--interval {}: expected a whole number of minutes from 1m to 24h (a bin is a part of one clock day: records spanning more than a scenario's clock, 00:00 to 47:59, are folded onto one day)",
                    shown(s)
                )));
            }
        }
        if let Some(t) = self.ring_timeout {
            let (lo, hi) = RING_TIMEOUT_RANGE_S;
            if !(lo..=hi).contains(&t) {
                return Err(FitError::input(format!(
                    "--ring-timeout {}: expected 1s to 1h (how long a leg rings before the platform gives up on it: Asterisk, FreeSWITCH and Twilio count it in whole seconds, and Twilio's <Dial timeout> stops at 600 s; an hour or more is a unit mistake)",
                    shown(t)
                )));
            }
        }
        if self.window <= 0.0 {
            return Err(FitError::input(format!(
                "--window {}: expected a duration > 0",
                shown(self.window)
            )));
        }
        Ok(())
    }
}

/// A flag's duration as the user would write it: `0`, `100h`, `90m`, else seconds.
fn shown(s: f64) -> String {
    if s == 0.0 {
        "0".into()
    } else if s % 3600.0 == 0.0 {
        format!("{}h", s / 3600.0)
    } else if s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        out::duration(s)
    }
}

const PRESCAN_ROWS: u64 = 200_000;

/// The longest ringing time among a call's legs that rang out or may have (none answered).
fn unanswered_ring(c: &group::Call, h: &mut hist::LogHist) {
    if c.legs.iter().any(|l| l.status == Status::Answered) {
        return;
    }
    let ring = c
        .legs
        .iter()
        .filter(|l| matches!(l.status, Status::RangOut | Status::Unanswered))
        .map(|l| l.end - l.start);
    if let Some(m) = ring.reduce(f64::max) {
        h.add(m);
    }
}

/// The ring timeout: the most common longest ringing time of calls no leg of which answered,
/// from the first `PRESCAN_ROWS` rows (NaN if no such spike). Callers who hang up spread their
/// waits over all times; legs that ring out all stop at the timeout.
fn prescan_ring_timeout(path: &Path, o: &FitOptions) -> Result<(f64, bool), FitError> {
    let mut r = CdrReader::open(path, o.format, &o.columns)?;
    let mut junk = Issues::default();
    let (mut h, mut ambiguous) = (hist::LogHist::default(), 0u64);
    let mut g = group::Grouper::new(o.window, o.disorder);
    while r.rows < PRESCAN_ROWS {
        let Some(row) = r.next_row(&mut junk)? else {
            break;
        };
        ambiguous += (row.status == Status::Unanswered) as u64;
        for c in g.push(row, &mut junk, "") {
            unanswered_ring(&c, &mut h);
        }
    }
    for c in g.finish() {
        unanswered_ring(&c, &mut h);
    }
    let Some((i, c)) = h
        .counts
        .iter()
        .enumerate()
        .max_by_key(|x| (*x.1, std::cmp::Reverse(x.0)))
    else {
        return Ok((f64::NAN, ambiguous > 0));
    };
    if *c >= 10 && *c * 20 >= h.n {
        Ok((hist::LogHist::value(i), ambiguous > 0))
    } else {
        Ok((f64::NAN, ambiguous > 0))
    }
}

/// Reads `path` and estimates everything.
pub fn fit_file(path: &Path, o: &FitOptions) -> Result<summary::Fit, FitError> {
    o.check()?;
    let (t_ring, ambiguous) = match o.ring_timeout {
        Some(t) => (t, false),
        None => prescan_ring_timeout(path, o)?,
    };
    if ambiguous && t_ring.is_nan() {
        return Err(FitError::input(format!(
            "{}: unanswered legs do not say whether they rang out or were cancelled, and their ringing times show no common ring timeout; give it with --ring-timeout 30s",
            path.display()
        )));
    }
    let trace = match &o.trace {
        Some(p) => {
            let f = std::fs::File::create(p)
                .map_err(|e| FitError::io(format!("cannot write `{}`: {e}", p.display())))?;
            Some(
                estimate::TraceOut::new(std::io::BufWriter::new(f), o.disorder + o.window)
                    .map_err(|e| FitError::io(e.to_string()))?,
            )
        }
        None => None,
    };
    let mut rdr = CdrReader::open(path, o.format, &o.columns)?;
    let (a, grouper, issues) = read_all(&mut rdr, o, t_ring, trace, &path.display().to_string())?;
    let info = summary::ReadInfo {
        source: path.display().to_string(),
        format: o.format,
        rows: rdr.rows,
        good_rows: rdr.good,
        peak_open: grouper.peak_open,
        issues,
        subsecond: rdr.subsecond,
    };
    summary::summarize(a, info, o)
}

/// The one streaming pass: rows → calls → accumulators (and the trace, if any).
fn read_all(
    rdr: &mut CdrReader,
    o: &FitOptions,
    t_ring: f64,
    mut trace: Option<estimate::TraceOut>,
    name: &str,
) -> Result<(estimate::Acc, group::Grouper, Issues), FitError> {
    let mut issues = Issues::default();
    let mut grouper = group::Grouper::new(o.window, o.disorder);
    let mut acc: Option<estimate::Acc> = None;
    let progress = Progress::new(o.progress);
    let io = |e: std::io::Error| FitError::io(e.to_string());
    while let Some(row) = rdr.next_row(&mut issues)? {
        let a = acc.get_or_insert_with(|| {
            let day0 = (row.start / 86400.0).floor() * 86400.0;
            estimate::Acc::new(t_ring, day0, o.redial_window, trace.take())
        });
        for c in grouper.push(row, &mut issues, name) {
            a.add(&c);
        }
        if let Some(t) = a.trace.as_mut() {
            t.drain(grouper.watermark - a.day0).map_err(io)?;
        }
        if rdr.rows.is_multiple_of(4096) {
            progress.show(rdr.rows);
            newest_first(&grouper, name)?;
        }
    }
    progress.done();
    let Some(mut a) = acc else {
        let first = issues
            .first()
            .map(|f| format!("; first problem: {f}"))
            .unwrap_or_default();
        return Err(FitError::input(format!(
            "`{name}` has no usable call records ({} rows read){first}",
            rdr.rows
        )));
    };
    newest_first(&grouper, name)?;
    for c in grouper.finish() {
        a.add(&c);
    }
    if let Some(t) = a.trace.as_mut() {
        t.drain(f64::INFINITY).map_err(io)?;
        use std::io::Write;
        t.w.flush().map_err(io)?;
    }
    Ok((a, grouper, issues))
}

/// A file whose start and end times both fall as the file goes on was exported newest first.
/// Both must fall (correlation with the row number below −0.5): a file in start order may have
/// end times out of order by a call's length, and one in end order (Asterisk, FreeSWITCH)
/// start times, but one of the two always rises.
fn newest_first(g: &group::Grouper, name: &str) -> Result<(), FitError> {
    let [s, e] = g.order;
    let (cs, ce) = (s.corr(), e.corr());
    if s.rows() >= 50 && cs < -0.5 && ce < -0.5 {
        return Err(FitError::input(format!(
            "`{name}`: records are in reverse time order (over {} rows, start times fall with the row number, correlation {cs:.2}, and so do end times, {ce:.2}); expected oldest first (reverse the rows, keeping any header, e.g. with `tac`)",
            s.rows()
        )));
    }
    Ok(())
}

/// Rows read, on stderr, only when it is a terminal and reading takes more than 2 s.
struct Progress {
    on: bool,
    t0: Instant,
    shown: std::cell::Cell<bool>,
    last: std::cell::Cell<f64>,
}

impl Progress {
    fn new(want: bool) -> Progress {
        Progress {
            on: want && std::io::stderr().is_terminal(),
            t0: Instant::now(),
            shown: false.into(),
            last: 0.0.into(),
        }
    }
    fn show(&self, rows: u64) {
        let t = self.t0.elapsed().as_secs_f64();
        if self.on && t > 2.0 && t - self.last.get() >= 0.5 {
            eprint!("\rfit: {rows} rows read  {t:.0}s ");
            self.shown.set(true);
            self.last.set(t);
        }
    }
    fn done(&self) {
        if self.shown.get() {
            eprint!("\r{}\r", " ".repeat(60));
        }
    }
}
