//! Windows, sweeps, plan, shards and merge, through the binary: exact answers on systems with
//! a closed form, byte identity of sharded and unsharded outputs, and bad input refused with
//! exit code 2 and nothing written.

use crate::cli::{callsim, fixture, listing, ok, s, show, stderr};
use std::fs;
use std::path::Path;
use tempfile::TempDir;

const SWEEP: &[&str] = &[
    "sweep",
    "--vary",
    "carriers.main.rate=1/s..3/s:1/s",
    "-n",
    "3",
    "--window",
    "late=09:04-09:10",
    "-q",
];

fn sweep_args<'a>(f: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![SWEEP[0], f];
    a.extend(&SWEEP[1..]);
    a.extend(extra);
    a
}

/// Runs a command whole, then in `n` shards merged; every file must be identical (the
/// manifest too, but for the output folder's name in its command line).
fn sharded_equals_whole(cmd: &[&str], n: u32) {
    let tmp = TempDir::new().unwrap();
    let whole = tmp.path().join("whole");
    let shards = tmp.path().join("shards");
    let merged = tmp.path().join("merged");
    let mut a = cmd.to_vec();
    a.extend(["--out", s(&whole)]);
    ok(&a);
    for i in 0..n {
        let spec = format!("{i}/{n}");
        let mut a = cmd.to_vec();
        a.extend(["--shard", &spec, "--out", s(&shards)]);
        ok(&a);
    }
    ok(&["merge", s(&shards), "--out", s(&merged)]);
    assert_eq!(listing(&merged), listing(&whole), "{n} shards");
    for f in listing(&whole) {
        let w = fs::read_to_string(whole.join(&f)).unwrap();
        let m = fs::read_to_string(merged.join(&f)).unwrap();
        let m = if f == "manifest.json" {
            m.replace(s(&merged), s(&whole))
        } else {
            m
        };
        assert!(
            w == m,
            "{n} shards: merged {f} differs from the unsharded one"
        );
    }
}

#[test]
fn sharded_sweeps_merge_byte_for_byte() {
    let f = fixture("cli-small.toml");
    let cmd = sweep_args(s(&f), &[]);
    for n in [1, 2, 3, 7] {
        sharded_equals_whole(&cmd, n);
    }
}

#[test]
fn sharded_runs_merge_byte_for_byte() {
    let f = fixture("cli-small.toml");
    let cmd = [
        "run",
        s(&f),
        "-n",
        "5",
        "-q",
        "--calls-csv",
        "--window",
        "w=09:00-09:05",
    ];
    for n in [1, 2, 3, 7] {
        sharded_equals_whole(&cmd, n);
    }
    // A platform scenario: tenants and stages files too.
    let cmd = [
        "run",
        "scenarios/voucherify-2021-08-20.toml",
        "-n",
        "3",
        "-q",
        "--set",
        "end=09:00",
    ];
    sharded_equals_whole(&cmd, 2);
}

#[test]
fn sharded_compares_merge_byte_for_byte() {
    let f = fixture("cli-small.toml");
    let cmd = [
        "compare",
        s(&f),
        "-n",
        "3",
        "-q",
        "--window",
        "w=09:02-09:05",
    ];
    sharded_equals_whole(&cmd, 2);
}

#[test]
fn sweep_csv_is_tidy_and_windows_are_exact() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    // A window spanning the whole run and its drain holds every call (redials too): its
    // metrics equal the totals.
    let stdout = ok(&[
        "sweep",
        s(&f),
        "--vary",
        "carriers.main.rate=1/s..3/s:1/s",
        "-n",
        "3",
        "-q",
        "--window",
        "all=09:00-10:10",
        "--out",
        s(&out),
    ]);
    assert!(stdout.contains("abandon_ratio@all"), "{stdout}");
    let text = fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "point,carriers.main.rate,variant,metric,mean,ci95_low,ci95_high,replications"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let get = |p: &str, m: &str| {
        rows.iter()
            .find(|r| r[0] == p && r[3] == m)
            .unwrap_or_else(|| panic!("no row {p} {m}"))[4]
    };
    let mut compared = 0;
    for m in [
        "offered",
        "abandoned",
        "connected",
        "dial_delay_ms_p50",
        "dial_delay_ms_p95",
        "dial_delay_ms_max",
        "pdd_ms_p99",
        "abandon_ratio",
    ] {
        for p in ["0", "1", "2"] {
            assert_eq!(get(p, m), get(p, &format!("{m}@all")), "{m} at point {p}");
            compared += 1;
        }
    }
    assert_eq!(compared, 24);
    // Every point has every metric, and the rate column echoes the values as written.
    for p in ["0", "1", "2"] {
        assert!(rows
            .iter()
            .any(|r| r[0] == p && r[1] == format!("{}/s", p.parse::<u32>().unwrap() + 1)));
    }
}

