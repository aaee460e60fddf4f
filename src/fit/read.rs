//! Readers for call records: Asterisk `cdr_csv` (Master.csv, no header, fixed column order),
//! FreeSWITCH `mod_cdr_csv` (its built-in default template, no header), a Twilio call-log CSV
//! (header row, the Call resource's property names) and any CSV with named columns. Every
//! format is a column layout over one normalised row; `--columns NAME=COL` changes any column.
//! Numbers are hashed with a per-run random key as they are read and never kept in clear.

use super::ts::{parse_stamp, Stamp};
use super::{FitError, Issues};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::Read;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Asterisk,
    Freeswitch,
    Twilio,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "asterisk" => Ok(Format::Asterisk),
            "freeswitch" => Ok(Format::Freeswitch),
            "twilio" => Ok(Format::Twilio),
            "csv" => Ok(Format::Csv),
            _ => Err(format!(
                "unknown format `{s}`; expected asterisk, freeswitch, twilio or csv"
            )),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Format::Asterisk => "asterisk",
            Format::Freeswitch => "freeswitch",
            Format::Twilio => "twilio",
            Format::Csv => "csv",
        }
    }
    fn has_header(self) -> bool {
        matches!(self, Format::Twilio | Format::Csv)
    }
}

/// The normalised fields a layout maps to columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The key legs are grouped by (Asterisk uniqueid or linkedid, FreeSWITCH uuid, Twilio Sid).
    Call,
    /// The leg's own id (duplicate detection).
    Leg,
    /// The parent call's key: a row with a non-empty parent is a leg of that call; a row with
    /// an empty parent is the caller's own (parent) record. Without this column every row is a leg.
    Parent,
    Caller,
    Start,
    Answer,
    End,
    Status,
    /// Seconds from answer to hang-up (used when there is no answer column).
    Talk,
}

pub const FIELDS: [(Field, &str); 9] = [
    (Field::Call, "call"),
    (Field::Leg, "leg"),
    (Field::Parent, "parent"),
    (Field::Caller, "caller"),
    (Field::Start, "start"),
    (Field::Answer, "answer"),
    (Field::End, "end"),
    (Field::Status, "status"),
    (Field::Talk, "talk"),
];

fn field_name(f: Field) -> &'static str {
    FIELDS.iter().find(|x| x.0 == f).map(|x| x.1).unwrap_or("?")
}

/// Where a field is: a 0-based column, or header names (normalised: lower case, letters and
/// digits only), the first present wins.
#[derive(Clone, Debug)]
pub enum ColRef {
    Index(usize),
    Names(Vec<String>),
}

fn names(v: &[&str]) -> ColRef {
    ColRef::Names(v.iter().map(|s| s.to_string()).collect())
}

