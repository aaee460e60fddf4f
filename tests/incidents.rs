//! The platform incident replays meet the calibration targets written in their scenario files
//! (Simwood S1-S5, Voucherify V1-V5, Easycallnow E1-E4). Fails if a model change stops a replay
//! matching its postmortem.

use callsim::model::obs::{Observations, StageRow, TimelineRow};
use callsim::model::CallSink;
use callsim::run::{run_replications, RunOptions};
use callsim::scenario::{load, Scenario};
use std::path::Path;

fn run(file: &str, variant: &str, reps: u32) -> (Scenario, Vec<Observations>) {
    let sc = load(Path::new(file), Some(variant), &[]).expect("scenario loads");
    let opts = RunOptions {
        seed: sc.seed,
        replications: reps,
        threads: 0,
        progress: false,
        label: String::new(),
        timeline: true,
    };
    let none =
        |_r: u32| -> Result<Option<Box<dyn CallSink + Send>>, callsim::error::Error> { Ok(None) };
    let obs = run_replications(&sc, &opts, &none)
        .expect("runs")
        .into_iter()
        .map(|r| r.obs)
        .collect();
    (sc, obs)
}

fn in_window(clock: &str, from: &str, to: &str) -> bool {
    clock >= from && clock < to
}

/// Sum over replications and timeline rows in [from, to) of `f`.
fn sum_tl(obs: &[Observations], from: &str, to: &str, f: &dyn Fn(&TimelineRow) -> f64) -> f64 {
    obs.iter()
        .flat_map(|o| o.timeline.rows.iter())
        .filter(|r| in_window(&r.start.clock_hhmm(), from, to))
        .map(f)
        .sum()
}

fn max_tl(obs: &[Observations], from: &str, to: &str, f: &dyn Fn(&TimelineRow) -> f64) -> f64 {
    obs.iter()
        .flat_map(|o| o.timeline.rows.iter())
        .filter(|r| in_window(&r.start.clock_hhmm(), from, to))
        .map(f)
        .fold(f64::NAN, f64::max)
}

/// Stage rows of stage `s` in [from, to), over replications (clock from the row index).
fn stage_rows<'a>(
    sc: &Scenario,
    obs: &'a [Observations],
    s: usize,
    from: &str,
    to: &str,
) -> Vec<&'a StageRow> {
    let (origin, interval) = (sc.model.start.as_ns(), sc.model.interval.as_ns());
    obs.iter()
        .flat_map(|o| o.stages[s].rows.iter().enumerate())
        .filter(|(i, _)| {
            in_window(
                &callsim::time::SimTime(origin + *i as u64 * interval).clock_hhmm(),
                from,
                to,
            )
        })
        .map(|(_, r)| r)
        .collect()
}

// Each mechanism switched off in turn (the scenario edited, this test run; 2026-12-02):
// Simwood: each check below says what was switched off and how it failed; Voucherify
// fails with no leak or with the limiter enforcing on the flooded path (V2: crashes), with the
// autoscaler acting after 30 s (V3), and without the manual rescale (V4: a check that the
// scheduled change applied). It passes without the 12:00 leak fix (V5 cannot fail).

/// Calls connected per first attempt in [from, to), over replications: first attempts follow
/// the rate profile whatever happens, so this is call volume against what it would be.
fn connected_per_first_attempt(obs: &[Observations], from: &str, to: &str) -> f64 {
    sum_tl(obs, from, to, &|r| r.counts.connected as f64)
        / sum_tl(obs, from, to, &|r| r.counts.first_attempts as f64)
}

/// Simwood's stages, in file order.
const SW_SLOUGH_VOLTA: usize = 0;
const SW_OTHER: usize = 1;
const SW_CREDIT: usize = 2;

