//! The loader tested in process (no binary spawned): each bad input's message names the file,
//! the line, the key and what was expected; good input is read as written.

use super::*;

const VALID: &str = r#"name = "case"
start = "09:00"
end = "09:10"

[carriers.main]
rate = "2/s"
burst = 2

[sources.callers]
rate = "1/s"

[variants.fast]
carriers.main.rate = "4/s"
"#;

fn load_text(text: &str, variant: Option<&str>, sets: &[&str]) -> Result<Scenario> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    load_str(Path::new("case.toml"), text, variant, &sets)
}

/// The error of loading `VALID` with `from` replaced by `to`, as printed.
fn err_of(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "VALID has no `{from}`");
    match load_text(&VALID.replacen(from, to, 1), None, &[]) {
        Ok(_) => panic!("`{to}` was accepted"),
        Err(e) => e.to_string(),
    }
}

fn contains_all(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "`{p}` not in: {e}");
    }
}

#[test]
fn valid_input_is_read_as_written() {
    let sc = load_text(VALID, None, &[]).unwrap();
    assert_eq!(sc.name, "case");
    assert_eq!(sc.variants, ["fast"]);
    assert_eq!(sc.model.carriers[0].name, "main");
    let fast = load_text(VALID, Some("fast"), &[]).unwrap();
    assert_eq!(fast.variant.as_deref(), Some("fast"));
    let w = load_text(VALID, None, &["windows.peak=[\"09:02\",\"09:05\"]"]).unwrap();
    assert_eq!(w.model.windows.len(), 1);
    assert_eq!(w.model.windows[0].start.clock_hhmm(), "09:02");
}

#[test]
fn errors_name_file_line_key_and_expectation() {
    contains_all(
        &err_of("burst = 2", "brust = 2"),
        &["case.toml:7", "carriers.main.brust", "did you mean `burst`"],
    );
    contains_all(
        &err_of("burst = 2", "burst = \"ten\""),
        &["case.toml:7", "carriers.main.burst"],
    );
    contains_all(
        &err_of("rate = \"2/s\"", "rate = \"-2/s\""),
        &["case.toml:6", "negative", "expected a rate >= 0"],
    );
    contains_all(
        &err_of("end = \"09:10\"", "end = \"08:10\""),
        &["end", "must end after it starts"],
    );
    contains_all(
        &err_of("end = \"09:10\"", "end = \"25:99\""),
        &["case.toml:3", "end"],
    );
    contains_all(
        &err_of("[carriers.main]", "[carriers.main"),
        &["case.toml:5", "invalid TOML"],
    );
    contains_all(
        &err_of("rate = \"1/s\"", "rate = \"1/fortnight\""),
        &["sources.callers.rate", "unknown unit"],
    );
}

#[test]
fn windows_are_checked() {
    let with = |w: &str| {
        load_text(
            &format!("{VALID}\n[windows]\n{w}\n")
                .replace("[variants.fast]\ncarriers.main.rate = \"4/s\"\n", ""),
            None,
            &[],
        )
    };
    assert!(with("peak = [\"09:02\", \"09:05\"]").is_ok());
    contains_all(
        &with("peak = [\"09:05\", \"09:02\"]")
            .unwrap_err()
            .to_string(),
        &["windows.peak", "must end after it starts"],
    );
    contains_all(
        &with("peak = [\"08:00\", \"09:02\"]")
            .unwrap_err()
            .to_string(),
        &["windows.peak", "within the run"],
    );
    contains_all(
        &with("peak = \"09:02\"").unwrap_err().to_string(),
        &["windows.peak", "pair of clock times"],
    );
    contains_all(
        &with("\"pe ak\" = [\"09:02\", \"09:05\"]")
            .unwrap_err()
            .to_string(),
        &["letters, digits"],
    );
}

#[test]
fn every_variant_is_validated_whichever_is_chosen() {
    let bad = VALID.replace(
        "carriers.main.rate = \"4/s\"",
        "carriers.main.rte = \"4/s\"",
    );
    for chosen in [None, Some("fast")] {
        let e = load_text(&bad, chosen, &[]).unwrap_err().to_string();
        contains_all(
            &e,
            &[
                "case.toml:13",
                "carriers.main.rte",
                "from variant `fast`",
                "did you mean `rate`",
            ],
        );
    }
}