/// The default layout of a format.
pub fn default_layout(fmt: Format) -> Vec<(Field, ColRef)> {
    use ColRef::Index as I;
    match fmt {
        // accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,
        // end,duration,billsec,disposition,amaflags,uniqueid(loguniqueid=yes),userfield
        Format::Asterisk => vec![
            (Field::Caller, I(1)),
            (Field::Leg, I(6)),
            (Field::Start, I(9)),
            (Field::Answer, I(10)),
            (Field::End, I(11)),
            (Field::Talk, I(13)),
            (Field::Status, I(14)),
            (Field::Call, I(16)),
        ],
        // caller_id_name,caller_id_number,destination_number,context,start_stamp,answer_stamp,
        // end_stamp,duration,billsec,hangup_cause,uuid,bleg_uuid,accountcode
        Format::Freeswitch => vec![
            (Field::Caller, I(1)),
            (Field::Start, I(4)),
            (Field::Answer, I(5)),
            (Field::End, I(6)),
            (Field::Talk, I(8)),
            (Field::Status, I(9)),
            (Field::Call, I(10)),
            (Field::Leg, I(10)),
        ],
        Format::Twilio => vec![
            (Field::Call, names(&["sid", "callsid"])),
            (Field::Leg, names(&["sid", "callsid"])),
            (Field::Parent, names(&["parentcallsid"])),
            (Field::Caller, names(&["from"])),
            (Field::Start, names(&["starttime"])),
            (Field::End, names(&["endtime"])),
            (Field::Talk, names(&["duration"])),
            (Field::Status, names(&["status"])),
        ],
        Format::Csv => vec![
            (Field::Call, names(&["call", "callid", "linkedid"])),
            (Field::Leg, names(&["leg", "legid"])),
            (
                Field::Parent,
                names(&["parent", "parentid", "parentcallsid"]),
            ),
            (Field::Caller, names(&["caller", "from", "src"])),
            (Field::Start, names(&["start", "starttime"])),
            (Field::Answer, names(&["answer", "answertime"])),
            (Field::End, names(&["end", "endtime"])),
            (Field::Status, names(&["status", "disposition"])),
            (Field::Talk, names(&["talk", "talks", "billsec"])),
        ],
    }
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// Parses `--columns call=17,caller=src`: a 1-based column number or a header name. Every entry
/// must be NAME=COLUMN with both sides given, and each field may be mapped once.
pub fn parse_columns(s: &str) -> Result<Vec<(Field, ColRef)>, String> {
    let mut v: Vec<(Field, ColRef)> = Vec::new();
    let mut seen: Vec<(Field, &str)> = Vec::new();
    for (n, part) in s.split(',').map(str::trim).enumerate() {
        if part.is_empty() {
            return Err(format!(
                "--columns `{s}`: entry {} is empty; expected NAME=COLUMN entries separated by single commas, e.g. call=17,caller=2",
                n + 1
            ));
        }
        let (k, c) = part
            .split_once('=')
            .ok_or_else(|| format!("--columns: `{part}` is not NAME=COLUMN"))?;
        let f = FIELDS
            .iter()
            .find(|x| x.1 == k.trim())
            .map(|x| x.0)
            .ok_or_else(|| {
                let all: Vec<&str> = FIELDS.iter().map(|x| x.1).collect();
                format!(
                    "--columns: unknown field `{k}`; expected one of {}",
                    all.join(", ")
                )
            })?;
        let c = c.trim();
        if c.is_empty() {
            return Err(format!(
                "--columns: `{part}` names no column; expected a 1-based column number or a header name after `=`"
            ));
        }
        if let Some((_, first)) = seen.iter().find(|x| x.0 == f) {
            return Err(format!(
                "--columns: field `{}` is mapped twice (`{first}` and `{part}`); expected each field at most once",
                k.trim()
            ));
        }
        seen.push((f, part));
        let r = match c.parse::<usize>() {
            Ok(0) => return Err(format!("--columns: `{part}`: columns are numbered from 1")),
            Ok(i) => ColRef::Index(i - 1),
            Err(_) => ColRef::Names(vec![norm(c)]),
        };
        v.push((f, r));
    }
    Ok(v)
}

/// What happened to a leg, as far as the record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Answered,
    /// Rang until the ring timeout.
    RangOut,
    /// Cancelled: the caller hung up, or another leg answered first.
    Cancelled,
    Busy,
    Failed,
    /// Not answered, cause not given (Asterisk's `NO ANSWER`): rang out or cancelled, told apart
    /// later by the ringing time against the ring timeout.
    Unanswered,
}

fn status_of(fmt: Format, s: &str) -> Option<Status> {
    let n = norm(s);
    Some(match n.as_str() {
        "answered" | "completed" | "answer" | "connected" => Status::Answered,
        "noanswer" if fmt == Format::Asterisk => Status::Unanswered,
        "noanswer" | "nouserresponse" | "allottedtimeout" | "rangout" => Status::RangOut,
        "canceled" | "cancelled" | "originatorcancel" | "loserace" | "abandoned" => {
            Status::Cancelled
        }
        "busy" | "userbusy" => Status::Busy,
        "failed" | "congestion" | "callrejected" | "noroutedestination" | "unallocatednumber" => {
            Status::Failed
        }
        _ => return None,
    })
}

/// One record, normalised.
#[derive(Clone, Debug)]
pub struct Row {
    pub line: u64,
    pub key: String,
    pub parent: bool,
    pub leg_id: u64,
    pub caller: Option<u64>,
    pub start: f64,
    pub answer: Option<f64>,
    pub end: f64,
    pub status: Status,
}

pub struct CdrReader {
    rdr: csv::Reader<Box<dyn Read>>,
    path: String,
    fmt: Format,
    idx: Vec<(Field, usize)>,
    min_cols: usize,
    salt: RandomState,
    zone: Option<(Option<i32>, u64)>,
    rec: csv::StringRecord,
    pub rows: u64,
    pub good: u64,
    /// Whether any timestamp had a fraction of a second (else whole-second records).
    pub subsecond: bool,
}

