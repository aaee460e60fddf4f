//! `callsim report`: one self-contained HTML page (inline SVG charts and CSS, no network) and
//! each chart as an SVG file, rendered from an output directory of `run`, `compare`, `sweep` or
//! `plan`. Everything is rendered in memory first; files are written under temporary names and
//! renamed only when all of them are ready, so bad input leaves no file behind.
//!
//! Pure apart from reading the directory (and the scenario named in its manifest) and writing
//! the result: no clock (the "generated at" line is passed in), so the same inputs give the
//! same bytes.

mod agg;
mod alerts;
pub mod charts;
mod compare;
mod html;
mod lever;
pub mod manifest;
mod run;
mod scenario_info;
mod table;
mod write;

use charts::Chart;
pub use manifest::Manifest;
use std::path::{Path, PathBuf};

/// Why no report was written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The directory or a file in it is not what `report` reads (exit 2).
    #[error("{0}")]
    Input(String),
    /// Writing failed (exit 1).
    #[error("{0}")]
    Io(String),
}

/// What produced the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Run,
    Compare,
    Sweep,
    Plan,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Compare => "compare",
            Kind::Sweep => "sweep",
            Kind::Plan => "plan",
        }
    }
    /// The files a directory of this kind must hold.
    fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Run => &["summary.csv", "timeline.csv"],
            Kind::Compare => &["compare.csv"],
            Kind::Sweep => &["sweep.csv"],
            Kind::Plan => &["plan.csv"],
        }
    }
}

/// One row of the headline table: label, mean, interval.
#[derive(Clone, Debug)]
pub struct Headline {
    pub label: String,
    pub value: String,
    pub ci: String,
}

/// A group of charts with a heading and a sentence on how to read them.
#[derive(Clone, Debug)]
pub struct Section {
    pub heading: String,
    pub text: String,
    pub charts: Vec<Chart>,
}

/// Everything the page shows.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub kind: String,
    pub title: String,
    pub description: String,
    /// Label and value pairs of the header (seed, replications, ...).
    pub meta: Vec<(String, String)>,
    pub command: Option<String>,
    pub notes: Vec<String>,
    pub headline_caption: String,
    pub headline: Vec<Headline>,
    pub sections: Vec<Section>,
}

/// A rendered report, not yet written.
pub struct Report {
    pub html: String,
    pub charts: Vec<Chart>,
    pub notes: Vec<String>,
}

/// Renders the report of `dir`; `generated_at` (if any) is printed in the header.
pub fn render(dir: &Path, generated_at: Option<&str>) -> Result<Report, Error> {
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "`{}` is not a directory; expected an output directory written by `callsim run|compare|sweep|plan --out DIR`",
            dir.display()
        )));
    }
    let man = manifest::load(dir)?;
    let kind = detect(dir, man.as_ref())?;
    check_files(dir, kind, man.as_ref())?;
    let mut page = match kind {
        Kind::Run => run::page(dir, man.as_ref())?,
        Kind::Compare => compare::page(dir)?,
        Kind::Sweep => lever::sweep_page(dir, man.as_ref())?,
        Kind::Plan => lever::plan_page(dir, man.as_ref())?,
    };
    page.kind = kind.name().into();
    header_from_manifest(&mut page, man.as_ref(), dir, kind);
    unique_ids(&mut page);
    let charts: Vec<Chart> = page
        .sections
        .iter()
        .flat_map(|s| s.charts.clone())
        .collect();
    if charts.is_empty() {
        return Err(Error::Input(format!(
            "`{}`: the results hold nothing to chart (no rows)",
            dir.display()
        )));
    }
    Ok(Report {
        html: html::page(&page, generated_at),
        charts,
        notes: page.notes,
    })
}

/// Chart ids are slugs of names (`am_peak` and `am-peak` both give `am-peak`), and name files
/// in charts/: a repeated id gets `-2`, `-3`, ... so no chart overwrites another.
fn unique_ids(page: &mut Page) {
    let mut seen = std::collections::HashSet::new();
    for c in page.sections.iter_mut().flat_map(|s| s.charts.iter_mut()) {
        let mut id = c.id.clone();
        let mut k = 1;
        while !seen.insert(id.clone()) {
            k += 1;
            id = format!("{}-{k}", c.id);
        }
        c.id = id;
    }
}

