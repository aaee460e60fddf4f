//! `callsim check`: load and validate a scenario and every variant; print what was understood.

use super::CliError;
use crate::dist::RateProfile;
use crate::model::config::*;
use crate::scenario::{load, Scenario};

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario file (TOML).
    pub scenario: std::path::PathBuf,
    /// Override any scenario key, e.g. --set carriers.carrier.rate=30/s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

pub fn run(a: CheckArgs) -> Result<(), CliError> {
    let sc = load(&a.scenario, None, &a.sets)?;
    print!("{}", describe(&sc));
    for v in &sc.variants {
        let vs = load(&a.scenario, Some(v), &a.sets)?;
        println!(
            "variant `{v}`: ok ({} scheduled changes)",
            vs.model.changes.len()
        );
    }
    println!("{}: ok", a.scenario.display());
    Ok(())
}

/// A plain-words description of a loaded scenario.
pub fn describe(sc: &Scenario) -> String {
    let m = &sc.model;
    let mut s = format!(
        "scenario: {}\n  {} to {} (drain up to {}), seed {}, {} replication(s)\n",
        sc.name,
        m.start.clock_hhmm(),
        m.end.clock_hhmm(),
        m.drain,
        sc.seed,
        sc.replications
    );
    for src in &m.sources {
        let b = &src.behaviour;
        let arrivals = match &src.arrivals {
            ArrivalSpec::Profile(p) => {
                let expected = expected_calls(p, m) * b.rate_scale;
                let peak = p.points.iter().map(|x| x.1).fold(0.0, f64::max) * b.rate_scale;
                format!("Poisson, peak {peak:.2}/s, about {expected:.0} calls expected")
            }
            ArrivalSpec::Trace(t) => format!("trace {} ({} rows)", t.path.display(), t.rows),
        };
        s += &format!(
            "  source {}: {arrivals}; {:?} of {:.2} legs on average via carrier {}\n",
            src.name,
            b.flow.mode,
            b.flow.legs.mean(),
            m.carriers[b.carrier].name
        );
    }
    for c in &m.carriers {
        s += &format!(
            "  carrier {}: {:?}, channels {:?}, over limit {:?}\n",
            c.name, c.limiter, c.channels, c.over_limit
        );
    }
    s += &format!("  backup routing: {:?}\n", m.backup.policy);
    for ch in &m.changes {
        s += &format!("  change at {}\n", ch.label);
    }
    s
}

fn expected_calls(p: &RateProfile, m: &ModelConfig) -> f64 {
    p.integral(m.start.as_secs_f64(), m.end.as_secs_f64())
}
