//! `callsim merge` refuses shard files a sharded run cannot have written (cut short, edited,
//! swapped), naming the file and line, exits 2 and writes nothing; values a run can leave
//! undefined go through as the unsharded run writes them.

use crate::cli::{callsim, fixture, ok, s, show, stderr};
use std::fs;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Shards `0/2` and `1/2` of `cmd` in `dir`.
fn shards(cmd: &[&str], dir: &Path) {
    for spec in ["0/2", "1/2"] {
        let mut a = cmd.to_vec();
        a.extend(["--shard", spec, "--out", s(dir)]);
        ok(&a);
    }
}

/// A copy of the shard folder `from` in `tmp/name`, with `edit` applied to its file `file`.
fn tampered(
    tmp: &Path,
    from: &Path,
    name: &str,
    file: &str,
    edit: &dyn Fn(String) -> String,
) -> PathBuf {
    let d = tmp.join(name);
    fs::create_dir_all(&d).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
    }
    let p = d.join(file);
    fs::write(&p, edit(fs::read_to_string(&p).unwrap())).unwrap();
    d
}

/// Merging `dir` must fail with exit code 2, say `needle`, and leave no output folder.
fn refused(tmp: &Path, dir: &Path, needle: &str) {
    let out = tmp.join(format!(
        "out-{}",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let a = ["merge", s(dir), "--out", s(&out)];
    let o = callsim(&a);
    assert_eq!(o.status.code(), Some(2), "{}", show(&a, &o));
    let e = stderr(&o);
    assert!(e.contains(needle), "want `{needle}`\n{}", show(&a, &o));
    assert!(
        !e.contains("Some("),
        "Rust debug text in a message\n{}",
        show(&a, &o)
    );
    assert!(!out.exists(), "merge wrote output\n{}", show(&a, &o));
}

fn drop_last_line(t: String) -> String {
    let body = t.trim_end_matches('\n');
    format!("{}\n", &body[..body.rfind('\n').unwrap()])
}

/// cli-small, 4 replications with calls.csv, in two shards.
fn small_shards(tmp: &Path) -> PathBuf {
    let d = tmp.join("shards");
    let f = fixture("cli-small.toml");
    shards(&["run", s(&f), "-n", "4", "-q", "--calls-csv"], &d);
    d
}

#[test]
fn merge_refuses_row_files_cut_short() {
    let tmp = TempDir::new().unwrap();
    let d = small_shards(tmp.path());
    let tl = "shard-0-of-2.timeline.csv";
    // Cut in the middle of a row (the reviewer's case: 2000 bytes).
    let x = tampered(tmp.path(), &d, "cut", tl, &|t| t[..2000].to_string());
    refused(tmp.path(), &x, &format!("{tl}:"));
    refused(tmp.path(), &x, "fields where the header has 44");
    // Cut at a row boundary (after replication 2's 09:05 row): the rows that are left look
    // whole, but no longer add up to the replication's counts.
    let x = tampered(tmp.path(), &d, "cut-row", tl, &|t| {
        let at = t.find("base,2,09:05,").unwrap();
        let end = at + t[at..].find('\n').unwrap() + 1;
        t[..end].to_string()
    });
    refused(tmp.path(), &x, &format!("{tl}:"));
    refused(
        tmp.path(),
        &x,
        "replication 2: its rows' `offered` column sums to",
    );
    // calls.csv one row short: one row per call.
    let x = tampered(
        tmp.path(),
        &d,
        "calls",
        "shard-1-of-2.calls.csv",
        &drop_last_line,
    );
    refused(tmp.path(), &x, "shard-1-of-2.calls.csv:");
    refused(tmp.path(), &x, "replication 3: ");
    // An empty file, and a header that is not this scenario's.
    let x = tampered(tmp.path(), &d, "empty", tl, &|_| String::new());
    refused(tmp.path(), &x, &format!("{tl}:1: the file is empty"));
    let x = tampered(tmp.path(), &d, "header", tl, &|t| {
        t.replacen("offered", "offerd", 1)
    });
    refused(tmp.path(), &x, &format!("{tl}:1: the header is not the one this scenario's run writes (column 5 is `offerd`, expected `offered`)"));
}

#[test]
fn merge_refuses_cells_a_run_cannot_write() {
    let tmp = TempDir::new().unwrap();
    let d = small_shards(tmp.path());
    let tl = "shard-0-of-2.timeline.csv";
    let row2 = |t: String, f: &dyn Fn(&mut Vec<String>)| -> String {
        let mut lines: Vec<String> = t.lines().map(String::from).collect();
        let mut cells: Vec<String> = lines[2].split(',').map(String::from).collect();
        f(&mut cells);
        lines[2] = cells.join(",");
        lines.join("\n") + "\n"
    };
    // A number that is not one (the reviewer's case), and one the writer does not write so.
    let x = tampered(tmp.path(), &d, "xx", tl, &|t| {
        row2(t, &|c| c[5] = "xx".into())
    });
    refused(tmp.path(), &x, &format!("{tl}:3: column `first_attempts` (field 6): `xx` is not what callsim writes there; expected a whole number"));
    let x = tampered(tmp.path(), &d, "t_s", tl, &|t| {
        row2(t, &|c| c[3] = format!("{}.0", c[3]))
    });
    refused(tmp.path(), &x, &format!("{tl}:3: column `t_s` (field 4)"));
    // Another variant's rows, and a calls.csv outcome no call has.
    let x = tampered(tmp.path(), &d, "variant", tl, &|t| {
        row2(t, &|c| c[0] = "faster".into())
    });
    refused(
        tmp.path(),
        &x,
        "expected `base` (the variant the shards ran)",
    );
    let x = tampered(tmp.path(), &d, "outcome", "shard-1-of-2.calls.csv", &|t| {
        row2(t, &|c| c[9] = "lost".into())
    });
    refused(
        tmp.path(),
        &x,
        "shard-1-of-2.calls.csv:3: column `outcome` (field 10): `lost`",
    );
    // A gap in the intervals.
    let x = tampered(tmp.path(), &d, "gap", tl, &|t| {
        let mut lines: Vec<&str> = t.lines().collect();
        lines.remove(3);
        lines.join("\n") + "\n"
    });
    refused(
        tmp.path(),
        &x,
        &format!("{tl}:4: row 3 of the replication is interval `09:03`"),
    );
    // Swapped shard files: shard 1's rows in shard 0's file.
    let x = tampered(tmp.path(), &d, "swapped", tl, &|_| {
        fs::read_to_string(d.join("shard-1-of-2.timeline.csv")).unwrap()
    });
    refused(tmp.path(), &x, &format!("{tl}:2: a row of replication 1 where a row of replication 0 or a later one of shard 0 of 2"));
}

#[test]
fn merge_refuses_metric_values_no_replication_gives() {
    let tmp = TempDir::new().unwrap();
    let d = small_shards(tmp.path());
    let sh = "shard-0-of-2.csv";
    let set = |metric: &'static str, v: &'static str| {
        move |t: String| -> String {
            t.lines()
                .map(|l| {
                    if l.starts_with(&format!("0,0,{metric},")) {
                        format!("0,0,{metric},{v}")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        }
    };
    // The reviewer's case: a count cannot be undefined.
    let x = tampered(tmp.path(), &d, "nan", sh, &set("offered", "NaN"));
    refused(
        tmp.path(),
        &x,
        &format!("{sh}:3: metric `offered` of config 0 replication 0 is NaN; expected a count"),
    );
    let x = tampered(tmp.path(), &d, "half", sh, &set("connected", "2.5"));
    refused(
        tmp.path(),
        &x,
        "metric `connected` of config 0 replication 0 is 2.5; expected a count",
    );
    // Forms write_shard never writes.
    let x = tampered(tmp.path(), &d, "inf", sh, &set("abandon_ratio", "inf"));
    refused(
        tmp.path(),
        &x,
        "metric `abandon_ratio`: value `inf` is not one callsim writes",
    );
    let x = tampered(tmp.path(), &d, "short", sh, &set("offered", "800"));
    refused(
        tmp.path(),
        &x,
        "metric `offered`: value `800` is not one callsim writes",
    );
    // The reviewer's reproducer also did not say which line of the file was bad.
    let x = tampered(tmp.path(), &d, "swap", "shard-1-of-2.csv", &|t| {
        t.replacen("0,1,offered,", "0,1,offerd,", 1)
    });
    refused(
        tmp.path(),
        &x,
        "shard-1-of-2.csv:3: this row is config 0 replication 1 metric `offerd`",
    );
}

/// A window no call arrives in: its ratios and delays are undefined (NaN) in every
/// replication, written empty in summary.csv and left out of the mean; merged shards must
/// give the same bytes.
#[test]
fn undefined_values_round_trip_through_merge() {
    let tmp = TempDir::new().unwrap();
    let f = fixture("cli-small.toml");
    let cmd = [
        "run",
        s(&f),
        "-n",
        "3",
        "-q",
        "--window",
        "none=09:20-09:30",
    ];
    let whole = tmp.path().join("whole");
    let mut a = cmd.to_vec();
    a.extend(["--out", s(&whole)]);
    ok(&a);
    let d = tmp.path().join("shards");
    shards(&cmd, &d);
    let shard = fs::read_to_string(d.join("shard-0-of-2.csv")).unwrap();
    assert!(shard.contains("0,0,abandon_ratio@none,NaN\n"), "{shard}");
    let merged = tmp.path().join("merged");
    ok(&["merge", s(&d), "--out", s(&merged)]);
    let summary = fs::read_to_string(whole.join("summary.csv")).unwrap();
    let head: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let j = head
        .iter()
        .position(|h| *h == "abandon_ratio@none")
        .unwrap();
    for line in summary.lines().skip(1) {
        assert_eq!(line.split(',').nth(j), Some(""), "{line}");
    }
    for file in ["summary.csv", "timeline.csv"] {
        assert_eq!(
            fs::read_to_string(merged.join(file)).unwrap(),
            fs::read_to_string(whole.join(file)).unwrap(),
            "{file}"
        );
    }
}

/// The platform's row files (tenants, stages) and alerts.csv are checked the same way.
#[test]
fn merge_checks_tenants_stages_and_alerts_rows() {
    let tmp = TempDir::new().unwrap();
    let d = tmp.path().join("platform");
    let f = fixture("golden-platform.toml");
    shards(&["run", s(&f), "-n", "3", "-q"], &d);
    ok(&["merge", s(&d), "--out", s(&tmp.path().join("untouched"))]);
    for (file, needle) in [
        ("shard-0-of-2.tenants.csv", "shard-0-of-2.tenants.csv:"),
        ("shard-0-of-2.stages.csv", "shard-0-of-2.stages.csv:"),
        (
            "shard-1-of-2.tenants_timeline.csv",
            "shard-1-of-2.tenants_timeline.csv:",
        ),
        (
            "shard-1-of-2.stages_timeline.csv",
            "shard-1-of-2.stages_timeline.csv:",
        ),
    ] {
        let name = file.replace('.', "-");
        let x = tampered(tmp.path(), &d, &name, file, &drop_last_line);
        refused(tmp.path(), &x, needle);
        refused(tmp.path(), &x, "rows where");
    }
    let x = tampered(tmp.path(), &d, "lat", "shard-0-of-2.stages.csv", &|t| {
        let mut lines: Vec<String> = t.lines().map(String::from).collect();
        let mut c: Vec<&str> = lines[1].split(',').collect();
        let last = c.len() - 1;
        c[last] = "fast";
        lines[1] = c.join(",");
        lines.join("\n") + "\n"
    });
    refused(
        tmp.path(),
        &x,
        "shard-0-of-2.stages.csv:2: column `latency_ms_max` (field 18): `fast`",
    );
    // alerts.csv: one firing row fewer than alert_firings says.
    let a = tmp.path().join("alerts");
    shards(&["run", "tests/fixtures/alerts-tiny.toml", "-q"], &a);
    let x = tampered(
        tmp.path(),
        &a,
        "alerts-cut",
        "shard-0-of-2.alerts.csv",
        &|t| t.replacen("base,0,rejections,legs_rejected,0,,,,\n", "", 1),
    );
    refused(
        tmp.path(),
        &x,
        "shard-0-of-2.alerts.csv:2: replication 0: 1 rows where 2 are expected",
    );
    let x = tampered(
        tmp.path(),
        &a,
        "alerts-time",
        "shard-0-of-2.alerts.csv",
        &|t| t.replacen(",1,10:03:00,180,", ",1,,180,", 1),
    );
    refused(tmp.path(), &x, "a firing has fired_at and fired_s");
}
