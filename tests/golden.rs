//! Golden outputs: a fixed scenario and seed must keep producing these exact bytes. A change
//! that alters results on purpose (a model fix) re-blesses them with
//! `CALLSIM_BLESS=1 cargo test --test main golden`, and the diff is reviewed in the commit;
//! an optimisation must leave them untouched.

use std::path::Path;
use std::process::Command;

fn check(name: &str, args: &[&str], files: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-q", "--out", out.to_str().unwrap()]);
    let o = Command::new(env!("CARGO_BIN_EXE_callsim"))
        .args(&all)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bless = std::env::var("CALLSIM_BLESS").is_ok_and(|v| v == "1");
    for f in files {
        let got = std::fs::read(out.join(f)).unwrap();
        let golden = Path::new("tests/golden").join(format!("{name}-{f}"));
        if bless {
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read(&golden)
            .unwrap_or_else(|_| panic!("missing {}; bless with CALLSIM_BLESS=1", golden.display()));
        assert!(got == want, "{} differs from the golden file; if the change is intended, re-bless (see the module doc)", golden.display());
    }
}

#[test]
fn small_fixture_outputs_are_unchanged() {
    check(
        "small",
        &[
            "run",
            "tests/fixtures/cli-small.toml",
            "--seed",
            "11",
            "-n",
            "3",
            "--calls-csv",
        ],
        &["summary.csv", "timeline.csv", "calls.csv"],
    );
}

#[test]
fn callrail_summary_is_unchanged() {
    check(
        "callrail",
        &["run", "scenarios/callrail-2018-05-14.toml", "-n", "2"],
        &["summary.csv"],
    );
}

/// The platform: sessions, waits, a connection pool, pods that crash, retries and client
/// timeouts, for requests and for calls that then dial a carrier.
#[test]
fn platform_fixture_outputs_are_unchanged() {
    check(
        "platform",
        &["run", "tests/fixtures/golden-platform.toml"],
        &[
            "summary.csv",
            "timeline.csv",
            "stages.csv",
            "stages_timeline.csv",
            "tenants.csv",
            "tenants_timeline.csv",
        ],
    );
}
