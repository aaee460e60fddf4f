//! The report of `callsim run --out DIR`: calls over time, dial delay, legs dialled against the
//! carrier's rate limit, the carrier queue; and for platform scenarios, stage load against
//! capacity, pods, per-source success and blocked accounts. Backup routing, named windows and
//! scheduled changes are drawn on every time chart.

use super::agg::{col, Agg, Grid};
use super::charts::{fmt_num, hhmm, time_chart, Chart, Line, Marker, Shade, TimeChart, BLACK_I};
use super::scenario_info::{self, step_points, Info};
use super::table::Table;
use super::{Error, Headline, Manifest, Page, Section};
use crate::stats::Estimate;
use std::path::Path;

const SUMMARY_COLS: &[&str] = &[
    "statistic",
    "variant",
    "replication",
    "seed",
    "replications",
    "offered",
    "connected",
    "abandoned",
];
const TIMELINE_COLS: &[&str] = &[
    "variant",
    "replication",
    "clock",
    "t_s",
    "offered",
    "connected",
    "served",
    "failed",
    "abandoned",
    "legs_dialed",
    "dial_delay_ms_p50",
    "dial_delay_ms_p95",
    "dial_delay_ms_p99",
    "queue_len_max",
    "accounts_blocked_max",
    "backup_on",
];
const STAGES_TL_COLS: &[&str] = &[
    "variant",
    "replication",
    "stage",
    "clock",
    "t_s",
    "failovers",
    "sessions_in_use_max",
    "pods_up_min",
];
/// tenants_timeline.csv's outcomes other than success, each counted when reached.
const ENDED_WITHOUT_SUCCESS: [&str; 4] = [
    "abandoned_waiting",
    "abandoned_ringing",
    "no_answer",
    "failed",
];

const TENANTS_TL_COLS: &[&str] = &[
    "variant",
    "replication",
    "source",
    "clock",
    "t_s",
    "offered",
    "connected",
    "served",
    "abandoned_waiting",
    "abandoned_ringing",
    "no_answer",
    "failed",
];

/// What every time chart shares.
#[derive(Clone)]
struct Frame {
    grid: Grid,
    x_range: (f64, f64),
    shades: Vec<Shade>,
    markers: Vec<Marker>,
    per: String,
}

impl Frame {
    fn chart(
        &self,
        id: &str,
        title: &str,
        y_label: &str,
        unit: &str,
        lines: Vec<Line>,
    ) -> Result<Chart, Error> {
        time_chart(&TimeChart {
            id: id.into(),
            title: title.into(),
            y_label: y_label.into(),
            unit: unit.into(),
            x_range: self.x_range,
            lines,
            shades: self.shades.clone(),
            markers: self.chart_markers(),
        })
    }

    /// Markers as drawn: with more than 3, numbers (the section text lists them in words).
    fn chart_markers(&self) -> Vec<Marker> {
        if self.markers.len() <= 3 {
            return self.markers.clone();
        }
        let num = |(k, m): (usize, &Marker)| Marker {
            at: m.at,
            label: format!("[{}]", k + 1),
        };
        self.markers.iter().enumerate().map(num).collect()
    }

    /// " Markers: [1] ...; [2] ..." when the charts show numbers, else empty.
    fn marker_key(&self) -> String {
        if self.markers.len() <= 3 {
            return String::new();
        }
        let items: Vec<String> = self
            .markers
            .iter()
            .enumerate()
            .map(|(k, m)| format!("[{}] {}", k + 1, m.label))
            .collect();
        format!(" Markers: {}.", items.join("; "))
    }
}

/// A line of means with its 95% band, scaled by `k`.
fn line(name: &str, s: &[(f64, Estimate)], k: f64, colour: usize) -> Line {
    Line {
        name: name.into(),
        pts: s.iter().map(|(t, e)| (*t, e.mean * k)).collect(),
        band: s
            .iter()
            .map(|(t, e)| (*t, e.low() * k, e.high() * k))
            .collect(),
        colour,
        dashed: false,
        tips: true,
    }
}

