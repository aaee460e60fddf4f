//! Kill-safety and one run per output folder, through the binary: a run killed at any moment
//! (SIGKILL) leaves leftovers that the next run into the folder removes; SIGINT and SIGTERM
//! remove the run's temporary files and exit 130 and 143; a folder holds exactly one run's
//! files.

use crate::cli::{fixture, listing, ok, root, s};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_callsim");

/// A run long enough to be interrupted (about a second), with per-call output.
fn long_run(out: &Path) -> Child {
    Command::new(BIN)
        .args([
            "run",
            "scenarios/callrail-2018-05-14.toml",
            "-n",
            "4",
            "--threads",
            "1",
            "-q",
            "--calls-csv",
            "--out",
        ])
        .arg(out)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start callsim")
}

fn hidden(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// The files manifest.json lists.
fn manifest_files(dir: &Path) -> BTreeSet<String> {
    let m = fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    let v: serde_json::Value = serde_json::from_str(&m).unwrap();
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sigkill_leftovers_are_removed_by_the_next_run() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();
    // Deterministic "random" moments between 20 ms and 1.2 s (an LCG; no clock in the choice).
    let mut x: u64 = 12345;
    let mut left_some = 0;
    for _ in 0..20 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ms = 20 + (x >> 33) % 1200;
        let mut child = long_run(&out);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        left_some += usize::from(!hidden(&out).is_empty());
    }
    assert!(
        left_some > 0,
        "no kill left a temporary file: the test did not exercise the clean-up"
    );
    let f = fixture("cli-small.toml");
    ok(&["run", s(&f), "-q", "-n", "2", "--out", s(&out)]);
    assert_eq!(
        hidden(&out),
        Vec::<String>::new(),
        "leftovers of killed runs remain"
    );
    // Everything but the user's own file is the last run's, as its manifest says.
    let mut files = listing(&out);
    assert!(
        files.remove("notes.txt"),
        "a file callsim did not write was removed"
    );
    assert_eq!(files, manifest_files(&out));
    assert!(
        !files.contains("calls.csv"),
        "an earlier run's calls.csv was left beside the new files"
    );
}

#[test]
fn sigint_and_sigterm_remove_temporary_files_and_keep_earlier_results() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    ok(&["run", s(&f), "-q", "-n", "1", "--out", s(&out)]);
    let before = fs::read(out.join("summary.csv")).unwrap();
    for (sig, code) in [("-INT", 130), ("-TERM", 143)] {
        let mut child = long_run(&out);
        std::thread::sleep(Duration::from_millis(400));
        let k = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(k.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{sig}");
        assert_eq!(
            hidden(&out),
            Vec::<String>::new(),
            "{sig} left temporary files"
        );
        assert_eq!(
            fs::read(out.join("summary.csv")).unwrap(),
            before,
            "{sig} touched the earlier results"
        );
    }
}

#[test]
fn an_output_folder_holds_one_run() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    ok(&[
        "run",
        s(&f),
        "-q",
        "-n",
        "1",
        "--calls-csv",
        "--out",
        s(&out),
    ]);
    assert!(out.join("calls.csv").exists());
    ok(&[
        "run",
        s(&f),
        "-q",
        "-n",
        "1",
        "--seed",
        "3",
        "--out",
        s(&out),
    ]);
    assert!(
        !out.join("calls.csv").exists(),
        "calls.csv of the earlier run is still there"
    );
    assert_eq!(listing(&out), manifest_files(&out));
    // A compare into the same folder replaces the run's files too.
    ok(&["compare", s(&f), "-q", "-n", "2", "--out", s(&out)]);
    assert_eq!(
        listing(&out),
        BTreeSet::from(["compare.csv".to_string(), "manifest.json".to_string()])
    );
}

