//! Call records → CDR files in each supported layout, for the round-trip tests and the
//! docs/fit.md walk-through. `CallRecord` has no per-leg data, so leg rows are synthesised, with a
//! seeded generator, under the assumptions the test scenarios satisfy: simulcall, one
//! destination, no carrier limit (every leg of a call starts ringing at arrival + pdd). Then the
//! legs are exchangeable and the per-leg rows follow from the call record exactly, except which
//! leg answered, drawn uniformly (its true distribution under those assumptions):
//!
//! * connected: the answering leg rings from arrival + pdd to the answer, talks `talk`; every
//!   other leg is cancelled at the answer;
//! * abandoned while ringing: every leg is cancelled when the caller hangs up (arrival + wait);
//! * no answer: every leg rings out after `ring_timeout`; the caller's record ends at arrival + wait;
//! * abandoned while waiting (no leg rang): only a caller record (formats that have one);
//! * failed: every leg fails at arrival + pdd (or arrival); unfinished calls are left out.
//!
//! Holds the records in memory (test data only; `callsim fit` itself streams).

use super::ts::{civil_from_days, format_plain, format_rfc2822};
use crate::model::{CallRecord, CallSink, Outcome};
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A sink that keeps every record (for tests).
#[derive(Clone, Default)]
pub struct CollectSink(pub Arc<Mutex<Vec<CallRecord>>>);

