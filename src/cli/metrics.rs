//! `callsim metrics`: the metrics a run reports (the registry in `metrics.rs`), by name, unit,
//! whether it exists per window, and meaning; with a scenario, the exact column names that
//! scenario's summary, compare, sweep and plan outputs have (its windows and its per-tenant and
//! per-stage figures included), which `--target`, `--metric` and `[[alerts]]` accept.

use super::{say, CliError};
use crate::scenario::load;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  callsim metrics
  callsim metrics --markdown
  callsim metrics scenarios/easycallnow-2015-07-22.toml")]
pub struct MetricsArgs {
    /// A scenario: list the metric names its outputs have (windows, tenants and stages included).
    pub scenario: Option<std::path::PathBuf>,
    /// Override any scenario key, e.g. --set carriers.trunk.retries=2 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the registry as a Markdown table (as in docs/outputs.md).
    #[arg(long, conflicts_with = "scenario")]
    pub markdown: bool,
}

pub fn run(a: MetricsArgs) -> Result<(), CliError> {
    if a.markdown {
        say(&crate::metrics::markdown_table());
        return Ok(());
    }
    let Some(path) = &a.scenario else {
        say(&registry_text());
        return Ok(());
    };
    let sc = load(path, None, &a.sets)?;
    let cols = crate::metrics::columns(&sc.model);
    let mut s = format!(
        "{} metrics in the outputs of {}:\n",
        cols.len(),
        path.display()
    );
    for c in &cols {
        s += &format!("  {:<40} {}\n", c.name, c.def().unit);
    }
    let extra = crate::stats::detail_names(&sc.model);
    if !extra.is_empty() {
        s += &format!("{} per tenant and stage:\n", extra.len());
        for e in &extra {
            s += &format!("  {e}\n");
        }
    }
    let alerts = crate::alerts::value_names(&sc.model.alerts);
    if !alerts.is_empty() {
        s += &format!("{} per alert rule:\n", alerts.len());
        for e in &alerts {
            s += &format!("  {e}\n");
        }
    }
    say(&s);
    Ok(())
}

/// Every metric: name, unit, per window or not, and its meaning on the next line.
fn registry_text() -> String {
    let mut s =
        String::from("metric                                   unit    per window\n  meaning\n\n");
    for d in crate::metrics::registry() {
        s += &format!(
            "{:<40} {:<7} {}\n  {}\n",
            d.name,
            d.unit,
            if d.per_window() { "yes" } else { "no" },
            d.description.trim()
        );
    }
    s += "\nA scenario's `[windows]` add `metric@window` for every metric with a value per window;\n\
          `callsim metrics SCENARIO` lists the names a given scenario's outputs have, with its\n\
          per-tenant and per-stage figures.\n";
    s
}