#[test]
fn a_window_counts_only_its_own_arrivals() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    ok(&[
        "run",
        s(&f),
        "-q",
        "-n",
        "2",
        "--window",
        "a=09:00-09:05",
        "--window",
        "b=09:05-10:10",
        "--out",
        s(&out),
    ]);
    let text = fs::read_to_string(out.join("summary.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| {
        head.iter()
            .position(|h| *h == n)
            .unwrap_or_else(|| panic!("no column {n}"))
    };
    for line in lines.filter(|l| l.starts_with("replication,")) {
        let v: Vec<f64> = line
            .split(',')
            .skip(5)
            .map(|x| x.parse().unwrap_or(f64::NAN))
            .collect();
        let at = |n: &str| v[col(n) - 5];
        // The two windows partition the arrivals (no warm-up; b runs to the end of the drain, so
        // it holds the last redials too): counts add up exactly.
        for m in [
            "offered",
            "connected",
            "abandoned",
            "no_answer",
            "redials",
            "legs_dialed",
        ] {
            assert_eq!(at(&format!("{m}@a")) + at(&format!("{m}@b")), at(m), "{m}");
        }
        assert!(at("offered@a") > 0.0 && at("offered@b") > 0.0);
    }
}

/// Plan's answer line.
fn answer(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with("answer:"))
        .unwrap_or_else(|| panic!("no answer in\n{stdout}"))
        .to_string()
}

#[test]
fn plan_finds_the_exact_erlang_c_channel_count() {
    // 0.08 calls/s x 100 s = 8 Erlangs. Service level: P(wait > 20 s) <= 10%, i.e. the p90
    // wait <= 20 s. The exact answer comes from the analytic module, not from this file.
    let want = callsim::analytic::min_channels_for_wait(0.08, 100.0, 20.0, 0.1).unwrap();
    let stdout = ok(&[
        "plan",
        "scenarios/validation/erlang-c-c10-a8.toml",
        "--vary",
        "carriers.trunk.channels=5..30:1",
        "--target",
        "dial_delay_ms_p90 <= 20000",
        "--set",
        "duration=400h",
        "-q",
    ]);
    assert!(
        answer(&stdout).contains(&format!(
            "carriers.trunk.channels={want} is the least value"
        )),
        "want {want}\n{stdout}"
    );
}

#[test]
fn plan_finds_the_exact_md1_dial_rate_on_its_grid() {
    // Poisson legs at 8/s through a token bucket of burst 1: M/D/1. The least rate on a 0.1/s
    // grid whose p95 wait is at most 500 ms is the exact minimum rounded up to the grid.
    let exact = callsim::analytic::min_dial_rate_for_percentile(8.0, 0.95, 0.5).unwrap();
    let want = (exact * 10.0).ceil() / 10.0;
    let stdout = ok(&[
        "plan",
        "scenarios/validation/md1-rho80.toml",
        "--vary",
        "carriers.trunk.rate=8.1/s..20/s:0.1/s",
        "--target",
        "dial_delay_ms_p95 <= 500",
        "-q",
    ]);
    assert!(
        answer(&stdout).contains(&format!("carriers.trunk.rate={want}/s is the least")),
        "exact {exact}, want {want}/s\n{stdout}"
    );
}

#[test]
fn plan_answers_the_readme_question() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("plan");
    let stdout = ok(&[
        "plan",
        "scenarios/sales-line.toml",
        "--vary",
        "carriers.carrier.rate=4/s..20/s:1/s",
        "--target",
        "dial_delay_ms_p95@peak <= 2000",
        "--target",
        "abandon_ratio@peak <= 0.01",
        "-q",
        "--out",
        s(&out),
    ]);
    assert!(
        answer(&stdout).contains("carriers.carrier.rate=9/s is the least value"),
        "{stdout}"
    );
    assert!(stdout.contains("analytic estimate"), "{stdout}");
    let csv = fs::read_to_string(out.join("plan.csv")).unwrap();
    assert!(csv.starts_with("point,carriers.carrier.rate,metric,window,op,threshold,mean,ci95_low,ci95_high,bound,replications,verdict\n"));
    assert!(csv.contains(",9/s,abandon_ratio,peak,<=,0.01,"), "{csv}");
    assert!(
        csv.contains(",8/s,dial_delay_ms_p95,peak,<=,2000,") && csv.contains(",fail\n"),
        "{csv}"
    );
    let manifest = fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"answer\": \"9/s\""), "{manifest}");
}

