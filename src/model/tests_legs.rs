//! Carrier settings for legs: queued legs that cannot be withdrawn (`cancel_queued =
//! "dial_and_hang_up"`) and the platform's retries of legs a carrier rejected (`retries`,
//! `backoff`, `backoff_multiplier` on the carrier). Exact counts on tiny deterministic
//! scenarios, and a paired property against `withdraw`.

use super::obs::Observations;
use super::tests::{run_sc, scenario, trace};
use super::CallRecord;
use proptest::prelude::*;
use std::collections::HashMap;

/// Five one-leg calls at 00:00:00 and one at 00:00:03 through 1 token/s (burst 1); legs answer
/// the moment they ring; callers wait 2.5 s. Calls 0-2 dial at 0, 1 and 2 s; calls 3 and 4 are
/// still queued when their callers hang up at 2.5 s.
fn two_abandoned_in_queue(cancel: &str) -> (Observations, Vec<CallRecord>) {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 5), ("00:00:03", 1)]);
    let text = format!(
        "start = \"00:00\"\nend = \"00:01\"\n\
         [carriers.c]\nrate = \"1/s\"\ncancel_queued = \"{cancel}\"\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\npatience = \"2.5s\"\ntalk_time = \"10s\"\n"
    );
    run_sc(&scenario(dir.path(), &text), 1)
}

#[test]
fn wasted_dials_equal_the_queued_legs_of_ended_calls() {
    // withdraw: the two queued legs leave at 2.5 s; the sixth call dials at once at 3 s.
    let (w, wc) = two_abandoned_in_queue("withdraw");
    assert_eq!(w.counts.abandoned_waiting, 2);
    assert_eq!(w.counts.legs_cancelled_queued, 2);
    assert_eq!(w.counts.legs_dialed_wasted, 0);
    assert_eq!(w.counts.legs_dialed, 4);
    // dial_and_hang_up: the same two legs stay, take the tokens of 3 s and 4 s and are hung up;
    // the sixth call waits behind them and dials at 5 s.
    let (d, dc) = two_abandoned_in_queue("dial_and_hang_up");
    assert_eq!(d.counts.abandoned_waiting, 2);
    assert_eq!(d.counts.legs_cancelled_queued, 0);
    assert_eq!(
        d.counts.legs_dialed_wasted, w.counts.legs_cancelled_queued,
        "one wasted dial per leg queued when its call ended"
    );
    assert_eq!(d.counts.legs_dialed, 6);
    assert_eq!(d.counts.connected, 4);
    let pdd = |calls: &[CallRecord]| -> Vec<Option<u64>> {
        let mut v: Vec<_> = calls
            .iter()
            .map(|c| (c.call_index, c.pdd.map(|p| p.as_ns() / 1_000_000)))
            .collect();
        v.sort();
        v.into_iter().map(|x| x.1).collect()
    };
    assert_eq!(
        pdd(&wc),
        vec![Some(0), Some(1000), Some(2000), None, None, Some(0)]
    );
    assert_eq!(
        pdd(&dc),
        vec![Some(0), Some(1000), Some(2000), None, None, Some(2000)]
    );
    // No channel is held by a wasted dial, and nothing is left over.
    assert_eq!(d.counts.legs_cancelled_ringing, 0);
    let wasted_rows: Vec<u64> = d
        .timeline
        .rows
        .iter()
        .map(|r| r.counts.legs_dialed_wasted)
        .collect();
    assert_eq!(
        wasted_rows.iter().sum::<u64>(),
        2,
        "the timeline counts them"
    );
}

/// Three one-leg calls at the same instant through 1 token/s (burst 1) that rejects: with
/// `retries` fixed 1 s apart, call 1 retries once (dials at 1 s), call 2 twice (rejected at 1 s,
/// dials at 2 s).
fn three_at_once(retries: u32, extra: &str) -> (Observations, Vec<CallRecord>) {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 3)]);
    let text = format!(
        "start = \"00:00\"\nend = \"00:01\"\n\
         [carriers.c]\nrate = \"1/s\"\nover_limit = \"reject\"\nreject_code = 429\n\
         retries = {retries}\nbackoff = \"1s\"\nbackoff_multiplier = 1.0\n{extra}\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\ntalk_time = \"10s\"\n"
    );
    run_sc(&scenario(dir.path(), &text), 1)
}

