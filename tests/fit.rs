//! `callsim fit`: the round trip (simulate a scenario with known parameters, write its calls as
//! CDRs in every layout, fit, find the truth inside the fitted 95% CIs), the fitted scenario
//! passing `check` and `run`, and bad input.

use callsim::fit::read::{ColRef, Field, Format};
use callsim::fit::summary::Fit;
use callsim::fit::synth::{write_cdrs, CollectSink, SynthOptions};
use callsim::fit::{fit_file, FitOptions};
use callsim::model::CallRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_callsim");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scenario_path() -> PathBuf {
    root().join("tests/fixtures/fit-roundtrip.toml")
}

/// 2026-03-02 in days since the epoch.
const DAY: i64 = 20514;
const RING_TIMEOUT: f64 = 30.0;

/// One replication of the round-trip scenario, kept for every test.
fn records() -> &'static Vec<CallRecord> {
    static R: OnceLock<Vec<CallRecord>> = OnceLock::new();
    R.get_or_init(|| {
        let sc = callsim::scenario::load(&scenario_path(), None, &[]).expect("scenario loads");
        let sink = CollectSink::default();
        let opts = callsim::run::RunOptions {
            seed: sc.seed,
            replications: 1,
            threads: 1,
            progress: false,
            label: "fit".into(),
            timeline: false,
        };
        let s2 = sink.clone();
        callsim::run::run_replications(&sc, &opts, &move |_| {
            Ok(Some(
                Box::new(s2.clone()) as Box<dyn callsim::model::CallSink + Send>
            ))
        })
        .expect("runs");
        let v = sink.0.lock().unwrap().clone();
        v
    })
}

fn write(dir: &Path, fmt: Format) -> PathBuf {
    let p = dir.join(format!("cdrs-{}.csv", fmt.name()));
    let f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let o = SynthOptions {
        day: DAY,
        ring_timeout_s: RING_TIMEOUT,
        seed: 7,
    };
    write_cdrs(records(), fmt, &o, f).unwrap();
    p
}

fn options(fmt: Format) -> FitOptions {
    let mut o = FitOptions {
        format: fmt,
        ..Default::default()
    };
    if fmt == Format::Freeswitch {
        // The synthesised FreeSWITCH file appends ${originator} to the default template.
        o.columns = vec![(Field::Parent, ColRef::Index(13))];
    }
    o
}

/// True rate profile of the fixture (first attempts per second at clock second t).
fn true_rate_mean(a: f64, b: f64) -> f64 {
    let pts = [
        (8.0 * 3600.0, 0.2),
        (12.0 * 3600.0, 0.6),
        (16.0 * 3600.0, 0.3),
        (20.0 * 3600.0, 0.1),
    ];
    let at = |t: f64| {
        if t <= pts[0].0 {
            return pts[0].1;
        }
        for w in pts.windows(2) {
            if t <= w[1].0 {
                return w[0].1 + (w[1].1 - w[0].1) * (t - w[0].0) / (w[1].0 - w[0].0);
            }
        }
        pts[3].1
    };
    // Piecewise linear: the trapezoid rule on a fine grid is exact up to rounding.
    let n = 600;
    (0..n)
        .map(|i| at(a + (b - a) * (i as f64 + 0.5) / n as f64))
        .sum::<f64>()
        / n as f64
}

/// Share of profile bins (inside 08:00-20:00) whose CI contains `rate(bin)`.
fn coverage(f: &Fit, rate: &dyn Fn(f64, f64) -> f64) -> f64 {
    let bins: Vec<_> = f
        .profile
        .bins
        .iter()
        .filter(|b| b.start_s >= 8.0 * 3600.0 && b.start_s + b.width_s <= 20.0 * 3600.0)
        .collect();
    bins.iter()
        .filter(|b| {
            let r = rate(b.start_s, b.start_s + b.width_s);
            b.lo <= r && r <= b.hi
        })
        .count() as f64
        / bins.len() as f64
}