#[test]
fn sets_into_variants_apply_or_are_refused() {
    let sc = load_text(VALID, Some("fast"), &["variants.fast.seed=3"]).unwrap();
    assert_eq!(sc.seed, 3);
    let base = load_text(VALID, None, &["variants.fast.seed=3"]).unwrap();
    assert_eq!(
        base.seed, DEFAULT_SEED,
        "a --set into a variant changes only that variant"
    );
    let e = load_text(VALID, None, &["variants.slow.seed=3"])
        .unwrap_err()
        .to_string();
    contains_all(
        &e,
        &["--set variants.slow.seed=3", "no variant named `slow`"],
    );
    let e = load_text(
        VALID,
        Some("fast"),
        &["variants.fast.carriers.main.rate=-1/s"],
    )
    .unwrap_err()
    .to_string();
    contains_all(&e, &["--set into variant `fast`", "negative"]);
    let e = load_text(VALID, None, &["carriers.main.rate=-1/s"])
        .unwrap_err()
        .to_string();
    contains_all(&e, &["from --set carriers.main.rate=-1/s", "negative"]);
}

#[test]
fn a_set_cannot_add_a_carrier_or_source_by_a_typo() {
    // `sources.salse` would have been a second source of calls, run without a word.
    let e = load_text(VALID, None, &["sources.salse.rate=5/s"])
        .unwrap_err()
        .to_string();
    contains_all(
        &e,
        &[
            "key `sources.salse`",
            "no source of that name",
            "its sources: ",
        ],
    );
    let e = load_text(VALID, None, &["carriers.mian.rate=5/s"])
        .unwrap_err()
        .to_string();
    contains_all(&e, &["key `carriers.mian`", "its carriers: main"]);
    // The names that exist still take a --set.
    assert!(load_text(VALID, None, &["carriers.main.rate=5/s"]).is_ok());
}

#[test]
fn a_variant_cannot_add_a_source_or_node_by_a_typo() {
    // `[variants.busy] sources.salse.rate` ran a second source beside `callers`' sibling.
    let text = VALID.replace("[sources.callers]", "[sources.sales]")
        + "\n[variants.busy]\nsources.salse.rate = \"4/s\"\n";
    let e = load_text(&text, None, &[]).unwrap_err().to_string();
    contains_all(
        &e,
        &[
            "case.toml:16",
            "variants.busy.sources.salse",
            "variant `busy`",
            "close to its source `sales`",
            "Write `sales`",
        ],
    );
    // The case and separators of a name are no difference either.
    let text = VALID.to_string() + "\n[variants.busy]\ncarriers.Main.rate = \"4/s\"\n";
    let e = load_text(&text, None, &[]).unwrap_err().to_string();
    contains_all(&e, &["variants.busy.carriers.Main", "carrier `main`"]);
    // A dependency's node: `api-bd` for `api-db`.
    let deps = "\n[dependencies.db]\nnodes.api-db = { latency = \"3ms\" }\n";
    let text = VALID.to_string()
        + deps
        + "\n[variants.slow]\ndependencies.db.nodes.api-bd.latency = \"1s\"\n";
    let e = load_text(&text, None, &[]).unwrap_err().to_string();
    contains_all(&e, &["dependencies.db.nodes.api-bd", "node `api-db`"]);
    // A name that is not a near miss, or that only numbers a second one, is an addition.
    for added in ["backup", "main2"] {
        let text = VALID.to_string()
            + &format!("\n[variants.more]\ncarriers.{added}.rate = \"4/s\"\nsources.callers.carrier = \"{added}\"\n");
        let sc = load_text(&text, Some("more"), &[]).unwrap();
        assert_eq!(sc.model.carriers.len(), 2, "{added}");
    }
}

