//! Model tests through the whole pipeline (scenario text -> model -> observations), on small
//! scenarios whose answers are known exactly.

use super::obs::Observations;
use super::{CallRecord, CallSink, Outcome};
use crate::run::{run_one, SinkFactory};
use crate::scenario::{load_str, Scenario};
use crate::time::NS_PER_S;
use proptest::prelude::*;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

struct Collect(Arc<Mutex<Vec<CallRecord>>>);
impl CallSink for Collect {
    fn record(&mut self, rec: &CallRecord) {
        self.0.lock().unwrap().push(rec.clone());
    }
}

fn scenario(dir: &Path, text: &str) -> Scenario {
    load_str(&dir.join("t.toml"), text, None, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn run_sc(sc: &Scenario, seed: u64) -> (Observations, Vec<CallRecord>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c2 = calls.clone();
    let sinks: Box<SinkFactory> = Box::new(move |_r| {
        Ok(Some(
            Box::new(Collect(c2.clone())) as Box<dyn CallSink + Send>
        ))
    });
    let r = run_one(sc, seed, 0, true, &*sinks, &mut |_| {}).unwrap();
    let v = calls.lock().unwrap().clone();
    (r.obs, v)
}

fn run_text(text: &str) -> (Observations, Vec<CallRecord>) {
    let dir = tempfile::tempdir().unwrap();
    run_sc(&scenario(dir.path(), text), 1)
}

/// A trace file with `n` arrivals at each of the given clock instants.
fn trace(dir: &Path, rows: &[(&str, usize)]) -> String {
    let p = dir.join("trace.csv");
    let mut f = std::fs::File::create(&p).unwrap();
    writeln!(f, "time").unwrap();
    for (t, n) in rows {
        for _ in 0..*n {
            writeln!(f, "{t}").unwrap();
        }
    }
    "trace.csv".into()
}

#[test]
fn saturated_token_bucket_dials_exactly_rate_times_hour_plus_burst() {
    for (rate, burst, per_s) in [
        ("20/s", 5u64, 20.0f64),
        ("7/s", 1, 7.0),
        ("2.5/s", 20, 2.5),
        ("40000/h", 3, 40000.0 / 3600.0),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let t = trace(dir.path(), &[("12:00:00", 100_000)]);
        // Arrivals all at 12:00 saturate the bucket from the first instant; the run stops at
        // 13:00 (drain 0), so legs dialled = those admitted in the closed hour [12:00, 13:00].
        let text = format!(
            "start = \"12:00\"\nend = \"12:00:01\"\ndrain = \"59m59s\"\n\
             [carriers.c]\nrate = \"{rate}\"\nburst = {burst}\n\
             [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1s\"\n"
        );
        let sc = scenario(dir.path(), &text);
        let (obs, _) = run_sc(&sc, 1);
        let expected = (per_s * 3600.0).round() as u64 + burst;
        assert_eq!(
            obs.counts.legs_dialed, expected,
            "rate {rate} burst {burst}"
        );
    }
}

#[test]
fn rolling_window_never_exceeds_its_limit_in_any_window() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("12:00:00", 3000), ("12:00:07.5", 2000)]);
    let text = format!(
        "start = \"12:00\"\nend = \"12:01\"\n\
         [carriers.c]\nalgorithm = \"rolling_window\"\nlimit = 150\nwindow = \"5s\"\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1s\"\n"
    );
    let (_, calls) = run_sc(&scenario(dir.path(), &text), 1);
    // One leg per call: the dial instant is arrival + post-dial delay.
    let mut dials: Vec<u64> = calls
        .iter()
        .map(|c| c.arrival.as_ns() + c.pdd.unwrap().as_ns())
        .collect();
    dials.sort_unstable();
    assert_eq!(dials.len(), 5000);
    let w = 5 * NS_PER_S;
    let mut lo = 0;
    for hi in 0..dials.len() {
        while dials[hi] - dials[lo] >= w {
            lo += 1;
        }
        assert!(
            hi - lo < 150,
            "{} dials within 5 s ending at {}",
            hi - lo + 1,
            dials[hi]
        );
    }
    // Work-conserving under saturation: 150 per 5 s from the start -> last dial at 165 s.
    assert_eq!(
        *dials.last().unwrap(),
        12 * 3600 * NS_PER_S + (5000 / 150) * w
    );
}