impl CdrReader {
    pub fn open(
        path: &std::path::Path,
        fmt: Format,
        overrides: &[(Field, ColRef)],
    ) -> Result<CdrReader, FitError> {
        let f = crate::input::csv_source(path).map_err(FitError::input)?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(fmt.has_header())
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(Box::new(f) as Box<dyn Read>);
        let name = path.display().to_string();
        let mut layout = default_layout(fmt);
        for (f, c) in overrides {
            layout.retain(|x| x.0 != *f);
            layout.push((*f, c.clone()));
        }
        let header: Option<Vec<String>> = if fmt.has_header() {
            let h = rdr.headers().map_err(|e| {
                FitError::input(format!("{name}:1: cannot read the header row: {e}"))
            })?;
            Some(h.iter().map(norm).collect())
        } else {
            None
        };
        let idx = resolve(&name, fmt, &layout, header.as_deref())?;
        let min_cols = idx.iter().map(|x| x.1 + 1).max().unwrap_or(1);
        Ok(CdrReader {
            rdr,
            path: name,
            fmt,
            idx,
            min_cols,
            salt: RandomState::new(),
            zone: None,
            rec: csv::StringRecord::new(),
            rows: 0,
            good: 0,
            subsecond: false,
        })
    }

    fn col(&self, f: Field) -> Option<usize> {
        self.idx.iter().find(|x| x.0 == f).map(|x| x.1)
    }

    fn cell(&self, f: Field) -> Option<&str> {
        self.col(f)
            .and_then(|i| self.rec.get(i))
            .filter(|s| !s.is_empty())
    }

    /// The next good row; bad rows are counted in `issues` and skipped. Errors are fatal.
    pub fn next_row(&mut self, issues: &mut Issues) -> Result<Option<Row>, FitError> {
        loop {
            match self.rdr.read_record(&mut self.rec) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(e) => {
                    self.rows += 1;
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    issues.add("unreadable CSV row", format!("{}:{line}: {e}", self.path));
                    self.check_not_cdr(issues)?;
                    continue;
                }
            }
            self.rows += 1;
            let line = self.rec.position().map(|p| p.line()).unwrap_or(0);
            match self.row(line) {
                Ok(r) => {
                    self.good += 1;
                    return Ok(Some(r));
                }
                Err(RowErr::Skip(kind, msg)) => {
                    issues.add(kind, format!("{}:{line}:{msg}", self.path));
                    self.check_not_cdr(issues)?;
                }
                Err(RowErr::Fatal(msg)) => return Err(FitError::input(msg)),
            }
        }
    }

    /// A file whose first rows are mostly unreadable is not this kind of record at all.
    fn check_not_cdr(&self, issues: &Issues) -> Result<(), FitError> {
        let bad = self.rows - self.good;
        if (self.rows <= 1000 && bad >= 20 && bad * 2 > self.rows)
            || (self.rows <= 20 && self.good == 0 && bad == self.rows && bad >= 5)
        {
            return Err(FitError::input(format!(
                "`{}` does not look like {} call records: {bad} of the first {} rows could not be read; first: {}",
                self.path,
                describe(self.fmt),
                self.rows,
                issues.first().unwrap_or_default()
            )));
        }
        Ok(())
    }
}

pub fn describe(fmt: Format) -> &'static str {
    match fmt {
        Format::Asterisk => "Asterisk cdr_csv (Master.csv: accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,billsec,disposition,amaflags,uniqueid[,userfield])",
        Format::Freeswitch => "FreeSWITCH mod_cdr_csv default-template (caller_id_name,caller_id_number,destination_number,context,start_stamp,answer_stamp,end_stamp,duration,billsec,hangup_cause,uuid,bleg_uuid,accountcode)",
        Format::Twilio => "Twilio call-log (header with Sid, Parent Call Sid, From, Start Time, End Time, Duration, Status)",
        Format::Csv => "CSV (header with call, start, end and answer or status columns)",
    }
}

fn resolve(
    path: &str,
    fmt: Format,
    layout: &[(Field, ColRef)],
    header: Option<&[String]>,
) -> Result<Vec<(Field, usize)>, FitError> {
    let mut idx = Vec::new();
    for (f, c) in layout {
        let i = match (c, header) {
            (ColRef::Index(i), _) => Some(*i),
            (ColRef::Names(ns), Some(h)) => ns.iter().find_map(|n| h.iter().position(|x| x == n)),
            (ColRef::Names(ns), None) => {
                return Err(FitError::input(format!(
                    "--columns {}={}: format {} has no header row; give a column number",
                    field_name(*f),
                    ns.join("/"),
                    fmt.name()
                )))
            }
        };
        if let Some(i) = i {
            idx.push((*f, i));
        }
    }
    let has = |f: Field| idx.iter().any(|x| x.0 == f);
    let mut missing: Vec<&str> = [Field::Call, Field::Start, Field::End]
        .into_iter()
        .filter(|f| !has(*f))
        .map(field_name)
        .collect();
    if !has(Field::Answer) && !has(Field::Status) {
        missing.push("answer or status");
    }
    if !missing.is_empty() {
        let found = header
            .map(|h| format!("; the header has: {}", h.join(", ")))
            .unwrap_or_default();
        return Err(FitError::input(format!(
            "{path}:1: missing column(s) {}: expected {}{found} (map them with --columns NAME=COLUMN)",
            missing.join(", "),
            describe(fmt)
        )));
    }
    Ok(idx)
}