fn any_positive(s: &[(f64, Estimate)]) -> bool {
    s.iter().any(|(_, e)| e.mean > 0.0)
}

pub fn page(dir: &Path, man: Option<&Manifest>) -> Result<Page, Error> {
    let summary = Table::read(
        &dir.join("summary.csv"),
        SUMMARY_COLS,
        "summary.csv of `callsim run --out`",
    )?;
    let tl = Table::read(
        &dir.join("timeline.csv"),
        TIMELINE_COLS,
        "timeline.csv of `callsim run --out`",
    )?;
    summary.check_numbers(&["statistic", "variant"])?;
    tl.check_numbers(&["variant", "clock"])?;
    one_variant(&tl)?;
    let mut page = Page::default();
    let info = match scenario_info::load(man) {
        Ok(i) => Some(i),
        Err(note) => {
            if !note.is_empty() {
                page.notes.push(note);
            }
            None
        }
    };
    let fallback = info
        .as_ref()
        .map_or(60.0, |i| i.config().interval.as_secs_f64());
    let grid = Grid::of(&tl, fallback)?;
    let mut frame = frame(&tl, grid, info.as_ref(), man)?;
    let alerts = super::alerts::read(dir)?;
    frame.markers.extend(super::alerts::markers(&alerts));
    frame.markers.sort_by(|a, b| a.at.total_cmp(&b.at));
    if grid.per_point > 1 {
        page.notes.push(format!(
            "The timeline has more intervals than a chart can show legibly: each point is the mean of {} consecutive intervals.",
            grid.per_point
        ));
    }
    page.sections
        .push(traffic_section(&tl, &frame, info.as_ref())?);
    if dir.join("stages_timeline.csv").is_file() || dir.join("tenants_timeline.csv").is_file() {
        page.sections
            .push(platform_section(dir, &tl, &frame, info.as_ref())?);
    }
    page.headline = headline(&summary, dir)?;
    page.headline.extend(super::alerts::headlines(&alerts));
    page.headline_caption = "Mean over replications [95% confidence interval]".into();
    meta_from_summary(&mut page, &summary, info.as_ref());
    Ok(page)
}

fn one_variant(tl: &Table) -> Result<(), Error> {
    let c = tl.col("variant")?;
    let mut names: Vec<&str> = tl.rows.iter().map(|r| r.get(c).unwrap_or("")).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() > 1 {
        return Err(Error::Input(format!(
            "`{}` holds several variants ({}); expected the timeline of one `callsim run`",
            tl.path.display(),
            names.join(", ")
        )));
    }
    Ok(())
}

/// x range, backup and named-window shades, change markers.
fn frame(
    tl: &Table,
    grid: Grid,
    info: Option<&Info>,
    man: Option<&Manifest>,
) -> Result<Frame, Error> {
    let x_range = (grid.t0, grid.last + grid.interval_s);
    let mut shades = match info.and_then(Info::manual_backup) {
        Some(w) => w
            .into_iter()
            .map(|(a, b)| Shade {
                from: a,
                to: b,
                label: format!("backup routing {}–{}", hhmm(a), hhmm(b)),
                backup: true,
            })
            .collect(),
        None => backup_from_timeline(tl, &grid)?,
    };
    for w in man.map(|m| m.windows.clone()).unwrap_or_default() {
        let (Ok(a), Ok(b)) = (
            crate::time::parse_clock(&w.start),
            crate::time::parse_clock(&w.end),
        ) else {
            return Err(Error::Input(format!("manifest.json: window `{}` has start `{}` and end `{}`; expected clock times such as \"10:00\"", w.name, w.start, w.end)));
        };
        let (a, b) = (a.as_secs_f64(), b.as_secs_f64());
        shades.push(Shade {
            from: a,
            to: b,
            label: format!("window {} {}–{}", w.name, hhmm(a), hhmm(b)),
            backup: false,
        });
    }
    let markers = info.map(Info::change_markers).unwrap_or_default();
    let per = if grid.interval_s == 60.0 {
        "per minute".to_string()
    } else {
        format!("per {} s", fmt_num(grid.interval_s))
    };
    Ok(Frame {
        grid,
        x_range,
        shades,
        markers,
        per,
    })
}