#[test]
fn simulcall_first_answer_wins_and_other_legs_are_cancelled() {
    let (obs, calls) = run_text(
        "start = \"00:00\"\nend = \"01:00\"\n[carriers.c]\n\
         [sources.s]\nrate = \"0.1/s\"\ntalk_time = \"10s\"\n\
         [sources.s.flow]\nlegs = 3\n\
         destinations = [ { time_to_answer = \"5s\" }, { time_to_answer = \"2s\" }, { time_to_answer = \"8s\" } ]\n",
    );
    let c = &obs.counts;
    assert!(c.offered > 300);
    assert_eq!(c.connected, c.offered);
    assert_eq!(c.legs_dialed, 3 * c.offered);
    assert_eq!(c.legs_cancelled_ringing, 2 * c.offered);
    for r in &calls {
        assert_eq!(r.outcome, Outcome::Connected);
        assert_eq!(
            r.wait.as_ns(),
            2 * NS_PER_S,
            "the 2 s destination answers first"
        );
        assert_eq!(r.talk.unwrap().as_ns(), 10 * NS_PER_S);
    }
}

#[test]
fn queued_legs_of_an_answered_call_never_dial() {
    // One token per 10 s: leg 0 of each call dials, answers at once, and the call's other legs,
    // still queued, are cancelled without using tokens.
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 1), ("00:01:00", 1)]);
    let text = format!(
        "start = \"00:00\"\nend = \"00:05\"\n[carriers.c]\nrate = \"0.1/s\"\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1s\"\n[sources.s.flow]\nlegs = 3\n"
    );
    let (obs, _) = run_sc(&scenario(dir.path(), &text), 1);
    assert_eq!(obs.counts.connected, 2);
    assert_eq!(obs.counts.legs_dialed, 2);
    assert_eq!(obs.counts.legs_cancelled_queued, 4);
}

#[test]
fn patience_abandons_while_waiting_and_while_ringing() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 1), ("00:00:01", 1)]);
    // One channel held for an hour by the first call: the second waits for it and hangs up
    // after exactly 10 s, in the queue.
    let text = format!(
        "start = \"00:00\"\nend = \"00:10\"\ndrain = \"2h\"\n[carriers.c]\nchannels = 1\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1h\"\npatience = \"10s\"\n"
    );
    let (obs, calls) = run_sc(&scenario(dir.path(), &text), 1);
    assert_eq!(obs.counts.connected, 1);
    assert_eq!(obs.counts.abandoned_waiting, 1);
    assert_eq!(obs.counts.legs_cancelled_queued, 1);
    let ab = calls
        .iter()
        .find(|c| c.outcome == Outcome::AbandonedWaiting)
        .unwrap();
    assert_eq!(ab.wait.as_ns(), 10 * NS_PER_S);
    assert!(ab.pdd.is_none(), "never rang");

    // A destination that answers after 20 s: callers with 10 s of patience hang up ringing.
    let (obs, calls) = run_text(
        "start = \"00:00\"\nend = \"00:30\"\n[carriers.c]\n\
         [sources.s]\nrate = \"0.2/s\"\npatience = \"10s\"\n\
         [sources.s.flow]\ndestinations = [ { time_to_answer = \"20s\" } ]\n",
    );
    assert!(obs.counts.offered > 200);
    assert_eq!(obs.counts.abandoned_ringing, obs.counts.offered);
    assert_eq!(obs.counts.legs_cancelled_ringing, obs.counts.offered);
    assert!(calls
        .iter()
        .all(|c| c.wait.as_ns() == 10 * NS_PER_S && c.pdd.unwrap().as_ns() == 0));
}

