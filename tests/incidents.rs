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
// Simwood: each check below says what was switched off and how it failed. Voucherify (audited
// again after the replay gained slowdown, spread base memory and a memory autoscaler) fails
// with slowdown_at_limit = 1 (V2: latency), with no autoscaler (V3), without the rescale (V4:
// failures per minute), and without the 12:00 fix (V5: crashes after 12:05). Easycallnow: see
// its tests.

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
    let stage_sum = |from: &str, to: &str, f: &dyn Fn(&StageRow) -> u64| -> u64 {
        stage_rows(&sc, &obs, 0, from, to)
            .iter()
            .map(|r| f(r))
            .sum()
    };
    let crashes = |from: &str, to: &str| stage_sum(from, to, &|r| r.counts.pod_crashes);
    let added = |from: &str, to: &str| stage_sum(from, to, &|r| r.counts.pods_added);
    // Mean over rows of the gateway's p95 latency in a window.
    let p95 = |from: &str, to: &str| -> f64 {
        let rows = stage_rows(&sc, &obs, 0, from, to);
        rows.iter().map(|r| r.latency_ms_p95).sum::<f64>() / rows.len() as f64
    };
    // The first minute (row index, per replication) at which `f` is positive.
    let first_row = |rep: usize, f: &dyn Fn(&StageRow) -> u64| -> Option<usize> {
        obs[rep].stages[0].rows.iter().position(|r| f(r) > 0)
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
    let failed = |from: &str, to: &str| sum_tl(&obs, from, to, &|r| r.counts.failed as f64);
    // V1: nothing wrong before the flood.
    assert_eq!(crashes("07:30", "08:12"), 0);
    assert_eq!(acme_failed("07:30", "08:12"), 0);
    // V2: latency rises as the pods fill, before the first crash (08:16 or later here)...
    assert_eq!(crashes("08:12", "08:16"), 0);
    let (calm, filling) = (p95("08:00", "08:12"), p95("08:12", "08:16"));
    assert!(filling > 1.5 * calm, "p95 {calm} ms, then {filling} ms");
    // ... then a restart loop (several crashes per replication) and 503s for the other tenants.
    assert!(
        crashes("08:12", "09:30") >= 2 * 20,
        "crashes 08:12-09:30: {}",
        crashes("08:12", "09:30")
    );
    assert!(
        acme_failed("08:12", "09:30") > 100,
        "acme failures: {}",
        acme_failed("08:12", "09:30")
    );
    // V3: the autoscaler adds pods, but only after the first crash.
    assert!(added("08:12", "09:30") > 0);
    for rep in 0..obs.len() {
        let crash = first_row(rep, &|r| r.counts.pod_crashes).expect("a crash");
        let scale = first_row(rep, &|r| r.counts.pods_added).expect("a scale-up");
        assert!(
            scale > crash,
            "replication {rep}: scale-up at row {scale}, crash at {crash}"
        );
    }
    // V4: the rescale at 09:30 mitigates: failures per minute fall more than five-fold (78
    // minutes before, 140 after), but the leak goes on and pods still crash now and then.
    let (before, after) = (
        failed("08:12", "09:30") / 78.0,
        failed("09:40", "12:00") / 140.0,
    );
    assert!(
        after < 0.2 * before,
        "failures per minute {before}, then {after}"
    );
    assert!(crashes("09:40", "12:00") > 0, "no crash after the rescale");
    // V5: the fix at 12:00 ends the crashes and latency is back to normal; without it
    // (variant no-fix) the pods go on crashing.
    assert_eq!(crashes("12:05", "13:00"), 0);
    let healed = p95("12:20", "13:00");
    assert!(
        healed < 1.1 * calm,
        "p95 after the fix {healed} ms, before {calm} ms"
    );
    let (sc2, unfixed) = run("scenarios/voucherify-2021-08-20.toml", "no-fix", 2);
    let late: u64 = stage_rows(&sc2, &unfixed, 0, "12:05", "13:00")
        .iter()
        .map(|r| r.counts.pod_crashes)
        .sum();
    assert!(late > 0, "no crash after 12:05 without the fix");
}

/// Runs of consecutive timeline rows (index, length) in which over 1% of the offered requests
/// were refused or timed out: the interruptions, in replication `rep`, rows [from, to).
fn interruptions(obs: &Observations, from: usize, to: usize) -> Vec<(usize, usize)> {
    let down = |r: &TimelineRow| {
        let bad = (r.counts.failed_refused + r.counts.failed_timeout) as f64;
        bad > 0.01 * r.counts.offered.max(1) as f64
    };
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, r) in obs.timeline.rows.iter().enumerate().take(to).skip(from) {
        match out.last_mut() {
            Some((s, n)) if down(r) && *s + *n == i => *n += 1,
            _ if down(r) => out.push((i, 1)),
            _ => {}
        }
    }
    out
}

