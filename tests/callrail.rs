//! The CallRail replay meets the postmortem's calibration targets (written down in the
//! scenario file). Fails if a model change stops the replay matching the incident.

use callsim::model::obs::Observations;
use callsim::model::CallSink;
use callsim::run::{run_replications, RunOptions};
use callsim::scenario::load;
use std::path::Path;

const REPS: u32 = 4;

/// Mean over replications of a per-minute series, for minutes [from, to) as "HH:MM".
fn mean_over(
    obs: &[Observations],
    from: &str,
    to: &str,
    f: &dyn Fn(&callsim::model::obs::TimelineRow) -> f64,
) -> f64 {
    let mut sum = 0.0;
    let mut n = 0.0;
    for o in obs {
        for r in &o.timeline.rows {
            let c = r.start.clock_hhmm();
            if c.as_str() >= from && c.as_str() < to {
                let v = f(r);
                if !v.is_nan() {
                    sum += v;
                    n += 1.0;
                }
            }
        }
    }
    sum / n
}

fn runs(variant: &str) -> Vec<Observations> {
    runs_of("scenarios/callrail-2018-05-14.toml", variant)
}

fn runs_of(file: &str, variant: &str) -> Vec<Observations> {
    let sc = load(Path::new(file), Some(variant), &[]).expect("scenario loads");
    let opts = RunOptions {
        seed: sc.seed,
        replications: REPS,
        threads: 0,
        progress: false,
        label: String::new(),
        timeline: true,
    };
    let none =
        |_r: u32| -> Result<Option<Box<dyn CallSink + Send>>, callsim::error::Error> { Ok(None) };
    run_replications(&sc, &opts, &none)
        .expect("runs")
        .into_iter()
        .map(|r| r.obs)
        .collect()
}

fn abandon_share(r: &callsim::model::obs::TimelineRow) -> f64 {
    r.counts.abandoned() as f64 / r.counts.offered.max(1) as f64
}
fn p95_s(r: &callsim::model::obs::TimelineRow) -> f64 {
    r.dial_delay_ms_p95 / 1000.0
}
fn p50_s(r: &callsim::model::obs::TimelineRow) -> f64 {
    r.dial_delay_ms_p50 / 1000.0
}

#[test]
fn actual_replay_matches_the_postmortem_timeline() {
    let obs = runs("actual");
    // Baseline before the trouble: a few percent abandon, no queue to speak of.
    let base_ab = mean_over(&obs, "12:00", "12:45", &abandon_share);
    assert!(base_ab < 0.04, "morning abandonment {base_ab}");
    assert!(mean_over(&obs, "12:00", "12:45", &p50_s) < 0.1);
    // T1: elevated failures from about 13:30 (at least double the baseline by 13:30-13:45,
    // and a large share by 14:00-14:39).
    let ab_1330 = mean_over(&obs, "13:30", "13:45", &abandon_share);
    assert!(
        ab_1330 > 2.0 * base_ab,
        "13:30-13:45 abandonment {ab_1330} vs baseline {base_ab}"
    );
    let ab_14 = mean_over(&obs, "14:00", "14:39", &abandon_share);
    assert!(ab_14 > 0.2, "14:00-14:39 abandonment {ab_14}");
    // T2: during backup routing the queue drains (after a minute to flush).
    for (from, to) in [("14:41", "15:22"), ("16:11", "16:40")] {
        let d = mean_over(&obs, from, to, &p95_s);
        assert!(d < 0.5, "backup window {from}-{to}: dial delay p95 {d} s");
    }
    // T3: after 15:22, delays of about 1-5 s through 15:25-15:50, 20-30 s by 16:00-16:09.
    let early = mean_over(&obs, "15:25", "15:50", &p50_s);
    assert!(
        (1.0..=5.0).contains(&early),
        "15:25-15:50 median dial delay {early} s"
    );
    let late = mean_over(&obs, "16:00", "16:09", &p50_s);
    assert!(
        (20.0..=30.0).contains(&late),
        "16:00-16:09 median dial delay {late} s"
    );
    // T4: from 16:40 the taper lets the old limit carry normal routing.
    let after = mean_over(&obs, "16:45", "17:30", &p95_s);
    assert!(after < 1.0, "16:45-17:30 dial delay p95 {after} s");
    let after_ab = mean_over(&obs, "16:45", "17:30", &abandon_share);
    assert!(after_ab < 0.04, "16:45-17:30 abandonment {after_ab}");
    // T5: the limit raised 50% at 17:30 (normal routing throughout: at most 30 legs/s).
    let before = |r: &&callsim::model::obs::TimelineRow| r.start.clock_hhmm().as_str() < "17:30";
    let legs_max = obs
        .iter()
        .flat_map(|o| o.timeline.rows.iter())
        .filter(before)
        .map(|r| r.counts.legs_dialed)
        .max()
        .unwrap();
    assert!(
        legs_max <= 20 * 60 + 20,
        "before 17:30 no minute may dial more than 20/s plus the burst: {legs_max}"
    );
    assert!(
        legs_max >= 20 * 60 - 20,
        "the limit is reached in the busiest minutes: {legs_max}"
    );
}

#[test]
fn without_backup_routing_more_callers_abandon() {
    let actual = runs("actual");
    let none = runs("no-backup");
    let total = |v: &[Observations]| {
        v.iter().map(|o| o.counts.abandoned()).sum::<u64>() as f64 / v.len() as f64
    };
    assert!(
        total(&none) > 1.2 * total(&actual),
        "no-backup {} vs actual {}",
        total(&none),
        total(&actual)
    );
    // In the no-backup world the queue stays long through 16:09-16:40.
    assert!(mean_over(&none, "16:11", "16:30", &p50_s) > 10.0);
}

/// Backup routing for the ring-group customers only (scenarios/callrail-per-customer.toml):
/// in the day's two windows it routes only their calls, well under half as many as the
/// platform-wide switch, and still leaves fewer callers abandoning than no backup at all.
#[test]
fn per_customer_backup_routes_only_ring_groups_and_still_helps() {
    let file = "scenarios/callrail-per-customer.toml";
    let total =
        |obs: &[Observations], f: &dyn Fn(&Observations) -> u64| -> u64 { obs.iter().map(f).sum() };
    let wide = runs_of(file, "platform-wide");
    let groups = runs_of(file, "ring-groups-only");
    let none = runs_of(file, "no-backup");
    let routed = |o: &Observations, s: usize| o.per_source[s].total.backup_routed;
    // Sources in file order: ring-groups, single-lines.
    assert_eq!(total(&groups, &|o| routed(o, 1)), 0);
    assert!(total(&wide, &|o| routed(o, 1)) > 0);
    let (g, w) = (
        total(&groups, &|o| o.counts.backup_routed),
        total(&wide, &|o| o.counts.backup_routed),
    );
    assert!(
        g > 0 && 2 * g < w,
        "routed: ring groups only {g}, platform-wide {w}"
    );
    let ab = |obs: &[Observations]| total(obs, &|o| o.counts.abandoned());
    assert!(
        ab(&groups) < ab(&none) * 9 / 10,
        "abandoned: ring groups only {}, no backup {}",
        ab(&groups),
        ab(&none)
    );
}
