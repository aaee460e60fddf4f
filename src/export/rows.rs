//! What `merge` checks of a sharded run's row files (`shard-I-of-N.timeline.csv`, `.calls.csv`,
//! `.tenants.csv`, `.tenants_timeline.csv`, `.stages.csv`, `.stages_timeline.csv`,
//! `.alerts.csv`) as it joins them: the header this scenario's run writes, every cell one the
//! writers can produce (`export::num` numbers, whole counts, the variant, known sources and
//! outcomes), and each replication's rows complete, as far as the scenario and the shard's metric
//! values tell:
//!
//! - timeline.csv: one row per interval from the start, consecutive, none after the drain limit.
//!   How many depends on when the replication's last event was, so the count is not known in
//!   advance. Without a warm-up each counter column sums to the replication's value of that
//!   metric (a timeline cut at a row boundary fails that, unless the rows cut count nothing:
//!   the drain's quiet end cannot be told missing). Its `offered` column counts every call,
//!   warm-up included, which calls.csv must match.
//! - calls.csv: one row per call, warm-up included: as many as the timeline's `offered` sum.
//! - tenants.csv / stages.csv: one row per source / stage, in scenario order.
//! - tenants_timeline.csv / stages_timeline.csv: per source / stage in order, one row per
//!   interval of the replication's timeline.
//! - alerts.csv: per rule in order, firings 1..k (k = the shard's `alert_firings[RULE]`), or
//!   one row with firing 0 and empty times.
//!
//! Messages say what is wrong in the row or replication; the caller names the file and line.

use super::{clock_label, num, ALERTS_HEADER, CALLS_HEADER};
use crate::model::config::ModelConfig;
use crate::model::Outcome;

/// What one cell may hold.
enum Cell {
    /// Exactly this text (the variant the shards ran).
    Is(String),
    /// Any (UTF-8) text.
    Text,
    /// One of these.
    OneOf(Vec<String>),
    /// A whole number >= 0 as written (`12`: no sign, no leading zero, no decimals).
    Whole,
    /// `0` or `1`.
    Flag,
    /// A finite number in the form `export::num` writes (shortest round trip: `540`, `0.25`).
    Num,
    /// As `Num`, or empty: undefined (a percentile of an interval with no samples).
    NumOrEmpty,
    /// As `Whole`, or empty.
    WholeOrEmpty,
}

impl Cell {
    fn admits(&self, v: &str) -> bool {
        let whole = |v: &str| v.parse::<u64>().is_ok_and(|x| x.to_string() == v);
        let number = |v: &str| v.parse::<f64>().is_ok_and(|x| x.is_finite() && num(x) == v);
        match self {
            Cell::Is(x) => v == x,
            Cell::Text => true,
            Cell::OneOf(xs) => xs.iter().any(|x| x == v),
            Cell::Whole => whole(v),
            Cell::Flag => v == "0" || v == "1",
            Cell::Num => number(v),
            Cell::NumOrEmpty => v.is_empty() || number(v),
            Cell::WholeOrEmpty => v.is_empty() || whole(v),
        }
    }

