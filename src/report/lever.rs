//! The reports of `callsim sweep --out DIR` and `callsim plan --out DIR`: each metric against
//! the lever, with the 95% band, the evaluated points, the plan's target line, its verdicts and
//! the chosen value.

use super::charts::{lever_chart, Chart, LeverChart, LeverPoint};
use super::run::{ci_text, slug};
use super::table::Table;
use super::{Error, Headline, Manifest, Page, Section};
use std::path::Path;

/// A lever value's place on the x axis and the axis' unit: numbers as written, rates per
/// second (`300/min` at 5), durations in seconds (`2m` at 120), clock times in hours since
/// midnight (`00:10` at 0.167), so values written in different units fall in their order.
pub fn lever_x(v: &str) -> Option<(f64, &'static str)> {
    let (kind, x) = crate::grid::order_key(v)?;
    Some(match kind {
        "rate" => (x, "/s"),
        "duration" => (x, "s"),
        "clock time" => (x / 3600.0, "hours since midnight"),
        _ => (x, ""),
    })
}

/// The lever columns: those between `point` and `before`.
fn lever_cols(t: &Table, before: &str) -> Result<Vec<usize>, Error> {
    let p = t.col("point")?;
    let b = t.col(before)?;
    if p != 0 || b <= p + 1 {
        return Err(Error::Input(format!(
            "`{}`: unknown or older format: expected `point`, then the varied keys, then `{before}`; found `{}`",
            t.path.display(),
            t.header.join(",")
        )));
    }
    Ok((p + 1..b).collect())
}

/// x positions: each value's place (`lever_x`) when every value has one of one unit (and
/// there is one lever), else 0, 1, 2...
fn positions(labels: &[String], one_lever: bool) -> (Vec<f64>, String) {
    let parsed: Vec<Option<(f64, &str)>> = labels.iter().map(|l| lever_x(l)).collect();
    let unit = parsed.first().copied().flatten().map(|p| p.1);
    if one_lever && parsed.iter().all(|p| p.is_some() && p.map(|p| p.1) == unit) {
        (
            parsed.into_iter().map(|p| p.expect("checked").0).collect(),
            unit.unwrap_or_default().to_string(),
        )
    } else {
        ((0..labels.len()).map(|i| i as f64).collect(), String::new())
    }
}

/// Rows grouped by a key, in first-seen order.
fn groups(t: &Table, key: impl Fn(usize) -> String) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for i in 0..t.rows.len() {
        let k = key(i);
        match out.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(i),
            None => out.push((k, vec![i])),
        }
    }
    out
}