/// Runs, expects exit 2 with every `needle` on stderr, and no output folder.
fn refused_before_running(args: &[&str], needles: &[&str]) {
    let o = crate::cli::callsim(args);
    let err = crate::cli::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{}", crate::cli::show(args, &o));
    for n in needles {
        assert!(
            err.contains(n),
            "want `{n}`\n{}",
            crate::cli::show(args, &o)
        );
    }
}

#[test]
fn work_over_the_budget_is_refused_before_it_runs() {
    let tmp = TempDir::new().unwrap();
    let huge = tmp.path().join("huge.toml");
    fs::write(&huge, "start = \"09:00\"\nend = \"10:00\"\n[carriers.c]\n[sources.s]\nrate = \"1000000000000/s\"\n").unwrap();
    let out = tmp.path().join("out");
    refused_before_running(
        &["run", s(&huge), "--out", s(&out)],
        &["3.6e15 calls", "years", "--max-events", "lower the rate"],
    );
    refused_before_running(&["check", s(&huge)], &["3.6e15 calls"]);
    assert!(!out.exists(), "an output folder was created");
    let cr = "scenarios/callrail-2018-05-14.toml";
    refused_before_running(
        &[
            "run",
            cr,
            "--set",
            "sources.customers.rate_scale=1e20",
            "-q",
        ],
        &["calls arrive per replication", "rate_scale"],
    );
    refused_before_running(
        &[
            "compare",
            cr,
            "--set",
            "backup.auto.evaluate_every=1ns",
            "-q",
        ],
        &[
            "variant auto-backup",
            "`backup.auto.evaluate_every` fires about",
            "longer interval",
        ],
    );
    let f = fixture("cli-small.toml");
    refused_before_running(
        &[
            "run",
            s(&f),
            "--set",
            "timeline_interval=1ms",
            "--max-memory",
            "100M",
            "--out",
            s(&out),
        ],
        &[
            "timeline would hold",
            "--max-memory",
            "longer timeline_interval",
        ],
    );
    refused_before_running(
        &[
            "run",
            s(&f),
            "--set",
            "timeline_interval=1ms",
            "--max-output",
            "50M",
            "--out",
            s(&out),
        ],
        &["--max-output", "timeline.csv would hold"],
    );
    assert!(!out.exists(), "an output folder was created");
    // The same scenario within the budget runs.
    ok(&["run", s(&f), "-q", "-n", "1", "--max-events", "1e6"]);
}

#[test]
fn a_run_that_grows_past_its_memory_budget_stops_cleanly() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    // A stage with one session held for an hour, 1,000 requests a second, and 100 retries
    // without backoff: the wait queue grows without end.
    let stage = tmp.path().join("stage.toml");
    fs::write(&stage, "start = \"09:00\"\nend = \"10:00\"\n[stages.api]\nsessions = 1\nover_limit = \"wait\"\nservice_time = \"1h\"\n[sources.clients]\nkind = \"request\"\nrate = \"1000/s\"\nstages = [\"api\"]\ntimeout = \"10s\"\nretries = 100\nbackoff = \"0s\"\n").unwrap();
    // Legs at 1,000/s into a carrier that dials 1/s, queued without bound, callers who wait.
    let carrier = tmp.path().join("carrier.toml");
    fs::write(&carrier, "start = \"09:00\"\nend = \"10:00\"\n[carriers.c]\nrate = \"1/s\"\n[sources.s]\nrate = \"1000/s\"\n").unwrap();
    for (f, needle) in [
        (&stage, "stage `api` holds"),
        (&carrier, "carrier `c` holds"),
    ] {
        let args = [
            "run",
            s(f),
            "-q",
            "--threads",
            "1",
            "--max-memory",
            "64M",
            "--out",
            s(&out),
        ];
        let o = crate::cli::callsim(&args);
        let err = crate::cli::stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{}", crate::cli::show(&args, &o));
        assert!(
            err.contains(needle) && err.contains("--max-memory"),
            "{}",
            crate::cli::show(&args, &o)
        );
        assert!(!out.exists(), "a stopped run wrote output");
    }
}
