//! The long fuzzing campaign (docs/fuzzing.md): runs the structured fuzzer of
//! tests/fuzz_engine.rs for CALLSIM_FUZZ_CASES inputs (default 1,000,000) from
//! CALLSIM_FUZZ_SEED (default 1), or until CALLSIM_FUZZ_SECONDS pass, and writes the figures
//! to results/fuzz-latest.md and results/fuzz-latest.csv (CALLSIM_FUZZ_OUT changes the stem).
//!
//!     cargo run --release --example fuzz_campaign

#[path = "../tests/fuzz_engine.rs"]
mod fuzz_engine;

use fuzz_engine::{peak_rss, Fuzzer, HANG_S, MAX_EVENTS, MAX_IN_FLIGHT, MAX_MEMORY, RUN_EVENTS};
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(d)
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    let cases = env_u64("CALLSIM_FUZZ_CASES", 1_000_000);
    let seed = env_u64("CALLSIM_FUZZ_SEED", 1);
    let max_s = env_u64("CALLSIM_FUZZ_SECONDS", u64::MAX);
    let out = std::env::var("CALLSIM_FUZZ_OUT").unwrap_or_else(|_| {
        fuzz_engine::root()
            .join("results/fuzz-latest")
            .display()
            .to_string()
    });
    // Panics are counted and recorded as findings, not printed one by one.
    std::panic::set_hook(Box::new(|_| {}));

    // Watchdog: an input stuck for a minute (a true hang, which `catch_unwind` cannot stop) is
    // written out and the campaign stops with exit code 2.
    let progress = Arc::new(AtomicU64::new(0));
    {
        let progress = progress.clone();
        let out = out.clone();
        std::thread::spawn(move || {
            let mut last = (u64::MAX, Instant::now());
            loop {
                std::thread::sleep(Duration::from_secs(5));
                let p = progress.load(Ordering::Relaxed);
                if p != last.0 {
                    last = (p, Instant::now());
                } else if last.1.elapsed() > Duration::from_secs(60) {
                    eprintln!("fuzz: input {p} has run for over 60 s: a hang; see {out}-hang.txt (rerun with CALLSIM_FUZZ_SEED={seed} to reproduce)");
                    let _ = std::fs::write(
                        format!("{out}-hang.txt"),
                        format!("input {p}, seed {seed}\n"),
                    );
                    std::process::exit(2);
                }
            }
        });
    }

    let mut f = Fuzzer::new(seed);
    let t0 = Instant::now();
    let mut n = 0;
    while n < cases && t0.elapsed().as_secs() < max_s {
        f.one();
        n += 1;
        progress.store(n, Ordering::Relaxed);
        if n % 10_000 == 0 {
            let s = &f.stats;
            eprintln!(
                "fuzz: {n} inputs, {:.0}/s, {} loaded, {} runs, {} panics, {} hangs, peak RSS {:.0} MB",
                n as f64 / t0.elapsed().as_secs_f64(),
                s.loaded,
                s.runs,
                s.panics,
                s.hangs,
                peak_rss().unwrap_or(0) as f64 / 1e6
            );
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let s = &f.stats;
    let rss = peak_rss().unwrap_or(0);
    let rev = sh("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = !sh("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let cpu = sh(
        "sh",
        &["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
    );
    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cmd = format!(
        "CALLSIM_FUZZ_CASES={cases} CALLSIM_FUZZ_SEED={seed}{} nice -n 10 cargo run --release --example fuzz_campaign",
        if max_s == u64::MAX { String::new() } else { format!(" CALLSIM_FUZZ_SECONDS={max_s}") }
    );

    let rows: Vec<(&str, String)> = vec![
        ("inputs", s.inputs.to_string()),
        ("scenario_mutations", s.scenario_inputs.to_string()),
        ("text_mutations", s.text_inputs.to_string()),
        ("csv_files", s.csv_inputs.to_string()),
        ("set_strings", s.set_inputs.to_string()),
        ("loaded", s.loaded.to_string()),
        ("refused", s.refused.to_string()),
        ("over_budget", s.over_budget.to_string()),
        ("runs", s.runs.to_string()),
        (
            "runs_stopped_by_limits",
            s.runs_stopped_by_limits.to_string(),
        ),
        ("run_errors", s.run_errors.to_string()),
        ("panics", s.panics.to_string()),
        ("hangs", s.hangs.to_string()),
        ("slowest_input_s", format!("{:.3}", s.max_input_s)),
        ("peak_rss_bytes", rss.to_string()),
        ("memory_budget_bytes", format!("{MAX_MEMORY:.0}")),
        ("wall_s", format!("{wall:.1}")),
        ("inputs_per_s", format!("{:.0}", s.inputs as f64 / wall)),
    ];
    let mut csv = String::from("metric,value\n");
    for (k, v) in &rows {
        let _ = writeln!(csv, "{k},{v}");
    }
    let mut md = String::new();
    let _ = writeln!(md, "# Fuzzing campaign (issue 16 item 6)\n");
    let _ = writeln!(
        md,
        "Generated by `examples/fuzz_campaign.rs`; see docs/fuzzing.md.\n"
    );
    let _ = writeln!(md, "* Command: `{cmd}`");
    let _ = writeln!(
        md,
        "* Revision: {rev}{}",
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "* Machine: {} ({} cores), {date}",
        cpu.trim(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let _ = writeln!(md, "* Per input: load, budget check at {MAX_EVENTS:.0e} events; one replication when estimated at <= {RUN_EVENTS:.0e} events, within Limits {{ max_events: {MAX_EVENTS:.0e}, max_in_flight: {MAX_IN_FLIGHT} }}; time budget {HANG_S} s per input; memory budget {:.0} MB for the process.\n", MAX_MEMORY / 1e6);
    let _ = writeln!(md, "| metric | value |\n|---|---|");
    for (k, v) in &rows {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(
        md,
        "\nPeak memory {:.0} MB: {} the {:.0} MB budget.",
        rss as f64 / 1e6,
        if (rss as f64) <= MAX_MEMORY {
            "within"
        } else {
            "OVER"
        },
        MAX_MEMORY / 1e6
    );
    if !s.findings.is_empty() {
        let _ = writeln!(md, "\n## Findings ({} recorded)\n", s.findings.len());
        for (i, x) in s.findings.iter().take(20).enumerate() {
            let _ = writeln!(
                md,
                "### {} {}: {}\n\n```toml\n{}\n```\n",
                i + 1,
                x.kind,
                x.message,
                x.input.chars().take(3000).collect::<String>()
            );
        }
    }
    std::fs::write(format!("{out}.csv"), csv).unwrap();
    std::fs::write(format!("{out}.md"), &md).unwrap();
    print!("{md}");
    if s.panics > 0 || s.hangs > 0 || (rss as f64) > MAX_MEMORY {
        std::process::exit(1);
    }
}
