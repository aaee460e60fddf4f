//! The `callsim` command line end to end, through the real binary: bad input exits 2 with a
//! message naming file, line, key and what was expected, and writes nothing; the same seed gives
//! byte-identical output whatever the thread count; the output files keep their contract; every
//! shipped scenario checks and runs; `compare` reports paired differences; help shows examples.
//!
//! Several tests here were written against bugs found in src (CRLF trace lines, broken pipes,
//! calls.csv at the drain limit, --set attribution); they stay as regressions.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_callsim");

/// A valid scenario; the error cases below edit one line of it, so line numbers are fixed:
/// 3 `end`, 6 carrier `rate`, 7 `burst`, 10 source `rate`.
const VALID: &str = r#"name = "case"
start = "09:00"
end = "09:10"

[carriers.main]
rate = "2/s"
burst = 2

[sources.callers]
rate = "1/s"
"#;

/// The metrics `compare` reports, in order: the binary's own list, not a copy of it.
use callsim::cli::compare::COMPARE_METRICS;

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(name)
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Runs the binary from the crate root with stdin closed.
pub(crate) fn callsim(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("start callsim")
}

pub(crate) fn show(args: &[&str], o: &Output) -> String {
    format!(
        "callsim {}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and asserts success; returns stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let o = callsim(args);
    assert!(o.status.success(), "expected success\n{}", show(args, &o));
    stdout(&o)
}

/// Names in `dir`, sorted.
pub(crate) fn listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Writes `text` as `case.toml` (plus `extra` files) into a new temp dir.
fn case(text: &str, extra: &[(&str, &str)]) -> (TempDir, PathBuf) {
    let dir = TempDir::new().expect("temp dir");
    let p = dir.path().join("case.toml");
    fs::write(&p, text).expect("write case.toml");
    for (name, body) in extra {
        fs::write(dir.path().join(name), body).expect("write extra file");
    }
    (dir, p)
}

/// `VALID` with `from` (which must occur) replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "VALID has no `{from}`");
    VALID.replacen(from, to, 1)
}

fn assert_code_2(args: &[&str], o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "bad input must exit 2 (101 would be a panic)\n{}",
        show(args, o)
    );
    let err = stderr(o);
    assert!(!err.contains("panicked"), "panicked\n{}", show(args, o));
    assert!(
        err.starts_with("error:"),
        "stderr should start with `error:`\n{}",
        show(args, o)
    );
    assert!(
        !stdout(o).contains("wrote "),
        "reported writing files after an input error\n{}",
        show(args, o)
    );
}

fn assert_mentions(args: &[&str], o: &Output, needles: &[&str]) {
    let err = stderr(o);
    for n in needles {
        assert!(
            err.contains(n),
            "stderr should mention `{n}`\n{}",
            show(args, o)
        );
    }
}

/// Runs `callsim <args> --out DIR` twice, with DIR missing and with DIR holding one file: each
/// must exit 2 with every needle in stderr, and leave DIR missing / unchanged. Returns stderr.
fn assert_input_error(args: &[&str], needles: &[&str]) -> String {
    let tmp = TempDir::new().expect("temp dir");
    // DIR does not exist: it must not be created.
    let fresh = tmp.path().join("out-fresh");
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--out", s(&fresh)]);
    let o = callsim(&a);
    assert_code_2(&a, &o);
    assert_mentions(&a, &o, needles);
    assert!(
        !fresh.exists(),
        "--out DIR was created by a run that failed on input: {:?}\n{}",
        listing(&fresh),
        show(&a, &o)
    );
    // DIR exists: nothing may be added to it (no temp or partial files either).
    let existing = tmp.path().join("out-existing");
    fs::create_dir(&existing).expect("mkdir");
    fs::write(existing.join("keep.txt"), "keep").expect("write");
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--out", s(&existing)]);
    let o2 = callsim(&a);
    assert_code_2(&a, &o2);
    assert_mentions(&a, &o2, needles);
    assert_eq!(
        listing(&existing),
        BTreeSet::from(["keep.txt".to_string()]),
        "a failed run added files to an existing --out DIR\n{}",
        show(&a, &o2)
    );
    assert_eq!(
        fs::read_to_string(existing.join("keep.txt")).unwrap(),
        "keep"
    );
    stderr(&o)
}

/// A scenario error: `run` (with --out, both ways) and `check` exit 2 naming the needles.
fn assert_scenario_error(scenario: &Path, needles: &[&str]) -> String {
    let err = assert_input_error(&["run", s(scenario), "-q"], needles);
    let a = ["check", s(scenario)];
    let o = callsim(&a);
    assert_code_2(&a, &o);
    assert_mentions(&a, &o, needles);
    err
}

/// 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> usize {
    fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{} has no `{needle}`", file.display()))
        + 1
}