/// The longest a row (start to end) may last. No call in a day's traffic lasts a day: a longer
/// row has a corrupt or placeholder end (such as 2099-01-01), and one such row would dominate
/// every mean it enters (a wait, a talk time, the patience fit). Such rows are skipped and
/// warned about with their lines.
pub const MAX_ROW_S: f64 = 86_400.0;

enum RowErr {
    Skip(&'static str, String),
    Fatal(String),
}

impl CdrReader {
    fn stamp(&mut self, f: Field, line: u64) -> Result<Option<f64>, RowErr> {
        let Some(i) = self.col(f) else {
            return Ok(None);
        };
        let Some(s) = self.rec.get(i).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let st: Stamp = parse_stamp(s).map_err(|m| {
            RowErr::Skip(
                "unparseable timestamp",
                format!("{}: column {} ({}): {m}", i + 1, i + 1, field_name(f)),
            )
        })?;
        match self.zone {
            None => self.zone = Some((st.offset_min, line)),
            Some((z, first)) if z != st.offset_min => {
                let show = |z: Option<i32>| match z {
                    None => "no zone (local time)".to_string(),
                    Some(m) => format!("UTC{:+03}:{:02}", m / 60, (m % 60).abs()),
                };
                return Err(RowErr::Fatal(format!(
                    "{}:{line}:{}: mixed time zones: `{s}` is {} but line {first} was {}; expected every timestamp in one zone (convert the file first)",
                    self.path, i + 1, show(st.offset_min), show(z)
                )));
            }
            _ => {}
        }
        self.subsecond |= st.local_s.fract() != 0.0;
        Ok(Some(st.local_s))
    }

    /// Start, answer and end of the row (start and end required, end not before start).
    fn times(&mut self, line: u64) -> Result<(f64, Option<f64>, f64), RowErr> {
        if self.rec.len() < self.min_cols {
            return Err(RowErr::Skip(
                "too few columns",
                format!(
                    " {} columns; expected at least {} ({})",
                    self.rec.len(),
                    self.min_cols,
                    describe(self.fmt)
                ),
            ));
        }
        let start = self.stamp(Field::Start, line)?;
        let end = self.stamp(Field::End, line)?;
        let answer = self.stamp(Field::Answer, line)?;
        let (Some(start), Some(end)) = (start, end) else {
            let c = self
                .col(if start.is_none() {
                    Field::Start
                } else {
                    Field::End
                })
                .unwrap_or(0)
                + 1;
            return Err(RowErr::Skip(
                "missing start or end time",
                format!("{c}: empty start or end time"),
            ));
        };
        if end < start {
            let c = self.col(Field::End).unwrap_or(0) + 1;
            return Err(RowErr::Skip(
                "end before start",
                format!("{c}: the end time is before the start time"),
            ));
        }
        if end - start > MAX_ROW_S {
            let c = self.col(Field::End).unwrap_or(0) + 1;
            return Err(RowErr::Skip(
                "lasting more than 24 h (skipped)",
                format!(
                    "{c}: the row lasts {:.0} s, from {} to {}; expected at most 24 h (86400 s)",
                    end - start,
                    super::ts::format_plain(start),
                    super::ts::format_plain(end)
                ),
            ));
        }
        Ok((start, answer, end))
    }

    /// The key the row is grouped by, and whether it is the caller's own record.
    fn key(&self) -> Result<(String, bool), RowErr> {
        let parent_key = self.cell(Field::Parent).map(str::to_string);
        let (key, parent) = match (self.col(Field::Parent), parent_key) {
            (Some(_), Some(p)) => (p, false),
            (Some(_), None) => (self.cell(Field::Call).unwrap_or_default().to_string(), true),
            (None, _) => (
                self.cell(Field::Call).unwrap_or_default().to_string(),
                false,
            ),
        };
        if key.is_empty() {
            let c = self.col(Field::Call).unwrap_or(0) + 1;
            return Err(RowErr::Skip("empty call id", format!("{c}: empty call id")));
        }
        Ok((key, parent))
    }