/// No value in range meets the target: an answer, not bad input. The points evaluated are
/// written (plan.csv, manifest.json with answer "none"), and the exit status is 1.
#[test]
fn a_plan_with_no_answer_keeps_its_points_and_exits_1() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    // The fixture abandons a few percent at any rate: nothing in range meets 0.1%.
    let args = [
        "plan",
        s(&f),
        "--vary",
        "carriers.main.rate=1/s..3/s:1/s",
        "--target",
        "abandon_ratio <= 0.001",
        "-q",
        "--out",
        s(&out),
    ];
    let o = callsim(&args);
    assert_eq!(o.status.code(), Some(1), "{}", show(&args, &o));
    assert!(
        stderr(&o).contains("no value in carriers.main.rate=1/s..3/s:1/s meets the targets"),
        "{}",
        show(&args, &o)
    );
    let csv = fs::read_to_string(out.join("plan.csv")).unwrap();
    assert!(csv.contains(",3/s,abandon_ratio,,<=,0.001,"), "{csv}");
    let manifest = fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"answer\": \"none\""), "{manifest}");
}

/// A rare-event target that does not hold must pass no more often than the confidence allows.
/// At 16 channels blocking is 0.0042-0.0045 (tests/fixtures/erlang-b-short.toml), above the
/// target 0.003; most short replications see no blocking at all, and a plan that judged a
/// point with no spread as exact, or kept the 95% bound at every look while doubling its
/// replications, passed it for 37 of these 100 seeds. The seeds are fixed, so the count is
/// exact for this engine; the bound allows for the 5% that is nominal (10 is above the 99th
/// percentile of Binomial(100, 0.05)).
#[test]
fn a_plan_does_not_pass_a_rare_event_target_that_fails() {
    let f = fixture("erlang-b-short.toml");
    let mut passes = 0;
    for seed in 1..=100 {
        let seed = seed.to_string();
        let args = [
            "plan",
            s(&f),
            "--seed",
            &seed,
            "--vary",
            "carriers.trunk.channels=16",
            "--target",
            "fail_ratio <= 0.003",
        ];
        let o = callsim(&args);
        let out = String::from_utf8_lossy(&o.stdout);
        if out
            .lines()
            .any(|l| l.starts_with("point 1:") && l.ends_with(" pass"))
        {
            passes += 1;
        }
    }
    assert!(
        passes <= 10,
        "{passes} of 100 seeds passed a target that fails"
    );
}

