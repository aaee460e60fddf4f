//! What the charts need from the scenario itself, re-loaded from the path in manifest.json
//! (with its variant and `--set`s): the carriers' dial-rate limit over time, backup windows,
//! scheduled changes and stage capacities. Missing or changed scenario files give a note, not
//! an error: the CSV results are still worth a report.

use super::charts::Marker;
use super::Manifest;
use crate::limiter::LimiterSpec;
use crate::model::config::{BackupPolicy, ChangeKind, ModelConfig, StageConfig};
use crate::scenario::Scenario;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A value over time: `(from clock second, value)`, in time order.
pub type Steps = Vec<(f64, f64)>;

/// The scenario as the run saw it, if it could be re-loaded.
pub struct Info {
    pub scenario: Scenario,
    /// Scheduled-change descriptions from the file, by clock time (s).
    descriptions: Vec<(f64, String)>,
}

/// Re-loads the manifest's scenario; on failure returns a note saying what is not drawn.
pub fn load(man: Option<&Manifest>) -> Result<Info, String> {
    let Some(m) = man else {
        return Err(String::new()); // the missing manifest has its own note
    };
    let Some(path) = m.scenario.as_deref() else {
        return Err("manifest.json names no scenario: the rate limit, backup windows and scheduled changes are not drawn.".into());
    };
    let p = Path::new(path);
    let text = crate::input::read_text(p, crate::input::MAX_TEXT_BYTES).map_err(|e| {
        format!("Scenario `{path}` cannot be read from the current directory ({e}): the rate limit, backup windows and scheduled changes are not drawn. Run `callsim report` from where the run was started.")
    })?;
    if let Some(want) = &m.scenario_sha256 {
        let got: String = Sha256::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !got.eq_ignore_ascii_case(want) {
            return Err(format!("Scenario `{path}` has changed since the run (sha256 differs): the rate limit, backup windows and scheduled changes are not drawn."));
        }
    }
    let scenario = crate::scenario::load(p, m.variant.as_deref(), &m.sets)
        .map_err(|e| format!("Scenario `{path}` no longer loads ({e}): the rate limit, backup windows and scheduled changes are not drawn."))?;
    Ok(Info {
        descriptions: change_descriptions(&text),
        scenario,
    })
}

/// `(at, description)` of the file's top-level `[[changes]]` that have a description.
fn change_descriptions(text: &str) -> Vec<(f64, String)> {
    let Ok(t) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(arr) = t.get("changes").and_then(|c| c.as_array()) else {
        return Vec::new();
    };
    arr.iter()
        .filter_map(|c| {
            let at = crate::time::parse_clock(c.get("at")?.as_str()?).ok()?;
            let d = c.get("description")?.as_str()?;
            Some((at.as_secs_f64(), d.to_string()))
        })
        .collect()
}

/// A limiter's sustained rate in admissions per second; None when unlimited.
pub fn limit_per_s(spec: &LimiterSpec) -> Option<f64> {
    match spec {
        LimiterSpec::Unlimited => None,
        LimiterSpec::TokenBucket { rate, .. } | LimiterSpec::Gcra { rate, .. } => {
            Some(rate.per_second())
        }
        LimiterSpec::FixedWindow { limit, window }
        | LimiterSpec::RollingWindow { limit, window } => {
            Some(*limit as f64 / window.as_secs_f64())
        }
    }
}

impl Info {
    pub fn config(&self) -> &ModelConfig {
        &self.scenario.model
    }

    /// The summed dial-rate limit of all carriers (legs/s) as steps `(from, value)`; None if
    /// some carrier is unlimited at the start.
    pub fn rate_steps(&self) -> Option<Steps> {
        let c = self.config();
        let mut per: Vec<Option<f64>> =
            c.carriers.iter().map(|k| limit_per_s(&k.limiter)).collect();
        let total = |per: &[Option<f64>]| per.iter().copied().sum::<Option<f64>>();
        let mut steps = vec![(c.start.as_secs_f64(), total(&per)?)];
        for ch in &c.changes {
            if let ChangeKind::Carrier(i, k) = &ch.kind {
                per[*i] = limit_per_s(&k.limiter);
                if let Some(v) = total(&per) {
                    steps.push((ch.at.as_secs_f64(), v));
                }
            }
        }
        Some(steps)
    }