    fn expected(&self) -> String {
        match self {
            Cell::Is(x) => format!("`{x}` (the variant the shards ran)"),
            Cell::Text => "text".into(),
            Cell::OneOf(xs) => format!(
                "one of {}",
                xs.iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Cell::Whole => "a whole number >= 0 such as 12".into(),
            Cell::Flag => "0 or 1".into(),
            Cell::Num => "a number as callsim writes it (such as 540 or 0.25)".into(),
            Cell::NumOrEmpty => {
                "a number as callsim writes it (such as 540 or 0.25), or empty where nothing was measured".into()
            }
            Cell::WholeOrEmpty => "a whole number >= 0 such as 503, or empty".into(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum File {
    Timeline,
    Calls,
    Tenants,
    TenantsTimeline,
    Stages,
    StagesTimeline,
    Alerts,
}

/// What the row files say about each replication, shared by the checks of the files of one
/// merge (timeline.csv is joined first; the others are checked against it).
pub struct RunRows<'a> {
    cfg: &'a ModelConfig,
    variant: String,
    /// The shard files' value of metric `name` in replication `r`.
    metric: &'a dyn Fn(u32, &str) -> Option<f64>,
    /// Timeline rows (intervals) of each replication, once timeline.csv was checked.
    intervals: Vec<Option<usize>>,
    /// The sum of the timeline's `offered` column (every call, warm-up included).
    offered: Vec<Option<u64>>,
}

impl<'a> RunRows<'a> {
    pub fn new(
        cfg: &'a ModelConfig,
        variant: &str,
        replications: u32,
        metric: &'a dyn Fn(u32, &str) -> Option<f64>,
    ) -> Self {
        RunRows {
            cfg,
            variant: variant.to_string(),
            metric,
            intervals: vec![None; replications as usize],
            offered: vec![None; replications as usize],
        }
    }
}

/// The check of one row file, fed each replication's rows in order.
pub struct RowCheck<'r, 'a> {
    run: &'r mut RunRows<'a>,
    file: File,
    header: Vec<&'static str>,
    cells: Vec<Cell>,
    /// Rows of the current replication so far.
    n: usize,
    /// The current replication's sum of each counter column (timeline.csv): (column, sum).
    sums: Vec<(usize, u64)>,
    /// The current replication's expected (rule, firing) rows (alerts.csv).
    firings: Vec<(usize, u64)>,
}

impl<'r, 'a> RowCheck<'r, 'a> {
    /// The check of row file `name` (as `cli::run::row_files` names it); None for another name.
    // whole: one arm per row file, each listing its columns' cell kinds in header order, side
    // by side so that a column added to a writer is added here in the same place.
    pub fn new(run: &'r mut RunRows<'a>, name: &str) -> Option<Self> {
        let cfg = run.cfg;
        let variant = || Cell::Is(run.variant.clone());
        let counts = || super::count_names(cfg).into_iter().map(|_| Cell::Whole);
        let sources: Vec<String> = cfg.sources.iter().map(|s| s.name.clone()).collect();
        let (file, header, mut cells): (File, Vec<&'static str>, Vec<Cell>) = match name {
            "timeline.csv" => {
                let mut c = vec![variant(), Cell::Whole, Cell::Text, Cell::Num];
                c.extend(counts());
                c.push(Cell::Whole); // abandoned
                c.extend((0..10).map(|_| Cell::NumOrEmpty));
                c.extend([Cell::Whole, Cell::Whole, Cell::Whole, Cell::Flag]);
                (File::Timeline, super::timeline_header(cfg), c)
            }
            "calls.csv" => {
                let outcomes = [
                    Outcome::Connected,
                    Outcome::Served,
                    Outcome::AbandonedWaiting,
                    Outcome::AbandonedRinging,
                    Outcome::NoAnswer,
                    Outcome::Failed,
                    Outcome::Unfinished,
                ];
                let c = vec![
                    variant(),
                    Cell::Whole,
                    Cell::OneOf(sources),
                    Cell::Whole,
                    Cell::Whole,
                    Cell::Text,
                    Cell::Num,
                    Cell::OneOf(vec!["normal".into(), "backup".into()]),
                    Cell::Whole,
                    Cell::OneOf(outcomes.iter().map(|o| o.as_str().to_string()).collect()),
                    Cell::NumOrEmpty,
                    Cell::Num,
                    Cell::NumOrEmpty,
                    Cell::WholeOrEmpty,
                ];
                (File::Calls, CALLS_HEADER.to_vec(), c)
            }
            "tenants.csv" | "tenants_timeline.csv" => {
                let timeline = name == "tenants_timeline.csv";
                let mut c = vec![variant(), Cell::Whole, Cell::Text, Cell::Text, Cell::Text];
                if timeline {
                    c.extend([Cell::Text, Cell::Num]);
                } else {
                    c.push(Cell::OneOf(vec!["call".into(), "request".into()]));
                }
                c.extend(counts());
                let file = if timeline {
                    File::TenantsTimeline
                } else {
                    File::Tenants
                };
                (file, super::tenants_header(cfg, timeline), c)
            }
            "stages.csv" | "stages_timeline.csv" => {
                let timeline = name == "stages_timeline.csv";
                let mut c = vec![variant(), Cell::Whole, Cell::Text];
                if timeline {
                    c.extend([Cell::Text, Cell::Num]);
                }
                c.extend((0..super::STAGE_COUNTS.len()).map(|_| Cell::Whole));
                c.push(Cell::Whole); // sessions_in_use_max
                if timeline {
                    c.push(Cell::Whole); // pods_up_min
                }
                c.extend((0..if timeline { 5 } else { 6 }).map(|_| Cell::NumOrEmpty));
                let file = if timeline {
                    File::StagesTimeline
                } else {
                    File::Stages
                };
                (file, super::stage_header(timeline), c)
            }
            "alerts.csv" => {
                let c = vec![
                    variant(),
                    Cell::Whole,
                    Cell::Text,
                    Cell::Text,
                    Cell::Whole,
                    Cell::Text,
                    Cell::NumOrEmpty,
                    Cell::Text,
                    Cell::NumOrEmpty,
                ];
                (File::Alerts, ALERTS_HEADER.to_vec(), c)
            }
            _ => return None,
        };
        debug_assert_eq!(header.len(), cells.len(), "{name}");
        cells.truncate(header.len());
        Some(RowCheck {
            run,
            file,
            header,
            cells,
            n: 0,
            sums: Vec::new(),
            firings: Vec::new(),
        })
    }

    /// The header this scenario's run writes.
    pub fn header(&self) -> &[&'static str] {
        &self.header
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| *h == name)
            .expect("a column of the file")
    }

    /// Replication `r`'s rows follow.
    pub fn start(&mut self, r: u32) {
        self.n = 0;
        self.sums.clear();
        if self.file == File::Timeline {
            let counters = super::count_names(self.run.cfg);
            self.sums = (0..self.header.len())
                .filter(|&j| counters.contains(&self.header[j]) || self.header[j] == "abandoned")
                .map(|j| (j, 0))
                .collect();
        }
        self.firings.clear();
        if self.file == File::Alerts {
            for (i, rule) in self.run.cfg.alerts.iter().enumerate() {
                let k = (self.run.metric)(r, &format!("alert_firings[{}]", rule.name))
                    .map_or(0, |v| v as u64);
                if k == 0 {
                    self.firings.push((i, 0));
                }
                self.firings.extend((1..=k).map(|f| (i, f)));
            }
        }
    }

    /// Checks one row of replication `r` (its field count already equals the header's).
    pub fn row(&mut self, rec: &csv::ByteRecord) -> Result<(), String> {
        let mut fields: Vec<&str> = Vec::with_capacity(rec.len());
        for (j, b) in rec.iter().enumerate() {
            let v = std::str::from_utf8(b).map_err(|_| {
                format!(
                    "column `{}` (field {}) is not UTF-8 text",
                    self.header[j],
                    j + 1
                )
            })?;
            if !self.cells[j].admits(v) {
                return Err(format!(
                    "column `{}` (field {}): `{v}` is not what callsim writes there; expected {}",
                    self.header[j],
                    j + 1,
                    self.cells[j].expected()
                ));
            }
            fields.push(v);
        }
        let n = self.n;
        self.n += 1;
        let cfg = self.run.cfg;
        let intervals = |s: &Self| -> Option<usize> {
            let r: u32 = fields[1].parse().ok()?;
            s.run.intervals.get(r as usize).copied().flatten()
        };
        match self.file {
            File::Timeline => {
                self.interval(n, &fields, 2)?;
                for (j, sum) in &mut self.sums {
                    *sum = sum.saturating_add(fields[*j].parse().unwrap_or(0));
                }
            }
            File::Tenants | File::Stages => {
                let names = self.keys();
                self.key(n, &names, fields[2])?;
            }
            File::TenantsTimeline | File::StagesTimeline => {
                let names = self.keys();
                if let Some(k) = intervals(self).filter(|k| *k > 0) {
                    self.key(n / k, &names, fields[2])?;
                    let at = self.col("clock");
                    self.interval(n % k, &fields, at)?;
                }
            }
            File::Alerts => {
                let Some(&(i, firing)) = self.firings.get(n) else {
                    return Err(format!(
                        "one row too many for the replication: its rules' firings (alert_firings in the shard file) give {} rows",
                        self.firings.len()
                    ));
                };
                let rule = &cfg.alerts[i];
                let want = [
                    ("rule", rule.name.clone()),
                    ("metric", rule.metric_name().to_string()),
                    ("firing", firing.to_string()),
                ];
                for (c, w) in want {
                    let got = fields[self.col(c)];
                    if got != w {
                        return Err(format!(
                            "column `{c}` is `{got}`, expected `{w}` (rule `{}` fired {} time(s) in this replication, says the shard file)",
                            rule.name,
                            self.firings.iter().filter(|x| x.0 == i && x.1 > 0).count()
                        ));
                    }
                }
                let empty = |c: &str| fields[self.col(c)].is_empty();
                let fired = !empty("fired_at") && !empty("fired_s");
                let resolved_same = empty("resolved_at") == empty("resolved_s");
                let ok = if firing == 0 {
                    empty("fired_at")
                        && empty("fired_s")
                        && empty("resolved_at")
                        && empty("resolved_s")
                } else {
                    fired && resolved_same
                };
                if !ok {
                    return Err(if firing == 0 {
                        "a rule that never fired has empty fired_at, fired_s, resolved_at and resolved_s".to_string()
                    } else {
                        "a firing has fired_at and fired_s, and resolved_at and resolved_s both or neither".to_string()
                    });
                }
            }
            File::Calls => {}
        }
        Ok(())
    }

    /// The names a tenants or stages file lists per replication, in order.
    fn keys(&self) -> Vec<String> {
        let cfg = self.run.cfg;
        match self.file {
            File::Tenants | File::TenantsTimeline => {
                cfg.sources.iter().map(|s| s.name.clone()).collect()
            }
            _ => cfg.stages.iter().map(|s| s.name.clone()).collect(),
        }
    }

    fn key(&self, i: usize, names: &[String], got: &str) -> Result<(), String> {
        let what = self.header[2];
        match names.get(i) {
            Some(w) if w == got => Ok(()),
            Some(w) => Err(format!(
                "column `{what}` is `{got}`, expected `{w}` (each replication lists the scenario's {what}s in order): a row is missing or out of order"
            )),
            None => Err(format!(
                "one row too many for the replication: the scenario has {} {what}s",
                names.len()
            )),
        }
    }

    /// Checks that `fields[at]` (clock) and `fields[at + 1]` (t_s) are interval `k`'s.
    fn interval(&self, k: usize, fields: &[&str], at: usize) -> Result<(), String> {
        let cfg = self.run.cfg;
        let (start, step) = (cfg.start.as_ns(), cfg.interval.as_ns());
        let last = cfg.end.plus(cfg.drain).as_ns().saturating_sub(start) / step.max(1);
        if k as u64 > last {
            return Err(format!(
                "interval {} of the replication starts after the drain limit {}: the run never writes it",
                k + 1,
                cfg.end.plus(cfg.drain).clock_hhmmss()
            ));
        }
        let (clock, t_s) = clock_label(start, step, k);
        if fields[at] != clock || fields[at + 1] != t_s {
            return Err(format!(
                "row {} of the replication is interval `{}` (t_s {}), expected `{clock}` (t_s {t_s}): its intervals run from the start without a gap, so a row is missing or out of order",
                k + 1,
                fields[at],
                fields[at + 1]
            ));
        }
        Ok(())
    }

    /// Replication `r`'s rows ended: checks that none is missing.
    pub fn end(&mut self, r: u32) -> Result<(), String> {
        let n = self.n;
        let k = self.run.intervals.get(r as usize).copied().flatten();
        let count = |what: &str, want: usize, why: String| -> Result<(), String> {
            if n == want {
                Ok(())
            } else {
                Err(format!(
                    "{n} rows where {want} are expected ({why}): {what}",
                ))
            }
        };
        let cut = "rows are missing (the file was cut short) or were added";
        match self.file {
            File::Timeline => {
                if n == 0 {
                    return Err("no rows; every replication has at least one interval".into());
                }
                self.run.intervals[r as usize] = Some(n);
                let offered = self.col("offered");
                self.run.offered[r as usize] =
                    self.sums.iter().find(|(j, _)| *j == offered).map(|x| x.1);
                // Without a warm-up, every call is measured: each counter's column sums to
                // the replication's value of that metric. (Trailing rows that count nothing,
                // the drain's quiet end, cannot be told missing from the rows or the values.)
                if self.run.cfg.warmup.as_ns() == 0 {
                    for &(j, sum) in &self.sums {
                        let name = self.header[j];
                        if let Some(v) = (self.run.metric)(r, name) {
                            if v != sum as f64 {
                                return Err(format!(
                                    "its rows' `{name}` column sums to {sum}, but the shard file gives {name} = {v}: {cut}"
                                ));
                            }
                        }
                    }
                }
                Ok(())
            }
            File::Calls => match self.run.offered.get(r as usize).copied().flatten() {
                Some(want) => count(
                    cut,
                    want as usize,
                    "one per call: the timeline's `offered` column sums to that".into(),
                ),
                None => Ok(()),
            },
            File::Tenants | File::Stages => {
                let want = self.keys().len();
                count(cut, want, format!("one per {}", self.header[2]))
            }
            File::TenantsTimeline | File::StagesTimeline => match k {
                Some(k) => {
                    let want = self.keys().len() * k;
                    count(
                        cut,
                        want,
                        format!(
                            "{k} intervals, as in timeline.csv, for each of {} {}s",
                            self.keys().len(),
                            self.header[2]
                        ),
                    )
                }
                None => Ok(()),
            },
            File::Alerts => count(
                cut,
                self.firings.len(),
                "a row per firing of each rule, or one when it never fired (alert_firings in the shard file)".into(),
            ),
        }
    }
}