#[test]
fn simwood_replay_matches_the_postmortem() {
    let (sc, obs) = run("scenarios/simwood-2020-01-23.toml", "actual", 2);
    let stage_sum = |s: usize, from: &str, to: &str, f: &dyn Fn(&StageRow) -> u64| -> u64 {
        stage_rows(&sc, &obs, s, from, to)
            .iter()
            .map(|r| f(r))
            .sum()
    };
    // S1: a quiet morning, before the fragmentation starts at 11:07 (fails if the cause is
    // moved earlier).
    assert_eq!(
        max_tl(&obs, "10:30", "11:07", &|r| r.accounts_blocked_max as f64),
        0.0
    );
    assert_eq!(
        sum_tl(&obs, "10:30", "11:07", &|r| r.counts.failed as f64),
        0.0
    );
    assert!(max_tl(&obs, "10:30", "11:07", &|r| r.pdd_ms_p95) < 1000.0);
    // S2: post-dial delay up, some 503s (a small share), only through the two routing nodes,
    // and volumes lower and falling. Seen failing with the routing lookups' `timeout` removed
    // (no 503s: errors at the two nodes 0).
    assert!(
        sum_tl(&obs, "11:10", "11:25", &|r| r.pdd_ms_p95) / 30.0 > 300.0,
        "post-dial delay up"
    );
    let errors = sum_tl(&obs, "11:07", "11:26", &|r| r.counts.failed_error as f64);
    let offered = sum_tl(&obs, "11:07", "11:26", &|r| r.counts.offered as f64);
    assert!(
        errors > 0.01 * offered && errors < 0.1 * offered,
        "503s {errors} of {offered}"
    );
    assert!(stage_sum(SW_SLOUGH_VOLTA, "11:07", "11:26", &|r| r.counts.errors) > 0);
    assert_eq!(
        stage_sum(SW_OTHER, "11:07", "11:26", &|r| r.counts.errors),
        0
    );
    let normal = connected_per_first_attempt(&obs, "10:40", "11:05");
    let early = connected_per_first_attempt(&obs, "11:08", "11:17") / normal;
    let late = connected_per_first_attempt(&obs, "11:17", "11:26") / normal;
    assert!(late < 0.98 && late < early, "volumes {early} then {late}");
    // S3: one automatic failover per replication, emerging between 11:17 and 11:37 from probes
    // slower than the health check's timeout. Seen failing with the probe `timeout` removed (no
    // failover: the master answers, slowly).
    assert!(obs.iter().all(|o| o.failovers == 1));
    let fo = stage_sum(SW_SLOUGH_VOLTA, "11:17", "11:37", &|r| r.counts.failovers);
    assert_eq!(fo, 2, "each replication's failover in 11:17-11:37");
    // S4: numerous accounts blocked by the out-of-band credit lookups until the 11:54 reset,
    // their calls refused with 403 through every routing node, while volumes are back near
    // normal. Seen failing with credit `in_path = true` (median PDD 11:08-11:26 over 50 ms: the
    // calls wait for the slow master) and with `error_rate_standby` removed (the demoted
    // master keeps failing 1.5% of credit lookups: volumes 11:35-11:53 4.5% down, "after the
    // failover 0.955"; with that check off, 10 or more accounts blocked again by 11:55).
    assert!(max_tl(&obs, "11:40", "11:54", &|r| r.accounts_blocked_max as f64) > 100.0);
    assert!(sum_tl(&obs, "11:30", "11:54", &|r| r.counts.failed_blocked as f64) > 500.0);
    assert!(max_tl(&obs, "11:08", "11:26", &|r| r.pdd_ms_p50) < 50.0);
    let after = connected_per_first_attempt(&obs, "11:35", "11:53") / normal;
    assert!(
        after > 0.95 && after > late,
        "volumes after the failover {after}"
    );
    assert!(max_tl(&obs, "11:55", "11:56", &|r| r.accounts_blocked_max as f64) < 10.0);
    // Between the reset and the second wave service is normal: few accounts blocked again
    // (the demoted master fails 0.01% of credit lookups).
    let before = max_tl(&obs, "13:40", "13:46", &|r| r.accounts_blocked_max as f64);
    assert!(before < 100.0, "accounts blocked again by 13:45: {before}");
    // S5: a short second wave at 13:47, corrected at 13:48 (both scheduled: seen failing with
    // the 13:46:30 trouble removed); no new blocks after the 14:01 stop.
    assert!(max_tl(&obs, "13:46", "13:48", &|r| r.accounts_blocked_max as f64) > before + 20.0);
    assert!(max_tl(&obs, "13:49", "13:50", &|r| r.accounts_blocked_max as f64) < 10.0);
    assert_eq!(
        stage_sum(SW_CREDIT, "14:02", "14:30", &|r| r.counts.accounts_blocked),
        0
    );
}

#[test]
fn simwood_fail_open_removes_the_blocking() {
    let (_, obs) = run("scenarios/simwood-2020-01-23.toml", "fail-open", 1);
    assert_eq!(obs[0].accounts_blocked_max, 0);
    assert_eq!(obs[0].counts.failed_blocked, 0);
}

#[test]
fn voucherify_replay_matches_the_postmortem() {
    let (sc, obs) = run("scenarios/voucherify-2021-08-20.toml", "actual", 2);
    let crashes = |from: &str, to: &str| -> u64 {
        stage_rows(&sc, &obs, 0, from, to)
            .iter()
            .map(|r| r.counts.pod_crashes)
            .sum()
    };
    let added = |from: &str, to: &str| -> u64 {
        stage_rows(&sc, &obs, 0, from, to)
            .iter()
            .map(|r| r.counts.pods_added)
            .sum()
    };
    // Per-tenant failures of a quiet tenant (acme, source 0) in a window.
    let acme_failed = |from: &str, to: &str| -> u64 {
        let (origin, interval) = (sc.model.start.as_ns(), sc.model.interval.as_ns());
        obs.iter()
            .flat_map(|o| o.per_source[0].rows.iter().enumerate())
            .filter(|(i, _)| {
                in_window(
                    &callsim::time::SimTime(origin + *i as u64 * interval).clock_hhmm(),
                    from,
                    to,
                )
            })
            .map(|(_, c)| c.failed)
            .sum()
    };
    // V1: nothing wrong before the flood.
    assert_eq!(crashes("07:30", "08:12"), 0);
    assert_eq!(acme_failed("07:30", "08:12"), 0);
    // V2: a restart loop (several crashes per replication) and 503s for the other tenants.
    assert!(
        crashes("08:12", "09:30") >= 2 * 10,
        "crashes 08:12-09:30: {}",
        crashes("08:12", "09:30")
    );
    assert!(
        acme_failed("08:12", "09:30") > 100,
        "acme failures: {}",
        acme_failed("08:12", "09:30")
    );
    // V3: the autoscaler adds nothing before the manual rescale.
    assert_eq!(added("07:30", "09:30"), 0);
    // V4: the rescale at 09:30 ends the loop (after the old pods' last crash).
    assert_eq!(added("09:30", "09:31"), 2 * 12);
    assert_eq!(crashes("09:50", "12:00"), 0);
    assert_eq!(acme_failed("09:50", "13:00"), 0);
    // V5: no crashes after the fix either. This cannot fail: the crashes stop at the rescale,
    // so the 12:00 fix changes nothing (it passes with the fix removed; docs/incidents.md).
    assert_eq!(crashes("12:00", "13:00"), 0);
}