/// E1-E3 on one replication (one possible afternoon: the bad-index episodes are random). Seen
/// failing (2026-12-02) with the database's `connections` removed (E3: sessions last no longer
/// than the slow query, no queue) and with the 15:35 change removed (E2: no interruption).
#[test]
fn easycallnow_replay_matches_the_postmortem() {
    let (sc, obs) = run("scenarios/easycallnow-2015-07-22.toml", "actual", 1);
    let row = |clock: &str| -> usize {
        let t = callsim::time::parse_clock(clock).expect("clock");
        ((t.as_ns() - sc.model.start.as_ns()) / sc.model.interval.as_ns()) as usize
    };
    let refused = |from: &str, to: &str| {
        sum_tl(&obs, from, to, &|r| {
            (r.counts.failed_refused + r.counts.failed_timeout) as f64
        })
    };
    // E1: normal before 15:35: nothing refused, responses fast.
    assert_eq!(refused("15:30", "15:35"), 0.0);
    let lb_p95 = stage_rows(&sc, &obs, 0, "15:30", "15:35")
        .iter()
        .map(|r| r.latency_ms_p95)
        .fold(0.0, f64::max);
    assert!(lb_p95 < 1000.0, "p95 before 15:35: {lb_p95} ms");
    // E2: interruptions come and go from 15:35: at least two, with normal minutes between.
    let outs = interruptions(&obs[0], row("15:35"), row("17:30"));
    assert!(outs.len() >= 2, "interruptions {outs:?}");
    // E3: in each, the 2,000 sessions are all in use, and a session lasts longer than the slow
    // query itself (p95 5.5 s): queries queue for a database connection.
    for &(s, n) in &outs {
        let rows = &obs[0].stages[0].rows[s..s + n];
        let most = rows
            .iter()
            .map(|r| r.sessions_in_use_max)
            .max()
            .unwrap_or(0);
        assert_eq!(most, 2000, "sessions in the interruption at row {s}");
        let held = rows.iter().map(|r| r.latency_ms_p95).fold(0.0, f64::max);
        assert!(held > 5500.0, "p95 session {held} ms at row {s}");
    }
    // After the actions at 17:30 (12,000 sessions, 6,000 connections): nothing refused, though
    // the bad index is still in use for a while. In this replication the episode running at
    // 17:30 lasts into 17:31 (sessions' p95 over 2 s); without it the check would be vacuous.
    let slow_after = stage_rows(&sc, &obs, 0, "17:31", "17:45")
        .iter()
        .map(|r| r.latency_ms_p95)
        .fold(0.0, f64::max);
    assert!(
        slow_after > 2000.0,
        "no slow-query episode after 17:30 in this replication (p95 {slow_after} ms): \
         the check that nothing is refused would be vacuous"
    );
    assert_eq!(refused("17:31", "17:45"), 0.0);
}

/// E4: which action ended the outages. Raising the session limit alone does not: the database
/// is the bottleneck, and its queue fills 12,000 sessions as it filled 2,000. Raising sessions
/// and database connections together does, as does forcing the index. (15:30-16:45 only, to
/// keep the test short; the same episodes in every variant: they have their own stream.) Seen
/// failing with `connections` removed from the scenario (sessions-12000 then refuses nothing).
#[test]
fn easycallnow_only_more_database_resources_or_the_forced_index_end_the_outages() {
    let short = ["end=\"16:45\"".to_string()];
    let failed = |variant: &str| -> (u64, u64) {
        let sc = load(
            Path::new("scenarios/easycallnow-2015-07-22.toml"),
            Some(variant),
            &short,
        )
        .expect("scenario loads");
        let opts = RunOptions {
            seed: sc.seed,
            replications: 1,
            threads: 0,
            progress: false,
            label: String::new(),
            timeline: false,
        };
        let none = |_r: u32| -> Result<Option<Box<dyn CallSink + Send>>, callsim::error::Error> {
            Ok(None)
        };
        let r = &run_replications(&sc, &opts, &none).expect("runs")[0].obs;
        (r.stages[0].total.refused, r.stages[0].sessions_in_use_max)
    };
    let (refused, most) = failed("sessions-12000");
    assert!(refused > 10_000, "12,000 sessions alone: {refused} refused");
    assert_eq!(most, 12_000, "the queue fills the raised limit too");
    let (refused, most) = failed("more-resources");
    assert_eq!(refused, 0, "12,000 sessions and 6,000 connections");
    assert!(most > 2000 && most < 12_000, "sessions {most}");
    assert_eq!(failed("index-forced").0, 0);
}