fn check_round_trip(fmt: Format) {
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), fmt);
    let f = fit_file(&p, &options(fmt)).unwrap_or_else(|e| panic!("{}: {e}", fmt.name()));
    let name = fmt.name();
    assert!(
        f.info.issues.kinds.is_empty(),
        "{name}: {:?}",
        f.info.issues.lines()
    );
    // Arrival profile: the true mean rate of each bin inside its CI (95% CIs: allow a few misses),
    // and a flat profile with the same total is rejected by the same check.
    let cov = coverage(&f, &true_rate_mean);
    assert!(cov >= 0.88, "{name}: profile coverage {cov}");
    let flat = f.profile.bins.iter().map(|b| b.count).sum::<u64>() as f64 / (12.0 * 3600.0);
    assert!(
        coverage(&f, &|_, _| flat) < 0.5,
        "{name}: the coverage check cannot tell a flat profile"
    );
    check_fanout_and_answers(&f, name);
    check_durations(&f, fmt);
}

fn check_fanout_and_answers(f: &Fit, name: &str) {
    // `name` is the format's name.
    // Fan-out and flow mode.
    let truth = [(1, 0.3), (2, 0.5), (3, 0.2)];
    assert_eq!(f.legs.len(), 3, "{name}: {:?}", f.legs);
    for (l, (k, p)) in f.legs.iter().zip(truth) {
        assert!(l.k == k && l.covers(p), "{name}: legs {k}: {l:?}");
    }
    assert!(
        !f.sequential && f.flow[0] > 0 && f.flow[1] == 0,
        "{name}: flow {:?}",
        f.flow
    );
    // Answer probability per leg position: P(answer before 30 s) = 0.7 · P(LN(ln 8, 0.5) < 30).
    let p_true = 0.7 * callsim::fit::mle::phi((30f64 / 8.0).ln() / 0.5);
    assert_eq!(f.groups.len(), 3, "{name}");
    for g in &f.groups {
        // The scenario's answer_probability: the cure model's never-answers share.
        let cure = g.tta.as_ref().expect("tta fit").params()[2];
        assert!(cure.covers(0.7), "{name}: leg {} p {cure:?}", g.from_leg);
        // Kaplan-Meier, the model-free check. With whole-second stamps it reads a little low
        // even after the life-table correction (docs/fit.md: known limits); measured here
        // 0.651-0.691 with truth 0.697 across two leg synthesis seeds.
        if name == "csv" {
            assert!(
                g.lo <= p_true && p_true <= g.hi,
                "{name}: leg {} KM {} [{}, {}] vs {p_true}",
                g.from_leg,
                g.p,
                g.lo,
                g.hi
            );
        } else {
            assert!(
                (g.p - p_true).abs() < 0.05 && g.hi > p_true - 0.005,
                "{name}: leg {} KM {} [{}, {}] vs {p_true}",
                g.from_leg,
                g.p,
                g.lo,
                g.hi
            );
        }
    }
    let rt = f.ring_timeout.expect("rang-out legs");
    assert!(
        (rt.0 - RING_TIMEOUT).abs() < 0.2,
        "{name}: ring timeout {rt:?}"
    );
}

fn check_durations(f: &Fit, fmt: Format) {
    let name = fmt.name();
    // Talk time: lognormal chosen by AIC, its parameters inside the CIs.
    let talk = &f.talk.as_ref().expect("talk").fits[0];
    let tp = talk.params();
    assert_eq!(talk.family.name(), "lognormal", "{name}: {talk:?}");
    assert!(
        tp[0].covers(120.0) && tp[1].covers(0.9),
        "{name}: talk {tp:?}"
    );
    // Patience from abandoned (events) and answered (censored) callers.
    let pf = f.patience.as_ref().expect("patience");
    let ln = pf
        .fits
        .iter()
        .find(|x| x.family.name() == "lognormal")
        .unwrap()
        .params();
    if fmt == Format::Asterisk {
        // Asterisk's NO ANSWER does not say whether the caller hung up or the leg rang out: a
        // caller who hung up in the last half second before the ring timeout reads as a ring-out
        // (censored). Measured: 25 of 3298 abandons, median 20.53 [20.00, 21.07] against the CSV
        // layout's 20.25 [19.74, 20.76] on the same calls. Checked against that bias here.
        let truth_abandoned = f.outcomes[1] + f.outcomes[2];
        assert!(
            f.outcomes[1] as f64 > 0.99 * 3298.0 && truth_abandoned == 3298 + 717,
            "{name}: {:?}",
            f.outcomes
        );
        assert!(
            (ln[0].value / 20.0 - 1.0).abs() < 0.04 && ln[1].covers(0.8),
            "{name}: patience {ln:?}"
        );
    } else {
        assert!(
            ln[0].covers(20.0) && ln[1].covers(0.8),
            "{name}: patience {ln:?}"
        );
    }
    let true_mean = 20.0 * (0.32f64).exp();
    assert!(
        pf.naive_mean.2 < true_mean * 0.8,
        "{name}: the naive mean should be biased low: {:?}",
        pf.naive_mean
    );
    // Redials: same caller after an abandoned call.
    let r = f.redial.as_ref().expect("callers");
    assert!(
        r.share.covers(0.3) && r.max_attempts == 3 && r.after == ["abandoned"],
        "{name}: redial {r:?}"
    );
}