    /// The leg's id: its `leg` cell, else the whole row (so exact duplicates are found).
    fn leg_id(&self) -> u64 {
        let h = |s: &str| {
            use std::hash::{Hash, Hasher};
            let mut d = std::hash::DefaultHasher::new();
            s.hash(&mut d);
            d.finish()
        };
        match self.cell(Field::Leg) {
            Some(l) => h(l),
            None => h(&self.rec.iter().collect::<Vec<_>>().join("\u{1f}")),
        }
    }

    fn row(&mut self, line: u64) -> Result<Row, RowErr> {
        let (start, answer, end) = self.times(line)?;
        let (key, parent) = self.key()?;
        let status = self.status(answer);
        let answer = match status {
            Status::Answered => answer.or_else(|| {
                let t: f64 = self.cell(Field::Talk)?.parse().ok()?;
                Some(end - t)
            }),
            _ => None,
        };
        if status == Status::Answered && !parent && answer.is_none_or(|a| a < start || a > end) {
            return Err(RowErr::Skip(
                "answered without a usable answer time",
                " the leg is answered but its answer time is missing or outside start..end".into(),
            ));
        }
        let leg_id = self.leg_id();
        let caller = self.cell(Field::Caller).map(|c| self.salt.hash_one(c));
        Ok(Row {
            line,
            key,
            parent,
            leg_id,
            caller,
            start,
            answer,
            end,
            status,
        })
    }

    fn status(&self, answer: Option<f64>) -> Status {
        let text = self.cell(Field::Status);
        let known = text.and_then(|t| status_of(self.fmt, t));
        match (known, answer) {
            (Some(s), _) => s,
            (None, Some(_)) => Status::Answered,
            (None, None) if self.fmt == Format::Freeswitch && text.is_some() => Status::Failed,
            (None, None) => Status::Unanswered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_flag_takes_numbers_and_names() {
        let v = parse_columns("call=17, caller=Caller ID").unwrap();
        assert!(matches!(v[0], (Field::Call, ColRef::Index(16))));
        assert!(
            matches!(&v[1], (Field::Caller, ColRef::Names(n)) if n == &vec!["callerid".to_string()])
        );
        assert!(parse_columns("call=0")
            .unwrap_err()
            .contains("numbered from 1"));
        assert!(parse_columns("calls=3")
            .unwrap_err()
            .contains("unknown field `calls`"));
        assert!(parse_columns("call").unwrap_err().contains("NAME=COLUMN"));
    }

    /// A field mapped twice (the last would silently win) and empty entries are refused.
    #[test]
    fn columns_flag_refuses_duplicates_and_empty_entries() {
        let e = parse_columns("call=1,call=2").unwrap_err();
        assert!(
            e.contains("field `call` is mapped twice (`call=1` and `call=2`)"),
            "{e}"
        );
        for bad in [",,", "call=17,", ",call=17", "call=17,,leg=3"] {
            let e = parse_columns(bad).unwrap_err();
            assert!(e.contains("is empty"), "{bad}: {e}");
        }
        let e = parse_columns("call=").unwrap_err();
        assert!(e.contains("`call=` names no column"), "{e}");
        // One column may serve two fields (FreeSWITCH's uuid is both call and leg).
        assert_eq!(parse_columns("call=11,leg=11").unwrap().len(), 2);
    }

    #[test]
    fn statuses_by_format() {
        assert_eq!(
            status_of(Format::Asterisk, "NO ANSWER"),
            Some(Status::Unanswered)
        );
        assert_eq!(
            status_of(Format::Twilio, "no-answer"),
            Some(Status::RangOut)
        );
        assert_eq!(
            status_of(Format::Freeswitch, "LOSE_RACE"),
            Some(Status::Cancelled)
        );
        assert_eq!(
            status_of(Format::Freeswitch, "USER_BUSY"),
            Some(Status::Busy)
        );
        assert_eq!(status_of(Format::Csv, "ANSWERED"), Some(Status::Answered));
        assert_eq!(status_of(Format::Freeswitch, "NORMAL_CLEARING"), None);
    }

    #[test]
    fn missing_columns_are_named_with_the_header() {
        let h: Vec<String> = ["call", "end", "status"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = resolve("f.csv", Format::Csv, &default_layout(Format::Csv), Some(&h)).unwrap_err();
        assert!(
            e.message.contains("f.csv:1: missing column(s) start")
                && e.message.contains("the header has: call, end, status"),
            "{}",
            e.message
        );
        let ok = resolve(
            "f.csv",
            Format::Asterisk,
            &default_layout(Format::Asterisk),
            None,
        )
        .unwrap();
        assert_eq!(ok.iter().map(|x| x.1).max(), Some(16));
    }
}