#[test]
fn rejected_callers_redial_up_to_max_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 1), ("00:00:01", 1)]);
    let text = format!(
        "start = \"00:00\"\nend = \"00:10\"\ndrain = \"2h\"\n\
         [carriers.c]\nchannels = 1\nover_limit = \"reject\"\nreject_code = 403\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1h\"\n\
         [sources.s.redial]\nprobability = 1.0\ndelay = \"10s\"\nmax_attempts = 3\n"
    );
    let (obs, calls) = run_sc(&scenario(dir.path(), &text), 1);
    let c = &obs.counts;
    assert_eq!(
        (c.offered, c.connected, c.failed, c.redials, c.legs_rejected),
        (4, 1, 3, 2, 3)
    );
    let failed: Vec<_> = calls
        .iter()
        .filter(|c| c.outcome == Outcome::Failed)
        .collect();
    assert!(failed
        .iter()
        .all(|c| c.failure_code == Some(403) && c.call_index == 1));
    let times: Vec<u64> = failed
        .iter()
        .map(|c| c.arrival.as_ns() / NS_PER_S)
        .collect();
    assert_eq!(times, vec![1, 11, 21]);
    assert_eq!(
        failed.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[test]
fn sequential_hunt_moves_to_the_next_destination_after_ring_timeout() {
    let (obs, calls) = run_text(
        "start = \"00:00\"\nend = \"00:30\"\n[carriers.c]\n\
         [sources.s]\nrate = \"0.1/s\"\ntalk_time = \"5s\"\n\
         [sources.s.flow]\nmode = \"sequential\"\nlegs = 2\n\
         destinations = [ { answer_probability = 0.0, ring_timeout = \"5s\" }, { time_to_answer = \"1s\" } ]\n",
    );
    assert_eq!(obs.counts.connected, obs.counts.offered);
    assert_eq!(obs.counts.legs_dialed, 2 * obs.counts.offered);
    assert_eq!(obs.counts.legs_cancelled_ringing, 0);
    assert!(calls.iter().all(|c| c.wait.as_ns() == 6 * NS_PER_S));
}

#[test]
fn queue_timeout_and_capacity_fail_legs() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 10)]);
    // One token per minute, burst 1: call 1 dials; 3 wait (capacity 3) and time out after 5 s;
    // the other 6 find the queue full.
    let text = format!(
        "start = \"00:00\"\nend = \"00:10\"\n\
         [carriers.c]\nrate = \"1/min\"\nqueue_capacity = 3\nmax_queue_wait = \"5s\"\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1s\"\n"
    );
    let (obs, _) = run_sc(&scenario(dir.path(), &text), 1);
    let c = &obs.counts;
    assert_eq!(
        (
            c.connected,
            c.legs_queue_timeout,
            c.legs_queue_full,
            c.failed
        ),
        (1, 3, 6, 9)
    );
}

#[test]
fn scheduled_change_raises_the_dial_rate_at_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("12:00:00", 200_000)]);
    let text = format!(
        "start = \"12:00\"\nend = \"12:00:01\"\ndrain = \"19m59s\"\n\
         [carriers.c]\nrate = \"20/s\"\nburst = 1\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1s\"\n\
         [[changes]]\nat = \"12:10\"\nset = {{ carriers.c.rate = \"30/s\" }}\n"
    );
    let (obs, _) = run_sc(&scenario(dir.path(), &text), 1);
    let rows = &obs.timeline.rows;
    assert_eq!(rows[3].counts.legs_dialed, 20 * 60);
    assert_eq!(rows[15].counts.legs_dialed, 30 * 60);
}

const BACKUP_TEXT: &str = "start = \"12:00\"\nend = \"13:00\"\nseed = 5\n\
    [carriers.c]\nrate = \"10/s\"\nburst = 10\n\
    [sources.s]\nrate = \"4/s\"\npatience = { dist = \"lognormal\", median = \"20s\", sigma = 0.5 }\n\
    [sources.s.flow]\nlegs = 3\ndestinations = [ { answer_probability = 0.7, time_to_answer = { dist = \"exponential\", mean = \"8s\" } } ]\n\
    [backup]\nwindows = [[\"12:20\", \"12:40\"]]\n\
    [variants.off]\nbackup.policy = \"off\"\n";

