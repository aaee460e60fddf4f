//! The report of `callsim compare --out DIR`: per headline metric, each variant's mean with its
//! 95% interval, and the paired difference from the baseline with its interval and a zero line.

use super::charts::{fmt_num, interval_chart, Chart, Whisker};
use super::run::{ci_text, slug};
use super::table::Table;
use super::{Error, Headline, Page, Section};
use std::path::Path;

const COLS: &[&str] = &[
    "metric",
    "variant",
    "baseline",
    "replications",
    "mean",
    "ci95_low",
    "ci95_high",
    "diff_mean",
    "diff_ci95_low",
    "diff_ci95_high",
];

/// Metrics charted (those present), with their labels and scale.
pub const METRICS: &[(&str, &str, f64)] = &[
    ("connected", "connected calls", 1.0),
    ("abandoned", "abandoned calls", 1.0),
    ("abandon_ratio", "abandoned (% of offered)", 100.0),
    ("no_answer", "unanswered calls", 1.0),
    ("failed", "failed calls or requests", 1.0),
    ("backup_routed", "backup-routed calls (untracked)", 1.0),
    ("dial_delay_ms_p95", "p95 dial delay (s)", 0.001),
    ("pdd_ms_p95", "p95 post-dial delay (s)", 0.001),
];

/// One row of compare.csv.
struct Row {
    metric: String,
    variant: String,
    est: [f64; 3],
    diff: [f64; 3],
}

fn rows(t: &Table) -> Result<Vec<Row>, Error> {
    let c: Vec<usize> = COLS.iter().map(|n| t.col(n)).collect::<Result<_, _>>()?;
    (0..t.rows.len())
        .map(|i| {
            Ok(Row {
                metric: t.text(i, c[0]).to_string(),
                variant: t.text(i, c[1]).to_string(),
                est: [t.num(i, c[4])?, t.num(i, c[5])?, t.num(i, c[6])?],
                diff: [t.num(i, c[7])?, t.num(i, c[8])?, t.num(i, c[9])?],
            })
        })
        .collect()
}

/// The two charts of a metric (means; differences from the baseline) and its headline rows.
fn metric_charts(
    of: &[&Row],
    baseline: &str,
    metric: &str,
    label: &str,
    k: f64,
) -> Result<(Vec<Chart>, Vec<Headline>), Error> {
    let colour = |v: &str| of.iter().position(|r| r.variant == v).unwrap_or(0);
    let w = |r: &Row, v: [f64; 3]| Whisker {
        label: r.variant.clone(),
        colour: colour(&r.variant),
        mean: v[0] * k,
        low: v[1] * k,
        high: v[2] * k,
    };
    let means: Vec<Whisker> = of.iter().map(|r| w(r, r.est)).collect();
    let id = slug(metric);
    let title = format!("{label}: mean by variant");
    let mut charts = vec![interval_chart(
        &format!("{id}-means"),
        &title,
        label,
        &means,
        false,
    )?];
    let diffs: Vec<Whisker> = of
        .iter()
        .filter(|r| r.variant != baseline)
        .map(|r| w(r, r.diff))
        .collect();
    if !diffs.is_empty() {
        let title = format!("{label}: difference from {baseline}");
        let y = format!("difference in {label}");
        charts.push(interval_chart(
            &format!("{id}-diff"),
            &title,
            &y,
            &diffs,
            true,
        )?);
    }
    let head = diffs
        .iter()
        .map(|d| Headline {
            label: format!("{label}: {} − {baseline}", d.label),
            value: fmt_num(d.mean),
            ci: ci_text(d.low, d.high),
        })
        .collect();
    Ok((charts, head))
}

pub fn page(dir: &Path) -> Result<Page, Error> {
    let t = Table::read(
        &dir.join("compare.csv"),
        COLS,
        "compare.csv of `callsim compare --out`",
    )?;
    t.check_numbers(&["metric", "variant", "baseline"])?;
    let rows = rows(&t)?;
    let baseline = if t.rows.is_empty() {
        String::new()
    } else {
        t.text(0, 2).to_string()
    };
    let mut variants: Vec<String> = Vec::new();
    for r in &rows {
        if !variants.contains(&r.variant) {
            variants.push(r.variant.clone());
        }
    }
    let windowed: Vec<(String, String, f64)> = rows
        .iter()
        .filter(|r| r.metric.contains('@') && r.variant == baseline)
        .map(|r| (r.metric.clone(), r.metric.clone(), 1.0))
        .collect();
    let all = METRICS
        .iter()
        .map(|&(m, l, k)| (m.to_string(), l.to_string(), k))
        .chain(windowed);
    let mut charts = Vec::new();
    let mut head = Vec::new();
    for (metric, label, k) in all {
        let of: Vec<&Row> = rows.iter().filter(|r| r.metric == metric).collect();
        if of.is_empty() || of.iter().all(|r| r.est[0].is_nan() || r.est[0] == 0.0) {
            continue;
        }
        let (c, h) = metric_charts(&of, &baseline, &metric, &label, k)?;
        charts.extend(c);
        head.extend(h);
    }
    let reps = t.col("replications").ok().and_then(|c| {
        (0..t.rows.len())
            .filter_map(|i| t.num(i, c).ok())
            .reduce(f64::max)
    });
    let mut page = Page {
        title: "callsim compare".into(),
        headline_caption: format!("Paired difference from {baseline} [95% CI]; an interval that excludes 0 is a difference at the 5% level"),
        headline: head,
        ..Page::default()
    };
    page.meta.push(("baseline".into(), baseline.clone()));
    page.meta.push(("variants".into(), variants.join(", ")));
    if let Some(r) = reps {
        page.meta.push(("replications".into(), fmt_num(r)));
    }
    page.sections.push(Section {
        heading: "Variants compared".into(),
        text: format!("Left: each variant's mean with its 95% interval. Right: the paired difference from {baseline} (common random numbers) with its 95% interval; the black line is zero."),
        charts,
    });
    Ok(page)
}
