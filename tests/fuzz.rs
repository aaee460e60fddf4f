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

/// Finding (known before the fuzzer, from the issue): a trace naming /dev/zero made the CSV
/// header read allocate without bound (4.3 GB requested, then 8.6 GB) and the process aborted.
/// Now non-regular files are refused before a byte is read, and a regular file whose line never
/// ends is cut off at `input::MAX_LINE_BYTES`. Run under a 1 GB address-space limit so a
/// regression cannot take the machine's memory.
#[test]
fn trace_file_dev_zero_is_refused_not_read_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    // 3 MiB without a newline: a regular file, read only up to the line cap.
    let endless = dir.path().join("endless.csv");
    std::fs::write(&endless, vec![b'x'; 3 << 20]).unwrap();
    let endless = endless.display().to_string();
    for (spec, named) in [
        (
            "trace = { file = \"/dev/zero\", column = \"time\" }\ntalk_time = \"30s\"".to_string(),
            "/dev/zero",
        ),
        (
            "rate = \"1/s\"\ntalk_time = { dist = \"empirical\", file = \"/dev/zero\" }"
                .to_string(),
            "/dev/zero",
        ),
        (
            format!("trace = {{ file = \"{endless}\", column = \"time\" }}\ntalk_time = \"30s\""),
            "longer than",
        ),
        (
            format!("rate = \"1/s\"\ntalk_time = {{ dist = \"empirical\", file = \"{endless}\" }}"),
            "longer than",
        ),
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
            matches!(out.status.code(), Some(1) | Some(2)) && err.contains(named),
            "{spec}: {:?}\n{err}",
            out.status
        );
    }
}

/// Inputs of the kinds the fuzzer tries, fixed: each is refused with an error or loads, and
/// never panics (a corpus kept as a regression test; the campaign found no panic to add).
#[test]
fn fuzz_corpus_is_refused_or_loaded_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let base = |extra: &str| {
        format!("start = \"09:00\"\nend = \"09:05\"\ndrain = \"2m\"\n[carriers.main]\nrate = \"2/s\"\n[sources.s]\nrate = \"1/s\"\ntalk_time = \"30s\"\n{extra}\n[sources.s.flow]\nlegs = 1\n[[sources.s.flow.destinations]]\nanswer_probability = 0.8\n")
    };
    let scenarios = [
        String::new(),
        "\u{0}".into(),
        "start = ".into(),
        base("").replace("\"2/s\"", "\"1e308/s\""),
        base("").replace("\"2/s\"", "\"1000000000000/s\""),
        base("").replace("\"09:05\"", "\"24:00\""),
        base("").replace("\"09:05\"", "\"09:00\""),
        base("").replace("\"30s\"", "\"1ns\""),
        base("").replace("\"30s\"", "\"999999h\""),
        base("").replace("legs = 1", "legs = 18446744073709551615"),
        base("").replace("legs = 1", "legs = { 0 = 1.0 }"),
        base("").replace("0.8", "nan"),
        base("").replace("0.8", "inf"),
        base("patience = { dist = \"exponential\", mean = \"0s\" }"),
        base("rate_scale = 1e308"),
        base("[variants.x]\nsources.s.rate = \"NaNs\""),
    ];
    let path = dir.path().join("t.toml");
    for text in &scenarios {
        let r = std::panic::catch_unwind(|| callsim::scenario::load_str(&path, text, None, &[]));
        assert!(r.is_ok(), "panic loading:\n{text}");
    }
    for s in [
        "",
        "=",
        "a=",
        "=1",
        ".=1",
        "a..b=1",
        "a.b=[",
        "a={",
        "a=\"",
        "a=1=2",
        "variants.=1",
        "variants.x=1",
        "a=\u{0}",
        "a=🙂",
    ] {
        let r = std::panic::catch_unwind(|| callsim::scenario::parse_set(s));
        assert!(r.is_ok(), "panic in parse_set({s:?})");
        let r = std::panic::catch_unwind(|| {
            callsim::scenario::load_str(&path, &base(""), None, &[s.to_string()])
        });
        assert!(r.is_ok(), "panic loading with --set {s:?}");
    }
    let mut long = b"time\n".to_vec();
    long.extend(std::iter::repeat_n(b'9', 2_000_000));
    let files: [&[u8]; 8] = [
        b"",
        b"time\n",
        b"time\n09:00:01\n09:00:00\n",
        b"time\r\n1e308\r\n",
        b"time\nNaN\n",
        b"time\n\0\0\0\n",
        b"\xEF\xBB\xBFtime\n32401\n",
        &long,
    ];
    for body in files {
        std::fs::write(dir.path().join("d.csv"), body).unwrap();
        for spec in [
            "trace = { file = \"d.csv\", column = \"time\" }",
            "patience = { dist = \"empirical\", file = \"d.csv\" }",
        ] {
            let text = base(spec);
            let text = if spec.starts_with("trace") {
                text.replace("rate = \"1/s\"\n", "")
            } else {
                text
            };
            let r =
                std::panic::catch_unwind(|| callsim::scenario::load_str(&path, &text, None, &[]));
            assert!(
                r.is_ok(),
                "panic loading {spec} with {:?}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
        }
    }
}