fn label_of(t: &Table, i: usize, levers: &[usize]) -> String {
    if levers.len() == 1 {
        return t.text(i, levers[0]).to_string();
    }
    levers
        .iter()
        .map(|&c| format!("{}={}", t.header[c], t.text(i, c)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn x_label(t: &Table, levers: &[usize], unit: &str) -> String {
    let names: Vec<&str> = levers.iter().map(|&c| t.header[c].as_str()).collect();
    match (levers.len(), unit.is_empty()) {
        (1, false) => format!("{} ({unit})", names[0]),
        (1, true) => names[0].to_string(),
        _ => format!("point ({})", names.join(", ")),
    }
}

/// Points of rows `idx`: label, mean, interval, verdict.
fn points(
    t: &Table,
    idx: &[usize],
    levers: &[usize],
    verdict: Option<usize>,
) -> Result<(Vec<LeverPoint>, String), Error> {
    let (m, lo, hi) = (t.col("mean")?, t.col("ci95_low")?, t.col("ci95_high")?);
    let labels: Vec<String> = idx.iter().map(|&i| label_of(t, i, levers)).collect();
    let (xs, unit) = positions(&labels, levers.len() == 1);
    let mut pts = Vec::new();
    for ((&i, label), x) in idx.iter().zip(labels).zip(xs) {
        pts.push(LeverPoint {
            x,
            label,
            mean: t.num(i, m)?,
            low: t.num(i, lo)?,
            high: t.num(i, hi)?,
            verdict: verdict
                .map(|c| t.text(i, c).to_string())
                .unwrap_or_default(),
        });
    }
    Ok((pts, unit))
}

pub fn sweep_page(dir: &Path, man: Option<&Manifest>) -> Result<Page, Error> {
    let t = Table::read(
        &dir.join("sweep.csv"),
        &[
            "point",
            "variant",
            "metric",
            "mean",
            "ci95_low",
            "ci95_high",
            "replications",
        ],
        "sweep.csv of `callsim sweep --out`",
    )?;
    let levers = lever_cols(&t, "variant")?;
    let text: Vec<&str> = levers.iter().map(|&c| t.header[c].as_str()).collect();
    t.check_numbers(&[text.as_slice(), &["point", "variant", "metric"]].concat())?;
    let (cm, cv) = (t.col("metric")?, t.col("variant")?);
    let all = groups(&t, |i| t.text(i, cm).to_string());
    let chosen = charted_metrics(all.iter().map(|(m, _)| m.as_str()).collect());
    let mut charts: Vec<Chart> = Vec::new();
    for (k, idx) in groups(&t, |i| format!("{}\u{1}{}", t.text(i, cm), t.text(i, cv))) {
        let (metric, variant) = k.split_once('\u{1}').unwrap_or((&k, ""));
        if chosen.contains(&metric) {
            charts.extend(sweep_chart(&t, &idx, &levers, metric, variant)?);
        }
    }
    let mut page = Page {
        title: man
            .and_then(|m| m.scenario_name.clone())
            .unwrap_or_else(|| "callsim sweep".into()),
        ..Page::default()
    };
    page.sections.push(Section {
        heading: "Metrics against the lever".into(),
        text: format!(
            "Each point is an evaluated setting: the mean over replications; the band is its 95% confidence interval.{}",
            if chosen.len() < all.len() {
                format!(" sweep.csv holds {} metrics; charted are the headline and window metrics that are not zero at every point ({} charts).", all.len(), charts.len())
            } else {
                String::new()
            }
        ),
        charts,
    });
    Ok(page)
}

/// Metrics to chart: all when there are at most 12, else the headline metrics of `compare`
/// and the window metrics (`NAME@WINDOW`) present, in file order.
fn charted_metrics(all: Vec<&str>) -> Vec<&str> {
    if all.len() <= 12 {
        return all;
    }
    let headline = |m: &str| super::compare::METRICS.iter().any(|h| h.0 == m);
    let base = |m: &str| m.split('@').next().unwrap_or(m).to_string();
    all.into_iter()
        .filter(|m| headline(m) || (m.contains('@') && headline(&base(m))))
        .collect()
}

/// A metric's label in words and the factor to its unit (ms -> s, ratio -> %), window kept.
pub fn metric_label(metric: &str) -> (String, f64) {
    let (base, window) = match metric.split_once('@') {
        Some((b, w)) => (b, format!(" in window {w}")),
        None => (metric, String::new()),
    };
    match super::compare::METRICS.iter().find(|m| m.0 == base) {
        Some(&(_, label, k)) => (format!("{label}{window}"), k),
        None => (metric.to_string(), 1.0),
    }
}

/// The chart of one metric (and variant) of a sweep; None when it is zero everywhere.
fn sweep_chart(
    t: &Table,
    idx: &[usize],
    levers: &[usize],
    metric: &str,
    variant: &str,
) -> Result<Option<Chart>, Error> {
    let (mut pts, unit) = points(t, idx, levers, None)?;
    if pts.iter().all(|p| p.mean == 0.0 || p.mean.is_nan()) {
        return Ok(None);
    }
    let (label, k) = metric_label(metric);
    for p in &mut pts {
        (p.mean, p.low, p.high) = (p.mean * k, p.low * k, p.high * k);
    }
    let xl = x_label(t, levers, &unit);
    let (v, vid) = if variant.is_empty() {
        (String::new(), String::new())
    } else {
        (format!(" ({variant})"), format!("-{}", slug(variant)))
    };
    let title = format!("{label} against {xl}{v}");
    lever_chart(&LeverChart {
        id: &format!("sweep-{}{vid}", slug(metric)),
        title: &title,
        x_label: &xl,
        y_label: &label,
        points: &pts,
        target: None,
        chosen: None,
    })
    .map(Some)
}

/// The chart of one (metric, window) of a plan: `c` holds the plan.csv column indices in the
/// order of `plan_page`'s `cols`.
fn plan_chart(
    t: &Table,
    idx: &[usize],
    levers: &[usize],
    c: &[usize],
    answer: Option<&str>,
) -> Result<(Chart, Vec<Headline>), Error> {
    let i0 = idx[0];
    let (metric, window, op, thr) = (
        t.text(i0, c[1]),
        t.text(i0, c[2]),
        t.text(i0, c[3]),
        t.text(i0, c[4]),
    );
    let name = if window.is_empty() {
        metric.to_string()
    } else {
        format!("{metric}@{window}")
    };
    let (pts, unit) = points(t, idx, levers, Some(c[10]))?;
    let xl = x_label(t, levers, &unit);
    let target = Some((t.num(i0, c[4])?, format!("target: {name} {op} {thr}")));
    // The chosen value is an evaluated point: the marker goes where that point is drawn.
    let chosen = answer.and_then(|a| {
        let k = idx.iter().position(|&i| t.text(i, levers[0]) == a)?;
        Some((pts[k].x, format!("chosen: {a}")))
    });
    let title = format!("{name} against {xl}: target {op} {thr}");
    let chart = lever_chart(&LeverChart {
        id: &format!("plan-{}", slug(&name)),
        title: &title,
        x_label: &xl,
        y_label: &name,
        points: &pts,
        target,
        chosen,
    })?;
    let head = pts
        .iter()
        .map(|p| Headline {
            label: format!("{name} at {}: {}", p.label, p.verdict),
            value: super::charts::fmt_num(p.mean),
            ci: ci_text(p.low, p.high),
        })
        .collect();
    Ok((chart, head))
}

pub fn plan_page(dir: &Path, man: Option<&Manifest>) -> Result<Page, Error> {
    let cols = [
        "point",
        "metric",
        "window",
        "op",
        "threshold",
        "mean",
        "ci95_low",
        "ci95_high",
        "bound",
        "replications",
        "verdict",
    ];
    let t = Table::read(
        &dir.join("plan.csv"),
        &cols,
        "plan.csv of `callsim plan --out`",
    )?;
    let levers = lever_cols(&t, "metric")?;
    let text: Vec<&str> = levers.iter().map(|&c| t.header[c].as_str()).collect();
    t.check_numbers(&[text.as_slice(), &["metric", "window", "op", "verdict"]].concat())?;
    let c: Vec<usize> = cols.iter().map(|n| t.col(n)).collect::<Result<_, _>>()?;
    let answer = man.and_then(|m| m.answer.clone());
    let mut charts = Vec::new();
    let mut head = Vec::new();
    for (_, idx) in groups(&t, |i| format!("{}@{}", t.text(i, c[1]), t.text(i, c[2]))) {
        let (chart, h) = plan_chart(&t, &idx, &levers, &c, answer.as_deref())?;
        charts.push(chart);
        head.extend(h);
    }
    let mut page = Page {
        title: man
            .and_then(|m| m.scenario_name.clone())
            .unwrap_or_else(|| "callsim plan".into()),
        headline_caption: "Per evaluated point: mean [95% CI] and the verdict against the target"
            .into(),
        headline: head,
        ..Page::default()
    };
    let note = man.and_then(|m| m.answer_note.clone());
    page.meta.push((
        "answer".into(),
        match (answer, note) {
            (Some(a), Some(n)) => format!("{a} ({n})"),
            (Some(a), None) => a,
            (None, _) => "none recorded in manifest.json".into(),
        },
    ));
    page.sections.push(Section {
        heading: "The plan: metrics against the lever".into(),
        text: "Points are the evaluated settings (green pass, vermillion fail, grey unclear); the dashed line is the target; the vertical marker is the chosen value.".into(),
        charts,
    });
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_sweep_charts_the_headline_and_window_metrics() {
        let few = vec!["x", "y"];
        assert_eq!(charted_metrics(few.clone()), few);
        let mut many: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
        many.extend([
            "connected".into(),
            "dial_delay_ms_p95@peak".into(),
            "x@peak".into(),
        ]);
        let got = charted_metrics(many.iter().map(String::as_str).collect());
        assert_eq!(got, vec!["connected", "dial_delay_ms_p95@peak"]);
    }

    #[test]
    fn settings_as_written_give_numbers_and_units() {
        assert_eq!(lever_x("20/s"), Some((20.0, "/s")));
        assert_eq!(lever_x("2.5"), Some((2.5, "")));
        assert_eq!(lever_x("250ms"), Some((0.25, "s")));
        assert_eq!(lever_x("queue"), None);
        let (x, unit) = positions(&["18/s".into(), "20/s".into()], true);
        assert_eq!((x, unit.as_str()), (vec![18.0, 20.0], "/s"));
        // Units differ, the order holds: 300/min is 5/s, left of 5.5/s.
        let (x, unit) = positions(&["300/min".into(), "5.5/s".into(), "6/s".into()], true);
        assert_eq!((x, unit.as_str()), (vec![5.0, 5.5, 6.0], "/s"));
        // Clock times: 00:10 and 00:20 apart (both read as 0 before), in hours.
        let (x, unit) = positions(&["00:10".into(), "00:20".into(), "01:30".into()], true);
        assert_eq!(unit, "hours since midnight");
        assert!(
            (x[0] - 1.0 / 6.0).abs() < 1e-12 && (x[1] - 1.0 / 3.0).abs() < 1e-12 && x[2] == 1.5
        );
        // Kinds mixed: positions.
        let (x, _) = positions(&["1m".into(), "2".into()], true);
        assert_eq!(x, vec![0.0, 1.0]);
        let (x, _) = positions(&["a".into(), "20/s".into()], true);
        assert_eq!(
            x,
            vec![0.0, 1.0],
            "a value without a number falls back to positions"
        );
    }
}
