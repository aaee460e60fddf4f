//! Simulates one replication of a scenario and writes its calls as call detail records, for
//! trying `callsim fit` (docs/fit.md). Leg rows are synthesised as src/fit/synth.rs describes
//! (simulcall, one destination, no carrier limit).
//!
//! cargo run --release --example make_cdrs -- SCENARIO FORMAT OUT [SEED]
//! FORMAT: asterisk | freeswitch | twilio | csv. Rows are written as calls end (constant memory).

use callsim::fit::read::Format;
use callsim::fit::synth::{CdrSink, SynthOptions};
use std::path::PathBuf;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 3 {
        eprintln!("usage: make_cdrs SCENARIO FORMAT OUT [SEED]");
        std::process::exit(2);
    }
    if let Err(e) = run(&a) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run(a: &[String]) -> Result<(), String> {
    let sc =
        callsim::scenario::load(&PathBuf::from(&a[0]), None, &[]).map_err(|e| e.to_string())?;
    let fmt = Format::parse(&a[1])?;
    let out = PathBuf::from(&a[2]);
    let seed = a
        .get(3)
        .map(|s| s.parse::<u64>().map_err(|e| e.to_string()))
        .transpose()?
        .unwrap_or(sc.seed);
    let ring = sc.model.sources[0]
        .behaviour
        .flow
        .destinations
        .first()
        .map_or(30.0, |d| d.ring_timeout.as_secs_f64());
    let o = SynthOptions {
        day: 20514,
        ring_timeout_s: ring,
        seed,
    };
    let opts = callsim::run::RunOptions {
        seed,
        replications: 1,
        threads: 1,
        progress: false,
        label: "make_cdrs".into(),
        timeline: false,
    };
    let sink = move |_| {
        CdrSink::create(&out, fmt, o)
            .map(|s| Some(Box::new(s) as Box<dyn callsim::model::CallSink + Send>))
            .map_err(callsim::error::Error::Failed)
    };
    let r = callsim::run::run_replications(&sc, &opts, &sink).map_err(|e| e.to_string())?;
    let c = &r[0].obs.counts;
    eprintln!(
        "{} calls offered, {} connected, {} abandoned",
        c.offered,
        c.connected,
        c.abandoned()
    );
    Ok(())
}
