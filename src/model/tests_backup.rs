//! Backup routing per source (`[backup.sources.NAME]`): each source's policy has its own
//! state, a call is backup-routed while the platform's or its source's policy is on, changes
//! touch only the policy they set, and an automatic per-source policy watches its own legs.
//! Exact on small scenarios: which calls were routed follows from the windows alone.

use super::obs::Observations;
use super::tests::{load_error, run_sc, scenario};
use super::CallRecord;
use crate::scenario::load_str;

/// Two call sources `a` and `b`, 1 call/s each, on one carrier without limits, for an hour.
const TWO_SOURCES: &str = "start = \"00:00\"\nend = \"01:00\"\n[carriers.c]\n\
    [sources.a]\nrate = \"1/s\"\ntalk_time = \"1s\"\n\
    [sources.b]\nrate = \"1/s\"\ntalk_time = \"1s\"\n";

fn run(extra: &str) -> (Observations, Vec<CallRecord>) {
    let dir = tempfile::tempdir().unwrap();
    run_sc(&scenario(dir.path(), &format!("{TWO_SOURCES}{extra}")), 3)
}

/// Minutes since 00:00 of a call's arrival, as a fraction.
fn minute(c: &CallRecord) -> f64 {
    c.arrival.as_secs_f64() / 60.0
}

fn within(m: f64, spans: &[(f64, f64)]) -> bool {
    spans.iter().any(|&(a, b)| a <= m && m < b)
}

/// Every call's routing is the one the spans say, per source (0 = a, 1 = b); returns the
/// number of calls routed.
fn assert_routed(calls: &[CallRecord], spans: [&[(f64, f64)]; 2]) -> u64 {
    assert!(calls.len() > 7000, "{} calls", calls.len());
    let mut routed = 0;
    for c in calls {
        let want = within(minute(c), spans[c.source]);
        assert_eq!(
            c.backup,
            want,
            "source {} call at minute {:.3}",
            c.source,
            minute(c)
        );
        routed += u64::from(c.backup);
    }
    routed
}

#[test]
fn a_source_policy_routes_only_its_own_calls_and_the_platform_switch_stays() {
    let (obs, calls) = run(
        "[backup]\nwindows = [[\"00:15\", \"00:25\"], [\"00:40\", \"00:45\"]]\n\
         [backup.sources.a]\nwindows = [[\"00:10\", \"00:20\"]]\n",
    );
    let routed = assert_routed(
        &calls,
        [&[(10.0, 25.0), (40.0, 45.0)], &[(15.0, 25.0), (40.0, 45.0)]],
    );
    assert_eq!(obs.counts.backup_routed, routed);
    // Some policy was on during [10, 25) and [40, 45): 20 minutes in two stretches.
    assert!(
        (obs.backup_on_s - 1200.0).abs() < 1e-9,
        "{}",
        obs.backup_on_s
    );
    assert_eq!(obs.backup_switches, 2);
    // Per source, the counts add up to the calls routed.
    let per: Vec<u64> = obs
        .per_source
        .iter()
        .map(|s| s.total.backup_routed)
        .collect();
    assert_eq!(per.iter().sum::<u64>(), routed);
    assert!(per[0] > per[1], "{per:?}");
}

#[test]
fn a_change_to_one_policy_leaves_the_others_running() {
    let (obs, calls) = run("[backup.sources.a]\nwindows = [[\"00:10\", \"00:50\"]]\n\
         [backup.sources.b]\nwindows = [[\"00:10\", \"00:50\"]]\n\
         [[changes]]\nat = \"00:30\"\nset = { backup.sources.a.policy = \"off\" }\n\
         [[changes]]\nat = \"00:35\"\nset = { backup.policy = \"off\" }\n");
    assert_routed(&calls, [&[(10.0, 30.0)], &[(10.0, 50.0)]]);
    assert!(
        (obs.backup_on_s - 2400.0).abs() < 1e-9,
        "{}",
        obs.backup_on_s
    );
    assert_eq!(obs.backup_switches, 1);
}

/// Source `a` dials through a carrier it overloads (2 calls/s against 1 dial/s); `b` through
/// one without limits. `backup` is the policy text.
fn overloaded_a(backup: &str) -> Vec<CallRecord> {
    let text = format!(
        "start = \"00:00\"\nend = \"00:40\"\n\
         [carriers.slow]\nrate = \"1/s\"\nburst = 1\n[carriers.fast]\n\
         [sources.a]\nrate = \"2/s\"\ncarrier = \"slow\"\ntalk_time = \"1s\"\n\
         [sources.b]\nrate = \"2/s\"\ncarrier = \"fast\"\ntalk_time = \"1s\"\n{backup}"
    );
    let dir = tempfile::tempdir().unwrap();
    run_sc(&scenario(dir.path(), &text), 7).1
}

fn routed_per_source(calls: &[CallRecord]) -> [usize; 2] {
    let mut n = [0; 2];
    for c in calls.iter().filter(|c| c.backup) {
        n[c.source] += 1;
    }
    n
}

#[test]
fn a_source_auto_policy_watches_only_its_own_legs() {
    for metric in ["dial_delay_p95", "oldest_wait"] {
        let auto = format!(
            "auto = {{ metric = \"{metric}\", on_above = \"5s\", off_below = \"1s\", min_on = \"5m\" }}\n"
        );
        // Each source with its own automatic policy: only a's queue grows, so only a switches.
        let own = overloaded_a(&format!(
            "[backup.sources.a]\n{auto}[backup.sources.b]\n{auto}"
        ));
        let n = routed_per_source(&own);
        assert!(
            n[0] > 100 && n[1] == 0,
            "{metric}, per-source policies: {n:?}"
        );
        // The same policy platform-wide sees a's queue too and routes b's calls with a's.
        let wide = overloaded_a(&format!("[backup]\n{auto}"));
        let n = routed_per_source(&wide);
        assert!(n[0] > 100 && n[1] > 100, "{metric}, platform-wide: {n:?}");
    }
}

#[test]
fn per_source_policies_name_call_sources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    let err = |extra: &str| load_error(&path, &format!("{TWO_SOURCES}{extra}"));
    let e = err("[backup.sources.z]\npolicy = \"off\"\n");
    assert!(
        e.contains("backup.sources.z") && e.contains("no source named `z`; sources: a, b"),
        "{e}"
    );
    let e = err("[backup.sources.a]\nwindows = [[\"00:20\", \"00:10\"]]\n");
    assert!(
        e.contains("backup.sources.a.windows[0]") && e.contains("must end after it starts"),
        "{e}"
    );
    let e = err("[backup.sources.a]\nsources = {}\n");
    assert!(e.contains("backup.sources.a.sources"), "{e}");
    let e = err("[[changes]]\nat = \"00:10\"\nset = { backup.sources.z.policy = \"off\" }\n");
    assert!(e.contains("no source named `z`"), "{e}");
    let requests = "start = \"00:00\"\nend = \"00:01\"\n[stages.api]\nsessions = 10\n\
        service_time = \"1s\"\n[sources.r]\nkind = \"request\"\nrate = \"1/s\"\nstages = [\"api\"]\n\
        [backup.sources.r]\npolicy = \"off\"\n";
    let e = load_str(&path, requests, None, &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("backup.sources.r") && e.contains("API requests"),
        "{e}"
    );
}
