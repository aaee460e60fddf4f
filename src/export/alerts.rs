//! `alerts.csv`: each alert rule's firings per replication (docs/outputs.md). One row per
//! firing; a rule that never fired in a replication gets one row with `firing` 0 and empty
//! times, so every (replication, rule) pair appears.

use super::{csv_err, num};
use crate::model::config::ModelConfig;
use crate::run::ReplicationResult;
use crate::time::SimTime;
use std::io::Write;

pub const HEADER: &[&str] = &[
    "variant",
    "replication",
    "rule",
    "metric",
    "firing",
    "fired_at",
    "fired_s",
    "resolved_at",
    "resolved_s",
];

/// Writes the header and the rows of `results` (nothing when the scenario has no rules).
pub fn write_alerts(
    w: impl Write,
    results: &[ReplicationResult],
    m: &ModelConfig,
    variant: &str,
) -> Result<(), String> {
    if m.alerts.is_empty() {
        return Ok(());
    }
    let mut wr = csv::Writer::from_writer(w);
    wr.write_record(HEADER).map_err(csv_err)?;
    let clock = |t: SimTime| t.clock_hhmmss();
    let secs = |t: SimTime| num(t.since(m.start).as_secs_f64());
    for r in results {
        let states = r
            .obs
            .timeline
            .alerts
            .as_ref()
            .map(|a| a.states.as_slice())
            .unwrap_or_default();
        for (i, rule) in m.alerts.iter().enumerate() {
            let head = [
                variant.to_string(),
                r.replication.to_string(),
                rule.name.clone(),
                rule.metric_name().to_string(),
            ];
            let firings = states
                .get(i)
                .map(|s| s.firings.as_slice())
                .unwrap_or_default();
            if firings.is_empty() {
                let mut rec = head.to_vec();
                rec.extend([
                    "0".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                wr.write_record(&rec).map_err(csv_err)?;
            }
            for (k, f) in firings.iter().enumerate() {
                let mut rec = head.to_vec();
                rec.extend([
                    (k + 1).to_string(),
                    clock(f.fired),
                    secs(f.fired),
                    f.resolved.map(clock).unwrap_or_default(),
                    f.resolved.map(secs).unwrap_or_default(),
                ]);
                wr.write_record(&rec).map_err(csv_err)?;
            }
        }
    }
    wr.flush().map_err(csv_err)
}