/// Whether `err` names a line of `file` (`file:LINE`).
fn names_a_line(err: &str, file: &str) -> bool {
    err.match_indices(&format!("{file}:"))
        .any(|(i, m)| err[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// 1. Bad input: exit 2, file:line, key, what was expected; --out DIR untouched.
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_base_scenario_checks() {
    // The error cases below are VALID with one edit; VALID itself must be fine.
    let (_d, p) = case(VALID, &[]);
    let out = ok(&["check", s(&p)]);
    assert!(out.contains(": ok"), "{out}");
}

#[test]
fn malformed_toml_names_the_line() {
    // Unterminated string on line 3.
    let (_d, p) = case(&edit(r#"end = "09:10""#, r#"end = "09:10"#), &[]);
    assert_scenario_error(&p, &["case.toml:3:", "invalid TOML"]);
    // Unclosed table header on line 5: the message says what was expected.
    let (_d, p) = case(&edit("[carriers.main]", "[carriers.main"), &[]);
    assert_scenario_error(&p, &["case.toml:5:", "invalid TOML", "expected"]);
    // A key given twice (line 4 repeats `start`).
    let (_d, p) = case(
        &edit(r#"end = "09:10""#, "end = \"09:10\"\nstart = \"10:00\""),
        &[],
    );
    assert_scenario_error(&p, &["case.toml:4:", "invalid TOML", "start"]);
}

#[test]
fn unknown_top_level_key_is_named_with_the_expected_keys() {
    let (_d, p) = case(&edit(r#"end = "09:10""#, "end = \"09:10\"\nbogus = 1"), &[]);
    let err = assert_scenario_error(
        &p,
        &[
            "case.toml:4:",
            "key `bogus`",
            "unknown key `bogus`",
            "expected one of:",
        ],
    );
    for k in [
        "start",
        "end",
        "carriers",
        "sources",
        "replications",
        "seed",
    ] {
        assert!(err.contains(k), "expected keys should include `{k}`: {err}");
    }
}

#[test]
fn unknown_nested_key_is_named_with_the_expected_keys() {
    // In [carriers.main], a near-miss of `burst`.
    let (_d, p) = case(&edit("burst = 2", "brust = 2"), &[]);
    let err = assert_scenario_error(
        &p,
        &[
            "case.toml:7:",
            "key `carriers.main.brust`",
            "unknown key `brust`",
            "did you mean `burst`?",
            "expected one of:",
        ],
    );
    for k in ["rate", "burst", "algorithm", "over_limit"] {
        assert!(err.contains(k), "expected keys should include `{k}`: {err}");
    }
    // Inside an inline distribution table of a source.
    let (_d, p) = case(
        &edit(
            r#"rate = "1/s""#,
            "rate = \"1/s\"\npatience = { dist = \"exponential\", mean = \"20s\", foo = 1 }",
        ),
        &[],
    );
    assert_scenario_error(
        &p,
        &[
            "case.toml:11:",
            "key `sources.callers.patience.foo`",
            "unknown key `foo`",
            "expected one of:",
            "mean",
        ],
    );
    // In the second element of an array of tables.
    let text = format!(
        "{VALID}\n[[sources.callers.flow.destinations]]\nanswer_probability = 0.5\n\n\
         [[sources.callers.flow.destinations]]\nanswer_probability = 0.5\nbogus = 2\n"
    );
    let (_d, p) = case(&text, &[]);
    assert_scenario_error(
        &p,
        &[
            "case.toml:17:",
            "key `sources.callers.flow.destinations[1].bogus`",
            "unknown key `bogus`",
            "answer_probability",
        ],
    );
}

#[test]
fn weight_outside_a_mixture_is_an_unknown_key() {
    let (_d, p) = case(
        &edit(
            r#"rate = "1/s""#,
            "rate = \"1/s\"\npatience = { dist = \"exponential\", mean = \"20s\", weight = 0.5 }",
        ),
        &[],
    );
    assert_scenario_error(
        &p,
        &[
            "case.toml:11:",
            "key `sources.callers.patience.weight`",
            "unknown key `weight`",
        ],
    );
}

#[test]
fn wrong_type_names_key_expected_and_found() {
    let (_d, p) = case(&edit("burst = 2", r#"burst = "ten""#), &[]);
    assert_scenario_error(
        &p,
        &[
            "case.toml:7:",
            "key `carriers.main.burst`",
            "expected a whole number",
            "\"ten\"",
        ],
    );
    let (_d, p) = case(&edit(r#"start = "09:00""#, "start = 9"), &[]);
    assert_scenario_error(
        &p,
        &[
            "case.toml:2:",
            "key `start`",
            "expected a string",
            "integer 9",
        ],
    );
}

#[test]
fn negative_rate_is_rejected() {
    let (_d, p) = case(&edit(r#"rate = "2/s""#, r#"rate = "-5/s""#), &[]);
    assert_scenario_error(
        &p,
        &[
            "case.toml:6:",
            "key `carriers.main.rate`",
            "-5/s",
            "negative",
            "expected",
        ],
    );
    let (_d, p) = case(&edit(r#"rate = "1/s""#, r#"rate = "-5/s""#), &[]);
    assert_scenario_error(
        &p,
        &[
            "case.toml:10:",
            "key `sources.callers.rate`",
            "-5/s",
            "negative",
            "expected",
        ],
    );
}

#[test]
fn zero_carrier_rate_is_rejected() {
    let (_d, p) = case(&edit(r#"rate = "2/s""#, r#"rate = "0/s""#), &[]);
    assert_scenario_error(
        &p,
        &[
            "case.toml:6:",
            "key `carriers.main.rate`",
            "zero",
            "expected a rate > 0",
        ],
    );
}

#[test]
fn all_zero_source_rate_profile_is_rejected() {
    let (_d, p) = case(
        &edit(
            r#"rate = "1/s""#,
            r#"rate = [["09:00", "0/s"], ["09:05", "0/h"]]"#,
        ),
        &[],
    );
    assert_scenario_error(&p, &["case.toml:10:", "key `sources.callers.rate`", "zero"]);
}

#[test]
fn zero_constant_source_rate_is_rejected() {
    let (_d, p) = case(&edit(r#"rate = "1/s""#, r#"rate = "0/s""#), &[]);
    assert_scenario_error(&p, &["case.toml:10:", "key `sources.callers.rate`", "zero"]);
}

#[test]
fn impossible_clock_time_in_end_is_rejected() {
    let (_d, p) = case(&edit(r#"end = "09:10""#, r#"end = "25:61""#), &[]);
    assert_scenario_error(&p, &["case.toml:3:", "key `end`", "25:61", "impossible"]);
}

#[test]
fn impossible_clock_time_in_rate_profile_names_the_point() {
    let (_d, p) = case(
        &edit(
            r#"rate = "1/s""#,
            "rate = [\n  [\"09:00\", \"1/s\"],\n  [\"25:61\", \"2/s\"],\n]",
        ),
        &[],
    );
    assert_scenario_error(
        &p,
        &[
            "case.toml:12:",
            "key `sources.callers.rate[1]`",
            "25:61",
            "impossible",
        ],
    );
}

#[test]
fn end_before_start_is_rejected() {
    let (_d, p) = case(&edit(r#"end = "09:10""#, r#"end = "08:10""#), &[]);
    assert_scenario_error(
        &p,
        &["case.toml:3:", "key `end`", "must end after it starts"],
    );
}

#[test]
fn empty_file_is_rejected_saying_what_a_scenario_needs() {
    for text in ["", "\n  \n\t\n"] {
        let (_d, p) = case(text, &[]);
        assert_scenario_error(
            &p,
            &["case.toml", "empty", "start", "end", "carriers", "sources"],
        );
    }
}

#[test]
fn missing_trace_file_is_named() {
    let (_d, p) = case(
        &edit(r#"rate = "1/s""#, r#"trace = { file = "nope.csv" }"#),
        &[],
    );
    assert_scenario_error(
        &p,
        &[
            "case.toml:10:",
            "key `sources.callers.trace.file`",
            "nope.csv",
            "cannot open",
        ],
    );
}

#[test]
fn unsorted_trace_names_the_trace_file_and_line() {
    let (_d, p) = case(
        &edit(r#"rate = "1/s""#, r#"trace = { file = "unsorted.csv" }"#),
        &[(
            "unsorted.csv",
            "time\n09:00:01\n09:00:05\n09:00:03\n09:00:07\n",
        )],
    );
    assert_scenario_error(
        &p,
        &[
            "case.toml:10:",
            "key `sources.callers.trace.file`",
            "unsorted.csv` line 4",
            "sorted",
        ],
    );
}

#[test]
fn unparseable_trace_row_names_the_trace_file_and_line() {
    let (_d, p) = case(
        &edit(r#"rate = "1/s""#, r#"trace = { file = "bad.csv" }"#),
        &[("bad.csv", "time\n09:00:01\nbanana\n09:00:03\n")],
    );
    assert_scenario_error(
        &p,
        &[
            "case.toml:10:",
            "key `sources.callers.trace.file`",
            "bad.csv` line 3",
            "banana",
            "expected",
        ],
    );
    // A blank line before the bad row still counts as a line.
    let (_d, p) = case(
        &edit(r#"rate = "1/s""#, r#"trace = { file = "bad.csv" }"#),
        &[("bad.csv", "time\n09:00:01\n\n09:00:02\nbanana\n")],
    );
    assert_scenario_error(&p, &["bad.csv` line 5", "banana"]);
}

/// Trace times a run cannot mean: past two days (the clock's hours run to 47), a header that
/// names the column twice, and a trace none of whose rows falls in the run.
#[test]
fn trace_times_beyond_two_days_twin_columns_and_traces_outside_the_run_are_refused() {
    let t = |rows: &str| {
        case(
            &edit(r#"rate = "1/s""#, r#"trace = { file = "t.csv" }"#),
            &[("t.csv", rows)],
        )
    };
    let (_d, p) = t("time\n32400\n200000\n");
    assert_scenario_error(&p, &["t.csv` line 3", "200000", "47:59:59"]);
    let (_d, p) = t("time\n32400\n1e308\n");
    assert_scenario_error(&p, &["t.csv` line 3", "1e308"]);
    let (_d, p) = t("time,time\n09:00:01,09:00:02\n");
    assert_scenario_error(&p, &["t.csv", "`time` more than once"]);
    // The fixture runs 09:00-09:10.
    let (_d, p) = t("time\n11:00:00\n11:00:01\n");
    assert_scenario_error(&p, &["no arrival of", "falls in the run", "11:00:00"]);
    let (_d, p) = t("time\n08:00:00\n08:59:59\n");
    assert_scenario_error(&p, &["falls in the run", "08:59:59"]);
    // An empirical sample's values are durations: no longer than a duration may be.
    let (_d, p) = case(
        &edit(
            r#"rate = "1/s""#,
            r#"rate = "1/s"
patience = { dist = "empirical", file = "p.csv" }"#,
        ),
        &[("p.csv", "30\n1e308\n")],
    );
    assert_scenario_error(&p, &["p.csv` line 2", "1e308", "longer than any duration"]);
    // One row inside is enough.
    let (_d, p) = t("time\n08:00:00\n09:05:00\n11:00:00\n");
    let a = ["check", s(&p)];
    let o = callsim(&a);
    assert_eq!(o.status.code(), Some(0), "{}", show(&a, &o));
}

#[test]
fn crlf_trace_error_names_the_right_line() {
    // The unsorted row (09:00:03) is on line 4.
    let (_d, p) = case(
        &edit(r#"rate = "1/s""#, r#"trace = { file = "crlf.csv" }"#),
        &[("crlf.csv", "time\r\n09:00:01\r\n09:00:05\r\n09:00:03\r\n")],
    );
    assert_scenario_error(&p, &["crlf.csv` line 4", "sorted"]);
    // The unparseable row is on line 3.
    let (_d, p) = case(
        &edit(r#"rate = "1/s""#, r#"trace = { file = "crlf.csv" }"#),
        &[("crlf.csv", "time\r\n09:00:01\r\nbanana\r\n")],
    );
    assert_scenario_error(&p, &["crlf.csv` line 3", "banana"]);
}

#[test]
fn set_without_equals_is_rejected() {
    let f = fixture("cli-small.toml");
    assert_input_error(
        &["run", s(&f), "-q", "--set", "foo"],
        &["cli-small.toml", "--set foo", "expected KEY=VALUE"],
    );
    assert_input_error(
        &["run", s(&f), "-q", "--set", "=3"],
        &["cli-small.toml", "--set =3", "empty"],
    );
}

#[test]
fn unknown_key_via_set_says_it_came_from_set() {
    let f = fixture("cli-small.toml");
    let err = assert_input_error(
        &["run", s(&f), "-q", "--set", "carriers.main.brust=3"],
        &[
            "cli-small.toml",
            "key `carriers.main.brust`",
            "(from --set carriers.main.brust=3)",
            "unknown key `brust`",
            "expected one of:",
            "burst",
        ],
    );
    // A --set value has no line in the file: none may be claimed.
    assert!(!names_a_line(&err, "cli-small.toml"), "{err}");
    assert_input_error(
        &["run", s(&f), "-q", "--set", "bogus=1"],
        &[
            "(from --set bogus=1)",
            "unknown key `bogus`",
            "expected one of:",
        ],
    );
    // A bad value via --set, and the same through `check`.
    assert_input_error(
        &["run", s(&f), "-q", "--set", "carriers.main.rate=-3/s"],
        &[
            "key `carriers.main.rate`",
            "(from --set carriers.main.rate=-3/s)",
            "negative",
        ],
    );
    let a = ["check", s(&f), "--set", "carriers.main.brust=3"];
    let o = callsim(&a);
    assert_code_2(&a, &o);
    assert_mentions(
        &a,
        &o,
        &["(from --set carriers.main.brust=3)", "unknown key `brust`"],
    );
}

#[test]
fn set_below_a_scalar_says_it_came_from_set() {
    let f = fixture("cli-small.toml");
    let err = assert_input_error(
        &["run", s(&f), "-q", "--set", "carriers.main.rate.x=3"],
        &["carriers.main.rate", "--set carriers.main.rate.x=3"],
    );
    assert!(!names_a_line(&err, "cli-small.toml"), "{err}");
}

#[test]
fn unknown_variant_lists_the_variants() {
    let f = fixture("cli-small.toml");
    let line = line_of(&f, "[variants.");
    let at = format!("cli-small.toml:{line}:");
    let needles = [at.as_str(), "no variant named `nope`", "base, faster"];
    assert_input_error(&["run", s(&f), "-q", "--variant", "nope"], &needles);
    assert_input_error(
        &[
            "compare",
            s(&f),
            "-q",
            "--variant",
            "base",
            "--variant",
            "nope",
        ],
        &needles,
    );
}

#[test]
fn nonexistent_scenario_path_is_named() {
    let tmp = TempDir::new().unwrap();
    let missing = tmp.path().join("does-not-exist.toml");
    assert_input_error(
        &["run", s(&missing), "-q"],
        &["does-not-exist.toml", "cannot read"],
    );
    let a = ["check", s(&missing)];
    let o = callsim(&a);
    assert_code_2(&a, &o);
    assert_mentions(&a, &o, &["does-not-exist.toml"]);
}

#[test]
fn calls_csv_without_out_is_a_usage_error() {
    let f = fixture("cli-small.toml");
    let a = ["run", s(&f), "-q", "--calls-csv"];
    let o = callsim(&a);
    assert_eq!(o.status.code(), Some(2), "{}", show(&a, &o));
    assert_mentions(&a, &o, &["--out", "Usage:"]);
    assert!(o.stdout.is_empty(), "{}", show(&a, &o));
}

#[test]
fn zero_replications_is_a_usage_error() {
    let f = fixture("cli-small.toml");
    assert_input_error(&["run", s(&f), "-n", "0"], &["--replications", "0"]);
}

#[test]
fn out_that_is_a_file_is_rejected_and_left_alone() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, "data").unwrap();
    let f = fixture("cli-small.toml");
    let a = ["run", s(&f), "-q", "-n", "1", "--out", s(&file)];
    let o = callsim(&a);
    assert_code_2(&a, &o);
    assert_mentions(&a, &o, &["not-a-dir", "not a directory"]);
    assert_eq!(fs::read_to_string(&file).unwrap(), "data");
    assert_eq!(
        listing(tmp.path()),
        BTreeSet::from(["not-a-dir".to_string()])
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Determinism.
// ---------------------------------------------------------------------------------------------

/// `run` of the small fixture with 3 replications and calls.csv into a new dir under `tmp`.
fn run_small(tmp: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = tmp.join(name);
    let f = fixture("cli-small.toml");
    let mut a = vec![
        "run",
        s(&f),
        "-q",
        "-n",
        "3",
        "--calls-csv",
        "--out",
        s(&out),
    ];
    a.extend(extra);
    ok(&a);
    out
}

fn read(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

#[test]
fn same_seed_gives_byte_identical_outputs_whatever_the_thread_count() {
    let tmp = TempDir::new().unwrap();
    let a = run_small(tmp.path(), "a", &["--threads", "1"]);
    let b = run_small(tmp.path(), "b", &["--threads", "1"]);
    let c = run_small(tmp.path(), "c", &["--threads", "2"]);
    for name in ["summary.csv", "timeline.csv", "calls.csv"] {
        let x = read(&a.join(name));
        assert!(x.len() > 100, "{name} is nearly empty");
        assert!(
            x == read(&b.join(name)),
            "{name} differs between two identical runs"
        );
        assert!(
            x == read(&c.join(name)),
            "{name} differs between --threads 1 and 2"
        );
    }
}

/// Per-replication rows of summary.csv as (header, rows).
fn csv_table(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column `{name}` in {header:?}"))
}

#[test]
fn different_seed_gives_different_numbers() {
    let tmp = TempDir::new().unwrap();
    let a = run_small(tmp.path(), "a", &["--seed", "101"]);
    let b = run_small(tmp.path(), "b", &["--seed", "102"]);
    let (h, ra) = csv_table(&a.join("summary.csv"));
    let (_, rb) = csv_table(&b.join("summary.csv"));
    let seed = col(&h, "seed");
    assert!(
        ra.iter().all(|r| r[seed] == "101"),
        "seed column should be 101"
    );
    assert!(
        rb.iter().all(|r| r[seed] == "102"),
        "seed column should be 102"
    );
    // Compare the metric columns only (the seed column differs by construction).
    let first_metric = col(&h, "offered");
    for (i, (x, y)) in ra.iter().zip(&rb).enumerate().take(3) {
        assert_ne!(
            x[first_metric..],
            y[first_metric..],
            "replication {i}: seeds 101 and 102 gave identical metrics"
        );
    }
    assert_ne!(read(&a.join("calls.csv")), read(&b.join("calls.csv")));
}

// ---------------------------------------------------------------------------------------------
// 3. Output files.
// ---------------------------------------------------------------------------------------------

fn assert_no_temp_files(dir: &Path) {
    let names = listing(dir);
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left in {}: {names:?}",
        dir.display()
    );
}

fn parse_f64(x: &str) -> f64 {
    x.parse().unwrap_or_else(|_| panic!("not a number: `{x}`"))
}

#[test]
fn out_writes_summary_timeline_and_calls_with_their_contract() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    let a = [
        "run",
        s(&f),
        "-q",
        "-n",
        "3",
        "--calls-csv",
        "--out",
        s(&out),
    ];
    let stdout = ok(&a);
    assert!(
        stdout.contains("wrote summary.csv, timeline.csv, calls.csv, manifest.json in"),
        "{stdout}"
    );
    assert_eq!(
        listing(&out),
        BTreeSet::from(
            ["summary.csv", "timeline.csv", "calls.csv", "manifest.json"].map(String::from)
        )
    );

    // summary.csv: one `replication` row per replication, then mean, ci95_low, ci95_high.
    let (h, rows) = csv_table(&out.join("summary.csv"));
    for c in [
        "statistic",
        "variant",
        "replication",
        "seed",
        "replications",
        "offered",
    ] {
        col(&h, c);
    }
    assert!(h.iter().any(|c| c == "dial_delay_ms_p99"), "{h:?}");
    let stat = col(&h, "statistic");
    let stats: Vec<&str> = rows.iter().map(|r| r[stat].as_str()).collect();
    assert_eq!(
        stats,
        [
            "replication",
            "replication",
            "replication",
            "mean",
            "ci95_low",
            "ci95_high"
        ]
    );
    let rep = col(&h, "replication");
    let reps: Vec<&str> = rows[..3].iter().map(|r| r[rep].as_str()).collect();
    assert_eq!(reps, ["0", "1", "2"]);
    assert!(rows.iter().all(|r| r.len() == h.len()));
    let offered = col(&h, "offered");
    let per_rep: Vec<f64> = rows[..3].iter().map(|r| parse_f64(&r[offered])).collect();
    let total: f64 = per_rep.iter().sum();
    assert!(total > 0.0);
    let mean = parse_f64(&rows[3][offered]);
    assert!(
        (mean - total / 3.0).abs() < 1e-9,
        "mean {mean} vs {per_rep:?}"
    );
    let (lo, hi) = (parse_f64(&rows[4][offered]), parse_f64(&rows[5][offered]));
    assert!(lo <= mean && mean <= hi, "CI [{lo}, {hi}] around {mean}");

    // timeline.csv: the documented columns; clock is HH:MM on a 1-minute grid; per-replication
    // offered sums match the summary.
    let (th, trows) = csv_table(&out.join("timeline.csv"));
    for c in [
        "replication",
        "clock",
        "offered",
        "connected",
        "abandoned",
        "backup_routed",
        "legs_dialed",
        "dial_delay_ms_p50",
        "dial_delay_ms_p95",
        "dial_delay_ms_p99",
    ] {
        col(&th, c);
    }
    let (trep, clock, toff) = (
        col(&th, "replication"),
        col(&th, "clock"),
        col(&th, "offered"),
    );
    assert!(
        trows.len() >= 3 * 10,
        "at least 10 one-minute rows per replication"
    );
    for r in &trows {
        assert_eq!(r.len(), th.len());
        let c = r[clock].as_bytes();
        assert!(
            c.len() == 5 && c[2] == b':' && c[..2].iter().chain(&c[3..]).all(u8::is_ascii_digit),
            "clock `{}` is not HH:MM",
            r[clock]
        );
    }
    assert!(trows.iter().any(|r| r[clock] == "09:00"));
    for (i, want) in per_rep.iter().enumerate() {
        let got: f64 = trows
            .iter()
            .filter(|r| r[trep] == i.to_string())
            .map(|r| parse_f64(&r[toff]))
            .sum();
        assert_eq!(got, *want, "timeline offered of replication {i} vs summary");
    }

    // calls.csv: one row per offered call, replication by replication.
    let (ch, crows) = csv_table(&out.join("calls.csv"));
    let crep = col(&ch, "replication");
    col(&ch, "outcome");
    assert_eq!(
        crows.len() as f64,
        total,
        "calls.csv rows vs summary offered total"
    );
    for (i, want) in per_rep.iter().enumerate() {
        let got = crows.iter().filter(|r| r[crep] == i.to_string()).count();
        assert_eq!(got as f64, *want, "calls.csv rows of replication {i}");
    }
    assert_no_temp_files(&out);
}

#[test]
fn calls_csv_is_written_only_when_asked() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    let stdout = ok(&["run", s(&f), "-q", "-n", "1", "--out", s(&out)]);
    assert!(
        stdout.contains("wrote summary.csv, timeline.csv, manifest.json in"),
        "{stdout}"
    );
    assert_eq!(
        listing(&out),
        BTreeSet::from(["summary.csv", "timeline.csv", "manifest.json"].map(String::from))
    );
    // Into an existing directory: old unrelated files stay, no temp files are left.
    fs::write(out.join("notes.txt"), "mine").unwrap();
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
    assert_eq!(
        listing(&out),
        BTreeSet::from(
            [
                "summary.csv",
                "timeline.csv",
                "calls.csv",
                "manifest.json",
                "notes.txt"
            ]
            .map(String::from)
        )
    );
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn calls_csv_has_a_row_per_offered_call_even_with_a_short_drain() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-short-drain.toml");
    ok(&["run", s(&f), "-q", "--calls-csv", "--out", s(&out)]);
    let (h, rows) = csv_table(&out.join("summary.csv"));
    let offered = parse_f64(&rows[0][col(&h, "offered")]);
    let unfinished = parse_f64(&rows[0][col(&h, "unfinished")]);
    assert!(
        unfinished > 0.0,
        "the fixture should leave calls unfinished"
    );
    let (ch, crows) = csv_table(&out.join("calls.csv"));
    assert_eq!(crows.len() as f64, offered, "calls.csv rows vs offered");
    let outcome = col(&ch, "outcome");
    let n_unfinished = crows.iter().filter(|r| r[outcome] == "unfinished").count();
    assert_eq!(
        n_unfinished as f64, unfinished,
        "rows with outcome `unfinished`"
    );
}

#[test]
fn closed_stdout_does_not_panic() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("out");
    let f = fixture("cli-small.toml");
    let mut child = Command::new(BIN)
        .args(["run", s(&f), "-q", "-n", "1", "--out", s(&out)])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, as `| head -0` would.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(101), "panicked: {err}");
    assert!(!err.contains("panicked"), "{err}");
    if out.exists() {
        assert_no_temp_files(&out);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Every shipped scenario checks and runs.
// ---------------------------------------------------------------------------------------------

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

fn shipped_scenarios() -> Vec<PathBuf> {
    let mut v = Vec::new();
    toml_files(&root().join("scenarios"), &mut v);
    v.sort();
    assert!(!v.is_empty(), "no scenarios/*.toml found");
    v
}

#[test]
fn check_accepts_every_shipped_scenario() {
    for p in shipped_scenarios() {
        let out = ok(&["check", s(&p)]);
        assert!(out.contains(&format!("{}: ok", p.display())), "{out}");
    }
}

#[test]
fn run_works_on_every_shipped_scenario() {
    let tmp = TempDir::new().unwrap();
    for (i, p) in shipped_scenarios().iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let t = Instant::now();
        ok(&[
            "run",
            s(p),
            "-q",
            "-n",
            "1",
            "--threads",
            "1",
            "--out",
            s(&out),
        ]);
        let secs = t.elapsed().as_secs_f64();
        if secs > 10.0 {
            eprintln!(
                "note: `callsim run {} -n 1` took {secs:.1} s in this profile; consider check only",
                p.display()
            );
        }
        let (h, rows) = csv_table(&out.join("summary.csv"));
        assert_eq!(
            rows.len(),
            4,
            "{}: 1 replication + mean + CI rows",
            p.display()
        );
        assert!(
            parse_f64(&rows[0][col(&h, "offered")]) > 0.0,
            "{}",
            p.display()
        );
        assert_no_temp_files(&out);
    }
}

#[test]
fn check_prints_each_variant() {
    let f = fixture("cli-small.toml");
    let out = ok(&["check", s(&f)]);
    for want in [
        "scenario: cli-small",
        "variant `base`: ok",
        "variant `faster`: ok",
        "cli-small.toml: ok",
    ] {
        assert!(out.contains(want), "missing `{want}` in\n{out}");
    }
}

#[test]
fn check_describes_the_scenario_in_plain_words() {
    let f = fixture("cli-small.toml");
    let out = ok(&["check", s(&f)]);
    assert!(!out.contains("SimTime("), "{out}");
    assert!(!out.contains("per_ns"), "{out}");
    assert!(
        out.contains("09:06") && out.contains("09:08"),
        "backup window times: {out}"
    );
    assert!(out.contains("2/s"), "carrier rate: {out}");
    // What it understood of the callers and their destinations.
    for want in [
        "destination 1 (primary): answers with probability 0.8, after a uniform time from 2 s to 8 s; ring timeout 20s",
        "hang up unanswered after an exponential time, mean 20 s",
        "talk an exponential time, mean 30 s",
        "redial: with probability 0.5 after abandoning or a failure, exactly 30s later",
    ] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }
    assert!(out.contains("every leg counts"), "{out}");
}

#[test]
fn flow_idioms_decide_a_call_at_the_first_or_the_last_dial() {
    // docs/scenario.md, "Idioms": 3 simulcall legs through 10 dials/s with burst 1, calls far
    // apart. Decided at the first dial: connected at arrival. Decided when all legs are dialled
    // (two legs that never answer, then one that answers at once): connected 0.2 s later.
    let tmp = TempDir::new().unwrap();
    let head = "name = \"idiom\"\nseed = 1\nreplications = 2\nstart = \"00:00\"\nend = \"02:00\"\n\
                [carriers.c]\nrate = \"10/s\"\nburst = 1\n\
                [sources.s]\nrate = \"0.01/s\"\ntalk_time = \"1s\"\n\
                [sources.s.flow]\nmode = \"simulcall\"\nlegs = 3\n";
    let never = "[[sources.s.flow.destinations]]\nanswer_probability = 0\nring_timeout = \"1ms\"\n";
    let at_once =
        "[[sources.s.flow.destinations]]\nanswer_probability = 1\ntime_to_answer = \"0\"\n";
    for (name, text, want) in [
        ("first", format!("{head}{at_once}"), 0.0),
        ("all", format!("{head}{never}{never}{at_once}"), 0.2),
    ] {
        let f = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&f, text).unwrap();
        let out = tmp.path().join(name);
        ok(&["run", s(&f), "-q", "--out", s(&out)]);
        let mut r = csv::Reader::from_path(out.join("summary.csv")).unwrap();
        let h = r.headers().unwrap().clone();
        let (wait, offered, connected) = (
            h.iter().position(|c| c == "answer_wait_s_mean").unwrap(),
            h.iter().position(|c| c == "offered").unwrap(),
            h.iter().position(|c| c == "connected").unwrap(),
        );
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).take(2).collect();
        for row in rows {
            let w: f64 = row[wait].parse().unwrap();
            // Each call connects exactly `want` s after it arrives, unless a call arrived
            // while the previous one's legs were still being dialled (rare at 0.01/s).
            assert!(
                (w - want).abs() < 0.01,
                "{name}: answer wait {w}, want {want}"
            );
            assert_eq!(
                &row[offered], &row[connected],
                "{name}: every call connects"
            );
        }
    }
}

#[test]
fn check_does_not_say_legs_count_against_a_carrier_without_a_limit() {
    let tmp = TempDir::new().unwrap();
    let text = std::fs::read_to_string(fixture("cli-small.toml"))
        .unwrap()
        .replace("rate = \"2/s\"\nburst = 2", "algorithm = \"none\"")
        .replace("carriers.main.rate = \"4/s\"", "");
    assert!(text.contains("algorithm = \"none\""));
    let f = tmp.path().join("unlimited.toml");
    std::fs::write(&f, text).unwrap();
    let out = ok(&["check", s(&f)]);
    assert!(out.contains("no dial-rate limit"), "{out}");
    assert!(out.contains("no leg waits for a dial slot"), "{out}");
    assert!(!out.contains("leg counts"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// 5. compare.
// ---------------------------------------------------------------------------------------------

#[test]
fn compare_prints_each_variant_and_a_diff_per_metric_and_writes_compare_csv() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("cmp");
    let f = fixture("cli-small.toml");
    let a = ["compare", s(&f), "-q", "-n", "2", "--out", s(&out)];
    let stdout = ok(&a);
    let lines: Vec<&str> = stdout.lines().collect();
    for m in COMPARE_METRICS {
        let i = lines
            .iter()
            .position(|l| l == m)
            .unwrap_or_else(|| panic!("no block for metric `{m}` in\n{stdout}"));
        let (base, faster) = (lines[i + 1].trim_start(), lines[i + 2].trim_start());
        assert!(base.starts_with("base "), "`{m}`: {base}");
        assert!(
            !base.contains("diff"),
            "`{m}`: the baseline has no diff: {base}"
        );
        assert!(faster.starts_with("faster "), "`{m}`: {faster}");
        assert!(faster.contains(" diff "), "`{m}`: no diff line: {faster}");
    }
    let diffs = lines.iter().filter(|l| l.contains(" diff ")).count();
    assert_eq!(diffs, COMPARE_METRICS.len(), "{stdout}");
    assert!(stdout.contains("wrote compare.csv in"), "{stdout}");

    assert_eq!(
        listing(&out),
        BTreeSet::from(["compare.csv", "manifest.json"].map(String::from))
    );
    let (h, rows) = csv_table(&out.join("compare.csv"));
    assert_eq!(
        h,
        [
            "metric",
            "variant",
            "baseline",
            "replications",
            "mean",
            "ci95_low",
            "ci95_high",
            "diff_mean",
            "diff_ci95_low",
            "diff_ci95_high",
        ]
    );
    assert_eq!(rows.len(), COMPARE_METRICS.len() * 2);
    for (k, m) in COMPARE_METRICS.iter().enumerate() {
        let (b, v) = (&rows[2 * k], &rows[2 * k + 1]);
        assert_eq!((b[0].as_str(), b[1].as_str()), (*m, "base"));
        assert_eq!((v[0].as_str(), v[1].as_str()), (*m, "faster"));
        assert!(b[2] == "base" && v[2] == "base", "baseline column");
        assert!(b[3] == "2" && v[3] == "2", "replications column");
        assert_eq!(&b[7..], ["0", "0", "0"], "the baseline's diff with itself");
        if !v[4].is_empty() && !b[4].is_empty() {
            let d = parse_f64(&v[4]) - parse_f64(&b[4]);
            let dm = parse_f64(&v[7]);
            assert!(
                (d - dm).abs() <= 1e-6 * d.abs().max(1.0),
                "`{m}`: diff_mean {dm} vs {d}"
            );
        }
    }
    // The faster carrier dials more legs: the paired difference shows it.
    let legs = COMPARE_METRICS
        .iter()
        .position(|m| *m == "legs_dialed")
        .unwrap();
    assert!(parse_f64(&rows[2 * legs + 1][7]) > 0.0);
    assert_no_temp_files(&out);
}

#[test]
fn compare_takes_the_first_named_variant_as_baseline() {
    let f = fixture("cli-small.toml");
    let stdout = ok(&[
        "compare",
        s(&f),
        "-q",
        "-n",
        "1",
        "--variant",
        "faster",
        "--variant",
        "base",
    ]);
    assert!(
        stdout.contains("paired difference from `faster`"),
        "{stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let i = lines.iter().position(|l| *l == "offered").unwrap();
    assert!(lines[i + 1].trim_start().starts_with("faster "));
    assert!(lines[i + 2].trim_start().starts_with("base ") && lines[i + 2].contains(" diff "));
}

// ---------------------------------------------------------------------------------------------
// 6. Help.
// ---------------------------------------------------------------------------------------------

#[test]
fn top_level_help_shows_examples() {
    let out = ok(&["--help"]);
    assert!(out.contains("Examples:"), "{out}");
    assert!(out.contains("callsim run scenarios/"), "{out}");
}

#[test]
fn run_help_mentions_an_example() {
    let out = ok(&["run", "--help"]);
    assert!(out.contains("Example"), "{out}");
    assert!(out.contains("callsim run "), "{out}");
}

/// The carrier settings' counters appear where the scenario uses them: the retry-storm example
/// prints and writes the retry counters (summary, timeline, compare, report), a scenario
/// without the setting does not, and `--set` turning `cancel_queued` on adds its column.
#[test]
fn carrier_setting_counters_appear_only_where_used() {
    let dir = tempfile::tempdir().unwrap();
    let storm = root().join("scenarios/retry-storm.toml");
    let out = dir.path().join("storm");
    let text = ok(&["run", s(&storm), "-n", "2", "--out", s(&out)]);
    assert!(text.contains("retried after a backoff"), "{text}");
    assert!(text.contains("given up after the last retry"), "{text}");
    let head = |f: &str| {
        fs::read_to_string(out.join(f))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    for f in ["summary.csv", "timeline.csv"] {
        let h = head(f);
        assert!(
            h.contains(",legs_retried,legs_gave_up,legs_cancelled_backoff,"),
            "{f}: {h}"
        );
        assert!(!h.contains("legs_dialed_wasted"), "{f}: {h}");
    }
    ok(&["report", s(&out), "--no-timestamp"]);
    let svg = fs::read_to_string(out.join("charts/legs-vs-limit.svg")).unwrap();
    assert!(
        svg.contains("retries per second"),
        "the legs chart shows the retries"
    );
    let cmp = ok(&["compare", s(&storm), "-n", "3"]);
    assert!(cmp.contains("\nlegs_retried\n"), "{cmp}");

    let (_d, plain) = case(VALID, &[]);
    let out = dir.path().join("plain");
    let text = ok(&["run", s(&plain), "-n", "2", "--out", s(&out)]);
    assert!(
        !text.contains("wasted") && !text.contains("retried"),
        "{text}"
    );
    let h = fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(!h.contains("legs_dialed_wasted") && !h.contains("legs_retried"));
    let out = dir.path().join("dahu");
    let text = ok(&[
        "run",
        s(&plain),
        "-n",
        "2",
        "--set",
        "carriers.main.cancel_queued=dial_and_hang_up",
        "--out",
        s(&out),
    ]);
    assert!(text.contains("of which wasted"), "{text}");
    let h = fs::read_to_string(out.join("timeline.csv")).unwrap();
    let header = h.lines().next().unwrap();
    assert!(
        header.contains(",legs_cancelled_ringing,legs_dialed_wasted,abandoned,"),
        "{header}"
    );
}

/// `callsim metrics`, which unknown-metric errors point to, lists what those errors accept:
/// every registry name, and with a scenario its window and per-stage names too.
#[test]
fn metrics_lists_the_names_errors_point_to() {
    let a = ["metrics"];
    let o = callsim(&a);
    assert_eq!(o.status.code(), Some(0), "{}", show(&a, &o));
    let text = stdout(&o);
    for name in ["abandon_ratio", "dial_delay_ms_p95", "calls_in_flight_max"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing:\n{text}"
        );
    }
    let f = fixture("cli-small.toml");
    let a = [
        "metrics",
        s(&f),
        "--set",
        "windows.peak=[\"09:00\", \"09:05\"]",
    ];
    let o = callsim(&a);
    assert_eq!(o.status.code(), Some(0), "{}", show(&a, &o));
    let text = stdout(&o);
    assert!(text.contains("abandon_ratio@peak"), "{}", show(&a, &o));
    // Alert rules' values are listed, and plan takes them as sweep does.
    let f = fixture("alerts-tiny.toml");
    let o = callsim(&["metrics", s(&f)]);
    assert!(
        stdout(&o).contains("  alert_fired[rejections]\n"),
        "{}",
        stdout(&o)
    );
    let a = [
        "plan",
        s(&f),
        "--vary",
        "carriers.main.rate=1/s,2/s",
        "--target",
        "alert_fired[rejections] <= 0.5",
        "--max-replications",
        "4",
    ];
    let o = callsim(&a);
    assert_eq!(o.status.code(), Some(0), "{}", show(&a, &o));
    let f = fixture("cli-small.toml");
    // The error that names the command (checked above to exist).
    let a = [
        "plan",
        s(&f),
        "--vary",
        "carriers.main.rate=1/s..3/s:1/s",
        "--target",
        "abandon_ration <= 0.1",
    ];
    let o = callsim(&a);
    assert_eq!(o.status.code(), Some(2), "{}", show(&a, &o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("`callsim metrics` lists them"),
        "{}",
        show(&a, &o)
    );
}

/// The same variant twice (compare), and `plan --max-replications` below the two replications
/// a confidence interval needs, are refused before anything runs.
#[test]
fn a_variant_twice_and_a_plan_without_room_to_grow_are_refused() {
    let f = fixture("cli-small.toml");
    assert_input_error(
        &[
            "compare",
            s(&f),
            "--variant",
            "faster",
            "--variant",
            "base",
            "--variant",
            "faster",
        ],
        &["`faster` is given twice", "1st", "3rd"],
    );
    assert_input_error(
        &[
            "plan",
            s(&f),
            "--vary",
            "carriers.main.rate=1/s..3/s:1/s",
            "--target",
            "abandon_ratio <= 0.5",
            "--max-replications",
            "0",
        ],
        &["--max-replications", "0"],
    );
}

/// A bound in an error is the real one: the least replications is 1 (the message said >= 0),
/// and a duration too large says how large one may be.
#[test]
fn errors_state_the_bound_that_applies() {
    let f = fixture("cli-small.toml");
    assert_input_error(
        &["run", s(&f), "--set", "replications=-1"],
        &["replications", "expected a whole number >= 1, found -1"],
    );
    assert_input_error(
        &["run", s(&f), "--set", "drain=\"1000000000h\""],
        &["too large: at most 4611686018 s"],
    );
}

/// Every bundled scenario a command's `--help` (or any text in src/) names exists: a planner
/// copies the examples first. (`callsim plan --help` named scenarios/contact-centre.toml,
/// which was never bundled.)
#[test]
fn scenarios_named_in_the_sources_exist() {
    let mut missing = Vec::new();
    let mut named = 0;
    let mut dirs = vec![root().join("src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for (i, _) in text.match_indices("scenarios/") {
                let rest = &text[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
                    .unwrap_or(rest.len());
                let name = &rest[..end];
                if let Some(name) = name.strip_suffix(".toml").map(|n| format!("{n}.toml")) {
                    named += 1;
                    if !root().join(&name).is_file() {
                        missing.push(format!("{}: {name}", p.display()));
                    }
                }
            }
        }
    }
    assert!(
        named > 5,
        "only {named} scenario names found: the scan is broken"
    );
    assert!(
        missing.is_empty(),
        "named but not bundled:\n{}",
        missing.join("\n")
    );
}
