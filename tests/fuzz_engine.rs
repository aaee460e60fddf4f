//! The structured fuzzer (issue 16 item 6), shared by the short run in tests/fuzz.rs and the
//! long campaign of examples/fuzz_campaign.rs (docs/fuzzing.md).
//!
//! Inputs come from every bundled scenario (scenarios/**/*.toml, tests/fixtures/*.toml) as
//! seeds, mutated key by key, value by value and structurally (nasty values, deleted, renamed
//! and unknown keys, swapped tables, shortened runs), or as text (truncated, bytes flipped,
//! lines duplicated); from random trace and empirical-distribution CSV files; and from random
//! `--set` strings. Each input is loaded with `load_str` inside `catch_unwind` (a panic is a
//! finding); one that loads is checked against a budget and, when small, run once within tight
//! `Limits` (a run or load past `HANG_S` of wall clock is a "hang" finding).

#![allow(dead_code)]

use callsim::budget::{check_budget, Budget};
use callsim::model::Limits;
use callsim::run::{run_one, SinkFactory};
use callsim::scenario::{load_str, parse_set};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Wall clock an input may take (load, budget check and one run): past it, a "hang".
pub const HANG_S: f64 = 2.0;
/// Events an input's run may take (its budget check and its `Limits`).
pub const MAX_EVENTS: f64 = 2e6;
/// Inputs estimated above this many events are checked but not run (keeps the rate high).
pub const RUN_EVENTS: f64 = 2e5;
/// In-flight entries a run may hold (about 51 MB at 256 bytes each).
pub const MAX_IN_FLIGHT: u64 = 200_000;
/// The memory budget of the whole fuzzing process (peak RSS must stay within it).
pub const MAX_MEMORY: f64 = 512e6;

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub inputs: u64,
    pub scenario_inputs: u64,
    pub text_inputs: u64,
    pub csv_inputs: u64,
    pub set_inputs: u64,
    pub loaded: u64,
    pub refused: u64,
    pub over_budget: u64,
    pub runs: u64,
    pub runs_stopped_by_limits: u64,
    pub run_errors: u64,
    pub panics: u64,
    pub hangs: u64,
    pub max_input_s: f64,
    pub findings: Vec<Finding>,
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: &'static str,
    pub message: String,
    /// The scenario text (or `--set` string); CSV inputs add the file after a marker line.
    pub input: String,
}