/// Runs of intervals where backup routing was on in at least half the replications.
fn backup_from_timeline(tl: &Table, grid: &Grid) -> Result<Vec<Shade>, Error> {
    let s = Agg::new(tl, grid, None, col("backup_on"))?.series(0);
    let mut out: Vec<Shade> = Vec::new();
    let mut open: Option<f64> = None;
    let step = grid.point_s();
    for (k, (t, e)) in s.iter().enumerate() {
        let on = e.mean >= 0.5;
        if on && open.is_none() {
            open = Some(*t);
        }
        let ends = !on || k + 1 == s.len();
        if let (true, Some(a)) = (ends, open) {
            let b = if on { t + step } else { *t };
            out.push(Shade {
                from: a,
                to: b,
                label: format!("backup routing {}–{}", hhmm(a), hhmm(b)),
                backup: true,
            });
            open = None;
        }
    }
    Ok(out)
}

fn traffic_section(tl: &Table, f: &Frame, info: Option<&Info>) -> Result<Section, Error> {
    let g = &f.grid;
    let s = |name: &'static str| Agg::new(tl, g, None, col(name)).map(|a| a.series(0));
    let ok = Agg::new(tl, g, None, |t, i| {
        Ok(t.num(i, t.col("connected")?)? + t.num(i, t.col("served")?)?)
    })?
    .series(0);
    let mut lines = vec![
        line("offered", &s("offered")?, 1.0, 0),
        line("connected or served", &ok, 1.0, 2),
    ];
    for (name, c) in [("abandoned", 3), ("failed", 4)] {
        let x = s(name)?;
        if any_positive(&x) {
            lines.push(line(name, &x, 1.0, c));
        }
    }
    let mut charts = vec![f.chart(
        "calls",
        &format!("Calls and requests {}: offered, answered, lost", f.per),
        &format!("calls {}", f.per),
        "calls",
        lines,
    )?];
    let legs = s("legs_dialed")?;
    let mut quiet = "";
    if any_positive(&legs) {
        let (c, queued) = carrier_charts(tl, f, &legs, info)?;
        charts.extend(c);
        if !queued {
            quiet =
                " No leg waited for a dial slot, so the dial-delay and queue charts are left out.";
        }
    }
    let heading = if charts.len() > 1 {
        "Traffic and the carrier"
    } else {
        "Traffic"
    };
    Ok(Section {
        heading: heading.into(),
        text: format!("Lines are means over replications; bands are 95% confidence intervals. Blue shading: backup routing on; orange shading: named windows; dashed verticals: scheduled changes and the mean first firing of alert rules.{quiet}{}", f.marker_key()),
        charts,
    })
}

