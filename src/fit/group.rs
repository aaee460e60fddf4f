//! Groups leg rows into calls with a bounded window keyed by call id. A call stays open while
//! rows for it keep coming; it is closed once the latest start time seen (the "watermark") has
//! moved `window` past the moment its last row arrived. Rows written at hang-up (Asterisk,
//! FreeSWITCH) or at start (Twilio exports) both work, since a call's rows arrive together in
//! either order. Memory: the open calls (about arrival rate × (window + call length)) and the
//! keys of calls closed in the last window (to report late rows instead of splitting a call).

use super::read::{Row, Status};
use super::Issues;
use std::collections::{HashMap, HashSet, VecDeque};

#[derive(Clone, Debug)]
pub struct Leg {
    pub start: f64,
    pub answer: Option<f64>,
    pub end: f64,
    pub status: Status,
    pub line: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Call {
    pub caller: Option<u64>,
    /// The caller's own record (start, end), when the format has one.
    pub parent: Option<(f64, f64)>,
    pub legs: Vec<Leg>,
    pub first_line: u64,
    leg_ids: Vec<u64>,
    touched: f64,
}

impl Call {
    pub fn arrival(&self) -> f64 {
        match self.parent {
            Some((s, _)) => s,
            None => self
                .legs
                .iter()
                .map(|l| l.start)
                .fold(f64::INFINITY, f64::min),
        }
    }
}

fn key_hash(k: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut d = std::hash::DefaultHasher::new();
    k.hash(&mut d);
    d.finish()
}

pub struct Grouper {
    open: HashMap<String, Call>,
    queue: VecDeque<(f64, String)>,
    closed: HashSet<u64>,
    closed_q: VecDeque<(f64, u64)>,
    pub watermark: f64,
    window: f64,
    /// Rows starting more than this before the watermark are reported as out of order.
    disorder: f64,
    pub peak_open: usize,
    /// How start and end times move with the row number (a newest-first export falls).
    pub order: [Trend; 2],
}

/// Streaming Pearson correlation between the row number and a time (Welford's updates, so a
/// file of millions of rows keeps its precision). A file in time order has a correlation near
/// +1 for its start times or its end times (rows are written at start or at hang-up, and the
/// other time is disordered by no more than a call's length); a newest-first file near −1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Trend {
    n: f64,
    mean_i: f64,
    mean_x: f64,
    m2_i: f64,
    m2_x: f64,
    c: f64,
    x0: f64,
}

impl Trend {
    pub fn add(&mut self, x: f64) {
        if self.n == 0.0 {
            self.x0 = x;
        }
        let (i, x) = (self.n, x - self.x0);
        self.n += 1.0;
        let (di, dx) = (i - self.mean_i, x - self.mean_x);
        self.mean_i += di / self.n;
        self.mean_x += dx / self.n;
        self.m2_i += di * (i - self.mean_i);
        self.m2_x += dx * (x - self.mean_x);
        self.c += di * (x - self.mean_x);
    }
    pub fn rows(&self) -> u64 {
        self.n as u64
    }
    /// The correlation; NaN with fewer than two rows or times that never change.
    pub fn corr(&self) -> f64 {
        if self.m2_x <= 0.0 || self.m2_i <= 0.0 {
            return f64::NAN;
        }
        self.c / (self.m2_i * self.m2_x).sqrt()
    }
}

impl Grouper {
    pub fn new(window: f64, disorder: f64) -> Grouper {
        Grouper {
            open: HashMap::new(),
            queue: VecDeque::new(),
            closed: HashSet::new(),
            closed_q: VecDeque::new(),
            watermark: f64::NEG_INFINITY,
            window,
            disorder,
            peak_open: 0,
            order: [Trend::default(); 2],
        }
    }

