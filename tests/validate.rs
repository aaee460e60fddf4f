//! `callsim validate` and `callsim erlang` through the real binary.

use std::process::Command;

fn callsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_callsim"))
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn validate_a_single_case_passes_and_writes_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v");
    let o = callsim(&[
        "validate",
        "scenarios/validation/md1-rho80.toml",
        "-n",
        "6",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("2 of 2 checks passed"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("validation.csv")).unwrap();
    assert!(csv
        .starts_with("case,metric,replications,level,simulated_mean,ci_low,ci_high,exact,pass\n"));
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn validate_exits_non_zero_when_an_exact_value_is_outside_its_interval() {
    // alpha close to 1 shrinks every interval to almost nothing: the exact values must then
    // fall outside, and the command must say so and fail.
    let o = callsim(&[
        "validate",
        "scenarios/validation/md1-rho50.toml",
        "-n",
        "4",
        "-q",
        "--alpha",
        "0.9999999",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside their interval"));
}

#[test]
fn validate_refuses_a_scenario_that_is_not_a_queueing_model() {
    let o = callsim(&["validate", "scenarios/callrail-2018-05-14.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no [validation]"));
}

#[test]
fn erlang_calculator_prints_the_table_value() {
    let o = callsim(&["erlang", "b", "--channels", "10", "--load", "5"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("0.01838"));
    let o = callsim(&[
        "erlang",
        "b",
        "--load",
        "5",
        "--target-blocking",
        "0.01",
        "--csv",
    ]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.starts_with("model,metric,value"), "{s}");
    assert!(
        s.lines().any(|l| l == "erlang_b,min_channels,11"),
        "5 Erlangs at 1% blocking need 11 channels: {s}"
    );
    let o = callsim(&["erlang", "b", "--channels", "0", "--load", "5"]);
    assert_eq!(o.status.code(), Some(2));
    // --mean-talk belongs with --arrival-rate; beside --load it was silently ignored.
    let o = callsim(&[
        "erlang",
        "b",
        "--channels",
        "10",
        "--load",
        "8",
        "--mean-talk",
        "100",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be used with"));
}