#[test]
fn typos_are_told_from_new_names() {
    use crate::scenario::overrides::looks_like_a_typo as typo;
    for (new, old) in [
        ("salse", "sales"),
        ("carrer", "carrier"),
        ("Sales", "sales"),
        ("api_db", "api-db"),
        ("gatewya", "gateway"),
        ("primray", "primary"),
        ("agent", "agents"),
    ] {
        assert!(typo(new, old), "{new} / {old}");
    }
    for (new, old) in [
        ("backup", "primary"),
        ("carrier2", "carrier"),
        ("pool1", "pool2"),
        ("db", "lb"),
        ("east", "west2"),
        ("mobile", "landline"),
    ] {
        assert!(!typo(new, old), "{new} / {old}");
    }
}

#[test]
fn a_set_number_past_tomls_integers_says_so() {
    let e = load_text(VALID, None, &["seed=18446744073709551615"])
        .unwrap_err()
        .to_string();
    contains_all(
        &e,
        &[
            "18446744073709551615 is outside",
            "9223372036854775807",
            "--seed takes",
        ],
    );
    let e = load_text(VALID, None, &["replications=-99999999999999999999"])
        .unwrap_err()
        .to_string();
    contains_all(&e, &["-99999999999999999999 is outside"]);
    assert!(!e.contains("--seed"), "{e}");
    assert_eq!(
        load_text(VALID, None, &["seed=9223372036854775807"])
            .unwrap()
            .seed,
        i64::MAX as u64
    );
}

#[test]
fn unknown_keys_in_changes_are_named() {
    let text = format!(
        "{VALID}\n[[changes]]\natt = \"09:05\"\nset = {{ carriers.main.rate = \"3/s\" }}\n"
    );
    let e = load_text(&text, None, &[]).unwrap_err().to_string();
    contains_all(
        &e,
        &["changes[0].att", "unknown key `att`", "did you mean `at`"],
    );
    let text =
        format!("{VALID}\n[[changes]]\nat = \"09:05\"\nset = {{ carriers.main.rat = \"3/s\" }}\n");
    let e = load_text(&text, None, &[]).unwrap_err().to_string();
    contains_all(&e, &["rat", "did you mean `rate`"]);
}

#[test]
fn levers_name_known_keys_with_ranges() {
    let text = format!(
        "{VALID}\n[levers]\n\"carriers.main.rate\" = {{ min = 1, max = 8, step = 0.5, label = \"dial rate\" }}\n\"backup.policy\" = {{}}\n"
    );
    let sc = load_text(&text, None, &[]).unwrap();
    assert_eq!(sc.levers.len(), 2);
    assert_eq!(sc.levers[0].key, "carriers.main.rate");
    assert_eq!(
        (sc.levers[0].min, sc.levers[0].max, sc.levers[0].step),
        (Some(1.0), Some(8.0), Some(0.5))
    );
    let bad = |lever: &str| {
        let t = format!("{VALID}\n[levers]\n{lever}\n");
        load_text(&t, None, &[]).unwrap_err().to_string()
    };
    let e = bad("\"carriers.main.rat\" = {}");
    assert!(
        e.starts_with("case.toml:16: key `levers.carriers.main.rat`")
            && e.contains("not a scenario key"),
        "{e}"
    );
    let e = bad("\"carriers.main.rate\" = { min = 5, max = 2 }");
    assert!(e.contains("expected max > min"), "{e}");
    let e = bad("\"carriers.main.rate\" = { mn = 5 }");
    assert!(
        e.contains("unknown key `mn`") && e.contains("expected one of: label, max, min, step"),
        "{e}"
    );
    let e = bad("\"backup.policy\" = { min = 1 }");
    assert!(e.contains("min, max and step do not apply"), "{e}");
    let e = bad("\"sources.callers.flow\" = {}");
    assert!(e.contains("holds a table"), "{e}");
}