#[test]
fn backup_routing_rings_one_leg_and_drains_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path(), BACKUP_TEXT);
    let (obs, calls) = run_sc(&sc, 5);
    let rows = &obs.timeline.rows;
    // 12 legs/s offered against 10/s: the queue grows before 12:20 ...
    assert!(
        rows[19].dial_delay_ms_p95 > 1000.0,
        "{}",
        rows[19].dial_delay_ms_p95
    );
    // ... and in backup (4 legs/s) it has drained within five minutes.
    assert!(
        rows[30].dial_delay_ms_p95 < 10.0,
        "{}",
        rows[30].dial_delay_ms_p95
    );
    for c in &calls {
        let in_window =
            c.arrival.clock_hhmm().as_str() >= "12:20" && c.arrival.clock_hhmm().as_str() < "12:40";
        assert_eq!(c.backup, in_window);
        if c.backup {
            assert_eq!(c.legs, 1);
        }
    }
    assert_eq!(
        obs.counts.backup_routed,
        calls.iter().filter(|c| c.backup).count() as u64
    );
}

#[test]
fn levers_keep_common_random_numbers() {
    // Switching backup routing off changes no caller's arrival time or patience.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    let on = load_str(&path, BACKUP_TEXT, None, &[]).unwrap();
    let off = load_str(&path, BACKUP_TEXT, Some("off"), &[]).unwrap();
    let key = |v: Vec<CallRecord>| {
        let mut k: Vec<(u64, u64)> = v
            .iter()
            .filter(|c| c.attempt == 1)
            .map(|c| (c.call_index, c.arrival.as_ns()))
            .collect();
        k.sort_unstable();
        k
    };
    let (_, a) = run_sc(&on, 5);
    let (_, b) = run_sc(&off, 5);
    assert_eq!(key(a.clone()), key(b.clone()));
    // Patience: calls that abandoned in both variants before any ringing waited the same time
    // only if they are the same draw; compare patience directly via abandon times of callers
    // who abandoned in the queue in both runs.
    let ab = |v: &Vec<CallRecord>| -> std::collections::BTreeMap<u64, u64> {
        v.iter()
            .filter(|c| c.attempt == 1 && c.outcome == Outcome::AbandonedWaiting)
            .map(|c| (c.call_index, c.wait.as_ns()))
            .collect()
    };
    let (ma, mb) = (ab(&a), ab(&b));
    let common: Vec<_> = ma.keys().filter(|k| mb.contains_key(k)).collect();
    assert!(common.len() > 20);
    for k in common {
        assert_eq!(ma[k], mb[k], "call {k} drew a different patience");
    }
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario(dir.path(), BACKUP_TEXT);
    let (a, _) = run_sc(&sc, 5);
    let (b, _) = run_sc(&sc, 5);
    let (c, _) = run_sc(&sc, 6);
    assert_eq!(a.counts, b.counts);
    assert_eq!(a.dial_delay.sum_ns, b.dial_delay.sum_ns);
    assert_ne!(a.counts, c.counts);
}