/// The analytic estimate that seeds the search fits the system: Erlang B for blocking on a
/// carrier that refuses (B(13, 8) = 0.0431 <= 0.05 < B(12, 8) = 0.0514), and no Erlang C (a
/// queue's model) for a delay on it: review found "14 from Erlang C" where the answer was 5.
#[test]
fn the_analytic_estimate_fits_the_system() {
    let f = fixture("erlang-b-short.toml");
    let plan = |target: &str, sets: &[&str]| {
        let mut args = vec![
            "plan",
            s(&f),
            "--vary",
            "carriers.trunk.channels=5..25:1",
            "--target",
            target,
            "--max-replications",
            "4",
        ];
        for set in sets {
            args.extend(["--set", set]);
        }
        let o = callsim(&args);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = plan("fail_ratio <= 0.05", &[]);
    assert!(
        out.contains("analytic estimate: 13 (Erlang B: 8.000 Erlangs"),
        "{out}"
    );
    let out = plan("dial_delay_ms_p95 <= 1000", &[]);
    assert!(!out.contains("analytic estimate"), "{out}");
    // Callers who queue and give up after a fixed 20 s: Erlang A with fixed patience (M/M/c+D),
    // 11 channels as `callsim erlang a-fixed --arrival-rate 0.08 --mean-talk 100 --patience 20
    // --target-abandon 0.05` says; no Erlang A with exponential patience.
    let out = plan(
        "abandon_ratio <= 0.05",
        &[
            "carriers.trunk.over_limit=\"queue\"",
            "sources.callers.patience=\"20s\"",
        ],
    );
    assert!(
        out.contains(
            "analytic estimate: 11 (Erlang A with fixed patience (M/M/c+D): 0.080 calls/s"
        ),
        "{out}"
    );
    // Four replications leave 9 and 10 unclear (seed 1): the answer is a range, the comparison
    // with the estimate says so, and one point below the range reads as one.
    for want in [
        "answer: uncertain",
        "8 was not evaluated",
        "the simulated answer is 11 (uncertain)",
    ] {
        assert!(out.contains(want), "want `{want}`\n{out}");
    }
}

/// Runs, expects exit 2 with `needle` on stderr and no output directory.
fn refused(args: &[&str], needle: &str, out: &Path) {
    let o = callsim(args);
    assert_eq!(o.status.code(), Some(2), "{}", show(args, &o));
    assert!(
        stderr(&o).contains(needle),
        "want `{needle}`\n{}",
        show(args, &o)
    );
    assert!(
        !out.join("sweep.csv").exists() && !out.join("plan.csv").exists(),
        "an output was written\n{}",
        show(args, &o)
    );
}

#[test]
fn bad_sweeps_and_plans_are_refused_before_running() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    let o = s(&out);
    let sweep = |vary: &str| {
        vec!["sweep", s(&f), "--vary", vary, "-q", "--out", o]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for (vary, needle) in [
        ("carriers.mian.rate=1/s,2/s", "carriers.mian"),
        ("carriers.main.rate=fast,2/s", "fast"),
        ("carriers.main.rate=3/s..1/s:1/s", "reversed"),
        ("carriers.main.rate=1/s..3/s:0/s", "greater than 0"),
        ("carriers.main.rate=1/s..3/s", "no step"),
        ("carriers.main.rate=", "no values"),
        ("carriers.main.rate=1/s..3/s:1s", "same unit"),
        ("carriers.main.rate=1/s,2/s,1/s", "`1/s` appears twice"),
    ] {
        let a = sweep(vary);
        refused(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            needle,
            &out,
        );
    }
    // --max-output holds for sweep, compare and plan as for run (review: a sweep wrote 25 KB
    // past --max-output 1).
    for args in [
        vec![
            "sweep",
            s(&f),
            "--vary",
            "carriers.main.rate=1/s,2/s",
            "--max-output",
            "1K",
            "-q",
            "--out",
            o,
        ],
        vec![
            "sweep",
            s(&f),
            "--vary",
            "carriers.main.rate=1/s,2/s",
            "--max-output",
            "1K",
            "--shard",
            "1/2",
            "-q",
            "--out",
            o,
        ],
        vec!["compare", s(&f), "--max-output", "1K", "-q", "--out", o],
        vec![
            "plan",
            s(&f),
            "--vary",
            "carriers.main.rate=1/s..3/s:1/s",
            "--target",
            "abandon_ratio <= 0.5",
            "--max-output",
            "100",
            "-q",
            "--out",
            o,
        ],
    ] {
        refused(&args, "over --max-output", &out);
        assert!(!out.exists(), "{args:?} made {}", out.display());
    }
    let plan = |target: &str, vary: &str| {
        vec![
            "plan",
            s(&f),
            "--vary",
            vary,
            "--target",
            target,
            "-q",
            "--out",
            o,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    for (target, vary, needle) in [
        (
            "abandon_ration <= 0.1",
            "carriers.main.rate=1/s..3/s:1/s",
            "did you mean `abandon_ratio`",
        ),
        (
            "abandon_ratio@peak <= 0.1",
            "carriers.main.rate=1/s..3/s:1/s",
            "unknown window `peak`",
        ),
        (
            "abandon_ratio = 0.1",
            "carriers.main.rate=1/s..3/s:1/s",
            "OP one of",
        ),
        // The search halves the list: one out of order would give a wrong answer.
        (
            "abandon_ratio <= 0.5",
            "carriers.main.rate=3/s,1/s,2/s",
            "`1/s` follows `3/s`",
        ),
        (
            "abandon_ratio <= 0.5",
            "carriers.main.rate=1/s,60/min",
            "strictly ascending",
        ),
        (
            "abandon_ratio >= 2",
            "carriers.main.rate=1/s..3/s:1/s",
            "a ratio lies in [0, 1]",
        ),
    ] {
        let a = plan(target, vary);
        refused(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            needle,
            &out,
        );
    }
}

#[test]
fn merge_refuses_shards_that_do_not_belong_together() {
    let tmp = TempDir::new().unwrap();
    let f = fixture("cli-small.toml");
    let d = |n: &str| tmp.path().join(n);
    let shard = |dir: &str, spec: &str, extra: &[&str]| {
        let mut a = sweep_args(s(&f), &["--shard", spec, "--out"]);
        let p = d(dir);
        a.push(s(&p));
        a.extend(extra);
        ok(&a);
    };
    shard("a", "0/3", &[]);
    shard("a", "1/3", &[]);
    let out = d("merged");
    let merge = |dirs: &[&str]| {
        let mut a = vec!["merge".to_string()];
        a.extend(dirs.iter().map(|x| s(&d(x)).to_string()));
        a.extend(["--out".to_string(), s(&out).to_string()]);
        a
    };
    let run = |a: Vec<String>, needle: &str| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = callsim(&a);
        assert_eq!(o.status.code(), Some(2), "{}", show(&a, &o));
        assert!(
            stderr(&o).contains(needle),
            "want `{needle}`\n{}",
            show(&a, &o)
        );
        assert!(!out.exists(), "merge wrote output\n{}", show(&a, &o));
    };
    run(merge(&["a"]), "missing shard 2 of 3");
    // Another seed, and another shard count.
    shard("b", "2/3", &["--seed", "99"]);
    run(merge(&["a", "b"]), "the seeds differ");
    shard("c", "2/4", &[]);
    run(merge(&["a", "c"]), "do not belong together");
    // A duplicate shard.
    shard("e", "1/3", &[]);
    run(merge(&["a", "e"]), "appears twice");
    // Another callsim version (a doctored header) and a file that is not a shard.
    shard("v", "2/3", &[]);
    let p = d("v").join("shard-2-of-3.csv");
    let text = fs::read_to_string(&p).unwrap().replacen(
        "\"callsim_version\":\"",
        "\"callsim_version\":\"9.",
        1,
    );
    fs::write(&p, text).unwrap();
    run(merge(&["a", "v"]), "callsim versions differ");
    fs::write(d("a").join("shard-2-of-3.csv"), "hello\n").unwrap();
    run(merge(&["a"]), "not a callsim shard file");
    // Shards of another scenario (same name, other content).
    let other = d("other.toml");
    fs::write(
        &other,
        fs::read_to_string(&f)
            .unwrap()
            .replace("seed = 7", "seed = 7 # edited"),
    )
    .unwrap();
    let mut a = sweep_args(s(&other), &["--shard", "2/3", "--out"]);
    let x = d("x");
    a.push(s(&x));
    ok(&a);
    fs::remove_file(d("a").join("shard-2-of-3.csv")).unwrap();
    run(merge(&["a", "x"]), "the scenarios differ");
}

/// `--vary` addresses a scheduled change by its index: a sweep over when the carrier's limit is
/// raised. The earlier raise must leave less queueing, and the column is named as the key.
#[test]
fn a_sweep_moves_a_scheduled_change() {
    let tmp = TempDir::new().unwrap();
    let f = tmp.path().join("raise.toml");
    let text = fs::read_to_string(fixture("cli-small.toml")).unwrap();
    fs::write(
        &f,
        format!("{text}\n[[changes]]\nat = \"09:09\"\nset = {{ carriers.main.rate = \"8/s\", carriers.main.burst = 8 }}\n"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    ok(&[
        "sweep",
        s(&f),
        "--vary",
        "changes[0].at=09:01,09:09",
        "--variant",
        "base",
        "-n",
        "3",
        "-q",
        "--out",
        s(&out),
    ]);
    let text = fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(
        text.starts_with("point,changes[0].at,variant,metric,"),
        "{}",
        text.lines().next().unwrap()
    );
    let get = |p: &str, m: &str| -> f64 {
        text.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|r| r[0] == p && r[3] == m)
            .unwrap_or_else(|| panic!("no row {p} {m}"))[4]
            .parse()
            .unwrap()
    };
    for m in ["dial_delay_ms_p95", "abandoned"] {
        assert!(
            get("0", m) < get("1", m),
            "{m}: raised at 09:01 {} >= at 09:09 {}",
            get("0", m),
            get("1", m)
        );
    }
    // An index beyond the scenario's changes is refused, naming what exists.
    let o = callsim(&[
        "sweep",
        s(&f),
        "--vary",
        "changes[1].at=09:01,09:09",
        "-q",
        "--out",
        s(&tmp.path().join("bad")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no element 1 in `changes`: it has one, changes[0]"),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.path().join("bad").exists());
}