/// Dial delay, legs against the limit, the queue; the first and last only if some leg waited.
fn carrier_charts(
    tl: &Table,
    f: &Frame,
    legs: &[(f64, Estimate)],
    info: Option<&Info>,
) -> Result<(Vec<Chart>, bool), Error> {
    let g = &f.grid;
    let s = |name: &'static str| Agg::new(tl, g, None, col(name)).map(|a| a.series(0));
    let queue = s("queue_len_max")?;
    let p99 = s("dial_delay_ms_p99")?;
    let queued = any_positive(&queue) || any_positive(&p99);
    let mut rate = vec![line("legs dialled per second", legs, 1.0 / g.interval_s, 0)];
    // The carrier settings' counters, in scenarios that use them (metrics::shown).
    for (name, label, colour) in [
        ("legs_dialed_wasted", "of which wasted (call had ended)", 3),
        ("legs_rejected", "attempts rejected per second", 4),
        ("legs_retried", "retries per second", 1),
    ] {
        let optional = name != "legs_rejected" || tl.header.iter().any(|h| h == "legs_retried");
        if optional && tl.header.iter().any(|h| h == name) {
            let x = s(name)?;
            if any_positive(&x) {
                rate.push(line(label, &x, 1.0 / g.interval_s, colour));
            }
        }
    }
    let steps = info.and_then(Info::rate_steps);
    if let Some(steps) = &steps {
        rate.push(Line {
            name: "carrier dial-rate limit".into(),
            pts: step_points(steps, f.x_range.1),
            colour: BLACK_I,
            ..Line::default()
        });
    }
    let title = if steps.is_some() {
        "Legs dialled per second against the carrier's dial-rate limit"
    } else {
        "Legs dialled per second"
    };
    let mut charts = Vec::new();
    if queued {
        let delay = vec![
            line("p50", &s("dial_delay_ms_p50")?, 0.001, 2),
            line("p95", &s("dial_delay_ms_p95")?, 0.001, 1),
            line("p99", &p99, 0.001, 3),
        ];
        charts.push(f.chart(
            "dial-delay",
            "Dial delay: wait for a dial slot (p50, p95, p99)",
            "dial delay (s)",
            "s",
            delay,
        )?);
    }
    charts.push(f.chart("legs-vs-limit", title, "legs per second", "legs/s", rate)?);
    if queued {
        let q = vec![line("legs waiting (most at once)", &queue, 1.0, 4)];
        charts.push(f.chart(
            "carrier-queue",
            "Carrier queue length",
            "legs waiting",
            "legs",
            q,
        )?);
    }
    Ok((charts, queued))
}

fn platform_section(
    dir: &Path,
    tl: &Table,
    f: &Frame,
    info: Option<&Info>,
) -> Result<Section, Error> {
    let mut charts = Vec::new();
    let mut f2 = f.clone();
    let st_path = dir.join("stages_timeline.csv");
    if st_path.is_file() {
        let st = Table::read(
            &st_path,
            STAGES_TL_COLS,
            "stages_timeline.csv of `callsim run --out`",
        )?;
        f2.markers.extend(failover_markers(&st, &f.grid)?);
        f2.markers.sort_by(|a, b| a.at.total_cmp(&b.at));
        charts.extend(stage_charts(&st, &f2, info)?);
    }
    let tt_path = dir.join("tenants_timeline.csv");
    if tt_path.is_file() {
        let tt = Table::read(
            &tt_path,
            TENANTS_TL_COLS,
            "tenants_timeline.csv of `callsim run --out`",
        )?;
        // Of the calls and requests that ended in the interval (an outcome counts when it is
        // reached), the share that succeeded. Per offered it could pass 100% in the interval
        // after an outage, when requests offered during it are served.
        let ratio = |t: &Table, i: usize| {
            let ok = t.num(i, t.col("connected")?)? + t.num(i, t.col("served")?)?;
            let mut ended = ok;
            for c in ENDED_WITHOUT_SUCCESS {
                ended += t.num(i, t.col(c)?)?;
            }
            Ok(if ended > 0.0 {
                100.0 * ok / ended
            } else {
                f64::NAN
            })
        };
        let agg = Agg::new(&tt, &f.grid, Some("source"), ratio)?;
        let lines = (0..agg.groups.len())
            .map(|g| line(&agg.groups[g], &agg.series(g), 1.0, g))
            .collect();
        charts.push(f2.chart(
            "source-success",
            "Success by source: calls connected or requests served, of those that ended",
            "success (% of outcomes in the interval)",
            "%",
            lines,
        )?);
    }
    let blocked = Agg::new(tl, &f.grid, None, col("accounts_blocked_max"))?.series(0);
    if any_positive(&blocked) {
        let l = vec![line("accounts blocked (most at once)", &blocked, 1.0, 3)];
        charts.push(f2.chart(
            "blocked-accounts",
            "Blocked accounts",
            "accounts",
            "accounts",
            l,
        )?);
    }
    Ok(Section {
        heading: "Platform".into(),
        text: format!("Stage load against capacity, serving pods, success per source and blocked accounts; dashed verticals also mark dependency failovers.{}", f2.marker_key()),
        charts,
    })
}

