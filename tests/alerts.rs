//! Alert rules end to end: a tiny scenario whose rule fires at a known instant, alerts.csv and
//! the summary say so, compare reports the time to detect, and the output is deterministic.

use std::process::Command;

const TINY: &str = "tests/fixtures/alerts-tiny.toml";

fn callsim(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_callsim"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_rule_fires_and_resolves_at_the_known_instants() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let text = callsim(&[
        "run",
        TINY,
        "--variant",
        "base",
        "--out",
        out.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(out.join("alerts.csv")).unwrap();
    let mut want = String::from(
        "variant,replication,rule,metric,firing,fired_at,fired_s,resolved_at,resolved_s\n",
    );
    for r in 0..3 {
        want += &format!("base,{r},traffic,offered,1,10:03:00,180,10:11:00,660\n");
        want += &format!("base,{r},rejections,legs_rejected,0,,,,\n");
    }
    assert_eq!(csv, want);
    assert!(
        text.contains("fired in 3/3 replications; first at 10:03:00 [10:03:00, 10:03:00] (180 s after the start)"),
        "{text}"
    );
    assert!(text.contains("fired in 0/3 replications\n"), "{text}");
    // The rules add a file; the timeline is what it is without them.
    assert!(out.join("timeline.csv").is_file());
}

#[test]
fn alerts_csv_is_the_same_for_any_thread_count_and_shards_merge_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    callsim(&["run", TINY, "--threads", "1", "--out", &p("a")]);
    callsim(&["run", TINY, "--threads", "3", "--out", &p("b")]);
    let a = std::fs::read(dir.path().join("a/alerts.csv")).unwrap();
    assert_eq!(a, std::fs::read(dir.path().join("b/alerts.csv")).unwrap());
    callsim(&["run", TINY, "--shard", "0/2", "--out", &p("s")]);
    callsim(&["run", TINY, "--shard", "1/2", "--out", &p("s")]);
    let s0 = p("s/shard-0-of-2.csv");
    let s1 = p("s/shard-1-of-2.csv");
    callsim(&["merge", &s0, &s1, "--out", &p("m")]);
    assert_eq!(a, std::fs::read(dir.path().join("m/alerts.csv")).unwrap());
}

#[test]
fn compare_reports_time_to_detect_with_the_fired_count() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c");
    let text = callsim(&["compare", TINY, "--out", out.to_str().unwrap()]);
    assert!(
        text.contains("  base     fired 3/3  180 [180, 180] s  (10:03:00 [10:03:00, 10:03:00])"),
        "{text}"
    );
    assert!(
        text.contains("  quiet    fired 3/3  180 [180, 180] s  (10:03:00 [10:03:00, 10:03:00])   diff 0 [0, 0] s over 3 replications where both fired"),
        "{text}"
    );
    assert!(text.contains("  base     fired 0/3\n"), "{text}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert!(
        csv.contains("alert_first_fired_s[traffic],quiet,base,3,180,180,180,0,0,0"),
        "{csv}"
    );
    assert!(
        csv.contains("alert_first_fired_s[rejections],base,base,0,,,,0,0,0"),
        "{csv}"
    );
}

#[test]
fn the_report_lists_first_firings_and_marks_them_on_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    callsim(&["run", TINY, "--variant", "base", "--out", o]);
    callsim(&["report", o, "--no-timestamp"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("alert `traffic` first fired (in 3/3 replications)"),
        "no alert row in the headline table"
    );
    assert!(html.contains("10:03:00"), "no first-firing time");
    assert!(html.contains("alert `rejections` first fired (in 0/3 replications)"));
    let svg = std::fs::read_to_string(out.join("charts/calls.svg")).unwrap();
    assert!(
        svg.contains("10:03 alert `traffic` fires (mean)"),
        "no marker"
    );
}