#[test]
fn rejected_legs_are_retried_exactly() {
    let (o, calls) = three_at_once(3, "");
    let c = &o.counts;
    assert_eq!(c.legs_requested, 3);
    assert_eq!(c.legs_retried, 3, "call 1 once, call 2 twice");
    assert_eq!(c.legs_rejected, 3, "2 at 0 s, 1 at 1 s");
    assert_eq!((c.legs_gave_up, c.legs_cancelled_backoff), (0, 0));
    assert_eq!((c.legs_dialed, c.connected, c.failed), (3, 3, 0));
    let mut pdd: Vec<u64> = calls
        .iter()
        .map(|r| r.pdd.unwrap().as_ns() / 1_000_000)
        .collect();
    pdd.sort();
    assert_eq!(
        pdd,
        vec![0, 1000, 2000],
        "dial delay counts from the first request"
    );
}

#[test]
fn a_leg_gives_up_after_its_last_retry() {
    // One retry each: at 1 s call 1 gets the token, call 2 is rejected a second time and fails.
    let (o, calls) = three_at_once(1, "");
    let c = &o.counts;
    assert_eq!((c.legs_retried, c.legs_rejected, c.legs_gave_up), (2, 3, 1));
    assert_eq!((c.legs_dialed, c.connected, c.failed), (2, 2, 1));
    let failed: Vec<_> = calls.iter().filter_map(|r| r.failure_code).collect();
    assert_eq!(failed, vec![429]);
    // Without retries every rejection is a give-up, as before the setting existed.
    let (o, _) = three_at_once(0, "");
    let c = &o.counts;
    assert_eq!((c.legs_retried, c.legs_rejected, c.legs_gave_up), (0, 2, 2));
    assert_eq!((c.legs_dialed, c.failed), (1, 2));
}

#[test]
fn a_leg_waiting_for_its_retry_is_dropped_when_its_caller_hangs_up() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(dir.path(), &[("00:00:00", 2)]);
    let text = format!(
        "start = \"00:00\"\nend = \"00:01\"\n\
         [carriers.c]\nrate = \"1/s\"\nover_limit = \"reject\"\nretries = 5\nbackoff = \"10s\"\n\
         [sources.s]\ntrace = {{ file = \"{t}\" }}\npatience = \"3s\"\ntalk_time = \"10s\"\n"
    );
    let (o, _) = run_sc(&scenario(dir.path(), &text), 1);
    let c = &o.counts;
    assert_eq!(
        (c.legs_rejected, c.legs_retried, c.legs_cancelled_backoff),
        (1, 0, 1)
    );
    assert_eq!((c.connected, c.abandoned_waiting), (1, 1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    /// Paired runs (same seed, same callers): when queued legs cannot be withdrawn, no call
    /// rings earlier than when they can, and a call that rang rang in both. (The queue holds a
    /// superset of legs in the same FIFO order, and each takes a token.) With `withdraw` nothing
    /// is wasted; with `dial_and_hang_up` nothing is withdrawn.
    #[test]
    fn unwithdrawable_legs_never_shorten_another_calls_wait(
        rate in 0.5f64..6.0,
        legs in 1u32..4,
        dial_rate in 1u32..8,
        burst in 1u32..5,
        patience_s in 1u32..40,
        p_answer in 0.0f64..1.0,
        seed in 0u64..1000,
    ) {
        let text = |cancel: &str| format!(
            "start = \"00:00\"\nend = \"00:10\"\nseed = {seed}\n\
             [carriers.c]\nrate = \"{dial_rate}/s\"\nburst = {burst}\ncancel_queued = \"{cancel}\"\n\
             [sources.s]\nrate = \"{rate:.3}/s\"\npatience = {{ dist = \"exponential\", mean = \"{patience_s}s\" }}\n\
             talk_time = {{ dist = \"exponential\", mean = \"30s\" }}\n\
             [sources.s.flow]\nlegs = {legs}\n\
             destinations = [ {{ answer_probability = {p_answer:.3}, time_to_answer = {{ dist = \"uniform\", min = \"0\", max = \"20s\" }}, ring_timeout = \"15s\" }} ]\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let (w, wc) = run_sc(&scenario(dir.path(), &text("withdraw")), seed);
        let (d, dc) = run_sc(&scenario(dir.path(), &text("dial_and_hang_up")), seed);
        prop_assert_eq!(w.counts.legs_dialed_wasted, 0);
        prop_assert_eq!(d.counts.legs_cancelled_queued, 0);
        prop_assert_eq!(w.counts.offered, d.counts.offered);
        let first_ring: HashMap<u64, Option<u64>> =
            wc.iter().map(|c| (c.call_index, c.pdd.map(|p| p.as_ns()))).collect();
        for c in &dc {
            let before = first_ring[&c.call_index];
            if let Some(p) = c.pdd.map(|p| p.as_ns()) {
                let b = before.expect("a call that rang with dial_and_hang_up rang with withdraw");
                prop_assert!(p >= b, "call {} rang after {p} ns, {b} ns with withdraw", c.call_index);
            }
        }
    }
}