/// The kind from the manifest, else from the files present.
fn detect(dir: &Path, man: Option<&Manifest>) -> Result<Kind, Error> {
    if let Some(k) = man.and_then(|m| m.kind.as_deref()) {
        return Ok(match k {
            "compare" => Kind::Compare,
            "sweep" => Kind::Sweep,
            "plan" => Kind::Plan,
            _ => Kind::Run,
        });
    }
    let has = |f: &str| dir.join(f).is_file();
    let kind = if has("compare.csv") {
        Kind::Compare
    } else if has("plan.csv") {
        Kind::Plan
    } else if has("sweep.csv") {
        Kind::Sweep
    } else if has("summary.csv") || has("timeline.csv") {
        Kind::Run
    } else {
        return Err(Error::Input(format!(
            "`{}` holds no callsim results: none of summary.csv, timeline.csv, compare.csv, sweep.csv, plan.csv; write them with e.g. `callsim run SCENARIO --out {}`",
            dir.display(),
            dir.display()
        )));
    };
    Ok(kind)
}

/// Every file the kind needs, and every file the manifest lists, must be there.
fn check_files(dir: &Path, kind: Kind, man: Option<&Manifest>) -> Result<(), Error> {
    let listed = man.map(|m| m.files.clone()).unwrap_or_default();
    for f in kind.required().iter().map(|s| s.to_string()).chain(listed) {
        if !dir.join(&f).is_file() {
            return Err(Error::Input(format!(
                "`{}` is missing: the output of `callsim {}` has {}{}",
                dir.join(&f).display(),
                kind.name(),
                kind.required().join(" and "),
                if man.is_some() {
                    " and every file its manifest.json lists"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}

fn header_from_manifest(page: &mut Page, man: Option<&Manifest>, dir: &Path, kind: Kind) {
    let Some(m) = man else {
        let more = if kind == Kind::Run {
            "; the scenario's rate limit, backup windows and scheduled changes are not drawn"
        } else {
            " (no reproducing command)"
        };
        page.notes.push(format!(
            "No manifest.json in `{}`: the header shows what the CSV files say{more}.",
            dir.display()
        ));
        return;
    };
    if let Some(n) = &m.scenario_name {
        page.title = n.clone();
    }
    if let Some(d) = &m.scenario_description {
        page.description = d.clone();
    }
    page.command = m.command.clone();
    let mut meta = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            meta.push((k.to_string(), v));
        }
    };
    put("scenario", m.scenario.clone());
    put("variant", m.variant.clone());
    put(
        "variants",
        (!m.variants.is_empty()).then(|| m.variants.join(", ")),
    );
    put("seed", m.seed.map(|s| s.to_string()));
    let reps = if m.kind.as_deref() == Some("plan") {
        "replications at first (each point's: plan.csv)"
    } else {
        "replications"
    };
    put(reps, m.replications.map(|s| s.to_string()));
    put("--set", (!m.sets.is_empty()).then(|| m.sets.join("  ")));
    put("scenario sha256", m.scenario_sha256.clone());
    put("callsim version", m.callsim_version.clone());
    // What the CSVs said stays where the manifest is silent.
    for (k, v) in std::mem::take(&mut page.meta) {
        if !meta.iter().any(|(mk, _)| *mk == k) {
            meta.push((k, v));
        }
    }
    page.meta = meta;
}

/// Writes `dir/charts/*.svg` and `report.html` (or `out`): all under temporary names first,
/// renamed when every file is complete (the page last). Other files in `dir` are left alone.
/// Returns the files written.
pub fn write(report: &Report, dir: &Path, out: Option<&Path>) -> Result<Vec<PathBuf>, Error> {
    let mut staged = write::Staged::default();
    for c in &report.charts {
        staged.put(
            &dir.join("charts").join(format!("{}.svg", c.id)),
            c.svg.as_bytes(),
        )?;
    }
    let html = out.map_or_else(|| dir.join("report.html"), Path::to_path_buf);
    staged.put(&html, report.html.as_bytes())?;
    staged.commit()
}