/// A random source of inputs and the checks run on each.
pub struct Fuzzer {
    rng: Xoshiro256PlusPlus,
    seeds: Vec<(PathBuf, String, toml::Table)>,
    dir: tempfile::TempDir,
    pub stats: Stats,
    /// Findings kept with their inputs (all are counted).
    pub max_findings: usize,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut es: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    es.sort();
    for p in es {
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

/// Every bundled scenario, as seeds.
pub fn seeds() -> Vec<(PathBuf, String, toml::Table)> {
    let mut files = Vec::new();
    toml_files(&root().join("scenarios"), &mut files);
    toml_files(&root().join("tests/fixtures"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let t: toml::Table = toml::from_str(&text).unwrap();
            (p, text, t)
        })
        .collect()
}

/// Values that break readers: zeros, signs, extremes, wrong types, odd strings. (No device
/// files such as /dev/zero: a trace naming one aborts the process, see `tests/fuzz.rs`.)
const NASTY_STRINGS: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "0s",
    "1ns",
    "0ns",
    "-1s",
    "999999h",
    "18446744073709551615s",
    "1e308s",
    "NaNs",
    "infs",
    "1000000000000/s",
    "1e308/s",
    "0/s",
    "-5/s",
    "1/0s",
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "24:00",
    "23:59:59.999999999",
    "25:00",
    "00:00",
    "99:99",
    "-01:00",
    "9:00:00:00",
    "13:00",
    "1h",
    "2/min",
    "1/ns",
    "exponential",
    "lognormal",
    "empirical",
    "constant",
    "uniform",
    "gamma",
    "weibull",
    "erlang",
    "primary",
    "main",
    "backup",
    "fifo",
    "lifo",
    "10%",
    "1e-300",
    "0.0000000001s",
    "\u{0}",
    "é",
    "日本語",
    "🙂",
    "\u{202e}",
    "a.b.c",
    "../../../etc/passwd",
    "nonexistent.csv",
    "/",
    ".",
];

fn nasty_value(rng: &mut Xoshiro256PlusPlus) -> toml::Value {
    use toml::Value as V;
    match rng.random_range(0..14) {
        0 => V::Integer(
            [
                0,
                -1,
                1,
                2,
                7,
                255,
                256,
                65535,
                65536,
                i32::MAX as i64,
                u32::MAX as i64,
                i64::MAX,
                i64::MIN,
                1_000_000_000,
            ][rng.random_range(0..14)],
        ),
        1 => V::Float(
            [
                0.0,
                -0.0,
                -1.0,
                0.5,
                1.0,
                1.0000001,
                1e-300,
                1e308,
                f64::MAX,
                f64::MIN_POSITIVE,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                4e9,
            ][rng.random_range(0..14)],
        ),
        2..=5 => V::String(NASTY_STRINGS[rng.random_range(0..NASTY_STRINGS.len())].into()),
        6 => V::Boolean(rng.random()),
        7 => V::Array(Vec::new()),
        8 => V::Table(toml::Table::new()),
        9 => {
            let n = [1usize, 100, 10_000, 100_000][rng.random_range(0..4)];
            let c = ['a', '9', ':', '.', '/', ' '][rng.random_range(0..6)];
            V::String(std::iter::repeat_n(c, n).collect())
        }
        10 => {
            // A profile-like array with odd pairs.
            let n = rng.random_range(0..6);
            V::Array(
                (0..n)
                    .map(|_| {
                        V::Array(vec![
                            V::String(
                                NASTY_STRINGS[rng.random_range(0..NASTY_STRINGS.len())].into(),
                            ),
                            nasty_scalar(rng),
                        ])
                    })
                    .collect(),
            )
        }
        11 => {
            let mut t = toml::Table::new();
            t.insert(
                ["dist", "mean", "min", "max", "file", "x"][rng.random_range(0..6)].into(),
                nasty_scalar(rng),
            );
            V::Table(t)
        }
        12 => V::Datetime("09:00:00".parse().unwrap()),
        _ => V::Integer(rng.random_range(-3..100)),
    }
}

fn nasty_scalar(rng: &mut Xoshiro256PlusPlus) -> toml::Value {
    loop {
        let v = nasty_value(rng);
        if !v.is_table() && !v.is_array() {
            return v;
        }
    }
}

const KEY_WORDS: &[&str] = &[
    "rate",
    "burst",
    "start",
    "end",
    "drain",
    "seed",
    "replications",
    "patience",
    "talk_time",
    "legs",
    "redial",
    "probability",
    "delay",
    "queue_capacity",
    "max_queue_wait",
    "windows",
    "timeline_interval",
    "rate_scale",
    "dist",
    "mean",
    "cv",
    "min",
    "max",
    "file",
    "column",
    "trace",
    "at",
    "changes",
    "variants",
    "validation",
    "model",
    "stages",
    "dependencies",
    "clients",
    "backup",
    "carriers",
    "sources",
    "flow",
    "destinations",
    "answer_probability",
    "ring_timeout",
    "time_to_answer",
    "x",
    "ratee",
    "Rate",
    "",
];

/// The paths of every value in `t` (tables and arrays walked), key by key.
fn value_paths(t: &toml::Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match t {
        toml::Value::Table(m) => {
            for (k, v) in m {
                prefix.push(Seg::Key(k.clone()));
                out.push(prefix.clone());
                value_paths(v, prefix, out);
                prefix.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                prefix.push(Seg::Index(i));
                out.push(prefix.clone());
                value_paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn get_mut<'a>(v: &'a mut toml::Value, path: &[Seg]) -> Option<&'a mut toml::Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (Seg::Key(k), toml::Value::Table(m)) => m.get_mut(k)?,
            (Seg::Index(i), toml::Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn clock(min: u32) -> String {
    format!("{:02}:{:02}", (min / 60) % 24, min % 60)
}

impl Fuzzer {
    pub fn new(seed: u64) -> Fuzzer {
        Fuzzer {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            seeds: seeds(),
            dir: tempfile::tempdir().unwrap(),
            stats: Stats::default(),
            max_findings: 100,
        }
    }

    /// One structural mutation of `doc`.
    fn mutate_doc(&mut self, doc: &mut toml::Value) {
        let mut paths = Vec::new();
        value_paths(doc, &mut Vec::new(), &mut paths);
        let rng = &mut self.rng;
        let pick = |rng: &mut Xoshiro256PlusPlus, paths: &Vec<Vec<Seg>>| {
            paths.get(rng.random_range(0..paths.len().max(1))).cloned()
        };
        match rng.random_range(0..10) {
            // Replace a value with a nasty one (most often: key by key, value by value).
            0..=3 => {
                if let Some(p) = pick(rng, &paths) {
                    let nv = nasty_value(rng);
                    if let Some(v) = get_mut(doc, &p) {
                        *v = nv;
                    }
                }
            }
            // Delete a key or array element.
            4 => {
                if let Some(p) = pick(rng, &paths) {
                    let (last, parent) = p.split_last().unwrap();
                    match (get_mut(doc, parent), last) {
                        (Some(toml::Value::Table(m)), Seg::Key(k)) => {
                            m.remove(k);
                        }
                        (Some(toml::Value::Array(a)), Seg::Index(i)) => {
                            a.remove(*i);
                        }
                        _ => {}
                    }
                }
            }
            // Rename a key (a typo, or another real key) or add an unknown one.
            5 => {
                if let Some(p) = pick(rng, &paths) {
                    let (last, parent) = p.split_last().unwrap();
                    let word = KEY_WORDS[rng.random_range(0..KEY_WORDS.len())];
                    if let (Some(toml::Value::Table(m)), Seg::Key(k)) = (get_mut(doc, parent), last)
                    {
                        let new = match rng.random_range(0..3) {
                            0 => word.to_string(),
                            1 => format!("{k}s"),
                            _ => k.chars().rev().collect(),
                        };
                        if let Some(v) = m.remove(k) {
                            if rng.random() {
                                m.insert(k.clone(), v.clone());
                            }
                            m.insert(new, v);
                        }
                    }
                }
            }
            // Duplicate a subtree somewhere else (a copy under another key / element).
            6 => {
                if let (Some(a), Some(b)) = (pick(rng, &paths), pick(rng, &paths)) {
                    let src = get_mut(doc, &a).cloned();
                    if let (Some(src), Some(dst)) = (src, get_mut(doc, &b)) {
                        match dst {
                            toml::Value::Table(m) => {
                                let w = KEY_WORDS[rng.random_range(0..KEY_WORDS.len())];
                                m.insert(w.to_string(), src);
                            }
                            toml::Value::Array(v) => v.push(src),
                            other => *other = src,
                        }
                    }
                }
            }
            // Swap two values (tables included).
            7 => {
                if let (Some(a), Some(b)) = (pick(rng, &paths), pick(rng, &paths)) {
                    let va = get_mut(doc, &a).cloned();
                    let vb = get_mut(doc, &b).cloned();
                    if let (Some(va), Some(vb)) = (va, vb) {
                        if let Some(x) = get_mut(doc, &a) {
                            *x = vb;
                        }
                        if let Some(x) = get_mut(doc, &b) {
                            *x = va;
                        }
                    }
                }
            }
            // Wrap a value in an array or table, or unwrap one.
            8 => {
                if let Some(p) = pick(rng, &paths) {
                    if let Some(v) = get_mut(doc, &p) {
                        let old = v.clone();
                        *v = match (rng.random_range(0..3), old) {
                            (0, o) => toml::Value::Array(vec![o]),
                            (1, o) => {
                                let mut t = toml::Table::new();
                                t.insert("x".into(), o);
                                toml::Value::Table(t)
                            }
                            (_, toml::Value::Array(a)) if !a.is_empty() => a[0].clone(),
                            (_, toml::Value::Table(t)) if !t.is_empty() => {
                                t.values().next().unwrap().clone()
                            }
                            (_, o) => o,
                        };
                    }
                }
            }
            // A nasty value under a random key at the top or in a random table.
            _ => {
                let w = KEY_WORDS[rng.random_range(0..KEY_WORDS.len())];
                let nv = nasty_value(rng);
                let p = pick(rng, &paths);
                let target = match p {
                    Some(p) if rng.random() => get_mut(doc, &p),
                    _ => Some(&mut *doc),
                };
                if let Some(toml::Value::Table(m)) = target {
                    m.insert(w.to_string(), nv);
                }
            }
        }
    }

    /// Keeps the run short (so most loaded inputs can be run): a few minutes from `start`.
    fn shorten(&mut self, doc: &mut toml::Value) {
        let Some(m) = doc.as_table_mut() else { return };
        let start = m
            .get("start")
            .and_then(|v| v.as_str())
            .and_then(|s| {
                let (h, mm) = s.split_once(':')?;
                Some(h.parse::<u32>().ok()? * 60 + mm.get(..2)?.parse::<u32>().ok()?)
            })
            .unwrap_or(9 * 60);
        let len = self.rng.random_range(1..20);
        m.remove("duration");
        m.insert("end".into(), toml::Value::String(clock(start + len)));
        m.insert(
            "drain".into(),
            toml::Value::String(format!("{}m", self.rng.random_range(0..10))),
        );
    }

    fn text_mutation(&mut self, text: &str) -> String {
        let mut b = text.as_bytes().to_vec();
        let rng = &mut self.rng;
        for _ in 0..rng.random_range(1..4) {
            if b.is_empty() {
                break;
            }
            let i = rng.random_range(0..b.len());
            match rng.random_range(0..6) {
                0 => b.truncate(i),
                1 => b[i] ^= 1 << rng.random_range(0..8),
                2 => {
                    b[i] = [
                        b'"', b'[', b']', b'=', b'\n', b'.', b'#', b'\'', b'{', b'0', 0,
                    ][rng.random_range(0..11)]
                }
                3 => {
                    // Duplicate a line (a duplicate key or table).
                    let s = b[..i]
                        .iter()
                        .rposition(|&c| c == b'\n')
                        .map_or(0, |p| p + 1);
                    let e = b[i..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(b.len(), |p| i + p + 1);
                    let line = b[s..e].to_vec();
                    b.splice(e..e, line);
                }
                4 => {
                    b.remove(i);
                }
                _ => {
                    let s = NASTY_STRINGS[rng.random_range(0..NASTY_STRINGS.len())].as_bytes();
                    b.splice(i..i, s.iter().copied());
                }
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    }

    /// A random CSV body for a trace (`time` column) or value column.
    fn random_csv(&mut self) -> Vec<u8> {
        let rng = &mut self.rng;
        let mut out = Vec::new();
        let eol: &[u8] = if rng.random_range(0..4) == 0 {
            b"\r\n"
        } else {
            b"\n"
        };
        match rng.random_range(0..8) {
            0 => {}
            1 => out.extend_from_slice(b"\xEF\xBB\xBFtime"),
            2 => out.extend_from_slice(b"id,time,other"),
            3 => out.extend_from_slice(b"\"time\",x"),
            4 => out.extend_from_slice(b"tim"),
            _ => out.extend_from_slice(b"time"),
        }
        if rng.random_range(0..3) != 0 {
            out.extend_from_slice(eol);
        }
        let rows = [0usize, 1, 2, 5, 50, 500, 5000][rng.random_range(0..7)];
        let mut t: f64 = 32400.0;
        let cols = rng.random_range(0..3);
        for _ in 0..rows {
            let cell: String = match rng.random_range(0..24) {
                0 => "1e308".into(),
                1 => "-1".into(),
                2 => "NaN".into(),
                3 => "inf".into(),
                4 => "".into(),
                5 => "25:00:00".into(),
                6 => "09:00:00.123456789123".into(),
                7 => "\u{0}".into(),
                8 => "\"12\"".into(),
                9 => "\"unterminated".into(),
                10 => format!("{}", rng.random_range(0..100000)), // unsorted
                11 => "12.5s".into(),
                12 => "18446744073709551616".into(),
                13 => "1e-320".into(),
                14 => ":".into(),
                15 => "a,b,c,d".into(),
                16 => {
                    t += rng.random_range(0.0..5.0);
                    let s = t as u64;
                    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
                }
                _ => {
                    t += rng.random_range(0.0..3.0);
                    format!("{t:.3}")
                }
            };
            if cols == 1 {
                out.extend_from_slice(b"7,");
            }
            out.extend_from_slice(cell.as_bytes());
            if cols == 2 {
                out.extend_from_slice(b",x");
            }
            out.extend_from_slice(eol);
        }
        match rng.random_range(0..20) {
            0 => out.extend(std::iter::repeat_n(b'9', rng.random_range(1..2_000_000))),
            1 => out.extend(std::iter::repeat_n(0u8, rng.random_range(1..100_000))),
            2 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out.truncate(i);
            }
            3 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] = rng.random();
            }
            _ => {}
        }
        out
    }

    fn csv_scenario(&mut self, file: &str) -> String {
        let column = match self.rng.random_range(0..4) {
            0 => "".to_string(),
            1 => ", column = \"other\"".to_string(),
            _ => ", column = \"time\"".to_string(),
        };
        if self.rng.random() {
            format!(
                "start = \"09:00\"\nend = \"09:05\"\ndrain = \"2m\"\n[carriers.main]\nrate = \"2/s\"\n[sources.s]\ntrace = {{ file = \"{file}\"{} }}\ntalk_time = \"30s\"\n[sources.s.flow]\nlegs = 1\n[[sources.s.flow.destinations]]\nanswer_probability = 0.8\n",
                if column.is_empty() { ", column = \"time\"" } else { &column }
            )
        } else {
            format!(
                "start = \"09:00\"\nend = \"09:05\"\ndrain = \"2m\"\n[carriers.main]\nrate = \"2/s\"\n[sources.s]\nrate = \"1/s\"\npatience = {{ dist = \"empirical\", file = \"{file}\"{column} }}\ntalk_time = {{ dist = \"empirical\", file = \"{file}\"{column} }}\n[sources.s.flow]\nlegs = 1\n[[sources.s.flow.destinations]]\nanswer_probability = 0.8\n"
            )
        }
    }

    fn random_set(&mut self) -> String {
        let rng = &mut self.rng;
        let mut s = String::new();
        for _ in 0..rng.random_range(0..6) {
            let part = match rng.random_range(0..8) {
                0 => KEY_WORDS[rng.random_range(0..KEY_WORDS.len())].to_string(),
                1 => ".".into(),
                2 => "=".into(),
                3 => NASTY_STRINGS[rng.random_range(0..NASTY_STRINGS.len())].into(),
                4 => ["[", "]", "{", "}", "\"", "'", "\\", "#", "\n", " ", ","]
                    [rng.random_range(0..11)]
                .into(),
                5 => "carriers.main.rate".into(),
                6 => "variants.x.".into(),
                _ => (0..rng.random_range(0..6))
                    .map(|_| char::from_u32(rng.random_range(0..0x11000)).unwrap_or('?'))
                    .collect(),
            };
            s.push_str(&part);
        }
        s
    }

    fn record(&mut self, kind: &'static str, message: String, input: String) {
        if self.stats.findings.len() < self.max_findings {
            self.stats.findings.push(Finding {
                kind,
                message,
                input,
            });
        }
    }

    /// Loads `text` as if from `path` with `sets`; runs it when it loads within budget.
    pub fn check_input(&mut self, path: &Path, text: &str, sets: &[String], note: &str) {
        let t0 = Instant::now();
        let loaded = catch_unwind(AssertUnwindSafe(|| load_str(path, text, None, sets)));
        let input = || {
            let mut s = text.to_string();
            for x in sets {
                s.push_str(&format!("\n# --set {x:?}"));
            }
            if !note.is_empty() {
                s.push_str("\n# ---- file ----\n");
                s.push_str(note);
            }
            s
        };
        let sc = match loaded {
            Err(p) => {
                self.stats.panics += 1;
                self.record("panic in load", panic_message(&p), input());
                return;
            }
            Ok(Err(_)) => {
                self.stats.refused += 1;
                self.check_time(t0, &input);
                return;
            }
            Ok(Ok(sc)) => sc,
        };
        self.stats.loaded += 1;
        let budget = Budget {
            max_events: MAX_EVENTS,
            max_memory: MAX_MEMORY,
            parallel: 1.0,
            threads: 1.0,
        };
        let checked = catch_unwind(AssertUnwindSafe(|| check_budget(&sc.model, &budget)));
        let work = match checked {
            Err(p) => {
                self.stats.panics += 1;
                self.record("panic in check_budget", panic_message(&p), input());
                return;
            }
            Ok(Err(_)) => {
                self.stats.over_budget += 1;
                self.check_time(t0, &input);
                return;
            }
            Ok(Ok(w)) => w,
        };
        if work.events <= RUN_EVENTS {
            let mut sc = sc;
            sc.limits = Limits {
                max_events: MAX_EVENTS as u64,
                max_in_flight: MAX_IN_FLIGHT,
            };
            let sinks: Box<SinkFactory> = Box::new(|_| Ok(None));
            let r = catch_unwind(AssertUnwindSafe(|| {
                run_one(&sc, 1, 0, false, &*sinks, &mut |_| {})
            }));
            self.stats.runs += 1;
            match r {
                Err(p) => {
                    self.stats.panics += 1;
                    self.record("panic in run", panic_message(&p), input());
                    return;
                }
                Ok(Err(e)) if matches!(e.root(), callsim::error::Error::Stopped(_)) => {
                    self.stats.runs_stopped_by_limits += 1
                }
                Ok(Err(_)) => self.stats.run_errors += 1,
                Ok(Ok(_)) => {}
            }
        }
        self.check_time(t0, &input);
    }

    fn check_time(&mut self, t0: Instant, input: &dyn Fn() -> String) {
        let s = t0.elapsed().as_secs_f64();
        self.stats.max_input_s = self.stats.max_input_s.max(s);
        if s > HANG_S {
            self.stats.hangs += 1;
            self.record(
                "hang",
                format!("took {s:.2} s (budget {HANG_S} s)"),
                input(),
            );
        }
    }

    /// One input of a random kind.
    pub fn one(&mut self) {
        self.stats.inputs += 1;
        let k = self.rng.random_range(0..20);
        match k {
            0..=11 => {
                self.stats.scenario_inputs += 1;
                let i = self.rng.random_range(0..self.seeds.len());
                let (path, _, t) = self.seeds[i].clone();
                let mut doc = toml::Value::Table(t);
                if self.rng.random_range(0..3) != 0 {
                    self.shorten(&mut doc);
                }
                // Mostly one mutation: most inputs with several are refused early.
                for _ in 0..[0, 1, 1, 1, 2, 3][self.rng.random_range(0..6)] {
                    self.mutate_doc(&mut doc);
                }
                // A mutated value may not be representable (NaN is): fall back to the seed.
                let text = toml::to_string(&doc).unwrap_or_else(|_| self.seeds[i].1.clone());
                self.check_input(&path, &text, &[], "");
            }
            12..=14 => {
                self.stats.text_inputs += 1;
                let i = self.rng.random_range(0..self.seeds.len());
                let (path, text, _) = self.seeds[i].clone();
                let text = self.text_mutation(&text);
                self.check_input(&path, &text, &[], "");
            }
            15..=17 => {
                self.stats.csv_inputs += 1;
                let body = self.random_csv();
                let file = self.dir.path().join("data.csv");
                std::fs::write(&file, &body).unwrap();
                let text = self.csv_scenario("data.csv");
                let path = self.dir.path().join("t.toml");
                let note = String::from_utf8_lossy(&body[..body.len().min(4000)]).into_owned();
                self.check_input(&path, &text, &[], &note);
            }
            _ => {
                self.stats.set_inputs += 1;
                let s = self.random_set();
                let r = catch_unwind(AssertUnwindSafe(|| parse_set(&s)));
                if let Err(p) = r {
                    self.stats.panics += 1;
                    self.record("panic in parse_set", panic_message(&p), s.clone());
                    return;
                }
                // And applied to a small seed, as `--set` would be.
                let i = self.rng.random_range(0..self.seeds.len());
                let (path, text, _) = self.seeds[i].clone();
                self.check_input(&path, &text, &[s], "");
            }
        }
    }
}

pub fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// Peak resident memory of this process, in bytes (VmHWM), if known.
pub fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