#[test]
fn easycallnow_replay_matches_the_postmortem() {
    let (sc, obs) = run("scenarios/easycallnow-2015-07-22.toml", "actual", 1);
    // Attempts refused with 503: final failures plus the retries they caused. (A rare client
    // timeout on the harmless 0.3% slow tail also retries; it is not a refusal.)
    let refused = |from: &str, to: &str| -> f64 {
        sum_tl(&obs, from, to, &|r| r.counts.failed_refused as f64)
    };
    let attempts_refused = |from: &str, to: &str| -> f64 {
        let stage: u64 = stage_rows(&sc, &obs, 0, from, to)
            .iter()
            .map(|r| r.counts.refused)
            .sum();
        stage as f64
    };
    let offered =
        |from: &str, to: &str| -> f64 { sum_tl(&obs, from, to, &|r| r.counts.offered as f64) };
    let sessions_max = |from: &str, to: &str| -> u64 {
        stage_rows(&sc, &obs, 0, from, to)
            .iter()
            .map(|r| r.sessions_in_use_max)
            .max()
            .unwrap_or(0)
    };
    // E1: a normal afternoon before 15:38, fast responses.
    assert_eq!(attempts_refused("15:30", "15:38"), 0.0);
    assert!(stage_rows(&sc, &obs, 0, "15:30", "15:38")
        .iter()
        .all(|r| r.latency_ms_p95 < 1000.0));
    // E2 and E3: outages in each window with all 2,000 sessions in use; normal in between.
    for (from, to) in [
        ("15:39", "15:42"),
        ("15:56", "16:08"),
        ("16:31", "16:37"),
        ("17:22", "17:23"),
    ] {
        let share = attempts_refused(from, to) / offered(from, to);
        assert!(
            share > 0.05,
            "{from}-{to}: refused or retried share {share}"
        );
        assert_eq!(sessions_max(from, to), 2000, "{from}-{to}: sessions");
    }
    for (from, to) in [("15:45", "15:53"), ("16:13", "16:28"), ("16:42", "17:20")] {
        assert_eq!(
            attempts_refused(from, to),
            0.0,
            "{from}-{to} should be normal"
        );
    }
    // After the raise to 12,000 sessions at 17:30, no refusals. This cannot fail as scheduled
    // (the last slow-query episode ends at 17:24); the raise itself is tested below.
    assert_eq!(attempts_refused("17:31", "17:45"), 0.0);
    assert_eq!(refused("17:31", "17:45"), 0.0);
}

/// E4: with the raised limit of 12,000 sessions in force during the episodes, the slow queries
/// hold more than the old 2,000 sessions at once, and none is refused. Seen to fail with the
/// variant's limit set back to 2,000 (`sessions 2000` in the 15:56-16:08 episode, refusals).
#[test]
fn easycallnow_raised_session_limit_absorbs_the_episodes() {
    let (sc, obs) = run("scenarios/easycallnow-2015-07-22.toml", "sessions-12000", 1);
    let rows = stage_rows(&sc, &obs, 0, "15:56", "16:08");
    let most = rows
        .iter()
        .map(|r| r.sessions_in_use_max)
        .max()
        .unwrap_or(0);
    assert!(most > 2000 && most < 12000, "sessions {most}");
    let refused: u64 = rows.iter().map(|r| r.counts.refused).sum();
    assert_eq!(refused, 0, "refused in the episode");
    assert_eq!(obs[0].stages[0].total.refused, 0);
    assert_eq!(obs[0].counts.failed, 0);
}

#[test]
fn easycallnow_forced_index_prevents_the_outages() {
    let (_, obs) = run("scenarios/easycallnow-2015-07-22.toml", "index-forced", 1);
    assert_eq!(obs[0].counts.failed, 0);
    assert_eq!(obs[0].stages[0].total.refused, 0);
    // Only the rare timeouts of the normal slow tail retry (about 1 in 100,000 requests).
    assert!(obs[0].counts.retries * 10_000 < obs[0].counts.offered);
}