#[test]
fn carrier_cancel_queued_and_leg_retries_are_checked() {
    // Line 7 is `burst = 2` in [carriers.main]; the new key replaces it.
    contains_all(
        &err_of("burst = 2", "burst = 2\ncancel_queued = \"hang_up\""),
        &[
            "case.toml:8:",
            "key `carriers.main.cancel_queued`",
            "withdraw",
            "dial_and_hang_up",
        ],
    );
    contains_all(
        &err_of(
            "burst = 2",
            "burst = 2\nover_limit = \"reject\"\ncancel_queued = \"withdraw\"",
        ),
        &[
            "case.toml:9:",
            "key `carriers.main.cancel_queued`",
            "applies only with over_limit = \"queue\"",
        ],
    );
    contains_all(
        &err_of("burst = 2", "burst = 2\nretries = 3"),
        &[
            "case.toml:8:",
            "key `carriers.main.retries`",
            "applies only with over_limit = \"reject\"",
        ],
    );
    contains_all(
        &err_of(
            "burst = 2",
            "burst = 2\nover_limit = \"reject\"\nretries = 101",
        ),
        &[
            "case.toml:9:",
            "key `carriers.main.retries`",
            "more than the 100 allowed",
        ],
    );
    contains_all(
        &err_of(
            "burst = 2",
            "burst = 2\nover_limit = \"reject\"\nretries = 2\nbackoff_multiplier = 0.5",
        ),
        &[
            "case.toml:10:",
            "key `carriers.main.backoff_multiplier`",
            "between 1 and 10, found 0.5",
        ],
    );
    contains_all(
        &err_of(
            "burst = 2",
            "burst = 2\nover_limit = \"reject\"\nretries = 2\nbackoff = \"-1s\"",
        ),
        &["case.toml:10:", "key `carriers.main.backoff`"],
    );
    let ok = VALID.replacen(
        "burst = 2",
        "burst = 2\nover_limit = \"reject\"\nretries = 3\nbackoff = \"1s\"",
        1,
    );
    let sc = load_text(&ok, None, &[]).unwrap();
    let r = sc.model.carriers[0].leg_retry.as_ref().expect("retries");
    assert_eq!((r.retries, r.backoff_multiplier), (3, 2.0));
    let ok = VALID.replacen(
        "burst = 2",
        "burst = 2\ncancel_queued = \"dial_and_hang_up\"",
        1,
    );
    let sc = load_text(&ok, None, &[]).unwrap();
    assert!(sc.model.carriers[0].dials_cancelled_legs());
    // The default withdraws, and a scenario without the settings reports neither metric.
    let sc = load_text(VALID, None, &[]).unwrap();
    assert!(!sc.model.carriers[0].dials_cancelled_legs());
    assert!(sc.model.carriers[0].leg_retry.is_none());
    let cols: Vec<String> = crate::metrics::columns(&sc.model)
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(!cols
        .iter()
        .any(|c| c == "legs_dialed_wasted" || c == "legs_retried"));
    // A variant or a change that turns a setting on brings its columns.
    let sc = load_text(
        VALID,
        None,
        &["carriers.main.cancel_queued=dial_and_hang_up"],
    )
    .unwrap();
    assert!(crate::metrics::shown("legs_dialed_wasted", &sc.model));
    assert!(!crate::metrics::shown("legs_retried", &sc.model));
}

/// `VALID` with two scheduled changes and two destinations, for `--set` with array indices.
fn with_changes() -> String {
    format!(
        "{VALID}\n[sources.callers.flow]\nlegs = 2\n\
         destinations = [ {{ ring_timeout = \"20s\" }}, {{ ring_timeout = \"30s\" }} ]\n\
         [[changes]]\nat = \"09:02\"\nset = {{ carriers.main.rate = \"3/s\" }}\n\
         [[changes]]\nat = \"09:04\"\nset = {{ carriers.main.rate = \"5/s\" }}\n"
    )
}

fn change_rate(sc: &Scenario, i: usize) -> (SimTime, LimiterSpec) {
    let ch = &sc.model.changes[i];
    match &ch.kind {
        crate::model::config::ChangeKind::Carrier(_, c) => (ch.at, c.limiter.clone()),
        _ => panic!("not a carrier change"),
    }
}