#[test]
fn auto_backup_switches_on_under_delay_and_off_after_recovery() {
    let text = BACKUP_TEXT.replace(
        "[backup]\nwindows = [[\"12:20\", \"12:40\"]]",
        "[backup]\npolicy = \"auto\"\nauto = { on_above = \"5s\", off_below = \"1s\", min_on = \"5m\" }",
    );
    let (obs, _) = run_text(&text);
    assert!(obs.backup_switches >= 1, "the policy never switched on");
    assert!(obs.counts.backup_routed > 0);
    // Hysteresis: each stay lasts at least min_on.
    assert!(obs.backup_on_s >= 300.0 * obs.backup_switches as f64 - 1e-6);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Every offered call ends in exactly one outcome and every leg is accounted for, whatever
    /// the parameters (the model also asserts the first invariant itself at the end of a run).
    #[test]
    fn conservation_holds_for_random_scenarios(
        rate in 0.2f64..6.0,
        legs in 1u32..5,
        sequential in any::<bool>(),
        dial_rate in 1u32..15,
        burst in 1u32..10,
        channels in prop::option::of(1u32..40),
        reject in any::<bool>(),
        patience_s in prop::option::of(1u32..60),
        p_answer in 0.0f64..1.0,
        redial in any::<bool>(),
        backup in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let channels = channels.map(|c| format!("channels = {c}\n")).unwrap_or_default();
        let over = if reject { "over_limit = \"reject\"\n" } else { "max_queue_wait = \"40s\"\n" };
        let patience = patience_s.map(|p| format!("patience = {{ dist = \"exponential\", mean = \"{p}s\" }}\n")).unwrap_or_default();
        let mode = if sequential { "sequential" } else { "simulcall" };
        let redial = if redial { "[sources.s.redial]\nprobability = 0.5\ndelay = \"20s\"\nafter = [\"abandoned\", \"failed\", \"no_answer\"]\n" } else { "" };
        let backup = if backup { "[backup]\nwindows = [[\"00:05\", \"00:08\"]]\n" } else { "" };
        let text = format!(
            "start = \"00:00\"\nend = \"00:15\"\nseed = {seed}\n\
             [carriers.c]\nrate = \"{dial_rate}/s\"\nburst = {burst}\n{channels}{over}\
             [sources.s]\nrate = \"{rate:.3}/s\"\n{patience}talk_time = {{ dist = \"exponential\", mean = \"30s\" }}\n\
             [sources.s.flow]\nmode = \"{mode}\"\nlegs = {legs}\n\
             destinations = [ {{ answer_probability = {p_answer:.3}, time_to_answer = {{ dist = \"uniform\", min = \"1s\", max = \"20s\" }}, ring_timeout = \"15s\" }} ]\n\
             {redial}{backup}"
        );
        let dir = tempfile::tempdir().unwrap();
        let sc = scenario(dir.path(), &text);
        let (obs, calls) = run_sc(&sc, seed);
        let c = &obs.counts;
        prop_assert_eq!(c.offered, c.outcomes());
        prop_assert_eq!(c.unfinished, 0);
        prop_assert_eq!(calls.len() as u64, c.offered);
        prop_assert_eq!(
            c.legs_requested,
            c.legs_dialed + c.legs_rejected + c.legs_queue_full + c.legs_queue_timeout + c.legs_cancelled_queued
        );
        let tl: u64 = obs.timeline.rows.iter().map(|r| r.counts.offered).sum();
        prop_assert_eq!(tl, c.offered);
    }
}

#[test]
fn a_rate_scale_change_takes_effect_at_its_time() {
    let (obs, _) = run_text(
        "start = \"00:00\"\nend = \"01:00\"\n[carriers.c]\n[sources.s]\nrate = \"2/s\"\ntalk_time = \"1s\"\n\
         [[changes]]\nat = \"00:30\"\nset = { sources.s.rate_scale = 0.0 }\n",
    );
    let rows = &obs.timeline.rows;
    let before: u64 = rows[..30].iter().map(|r| r.counts.offered).sum();
    let after: u64 = rows[30..].iter().map(|r| r.counts.offered).sum();
    assert!(before > 3000, "{before}");
    assert_eq!(after, 0, "no arrival after the rate was scaled to zero");
}

#[test]
fn replacing_the_backup_policy_cancels_its_windows() {
    let (obs, calls) = run_text(
        "start = \"00:00\"\nend = \"01:00\"\n[carriers.c]\n[sources.s]\nrate = \"1/s\"\ntalk_time = \"1s\"\n\
         [backup]\nwindows = [[\"00:10\", \"00:20\"], [\"00:40\", \"00:50\"]]\n\
         [[changes]]\nat = \"00:30\"\nset = { backup.policy = \"off\" }\n",
    );
    assert!(obs.counts.backup_routed > 0);
    assert!(calls
        .iter()
        .filter(|c| c.backup)
        .all(|c| c.arrival.clock_hhmm().as_str() < "00:20"));
    assert!(
        (obs.backup_on_s - 600.0).abs() < 1e-9,
        "{}",
        obs.backup_on_s
    );
    assert_eq!(obs.backup_switches, 1);
}

#[test]
fn timeline_levels_carry_through_quiet_intervals() {
    // 100 legs queue at 00:00 behind a 1/min limit and nothing else happens for minutes: every
    // row still shows the queue that stood through it, and the channel held by a long call.
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 100)]);
    let text = format!(
        "start = \"00:00\"\nend = \"00:01\"\ndrain = \"10m\"\n[carriers.c]\nrate = \"1/h\"\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"1h\"\n"
    );
    let (obs, _) = run_sc(&scenario(dir.path(), &text), 1);
    let rows = &obs.timeline.rows;
    assert!(rows.len() >= 10, "{}", rows.len());
    for r in &rows[1..10] {
        assert_eq!(r.queue_len_max, 99, "{}", r.start);
        assert_eq!(r.channels_in_use_max, 1, "{}", r.start);
    }
}
