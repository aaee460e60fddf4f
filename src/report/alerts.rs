//! Alert rules in the report of a run: from `alerts.csv`, each rule's first firing (mean clock
//! time with its 95% CI over the replications where it fired, and how many did) as rows of the
//! headline table, and a dashed vertical marker on every time chart at the mean first firing of
//! each rule that fired in at least half the replications.

use super::charts::{hhmm, Marker};
use super::table::Table;
use super::Error;
use super::Headline;
use crate::stats::estimate;
use std::path::Path;

/// One rule's first firings over the replications.
pub struct RuleSummary {
    pub name: String,
    pub replications: usize,
    /// Clock time (seconds since midnight) of the first firing, per replication where it fired.
    pub first: Vec<f64>,
}

/// The rules of `DIR/alerts.csv`, in file order (none without the file).
pub fn read(dir: &Path) -> Result<Vec<RuleSummary>, Error> {
    let p = dir.join("alerts.csv");
    if !p.is_file() {
        return Ok(Vec::new());
    }
    let t = Table::read(
        &p,
        &["replication", "rule", "firing", "fired_at"],
        "alerts.csv of `callsim run --out`",
    )?;
    let (rep, rule, firing, at) = (
        t.col("replication")?,
        t.col("rule")?,
        t.col("firing")?,
        t.col("fired_at")?,
    );
    let mut out: Vec<(RuleSummary, Vec<String>)> = Vec::new();
    for i in 0..t.rows.len() {
        let name = t.text(i, rule).to_string();
        let k = match out.iter().position(|(r, _)| r.name == name) {
            Some(k) => k,
            None => {
                out.push((
                    RuleSummary {
                        name,
                        replications: 0,
                        first: Vec::new(),
                    },
                    Vec::new(),
                ));
                out.len() - 1
            }
        };
        let (r, seen) = &mut out[k];
        let rep_id = t.text(i, rep).to_string();
        if !seen.contains(&rep_id) {
            seen.push(rep_id);
            r.replications += 1;
        }
        if t.text(i, firing) == "1" {
            let c = crate::time::parse_clock(t.text(i, at)).map_err(|m| {
                Error::Input(format!("`{}`: row {}: fired_at: {m}", p.display(), i + 2))
            })?;
            r.first.push(c.as_secs_f64());
        }
    }
    Ok(out.into_iter().map(|(r, _)| r).collect())
}

/// Headline rows: "alert NAME first fired (k/n replications)", mean clock time and its CI.
pub fn headlines(rules: &[RuleSummary]) -> Vec<Headline> {
    rules
        .iter()
        .map(|r| {
            let e = estimate(&r.first, 0.95);
            let label = format!(
                "alert `{}` first fired (in {}/{} replications)",
                r.name,
                r.first.len(),
                r.replications
            );
            if r.first.is_empty() {
                return Headline {
                    label,
                    value: "never".into(),
                    ci: String::new(),
                };
            }
            let ci = if e.half_width.is_nan() {
                String::new()
            } else {
                format!("[{}, {}]", clock(e.low()), clock(e.high()))
            };
            Headline {
                label,
                value: clock(e.mean),
                ci,
            }
        })
        .collect()
}

/// Markers at the mean first firing of the rules that fired in at least half the replications.
pub fn markers(rules: &[RuleSummary]) -> Vec<Marker> {
    rules
        .iter()
        .filter(|r| !r.first.is_empty() && 2 * r.first.len() >= r.replications)
        .map(|r| {
            let at = estimate(&r.first, 0.95).mean;
            Marker {
                at,
                label: format!("{} alert `{}` fires (mean)", hhmm(at), r.name),
            }
        })
        .collect()
}

fn clock(t_s: f64) -> String {
    crate::time::SimTime::from_secs_f64(t_s.max(0.0)).clock_hhmmss()
}