#[test]
fn set_addresses_array_elements_by_index() {
    let text = with_changes();
    let base = load_text(&text, None, &[]).unwrap();
    let (at, rate) = change_rate(&base, 1);
    assert_eq!(at, parse_clock("09:04").unwrap());
    // The second change moves; the first and the rate it sets stay.
    let sc = load_text(&text, None, &["changes[1].at=09:07"]).unwrap();
    assert_eq!(
        change_rate(&sc, 1),
        (parse_clock("09:07").unwrap(), rate.clone())
    );
    assert_eq!(change_rate(&sc, 0), change_rate(&base, 0));
    // What a change sets, inside its `set` table; its `at` stays.
    let sc = load_text(&text, None, &["changes[1].set.carriers.main.rate=7/s"]).unwrap();
    let (at, seven) = change_rate(&sc, 1);
    assert_eq!(at, parse_clock("09:04").unwrap());
    assert_ne!(seven, rate);
    // One destination of a flow; the other keeps its value.
    let sc = load_text(
        &text,
        None,
        &["sources.callers.flow.destinations[1].ring_timeout=45s"],
    )
    .unwrap();
    let d = &sc.model.sources[0].behaviour.flow.destinations;
    assert_eq!(d[0].ring_timeout, SimDuration::from_secs(20));
    assert_eq!(d[1].ring_timeout, SimDuration::from_secs(45));
    // A variant's copy of the array, through --set into the variant.
    let text = format!(
        "{}\n[variants.late]\nchanges = [ {{ at = \"09:08\", set = {{ carriers.main.rate = \"9/s\" }} }} ]\n",
        with_changes()
    );
    let sc = load_text(&text, Some("late"), &["variants.late.changes[0].at=09:09"]).unwrap();
    assert_eq!(sc.model.changes.len(), 1);
    assert_eq!(sc.model.changes[0].at, parse_clock("09:09").unwrap());
}

#[test]
fn set_with_a_bad_index_names_the_key_and_what_exists() {
    let text = with_changes();
    let e = load_text(&text, None, &["changes[2].at=09:05"])
        .unwrap_err()
        .to_string();
    contains_all(
        &e,
        &[
            "key `changes[2]`",
            "from --set changes[2].at=09:05",
            "no element 2 in `changes`",
            "it has 2, changes[0] to changes[1]",
        ],
    );
    let e = load_text(VALID, None, &["changes[0].at=09:05"])
        .unwrap_err()
        .to_string();
    contains_all(
        &e,
        &[
            "key `changes` (from --set changes[0].at=09:05)",
            "`changes` is indexed, but the scenario has no `changes`",
        ],
    );
    let e = load_text(&text, None, &["carriers[0].rate=1/s"])
        .unwrap_err()
        .to_string();
    contains_all(&e, &["key `carriers[0]`", "`carriers` is not an array"]);
    for bad in [
        "changes[x].at=1",
        "changes[].at=1",
        "changes[1.at=1",
        "[1].at=1",
        "changes]1[.at=1",
    ] {
        let e = load_text(&text, None, &[bad]).unwrap_err().to_string();
        contains_all(&e, &[&format!("bad --set `{bad}`")]);
    }
    // An element's value is still validated as the key it is, with the --set as its origin.
    let e = load_text(&text, None, &["changes[0].at=25:99"])
        .unwrap_err()
        .to_string();
    contains_all(&e, &["changes[0].at", "from --set changes[0].at=25:99"]);
    // Every variant is loaded with the --set: a variant whose list is shorter is named.
    let text = format!(
        "{text}\n[variants.one]\nchanges = [ {{ at = \"09:08\", set = {{ carriers.main.rate = \"9/s\" }} }} ]\n"
    );
    let e = load_text(&text, None, &["changes[1].at=09:05"])
        .unwrap_err()
        .to_string();
    contains_all(&e, &["applied to variant `one`", "it has one, changes[0]"]);
    let e = load_text(&text, None, &["variants.one.changes[3].at=09:05"])
        .unwrap_err()
        .to_string();
    contains_all(&e, &["no element 3 in `variants.one.changes`"]);
}