#[test]
fn round_trip_csv() {
    check_round_trip(Format::Csv);
}

#[test]
fn round_trip_asterisk() {
    check_round_trip(Format::Asterisk);
}

#[test]
fn round_trip_freeswitch() {
    check_round_trip(Format::Freeswitch);
}

#[test]
fn round_trip_twilio() {
    check_round_trip(Format::Twilio);
}

/// The time to answer is recovered too where timestamps have milliseconds.
#[test]
fn round_trip_time_to_answer_with_millisecond_stamps() {
    let dir = TempDir::new().unwrap();
    let f = fit_file(&write(dir.path(), Format::Csv), &options(Format::Csv)).unwrap();
    for g in &f.groups {
        let t = g.tta.as_ref().expect("tta");
        let p = t.params();
        assert_eq!(t.family.name(), "lognormal");
        assert!(
            p[0].covers(8.0) && p[1].covers(0.5) && p[2].covers(0.7),
            "leg {}: {p:?}",
            g.from_leg
        );
    }
    let s = f
        .setup
        .as_ref()
        .expect("caller records give the post-dial delay");
    assert!(
        s.median < 0.01,
        "no setup delay in the fixture: {}",
        s.median
    );
}

fn callsim(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("start callsim")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn fitted_scenarios_pass_check_and_run() {
    let dir = TempDir::new().unwrap();
    for fmt in [Format::Asterisk, Format::Twilio] {
        let cdr = write(dir.path(), fmt);
        let out = dir.path().join(format!("{}.toml", fmt.name()));
        let o = callsim(&[
            "fit",
            s(&cdr),
            "--format",
            fmt.name(),
            "--out",
            s(&out),
            "-q",
        ]);
        assert!(o.status.success(), "{}", show(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("# Patience:") && text.contains("95% CI"),
            "{text}"
        );
        assert!(
            !text.contains("+1555"),
            "a caller number leaked into the scenario"
        );
        assert!(!text.contains("NaN"), "a NaN in the scenario: {text}");
        // Numbers are hashed with a fresh random key per run; the output must not depend on it.
        let again = dir.path().join("again.toml");
        let o2 = callsim(&[
            "fit",
            s(&cdr),
            "--format",
            fmt.name(),
            "--out",
            s(&again),
            "-q",
        ]);
        assert!(o2.status.success(), "{}", show(&o2));
        assert_eq!(
            text,
            std::fs::read_to_string(&again).unwrap(),
            "two runs differ"
        );
        let c = callsim(&["check", s(&out)]);
        assert!(c.status.success(), "{}", show(&c));
        let r = callsim(&["run", s(&out), "-n", "1"]);
        assert!(r.status.success(), "{}", show(&r));
    }
    // --trace: arrival instants instead of a profile.
    let cdr = write(dir.path(), Format::Csv);
    let (out, trace) = (dir.path().join("t.toml"), dir.path().join("arrivals.csv"));
    let o = callsim(&["fit", s(&cdr), "--trace", s(&trace), "--out", s(&out), "-q"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("trace = { file = \"arrivals.csv\""), "{text}");
    let firsts = records().iter().filter(|r| r.attempt == 1).count();
    let rows = std::fs::read_to_string(&trace).unwrap().lines().count() - 1;
    assert_eq!(rows, firsts, "one trace row per first attempt");
    let c = callsim(&["check", s(&out)]);
    assert!(c.status.success(), "{}", show(&c));
}

/// Runs `fit` on `text` written as a file; returns the output and whether --out exists after.
fn fit_text(text: &str, fmt: &str, extra: &[&str]) -> (Output, bool) {
    let dir = TempDir::new().unwrap();
    let cdr = dir.path().join("in.csv");
    std::fs::write(&cdr, text).unwrap();
    let out = dir.path().join("out.toml");
    let mut args = vec!["fit", s(&cdr), "--format", fmt, "--out", s(&out), "-q"];
    args.extend_from_slice(extra);
    let o = callsim(&args);
    let exists = out.exists() || dir.path().join("out.toml.partial").exists();
    (o, exists)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const HEAD: &str = "call,leg,parent,caller,start,answer,end,status\n";

/// `n` good calls, one a minute, as generic CSV rows.
fn good_rows(n: usize) -> String {
    good_rows_z(n, "")
}

/// As `good_rows`, every timestamp followed by `zone`.
fn good_rows_z(n: usize, z: &str) -> String {
    (0..n)
        .map(|i| {
            let (m, h) = (i % 60, 9 + i / 60);
            let abandoned = i % 3 == 0;
            format!(
                "c{i},l{i},c{i}x,+1{i:09},2026-03-02 {h:02}:{m:02}:00{z},{},2026-03-02 {h:02}:{m:02}:{}{z},{}\n",
                if abandoned { String::new() } else { format!("2026-03-02 {h:02}:{m:02}:05{z}") },
                if abandoned { "12" } else { "50" },
                if abandoned { "cancelled" } else { "answered" }
            )
        })
        .collect()
}

#[test]
fn missing_columns_are_named() {
    let (o, out) = fit_text(
        "call,caller,end,status\nc1,+1,2026-03-02 09:00:00,answered\n",
        "csv",
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("in.csv:1: missing column(s) start")
            && err(&o).contains("the header has: call, caller, end, status"),
        "{}",
        err(&o)
    );
    assert!(!out, "no output on error");
    // Asterisk without uniqueid (loguniqueid=no): 16 columns, no call id.
    let row = "\"\",\"100\",\"200\",\"ctx\",\"c\",\"SIP/a\",\"SIP/b\",\"Dial\",\"x\",\"2026-03-02 09:00:00\",\"\",\"2026-03-02 09:00:10\",\"10\",\"0\",\"NO ANSWER\",\"DOCUMENTATION\"\n";
    let (o, out) = fit_text(&row.repeat(30), "asterisk", &["--ring-timeout", "30s"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("16 columns; expected at least 17"),
        "{}",
        err(&o)
    );
    assert!(!out);
}

#[test]
fn unparseable_timestamps_are_skipped_with_line_and_column_or_rejected() {
    let mut text = format!("{HEAD}{}", good_rows(100));
    text.push_str("c999,l999,,+1,yesterday,,2026-03-02 11:00:00,cancelled\n");
    let (o, out) = fit_text(&text, "csv", &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        err(&o).contains("1 row(s): unparseable timestamp; first at ")
            && err(&o).contains("in.csv:102:5: column 5 (start): `yesterday` is not a timestamp"),
        "{}",
        err(&o)
    );
    assert!(out);
    // Every row bad: not a silent zero.
    let bad: String = (0..30)
        .map(|i| format!("c{i},l{i},,+1,13/03/2026 9am,,13/03/2026 9:01am,answered\n"))
        .collect();
    let (o, out) = fit_text(&format!("{HEAD}{bad}"), "csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("does not look like CSV") && err(&o).contains("in.csv:2:5"),
        "{}",
        err(&o)
    );
    assert!(!out);
}

#[test]
fn mixed_time_zones_are_an_error_naming_both() {
    let mut text = format!("{HEAD}{}", good_rows_z(10, "Z"));
    text.push_str("c99,l99,,+1,2026-03-02T10:00:00+01:00,,2026-03-02T10:00:10+01:00,cancelled\n");
    let (o, out) = fit_text(&text, "csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("in.csv:12:5: mixed time zones")
            && err(&o).contains("UTC+01:00 but line 2 was UTC+00:00"),
        "{}",
        err(&o)
    );
    assert!(!out);
}

#[test]
fn out_of_order_records_warn_and_reversed_files_are_rejected() {
    let mut rows: Vec<String> = good_rows(200).lines().map(String::from).collect();
    let late = rows.remove(3);
    rows.insert(190, late); // starts 3 h 7 min before its neighbours
    let (o, _) = fit_text(&format!("{HEAD}{}\n", rows.join("\n")), "csv", &[]);
    assert!(o.status.success(), "{}", show(&o));
    // 5 h disorder limit is 4 h: move it further back instead.
    let mut rows2: Vec<String> = good_rows(330).lines().map(String::from).collect();
    let late = rows2.remove(0);
    rows2.insert(320, late);
    let (o, _) = fit_text(&format!("{HEAD}{}\n", rows2.join("\n")), "csv", &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        err(&o).contains("1 row(s): out of order") && err(&o).contains("in.csv:322:"),
        "{}",
        err(&o)
    );
    rows.reverse();
    let (o, out) = fit_text(&format!("{HEAD}{}\n", rows.join("\n")), "csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(err(&o).contains("reverse time order"), "{}", err(&o));
    assert!(!out);
}

#[test]
fn duplicate_records_are_counted_and_skipped() {
    let rows = good_rows(100);
    let dup: String = rows.lines().take(3).map(|l| format!("{l}\n")).collect();
    let lines: Vec<&str> = rows.lines().collect();
    let text = format!(
        "{HEAD}{}\n{dup}{}\n",
        lines[..3].join("\n"),
        lines[3..].join("\n")
    );
    let (o, _) = fit_text(&text, "csv", &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        err(&o).contains("3 row(s): duplicate record (skipped); first at ")
            && err(&o).contains("in.csv:5:"),
        "{}",
        err(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("100 calls"),
        "{}",
        show(&o)
    );
}

#[test]
fn a_file_that_is_not_cdr_is_rejected() {
    let toml = std::fs::read_to_string(scenario_path()).unwrap();
    for fmt in ["asterisk", "freeswitch"] {
        let (o, out) = fit_text(&toml, fmt, &[]);
        assert_eq!(o.status.code(), Some(2), "{fmt}: {}", show(&o));
        assert!(err(&o).contains("does not look like"), "{fmt}: {}", err(&o));
        assert!(!out);
    }
    let (o, out) = fit_text(&toml, "twilio", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("missing column(s) call, start, end, answer or status"),
        "{}",
        err(&o)
    );
    assert!(!out);
    let (o, _) = fit_text("", "csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

/// Talk times no family fits (two modes) are written as an empirical distribution beside the
/// scenario, which then checks.
#[test]
fn talk_time_no_family_fits_becomes_empirical() {
    let dir = TempDir::new().unwrap();
    let rows: String = (0..400)
        .map(|i| {
            let talk = if i % 2 == 0 { 10 + i % 7 } else { 600 + i % 50 };
            let (t0, a) = (9 * 3600 + i * 60, 9 * 3600 + i * 60 + 5);
            let c = |s: usize| {
                format!(
                    "2026-03-02 {:02}:{:02}:{:02}",
                    s / 3600,
                    s / 60 % 60,
                    s % 60
                )
            };
            format!(
                "c{i},l{i},c{i}x,+1{i:09},{},{},{},answered\n",
                c(t0),
                c(a),
                c(a + talk)
            )
        })
        .collect();
    let cdr = dir.path().join("bimodal.csv");
    std::fs::write(&cdr, format!("{HEAD}{rows}")).unwrap();
    let out = dir.path().join("fitted.toml");
    let o = callsim(&["fit", s(&cdr), "--out", s(&out), "-q"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("talk_time = { dist = \"empirical\", file = \"fitted-talk_time.csv\""),
        "{text}"
    );
    let values = std::fs::read_to_string(dir.path().join("fitted-talk_time.csv")).unwrap();
    assert_eq!(values.lines().count(), 1001);
    let c = callsim(&["check", s(&out)]);
    assert!(c.status.success(), "{}", show(&c));
}

/// A timestamp with milliseconds, `s` seconds after 2026-03-02 00:00:00 (may run into the 3rd).
fn ms_stamp(s: f64) -> String {
    let ms = (s * 1000.0).round() as u64;
    let (d, rest) = (2 + ms / 86_400_000, ms % 86_400_000);
    format!(
        "2026-03-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// Calls with a caller record and one leg, written at hang-up (end order), the caller record
/// first: call `i` arrives at `t0 + 7 i` s and lasts 20 to 1,200 s, so start times are out of
/// order by up to 20 minutes while end times rise.
fn end_ordered_rows(n: usize, t0: f64) -> Vec<String> {
    let mut calls: Vec<(f64, String)> = (0..n)
        .map(|i| {
            let a = t0 + 7.0 * i as f64;
            let len = 20.0 + ((i * 373) % 1180) as f64;
            let e = a + len;
            let text = if i % 4 == 0 {
                format!(
                    "c{i},,,+1{i:09},{},,{},completed\nl{i},l{i},c{i},,{},,{},cancelled\n",
                    ms_stamp(a),
                    ms_stamp(a + 12.5),
                    ms_stamp(a),
                    ms_stamp(a + 12.5)
                )
            } else {
                format!(
                    "c{i},,,+1{i:09},{},,{},completed\nl{i},l{i},c{i},,{},{},{},answered\n",
                    ms_stamp(a),
                    ms_stamp(e),
                    ms_stamp(a),
                    ms_stamp(a + 6.0),
                    ms_stamp(e)
                )
            };
            (if i % 4 == 0 { a + 12.5 } else { e }, text)
        })
        .collect();
    calls.sort_by(|x, y| x.0.total_cmp(&y.0));
    calls
        .into_iter()
        .flat_map(|c| c.1.lines().map(String::from).collect::<Vec<_>>())
        .collect()
}

/// A newest-first export of end-ordered records (start times disordered by call lengths, so
/// that counting backward steps of the start times alone does not see it) is refused; the same
/// records oldest first are accepted.
#[test]
fn a_reversed_end_ordered_file_is_rejected() {
    let rows = end_ordered_rows(600, 8.0 * 3600.0);
    let (o, out) = fit_text(&format!("{HEAD}{}\n", rows.join("\n")), "csv", &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(out);
    let mut rev = rows.clone();
    rev.reverse();
    let (o, out) = fit_text(&format!("{HEAD}{}\n", rev.join("\n")), "csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("records are in reverse time order (over 1200 rows")
            && err(&o).contains("expected oldest first"),
        "{}",
        err(&o)
    );
    assert!(!out);
}

/// One row ending decades later (a placeholder end) is skipped with its line named, and does
/// not reach the waits.
#[test]
fn a_row_lasting_more_than_a_day_is_skipped_and_named() {
    let mut rows: Vec<String> = good_rows(100).lines().map(String::from).collect();
    rows[3] = rows[3].replacen("2026-03-02 09:03:12", "2099-03-02 09:03:12", 1);
    assert!(rows[3].contains("2099"), "{}", rows[3]);
    let dir = TempDir::new().unwrap();
    let cdr = dir.path().join("in.csv");
    std::fs::write(&cdr, format!("{HEAD}{}\n", rows.join("\n"))).unwrap();
    let out = dir.path().join("out.toml");
    let o = callsim(&["fit", s(&cdr), "--out", s(&out), "-q"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        err(&o).contains("1 row(s): lasting more than 24 h (skipped); first at ")
            && err(&o).contains("in.csv:5:7: the row lasts")
            && err(&o).contains("to 2099-03-02 09:03:12; expected at most 24 h"),
        "{}",
        err(&o)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("of abandoned calls 12.0"),
        "the abandoned callers' mean wait is 12 s: {text}"
    );
}

/// Every row at one instant: a clear input error, not an internal one.
#[test]
fn records_all_at_one_instant_are_refused() {
    let rows: String = (0..300)
        .map(|i| {
            format!(
                "c{i},l{i},c{i}x,+1{i:09},2026-03-02T08:00:00.000,,2026-03-02T08:00:01.000,cancelled\n"
            )
        })
        .collect();
    let (o, out) = fit_text(&format!("{HEAD}{rows}"), "csv", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains(
            "in.csv`: all 300 first attempts start within one second (at 2026-03-02 08:00:00)"
        ) && err(&o).contains("--columns start=COLUMN"),
        "{}",
        err(&o)
    );
    assert!(!out);
}

/// Calls spread over time whose durations are all identical (every wait 1 s, every answer after
/// 0.5 s): the fits run towards point masses, and the scenario still loads, checks and has no
/// NaN; patience becomes a fixed value.
#[test]
fn identical_durations_give_a_scenario_that_loads() {
    let rows: String = (0..400)
        .map(|i| {
            let a = 8.0 * 3600.0 + 60.0 * i as f64;
            let (ans, st) = if i % 3 == 0 {
                (String::new(), "cancelled")
            } else {
                (ms_stamp(a + 0.5), "answered")
            };
            format!(
                "c{i},,,+1{i:09},{},,{},completed\nl{i},l{i},c{i},,{},{ans},{},{st}\n",
                ms_stamp(a),
                ms_stamp(a + 1.0),
                ms_stamp(a),
                ms_stamp(a + 1.0)
            )
        })
        .collect();
    let dir = TempDir::new().unwrap();
    let cdr = dir.path().join("flat.csv");
    std::fs::write(&cdr, format!("{HEAD}{rows}")).unwrap();
    let out = dir.path().join("flat.toml");
    let o = callsim(&["fit", s(&cdr), "--out", s(&out), "-q"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("NaN"), "{text}");
    assert!(
        text.contains("patience = \"1.") && text.contains("barely varies"),
        "{text}"
    );
    let c = callsim(&["check", s(&out)]);
    assert!(c.status.success(), "{}", show(&c));
}

/// No answered call and fewer than 10 abandons: the comments say so instead of printing NaN.
#[test]
fn a_fit_without_answers_prints_no_nan() {
    let rows: String = (0..200)
        .map(|i| {
            let a = 8.0 * 3600.0 + 60.0 * i as f64;
            format!(
                "c{i},l{i},c{i}x,+1{i:09},{},,{},no-answer\n",
                ms_stamp(a),
                ms_stamp(a + 30.0)
            )
        })
        .collect();
    let dir = TempDir::new().unwrap();
    let cdr = dir.path().join("rangout.csv");
    std::fs::write(&cdr, format!("{HEAD}{rows}")).unwrap();
    let out = dir.path().join("rangout.toml");
    let o = callsim(&["fit", s(&cdr), "--out", s(&out), "-q"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("NaN"), "{text}");
    assert!(
        text.contains("Mean wait of answered calls no answered call; of abandoned calls fewer than 10 abandoned calls"),
        "{text}"
    );
}

/// `--interval` out of range is refused before anything is read, with the range and why.
#[test]
fn interval_out_of_range_is_refused_up_front() {
    for (v, shown) in [("100h", "100h"), ("25h", "25h"), ("90s", "90s"), ("0", "0")] {
        let (o, out) = fit_text(
            &format!("{HEAD}{}", good_rows(100)),
            "csv",
            &["--interval", v],
        );
        assert_eq!(o.status.code(), Some(2), "{v}: {}", show(&o));
        assert!(
            err(&o).contains(&format!(
                "--interval {shown}: expected a whole number of minutes from 1m to 24h"
            )) && err(&o).contains("00:00 to 47:59"),
            "{v}: {}",
            err(&o)
        );
        assert!(!out);
    }
    let (o, _) = fit_text(
        &format!("{HEAD}{}", good_rows(100)),
        "csv",
        &["--interval", "24h"],
    );
    assert!(o.status.success(), "{}", show(&o));
}

/// Records from 08:00 to 22:30 of the next day (46:30 on the scenario's clock) with 2 h bins:
/// the last bin would end at 48:00, past a scenario's clock, so the profile is folded onto one
/// day and the scenario loads.
#[test]
fn a_profile_whose_last_bin_would_pass_the_clock_is_folded() {
    let dir = TempDir::new().unwrap();
    let rows: String = (0..(38 * 6 + 4))
        .map(|i| {
            let a = 8.0 * 3600.0 + 600.0 * i as f64 + 1.0;
            format!(
                "c{i},l{i},c{i}x,+1{i:09},{},{},{},answered\n",
                ms_stamp(a),
                ms_stamp(a + 5.0),
                ms_stamp(a + 50.0 + (i % 17) as f64)
            )
        })
        .collect();
    let cdr = dir.path().join("two-days.csv");
    std::fs::write(&cdr, format!("{HEAD}{rows}")).unwrap();
    let last = rows.lines().last().unwrap().to_string();
    assert!(last.contains("2026-03-03T22:3"), "{last}");
    for interval in ["2h", "24h", "7h"] {
        let out = dir.path().join(format!("f{interval}.toml"));
        let o = callsim(&[
            "fit",
            s(&cdr),
            "--interval",
            interval,
            "--out",
            s(&out),
            "-q",
        ]);
        assert!(o.status.success(), "{interval}: {}", show(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("folded onto one clock day"),
            "{interval}: {text}"
        );
        let c = callsim(&["check", s(&out)]);
        assert!(c.status.success(), "{interval}: {}", show(&c));
    }
}

/// `--ring-timeout` out of range is refused; a valid one is the scenario's ring timeout, and a
/// disagreement with the legs that rang out is warned about.
#[test]
fn ring_timeout_flag_is_checked_and_used() {
    for (v, shown) in [
        ("0", "0"),
        ("1000000h", "1000000h"),
        ("0.5s", "0.5s"),
        ("2h", "2h"),
    ] {
        let (o, out) = fit_text(
            &format!("{HEAD}{}", good_rows(100)),
            "csv",
            &["--ring-timeout", v],
        );
        assert_eq!(o.status.code(), Some(2), "{v}: {}", show(&o));
        assert!(
            err(&o).contains(&format!("--ring-timeout {shown}: expected 1s to 1h")),
            "{v}: {}",
            err(&o)
        );
        assert!(!out);
    }
    // 200 calls, a third ringing out after 30 s.
    let rows: String = (0..200)
        .map(|i| {
            let a = 8.0 * 3600.0 + 60.0 * i as f64;
            if i % 3 == 0 {
                format!(
                    "c{i},l{i},c{i}x,+1{i:09},{},,{},no-answer\n",
                    ms_stamp(a),
                    ms_stamp(a + 30.0)
                )
            } else {
                format!(
                    "c{i},l{i},c{i}x,+1{i:09},{},{},{},answered\n",
                    ms_stamp(a),
                    ms_stamp(a + 4.0),
                    ms_stamp(a + 90.0)
                )
            }
        })
        .collect();
    let dir = TempDir::new().unwrap();
    let cdr = dir.path().join("in.csv");
    std::fs::write(&cdr, format!("{HEAD}{rows}")).unwrap();
    let out = dir.path().join("out.toml");
    let o = callsim(&["fit", s(&cdr), "--out", s(&out), "-q"]);
    assert!(o.status.success(), "{}", show(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("ring_timeout = \"30s\""), "{text}");
    let o = callsim(&[
        "fit",
        s(&cdr),
        "--ring-timeout",
        "45s",
        "--out",
        s(&out),
        "-q",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("ring_timeout = \"45s\"") && !text.contains("ring_timeout = \"30s\""),
        "{text}"
    );
    assert!(
        text.contains("# ring timeout: given with --ring-timeout; the most common ringing time of 67 rang-out legs is 30s"),
        "{text}"
    );
    assert!(
        err(&o)
            .contains("--ring-timeout 45s is used, but 100% of the 67 legs that rang out rang 30s"),
        "{}",
        err(&o)
    );
}

/// A field mapped twice, or an empty entry, is refused before anything is read.
#[test]
fn columns_flag_duplicates_and_empty_entries_are_refused() {
    for (v, want) in [
        (
            "call=1,call=2",
            "field `call` is mapped twice (`call=1` and `call=2`)",
        ),
        (",,", "--columns `,,`: entry 1 is empty"),
    ] {
        let (o, out) = fit_text(
            &format!("{HEAD}{}", good_rows(100)),
            "csv",
            &["--columns", v],
        );
        assert_eq!(o.status.code(), Some(2), "{v}: {}", show(&o));
        assert!(err(&o).contains(want), "{v}: {}", err(&o));
        assert!(!out);
    }
}
