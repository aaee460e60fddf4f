//! Fuzzing (issue 16 item 6, docs/fuzzing.md): a short bounded run of the structured fuzzer of
//! tests/fuzz_engine.rs (the long campaign is examples/fuzz_campaign.rs), and a regression test
//! per finding.

use crate::fuzz_engine::{peak_rss, Fuzzer, HANG_S, MAX_MEMORY};
use std::process::Command;

/// A few thousand inputs (a few seconds), every kind: 0 panics, 0 hangs, memory in budget.
/// CALLSIM_FUZZ_CASES and CALLSIM_FUZZ_SEED change the count and seed.
#[test]
fn fuzz_short_run_finds_no_panic_or_hang() {
    let cases: u64 = std::env::var("CALLSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("CALLSIM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261201);
    let mut f = Fuzzer::new(seed);
    f.max_findings = 3;
    for _ in 0..cases {
        f.one();
    }
    let s = &f.stats;
    assert_eq!(s.inputs, cases);
    // Every kind of input was tried, some loaded and some ran.
    assert!(
        s.scenario_inputs > 0 && s.text_inputs > 0 && s.csv_inputs > 0 && s.set_inputs > 0,
        "{s:?}"
    );
    assert!(s.loaded > 0 && s.refused > 0 && s.runs > 0, "{s:?}");
    assert!(
        s.panics == 0 && s.hangs == 0,
        "fuzz seed {seed}: {} panics, {} hangs (budget {HANG_S} s); first findings: {:#?}",
        s.panics,
        s.hangs,
        s.findings
    );
    // The test binary runs other tests at once: only a gross excess is a finding here (the
    // campaign measures its own process).
    let rss = peak_rss().unwrap_or(0) as f64;
    assert!(rss <= 4.0 * MAX_MEMORY, "peak RSS {rss} bytes");
}

/// Finding (known before the fuzzer, from the issue): a trace naming /dev/zero makes the CSV
/// header read allocate without bound (4.3 GB requested, then 8.6 GB) and the process aborts
/// (`memory allocation of ... failed`, SIGABRT) instead of refusing the file. The read is in
/// src/scenario/trace.rs (`column_index` -> `csv::Reader::headers`, from `validate` and
/// `TraceReader::open`; `read_values` for empirical files too), which this branch may not
/// edit. Run under a 1 GB address-space limit so the test cannot take the machine's memory.
#[test]
#[ignore = "bug: trace/empirical file /dev/zero (or any file without a newline) is read without bound in src/scenario/trace.rs column_index; aborts on allocation failure"]
fn trace_file_dev_zero_is_refused_not_read_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    for spec in [
        "trace = { file = \"/dev/zero\", column = \"time\" }\ntalk_time = \"30s\"",
        "rate = \"1/s\"\ntalk_time = { dist = \"empirical\", file = \"/dev/zero\" }",
    ] {
        let p = dir.path().join("z.toml");
        std::fs::write(
            &p,
            format!("start = \"09:00\"\nend = \"09:10\"\n[carriers.main]\nrate = \"2/s\"\n[sources.callers]\n{spec}\n[sources.callers.flow]\nlegs = 1\n[[sources.callers.flow.destinations]]\nanswer_probability = 0.8\n"),
        )
        .unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 1000000; exec timeout 30 {} check {}",
                env!("CARGO_BIN_EXE_callsim"),
                p.display()
            ))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // Refused with an error (exit 1 or 2), not killed by a signal or an abort.
        assert!(
            matches!(out.status.code(), Some(1) | Some(2)) && err.contains("/dev/zero"),
            "{spec}: {:?}\n{err}",
            out.status
        );
    }
}