/// A marker at the start of each run of intervals in which a failover happened in at least a
/// quarter of the replications (any stage).
fn failover_markers(st: &Table, grid: &Grid) -> Result<Vec<Marker>, Error> {
    let agg = Agg::new(st, grid, Some("stage"), |t, i| {
        Ok(f64::from(t.num(i, t.col("failovers")?)? > 0.0))
    })?;
    let mut times: Vec<f64> = (0..agg.groups.len())
        .flat_map(|g| {
            agg.series(g)
                .into_iter()
                .filter(|(_, e)| e.mean >= 0.25)
                .map(|(t, _)| t)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let mut out: Vec<Marker> = Vec::new();
    for t in times {
        if out.last().is_none_or(|m| t - m.at > grid.point_s() * 1.5) {
            out.push(Marker {
                at: t,
                label: format!("{} dependency failover", hhmm(t)),
            });
        }
    }
    Ok(out)
}

fn stage_charts(st: &Table, f: &Frame, info: Option<&Info>) -> Result<Vec<Chart>, Error> {
    let busy = Agg::new(st, &f.grid, Some("stage"), col("sessions_in_use_max"))?;
    let pods = Agg::new(st, &f.grid, Some("stage"), col("pods_up_min"))?;
    let mut charts = Vec::new();
    let mut pod_lines = Vec::new();
    for (g, name) in busy.groups.iter().enumerate() {
        let mut lines = vec![line(
            "busy sessions (most at once)",
            &busy.series(g),
            1.0,
            0,
        )];
        let cap = info.and_then(|i| i.stage_capacity(name));
        let pod_s = pods.series(g);
        if let Some((steps, per_pod)) = cap {
            if let Some(pc) = per_pod {
                lines.push(Line {
                    name: format!("capacity of serving pods (x {pc})"),
                    ..line("", &pod_s, pc as f64, BLACK_I)
                });
            }
            lines.push(Line {
                name: "configured capacity".into(),
                pts: step_points(&steps, f.x_range.1),
                colour: BLACK_I,
                dashed: true,
                ..Line::default()
            });
        }
        charts.push(f.chart(
            &format!("stage-{}", slug(name)),
            &format!("Stage {name}: busy sessions against capacity"),
            "sessions (jobs at once)",
            "jobs",
            lines,
        )?);
        if any_positive(&pod_s) {
            pod_lines.push(line(
                &format!("{name}: pods serving (fewest at once)"),
                &pod_s,
                1.0,
                g,
            ));
        }
    }
    if !pod_lines.is_empty() {
        charts.push(f.chart("pods", "Pods serving", "pods", "pods", pod_lines)?);
    }
    Ok(charts)
}

/// A file-name-safe form of a name.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Label, column and scale of the headline rows of a run.
const HEADLINE: &[(&str, &str, f64)] = &[
    ("offered (calls or requests)", "offered", 1.0),
    ("connected", "connected", 1.0),
    ("requests served", "served", 1.0),
    ("abandoned", "abandoned", 1.0),
    ("abandoned (% of offered)", "abandon_ratio", 100.0),
    ("no answer", "no_answer", 1.0),
    ("failed", "failed", 1.0),
    ("redials", "redials", 1.0),
    ("backup-routed (untracked)", "backup_routed", 1.0),
    ("dial delay p95 (s)", "dial_delay_ms_p95", 0.001),
    ("dial delay max (s)", "dial_delay_ms_max", 0.001),
    ("post-dial delay p95 (s)", "pdd_ms_p95", 0.001),
    ("wait for an answer, mean (s)", "answer_wait_s_mean", 1.0),
];

fn headline(summary: &Table, dir: &Path) -> Result<Vec<Headline>, Error> {
    let stat = summary.col("statistic")?;
    let row = |s: &str| (0..summary.rows.len()).find(|&i| summary.text(i, stat) == s);
    let (Some(m), Some(lo), Some(hi)) = (row("mean"), row("ci95_low"), row("ci95_high")) else {
        return Err(Error::Input(format!("`{}` has no `mean`, `ci95_low` and `ci95_high` rows; expected a summary.csv of `callsim run --out`", summary.path.display())));
    };
    let mut out = Vec::new();
    let windowed = summary
        .header
        .iter()
        .filter(|h| h.contains('@'))
        .map(|h| (h.as_str(), h.as_str(), 1.0));
    let fixed = HEADLINE.iter().map(|&(l, c, k)| (l, c, k));
    for (label, name, k) in fixed.chain(windowed) {
        let Ok(c) = summary.col(name) else { continue };
        let (v, a, b) = (
            summary.num(m, c)? * k,
            summary.num(lo, c)? * k,
            summary.num(hi, c)? * k,
        );
        let optional = name != "offered" && !name.contains('@');
        if (optional && v == 0.0) || v.is_nan() {
            continue;
        }
        out.push(Headline {
            label: label.into(),
            value: fmt_num(v),
            ci: ci_text(a, b),
        });
    }
    out.extend(source_headline(dir)?);
    Ok(out)
}

pub fn ci_text(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() {
        String::new()
    } else {
        format!("[{}, {}]", fmt_num(a), fmt_num(b))
    }
}

/// Success ratio per source from tenants.csv.
fn source_headline(dir: &Path) -> Result<Vec<Headline>, Error> {
    let p = dir.join("tenants.csv");
    if !p.is_file() {
        return Ok(Vec::new());
    }
    let t = Table::read(
        &p,
        &[
            "variant",
            "replication",
            "source",
            "offered",
            "connected",
            "served",
        ],
        "tenants.csv of `callsim run --out`",
    )?;
    let (cs, co, cc, cv) = (
        t.col("source")?,
        t.col("offered")?,
        t.col("connected")?,
        t.col("served")?,
    );
    let mut names: Vec<String> = Vec::new();
    let mut vals: Vec<Vec<f64>> = Vec::new();
    for i in 0..t.rows.len() {
        let n = t.text(i, cs).to_string();
        let g = names.iter().position(|x| *x == n).unwrap_or_else(|| {
            names.push(n);
            vals.push(Vec::new());
            names.len() - 1
        });
        let off = t.num(i, co)?;
        vals[g].push(if off > 0.0 {
            100.0 * (t.num(i, cc)? + t.num(i, cv)?) / off
        } else {
            f64::NAN
        });
    }
    Ok(names
        .iter()
        .zip(&vals)
        .map(|(n, v)| {
            let e = crate::stats::estimate(v, 0.95);
            Headline {
                label: format!("success % {n}"),
                value: fmt_num(e.mean),
                ci: ci_text(e.low(), e.high()),
            }
        })
        .collect())
}

fn meta_from_summary(page: &mut Page, summary: &Table, info: Option<&Info>) {
    let first = |c: &str| {
        summary
            .col(c)
            .ok()
            .filter(|_| !summary.rows.is_empty())
            .map(|c| summary.text(0, c).to_string())
    };
    let reps = summary
        .col("statistic")
        .ok()
        .and_then(|s| (0..summary.rows.len()).find(|&i| summary.text(i, s) == "mean"))
        .and_then(|i| {
            summary
                .col("replications")
                .ok()
                .map(|c| summary.text(i, c).to_string())
        });
    if let Some(v) = first("variant") {
        page.meta.push(("variant".into(), v));
    }
    if let Some(s) = first("seed") {
        page.meta.push(("seed".into(), s));
    }
    if let Some(r) = reps {
        page.meta.push(("replications".into(), r));
    }
    let changes: Vec<String> = info
        .map(Info::change_markers)
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.label)
        .collect();
    // More than 3 are numbered on the charts and listed in the section text instead.
    if !changes.is_empty() && changes.len() <= 3 {
        page.meta
            .push(("scheduled changes".into(), changes.join("; ")));
    }
    page.title = info.map_or_else(|| "callsim run".to_string(), |i| i.scenario.name.clone());
    page.description = info
        .map(|i| i.scenario.description.clone())
        .unwrap_or_default();
}