impl CallSink for CollectSink {
    fn record(&mut self, rec: &CallRecord) {
        self.0.lock().expect("lock").push(rec.clone());
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SynthOptions {
    /// Day of the records: days since 1970-01-01.
    pub day: i64,
    pub ring_timeout_s: f64,
    pub seed: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum LegEnd {
    Answered,
    Cancelled,
    LostRace,
    RangOut,
    Failed,
}

struct LegRow {
    idx: usize,
    start: f64,
    answer: Option<f64>,
    end: f64,
    how: LegEnd,
}

/// The caller's record (start, end) and the leg rows of one call, in absolute seconds.
fn legs_of(
    r: &CallRecord,
    o: &SynthOptions,
    rng: &mut impl Rng,
) -> Option<((f64, f64), Vec<LegRow>)> {
    let a = o.day as f64 * 86400.0 + r.arrival.as_secs_f64();
    let w = r.wait.as_secs_f64();
    let ring = a + r.pdd.map_or(0.0, |p| p.as_secs_f64());
    let k = r.legs as usize;
    let mk = |idx, answer, end, how| LegRow {
        idx,
        start: ring,
        answer,
        end,
        how,
    };
    let (caller_end, legs) = match r.outcome {
        Outcome::Connected => {
            let talk = r.talk.map_or(0.0, |t| t.as_secs_f64());
            let win = rng.random_range(0..k.max(1));
            let legs = (0..k)
                .map(|i| {
                    if i == win {
                        mk(i, Some(a + w), a + w + talk, LegEnd::Answered)
                    } else {
                        mk(i, None, a + w, LegEnd::LostRace)
                    }
                })
                .collect();
            (a + w + talk, legs)
        }
        Outcome::AbandonedRinging => (
            a + w,
            (0..k)
                .map(|i| mk(i, None, a + w, LegEnd::Cancelled))
                .collect(),
        ),
        Outcome::NoAnswer => (
            a + w,
            (0..k)
                .map(|i| mk(i, None, ring + o.ring_timeout_s, LegEnd::RangOut))
                .collect(),
        ),
        Outcome::AbandonedWaiting => (a + w, Vec::new()),
        Outcome::Failed => (
            a + w,
            (0..k).map(|i| mk(i, None, ring, LegEnd::Failed)).collect(),
        ),
        Outcome::Unfinished | Outcome::Served => return None,
    };
    Some(((a, caller_end), legs))
}

fn iso_ms(s: f64) -> String {
    let ms = (s * 1000.0).round() as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn caller(r: &CallRecord) -> String {
    format!("+1555{:07}", r.call_index % 10_000_000)
}

/// One CSV line from cells, quoting every cell (as Asterisk and FreeSWITCH do).
fn line(cells: &[String]) -> String {
    let q: Vec<String> = cells
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    q.join(",") + "\n"
}

/// Asterisk cdr_csv with loguniqueid=yes and loguserfield=yes: 18 columns, no header; one row
/// per leg (Asterisk 12+ writes one CDR per party A / party B pair), a call's rows together.
fn asterisk(i: usize, r: &CallRecord, (_, legs): &((f64, f64), Vec<LegRow>)) -> String {
    let uid = format!("{}.{i}", 1_700_000_000 + r.call_index);
    let mut s = String::new();
    for l in legs {
        let disp = match l.how {
            LegEnd::Answered => "ANSWERED",
            LegEnd::Failed => "FAILED",
            _ => "NO ANSWER",
        };
        let num = caller(r);
        s += &line(&[
            String::new(),
            num.clone(),
            "100".into(),
            "from-pstn".into(),
            format!("\"Caller\" <{num}>"),
            format!("SIP/trunk-{i:08x}"),
            format!("SIP/agent{}-{i:08x}", l.idx),
            "Dial".into(),
            "SIP/agents,30".into(),
            format_plain(l.start),
            l.answer.map(format_plain).unwrap_or_default(),
            format_plain(l.end),
            format!("{}", (l.end.floor() - l.start.floor()) as i64),
            format!(
                "{}",
                l.answer.map_or(0, |a| (l.end.floor() - a.floor()) as i64)
            ),
            disp.into(),
            "DOCUMENTATION".into(),
            uid.clone(),
            String::new(),
        ]);
    }
    s
}

/// FreeSWITCH default template (13 columns) plus `${originator}` as column 14: the a-leg row
/// (empty originator) and one b-leg row per leg whose originator is the a-leg's uuid.
fn freeswitch(i: usize, r: &CallRecord, ((cs, ce), legs): &((f64, f64), Vec<LegRow>)) -> String {
    let a_uuid = format!("a{i:08}-0000-4000-8000-{:012}", r.call_index);
    let num = caller(r);
    let row =
        |start: f64, answer: Option<f64>, end: f64, cause: &str, uuid: String, orig: String| {
            line(&[
                "Caller".into(),
                num.clone(),
                "100".into(),
                "default".into(),
                format_plain(start),
                answer.map(format_plain).unwrap_or_default(),
                format_plain(end),
                format!("{}", (end.floor() - start.floor()) as i64),
                format!("{}", answer.map_or(0, |a| (end.floor() - a.floor()) as i64)),
                cause.into(),
                uuid,
                String::new(),
                String::new(),
                orig,
            ])
        };
    let mut s = row(
        *cs,
        None,
        *ce,
        "NORMAL_CLEARING",
        a_uuid.clone(),
        String::new(),
    );
    for l in legs {
        let cause = match l.how {
            LegEnd::Answered => "NORMAL_CLEARING",
            LegEnd::LostRace => "LOSE_RACE",
            LegEnd::Cancelled => "ORIGINATOR_CANCEL",
            LegEnd::RangOut => "NO_ANSWER",
            LegEnd::Failed => "CALL_REJECTED",
        };
        s += &row(
            l.start,
            l.answer,
            l.end,
            cause,
            format!("b{i:08}-{}", l.idx),
            a_uuid.clone(),
        );
    }
    s
}

pub const TWILIO_HEADER: &str =
    "Sid,Parent Call Sid,From,To,Direction,Status,Start Time,End Time,Duration\n";

/// Twilio call log: the inbound parent call and one `outbound-dial` child per leg.
fn twilio(i: usize, r: &CallRecord, ((cs, ce), legs): &((f64, f64), Vec<LegRow>)) -> String {
    let sid = format!("CA{:030x}ff", i as u128 * 1_000_003);
    let num = caller(r);
    let mut s = format!(
        "{sid},,{num},+15550000000,inbound,completed,\"{}\",\"{}\",{}\n",
        format_rfc2822(*cs),
        format_rfc2822(*ce),
        (ce.floor() - cs.floor()) as i64
    );
    for l in legs {
        let st = match l.how {
            LegEnd::Answered => "completed",
            LegEnd::LostRace | LegEnd::Cancelled => "canceled",
            LegEnd::RangOut => "no-answer",
            LegEnd::Failed => "failed",
        };
        let dur = l
            .answer
            .map(|a| ((l.end.floor() - a.floor()) as i64).to_string())
            .unwrap_or_default();
        s += &format!(
            "CA{:030x}{:02x},{sid},+15550000000,+1555100{:04},outbound-dial,{st},\"{}\",\"{}\",{dur}\n",
            i as u128 * 1_000_003, l.idx, l.idx, format_rfc2822(l.start), format_rfc2822(l.end)
        );
    }
    s
}

pub const CSV_HEADER: &str = "call,leg,parent,caller,start,answer,end,status\n";

/// The generic layout with millisecond ISO timestamps and caller rows (parent empty).
fn generic(i: usize, r: &CallRecord, ((cs, ce), legs): &((f64, f64), Vec<LegRow>)) -> String {
    let mut s = format!(
        "c{i},,,{},{},,{},caller\n",
        caller(r),
        iso_ms(*cs),
        iso_ms(*ce)
    );
    for l in legs {
        let st = match l.how {
            LegEnd::Answered => "answered",
            LegEnd::LostRace | LegEnd::Cancelled => "cancelled",
            LegEnd::RangOut => "no-answer",
            LegEnd::Failed => "failed",
        };
        s += &format!(
            "l{i}.{},l{i}.{},c{i},,{},{},{},{st}\n",
            l.idx,
            l.idx,
            iso_ms(l.start),
            l.answer.map(iso_ms).unwrap_or_default(),
            iso_ms(l.end)
        );
    }
    s
}

/// The rows of call `i` in `fmt` and the time its rows sort by (arrival for Twilio and CSV,
/// 0 for the formats written at hang-up), or None if the call gives no row.
fn call_text(
    i: usize,
    r: &CallRecord,
    fmt: super::read::Format,
    o: &SynthOptions,
    rng: &mut impl Rng,
) -> Option<(f64, String)> {
    use super::read::Format as F;
    let call = legs_of(r, o, rng)?;
    if fmt == F::Asterisk && call.1.is_empty() {
        return None; // no leg rang: Asterisk's Master.csv has no dial-pair row for it
    }
    let text = match fmt {
        F::Asterisk => asterisk(i, r, &call),
        F::Freeswitch => freeswitch(i, r, &call),
        F::Twilio => twilio(i, r, &call),
        F::Csv => generic(i, r, &call),
    };
    Some((
        if matches!(fmt, F::Twilio | F::Csv) {
            call.0 .0
        } else {
            0.0
        },
        text,
    ))
}

fn header(fmt: super::read::Format) -> &'static str {
    match fmt {
        super::read::Format::Twilio => TWILIO_HEADER,
        super::read::Format::Csv => CSV_HEADER,
        _ => "",
    }
}

/// Writes `records` (in the order calls ended, as a sink receives them) in `fmt`. Asterisk and
/// FreeSWITCH rows stay in end order (they are written at hang-up); Twilio and CSV rows are
/// sorted by the call's arrival. Returns the number of calls written.
pub fn write_cdrs(
    records: &[CallRecord],
    fmt: super::read::Format,
    o: &SynthOptions,
    mut w: impl Write,
) -> std::io::Result<usize> {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(o.seed);
    w.write_all(header(fmt).as_bytes())?;
    let mut rows: Vec<(f64, usize, String)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if let Some((key, text)) = call_text(i, r, fmt, o, &mut rng) {
            rows.push((key, i, text));
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (_, _, t) in &rows {
        w.write_all(t.as_bytes())?;
    }
    Ok(rows.len())
}

/// A sink that writes CDR rows as calls end (constant memory; rows in end order in every
/// format), for large generated files.
pub struct CdrSink {
    w: std::io::BufWriter<std::fs::File>,
    fmt: super::read::Format,
    o: SynthOptions,
    rng: rand_xoshiro::Xoshiro256PlusPlus,
    i: usize,
    error: Option<String>,
}

impl CdrSink {
    pub fn create(
        path: &std::path::Path,
        fmt: super::read::Format,
        o: SynthOptions,
    ) -> Result<CdrSink, String> {
        let f = std::fs::File::create(path)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
        w.write_all(header(fmt).as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(CdrSink {
            w,
            fmt,
            o,
            rng: rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(o.seed),
            i: 0,
            error: None,
        })
    }
}

impl CallSink for CdrSink {
    fn record(&mut self, r: &CallRecord) {
        if let Some((_, t)) = call_text(self.i, r, self.fmt, &self.o, &mut self.rng) {
            if let Err(e) = self.w.write_all(t.as_bytes()) {
                self.error.get_or_insert(e.to_string());
            }
        }
        self.i += 1;
    }
    fn finish(&mut self) -> Result<(), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.w.flush().map_err(|e| e.to_string())
    }
}