    /// Adds a row; returns the calls it closed, earliest arrival first.
    pub fn push(&mut self, r: Row, issues: &mut Issues, path: &str) -> Vec<Call> {
        self.order[0].add(r.start);
        self.order[1].add(r.end);
        self.watermark = self.watermark.max(r.start);
        if r.start < self.watermark - self.disorder {
            issues.add(
                "out of order (used, but may split a call or miss a redial)",
                format!(
                    "{path}:{}: starts {:.0} s before a row read earlier",
                    r.line,
                    self.watermark - r.start
                ),
            );
        }
        let kh = key_hash(&r.key);
        if self.closed.contains(&kh) {
            issues.add(
                "late row for a call already closed (skipped)",
                format!(
                    "{path}:{}: call `{}` was closed {:.0} s of record time earlier",
                    r.line, r.key, self.window
                ),
            );
            return self.flush();
        }
        let wm = self.watermark;
        let new = !self.open.contains_key(&r.key);
        let c = self.open.entry(r.key.clone()).or_default();
        if new {
            c.first_line = r.line;
            self.queue.push_back((wm, r.key.clone()));
        }
        c.touched = wm;
        if c.leg_ids.contains(&r.leg_id) || (r.parent && c.parent.is_some()) {
            issues.add(
                "duplicate record (skipped)",
                format!(
                    "{path}:{}: duplicate of an earlier row of call `{}`",
                    r.line, r.key
                ),
            );
            return self.flush();
        }
        c.leg_ids.push(r.leg_id);
        if c.caller.is_none() || r.parent {
            c.caller = r.caller.or(c.caller);
        }
        if r.parent {
            c.parent = Some((r.start, r.end));
        } else {
            c.legs.push(Leg {
                start: r.start,
                answer: r.answer,
                end: r.end,
                status: r.status,
                line: r.line,
            });
        }
        self.peak_open = self.peak_open.max(self.open.len());
        self.flush()
    }

    fn flush(&mut self) -> Vec<Call> {
        let mut out = Vec::new();
        // Calls close in the order they were first seen: the front call blocks the ones behind
        // it until its own last row is `window` old (re-queueing it would let a later call, such
        // as its redial, close first).
        while let Some((_, k)) = self.queue.front() {
            let touched = self.open.get(k).map(|c| c.touched);
            if touched.is_some_and(|t| self.watermark - t <= self.window) {
                break;
            }
            let (_, k) = self.queue.pop_front().expect("front exists");
            if let Some(c) = self.open.remove(&k) {
                let kh = key_hash(&k);
                self.closed.insert(kh);
                self.closed_q.push_back((self.watermark, kh));
                out.push(c);
            }
        }
        while let Some(&(t, kh)) = self.closed_q.front() {
            if self.watermark - t <= 2.0 * self.window {
                break;
            }
            self.closed_q.pop_front();
            self.closed.remove(&kh);
        }
        sort_calls(&mut out);
        out
    }

    /// Closes every call still open.
    pub fn finish(&mut self) -> Vec<Call> {
        let mut out: Vec<Call> = self.open.drain().map(|(_, c)| c).collect();
        self.queue.clear();
        sort_calls(&mut out);
        out
    }
}

fn sort_calls(v: &mut [Call]) {
    v.sort_by(|a, b| {
        a.arrival()
            .total_cmp(&b.arrival())
            .then(a.first_line.cmp(&b.first_line))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, start: f64, line: u64) -> Row {
        Row {
            line,
            key: key.into(),
            parent: false,
            leg_id: line,
            caller: Some(1),
            start,
            answer: None,
            end: start + 1.0,
            status: Status::Cancelled,
        }
    }

    /// A call whose second row comes a little after its first must still close before a call
    /// that started after it (its redial, say), or redial detection sees them the wrong way round.
    #[test]
    fn calls_close_in_the_order_they_started() {
        let mut g = Grouper::new(600.0, 4.0 * 3600.0);
        let mut issues = Issues::default();
        let mut order = Vec::new();
        for (i, (k, t)) in [
            ("a", 0.0),
            ("a", 2.0),
            ("b", 300.0),
            ("c", 500.0),
            ("d", 901.0),
            ("e", 1200.0),
            ("f", 3000.0),
        ]
        .iter()
        .enumerate()
        {
            for c in g.push(row(k, *t, i as u64 + 1), &mut issues, "x") {
                order.push(c.first_line);
            }
        }
        order.extend(g.finish().iter().map(|c| c.first_line));
        assert_eq!(order, vec![1, 3, 4, 5, 6, 7]);
        assert!(issues.kinds.is_empty());
    }

    #[test]
    fn trend_is_the_correlation_of_time_with_row_number() {
        let mut up = Trend::default();
        let mut down = Trend::default();
        let mut flat = Trend::default();
        for i in 0..100 {
            up.add(1.7e9 + i as f64);
            down.add(1.7e9 - 3.0 * i as f64);
            flat.add(5.0);
        }
        assert!((up.corr() - 1.0).abs() < 1e-9, "{}", up.corr());
        assert!((down.corr() + 1.0).abs() < 1e-9, "{}", down.corr());
        assert!(flat.corr().is_nan());
        assert_eq!(up.rows(), 100);
    }
}
