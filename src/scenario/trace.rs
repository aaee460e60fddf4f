//! Trace and data files named by scenarios: arrival-time traces (validated once at load, then
//! streamed row by row in each replication so memory does not grow with the trace) and columns
//! of values for empirical distributions.

use crate::input::{csv_source, LineCapped};
use crate::time::{parse_clock, SimTime};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Seconds since midnight a trace cell may give: less than 48 hours.
const MAX_SECONDS: f64 = 48.0 * 3600.0;

/// Parses one trace cell: a clock time "HH:MM:SS(.fff)" or seconds since midnight.
pub fn parse_instant(cell: &str) -> Result<SimTime, String> {
    let c = cell.trim();
    if c.contains(':') {
        return parse_clock(c);
    }
    match c.parse::<f64>() {
        // Below 48 h, as a clock time's hour runs to 47.
        Ok(s) if (0.0..MAX_SECONDS).contains(&s) => Ok(SimTime::from_secs_f64(s)),
        Ok(s) if s.is_finite() && s >= 0.0 => Err(format!(
            "`{c}` seconds since midnight is past 47:59:59; a trace covers at most two days (as a clock time's hour runs to 47)"
        )),
        _ => Err(format!("`{c}` is not a time; expected a clock time \"13:30:05.250\" or seconds since midnight such as 48605.25")),
    }
}

/// Line numbers of CSV records, counted from the bytes themselves: the csv crate's own line
/// count is off by one per CRLF line ending, and error messages must name the right line.
struct LineCounter {
    bytes: std::io::Bytes<LineCapped<BufReader<File>>>,
    pos: u64,
    line: u64,
}

impl LineCounter {
    fn new(path: &Path) -> Result<LineCounter, String> {
        Ok(LineCounter {
            bytes: std::io::Read::bytes(csv_source(path)?),
            pos: 0,
            line: 1,
        })
    }
    /// 1-based line of a record the csv crate says starts at `offset` (offsets must not
    /// decrease between calls). With CRLF endings the crate places a record's start on the
    /// preceding `\n`, so that byte is counted too; with LF it is the record's first byte.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.pos <= offset {
            match self.bytes.next() {
                Some(Ok(b'\n')) => self.line += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
            self.pos += 1;
        }
        self.line
    }
}

type Source = LineCapped<BufReader<File>>;

fn open(path: &Path) -> Result<csv::Reader<Source>, String> {
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(csv_source(path)?))
}

fn column_index(rdr: &mut csv::Reader<Source>, path: &Path, column: &str) -> Result<usize, String> {
    let headers = rdr
        .headers()
        .map_err(|e| format!("`{}`: cannot read the header row: {e}", path.display()))?;
    if headers.iter().filter(|h| *h == column).count() > 1 {
        return Err(format!(
            "`{}`: the header names column `{column}` more than once; which one is meant cannot be told",
            path.display()
        ));
    }
    headers.iter().position(|h| h == column).ok_or_else(|| {
        format!(
            "`{}` has no column `{column}`; its columns are: {}",
            path.display(),
            headers.iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Checks a whole trace (every row parses, times never decrease, at least one row) and returns
/// its row count and its first and last arrival. Errors name the trace file and line.
pub fn validate(path: &Path, column: &str) -> Result<(u64, SimTime, SimTime), String> {
    let mut rdr = open(path)?;
    let col = column_index(&mut rdr, path, column)?;
    let (mut prev, mut first) = (SimTime::ZERO, SimTime::ZERO);
    let mut n = 0u64;
    let mut lines = LineCounter::new(path)?;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("`{}`: {e}", path.display()))?;
        let line = lines.line_at(rec.position().map(|p| p.byte()).unwrap_or(0));
        let cell = rec.get(col).ok_or_else(|| {
            format!(
                "`{}` line {line}: no value in column `{column}`",
                path.display()
            )
        })?;
        let t = parse_instant(cell)
            .map_err(|m| format!("`{}` line {line}, column `{column}`: {m}", path.display()))?;
        if t < prev {
            return Err(format!(
                "`{}` line {line}: arrival {} is earlier than the row before ({}); a trace must be sorted by time",
                path.display(),
                t,
                prev
            ));
        }
        if n == 0 {
            first = t;
        }
        prev = t;
        n += 1;
    }
    if n == 0 {
        return Err(format!("`{}` has a header but no rows", path.display()));
    }
    Ok((n, first, prev))
}

/// Streams the arrival instants of a validated trace. Stops at the first unreadable row (the
/// file changed since validation); `error` then holds why.
pub struct TraceReader {
    records: csv::StringRecordsIntoIter<Source>,
    col: usize,
    pub error: Option<String>,
}

impl TraceReader {
    pub fn open(path: &Path, column: &str) -> Result<TraceReader, String> {
        let mut rdr = open(path)?;
        let col = column_index(&mut rdr, path, column)?;
        Ok(TraceReader {
            records: rdr.into_records(),
            col,
            error: None,
        })
    }
}

impl Iterator for TraceReader {
    type Item = SimTime;
    fn next(&mut self) -> Option<SimTime> {
        if self.error.is_some() {
            return None;
        }
        let rec = match self.records.next()? {
            Ok(r) => r,
            Err(e) => {
                self.error = Some(e.to_string());
                return None;
            }
        };
        match rec.get(self.col).map(parse_instant) {
            Some(Ok(t)) => Some(t),
            Some(Err(m)) => {
                self.error = Some(m);
                None
            }
            None => {
                self.error = Some("missing column".into());
                None
            }
        }
    }
}

/// Most values an empirical distribution may hold (80 MB): a sample this size already pins
/// every quantile far beyond what a model of callers needs.
pub const MAX_EMPIRICAL_VALUES: usize = 10_000_000;

/// The longest duration, in seconds, that a value may give: as `parse_duration` allows.
const MAX_VALUE_S: f64 = (u64::MAX / 4) as f64 / 1e9;

/// Reads a column of durations in seconds (numbers, or duration strings such as "12.5s") for an
/// empirical distribution; returns them sorted.
pub fn read_values(path: &Path, column: Option<&str>) -> Result<Vec<f64>, String> {
    let mut rdr = open(path)?;
    let col = match column {
        Some(c) => column_index(&mut rdr, path, c)?,
        None => 0,
    };
    let mut out = Vec::new();
    let mut lines = LineCounter::new(path)?;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("`{}`: {e}", path.display()))?;
        let line = lines.line_at(rec.position().map(|p| p.byte()).unwrap_or(0));
        let cell = rec.get(col).unwrap_or("").trim();
        let v = match cell.parse::<f64>() {
            // At most what a duration may be (`parse_duration`'s limit, about 146 years).
            Ok(x) if (0.0..=MAX_VALUE_S).contains(&x) => x,
            Ok(x) if x.is_finite() && x >= 0.0 => {
                return Err(format!(
                    "`{}` line {line}: `{cell}` seconds is longer than any duration callsim takes ({MAX_VALUE_S:.0} s)",
                    path.display()
                ))
            }
            _ => crate::time::parse_duration(cell)
                .map(|d| d.as_secs_f64())
                .map_err(|_| format!("`{}` line {line}: `{cell}` is not a duration in seconds (a number >= 0 or e.g. \"12.5s\")", path.display()))?,
        };
        if out.len() == MAX_EMPIRICAL_VALUES {
            return Err(format!(
                "`{}` line {line}: more than {MAX_EMPIRICAL_VALUES} values; an empirical distribution needs a sample, not a whole history (take a random sample of the rows)",
                path.display()
            ));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(format!("`{}` has no values", path.display()));
    }
    out.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    Ok(out)
}