    /// Manual backup windows `(from, to)` when they are fixed for the whole run.
    pub fn manual_backup(&self) -> Option<Vec<(f64, f64)>> {
        let c = self.config();
        let changed = c
            .changes
            .iter()
            .any(|ch| matches!(ch.kind, ChangeKind::Backup { .. }));
        match &c.backup.policy {
            // With per-source policies the platform's windows are not the whole story.
            BackupPolicy::Manual(w) if !changed && c.backup.sources.is_empty() => Some(
                w.iter()
                    .map(|(a, b)| (a.as_secs_f64(), b.as_secs_f64()))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// One marker per time with scheduled changes: the file's description, else the keys set.
    pub fn change_markers(&self) -> Vec<Marker> {
        let mut out: Vec<Marker> = Vec::new();
        for ch in &self.config().changes {
            let at = ch.at.as_secs_f64();
            if out.last().is_some_and(|m| m.at == at) {
                continue;
            }
            let label = match self.descriptions.iter().find(|(t, _)| *t == at) {
                Some((_, d)) => format!("{} {d}", super::charts::hhmm(at)),
                None => ch.label.clone(),
            };
            out.push(Marker { at, label });
        }
        out
    }

    /// Capacity of stage `name` (sessions, or pods x capacity) as steps, and the per-pod
    /// capacity when it has pods.
    pub fn stage_capacity(&self, name: &str) -> Option<(Steps, Option<u32>)> {
        let c = self.config();
        let i = c.stages.iter().position(|s| s.name == name)?;
        let cap = |s: &StageConfig| match &s.pods {
            Some(p) => Some(p.count as f64 * p.capacity as f64),
            None => s.sessions.map(|x| x as f64),
        };
        let mut steps = vec![(c.start.as_secs_f64(), cap(&c.stages[i])?)];
        for ch in &c.changes {
            if let ChangeKind::Stage(j, s) = &ch.kind {
                if *j == i {
                    steps.push((ch.at.as_secs_f64(), cap(s)?));
                }
            }
        }
        Some((steps, c.stages[i].pods.as_ref().map(|p| p.capacity)))
    }
}

/// Steps `(from, value)` as a line's points up to `end` (s).
pub fn step_points(steps: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for (k, &(from, v)) in steps.iter().enumerate() {
        let to = steps.get(k + 1).map_or(end, |s| s.0);
        pts.push((from, v));
        pts.push((to, v));
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_become_a_staircase() {
        let p = step_points(&[(0.0, 20.0), (10.0, 30.0)], 15.0);
        assert_eq!(
            p,
            vec![(0.0, 20.0), (10.0, 20.0), (10.0, 30.0), (15.0, 30.0)]
        );
    }

    #[test]
    fn change_descriptions_are_keyed_by_clock_time() {
        let d = change_descriptions(
            "[[changes]]\nat = \"17:30\"\ndescription = \"raised\"\nset = {}\n",
        );
        assert_eq!(d, vec![(17.5 * 3600.0, "raised".to_string())]);
    }

    #[test]
    fn a_changed_scenario_is_not_used() {
        let m = Manifest {
            scenario: Some("scenarios/callrail-2018-05-14.toml".into()),
            scenario_sha256: Some("00".into()),
            ..Manifest::default()
        };
        let e = load(Some(&m)).err().unwrap();
        assert!(e.contains("has changed"), "{e}");
        let ok = Manifest {
            scenario_sha256: None,
            ..m
        };
        let info = load(Some(&ok)).unwrap();
        let steps = info.rate_steps().unwrap();
        assert_eq!(steps, vec![(43200.0, 20.0), (63000.0, 30.0)]);
        assert_eq!(
            info.manual_backup().unwrap()[0],
            (14.0 * 3600.0 + 39.0 * 60.0, 15.0 * 3600.0 + 22.0 * 60.0)
        );
        assert!(info.change_markers()[0].label.contains("raised the limit"));
    }
}
