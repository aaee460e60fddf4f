//! Charts drawn with plotters' SVG backend: time series (clock time on x, bands, shaded
//! windows, markers), interval charts (a mean with 95% whiskers per variant) and lever charts
//! (a metric against a swept setting). plotters writes no `<title>`, so `add_tooltips` adds one
//! to each point marker afterwards (the markers are drawn last, so they are the last circles).

use super::Error;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Okabe-Ito, the colour-blind-safe palette (yellow left out: too pale on white).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
];
pub const BLACK_I: usize = 6;
const BACKUP_SHADE: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
const WINDOW_SHADE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
pub const W: u32 = 1000;
pub const H: u32 = 380;
const FONT: &str = "sans-serif";

/// A rendered chart: its SVG and what the page says about it.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File stem in `charts/` and the figure's id.
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub svg: String,
    /// Number of data points drawn (with a tooltip); 0 means the chart shows nothing.
    pub points: usize,
    /// The chart draws a data line of 3 or more points, which the page's self-check then expects.
    pub has_line: bool,
    /// Half width on the page (interval charts, shown in pairs).
    pub narrow: bool,
}

/// One line of a time or lever chart; NaN values leave gaps.
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub name: String,
    pub pts: Vec<(f64, f64)>,
    /// 95% interval per point (x, low, high), drawn as a translucent band.
    pub band: Vec<(f64, f64, f64)>,
    pub colour: usize,
    pub dashed: bool,
    /// Points get hover markers with a tooltip.
    pub tips: bool,
}

/// A shaded clock window: backup routing or a named window.
#[derive(Clone, Debug)]
pub struct Shade {
    pub from: f64,
    pub to: f64,
    pub label: String,
    pub backup: bool,
}

/// A labelled vertical marker (a scheduled change, a failover).
#[derive(Clone, Debug)]
pub struct Marker {
    pub at: f64,
    pub label: String,
}

/// A chart over clock time (x in seconds since midnight).
#[derive(Clone, Debug, Default)]
pub struct TimeChart {
    pub id: String,
    pub title: String,
    pub y_label: String,
    /// Unit in tooltips (e.g. "calls", "s").
    pub unit: String,
    pub x_range: (f64, f64),
    pub lines: Vec<Line>,
    pub shades: Vec<Shade>,
    pub markers: Vec<Marker>,
}

pub const X_LABEL_CLOCK: &str = "clock time (HH:MM)";

pub fn hhmm(t_s: f64) -> String {
    let m = (t_s / 60.0).round() as i64;
    format!("{:02}:{:02}", m.div_euclid(60), m.rem_euclid(60))
}

/// Formats a value for labels and tooltips: no decimals from 1000, 3 significant digits below.
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() >= 1000.0 || x == x.trunc() {
        format!("{:.0}", x)
    } else if x.abs() >= 10.0 {
        format!("{:.1}", x)
    } else if x.abs() >= 1.0 {
        format!("{:.2}", x)
    } else {
        // 3 significant digits: 0.123, 0.00367
        let decimals = (2.0 - x.abs().log10().floor()).clamp(3.0, 12.0) as usize;
        format!("{x:.decimals$}")
    }
}

fn draw_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Io(format!("drawing a chart: {e:?}"))
}

/// Clock ticks: every 5, 15, 30 minutes, 1, 2, 4 or 8 hours, or whole days, whichever gives at
/// most about 14.
fn clock_ticks(x0: f64, x1: f64) -> Vec<f64> {
    let span = (x1 - x0).max(60.0);
    let step = [300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0]
        .into_iter()
        .find(|s| span / s <= 14.0)
        .unwrap_or_else(|| (span / 14.0 / 86400.0).ceil() * 86400.0);
    let mut t = (x0 / step).ceil() * step;
    let mut v = Vec::new();
    while t <= x1 + 1e-9 {
        v.push(t);
        t += step;
    }
    v
}

/// An f64 axis whose ticks are given (clock times on the hour, category indices).
struct TickAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for TickAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let r = if span > 0.0 {
            (v - self.lo) / span
        } else {
            0.0
        };
        limit.0 + ((limit.1 - limit.0) as f64 * r + 1e-3).floor() as i32
    }
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for TickAxis {
    fn format(v: &f64) -> String {
        fmt_num(*v)
    }
}

/// Largest finite value drawn, with headroom; 1 if nothing is finite and positive.
fn y_top(values: impl Iterator<Item = f64>) -> f64 {
    let m = values.filter(|v| v.is_finite()).fold(0.0f64, f64::max);
    if m > 0.0 {
        m * 1.25
    } else {
        1.0
    }
}

/// Splits points into runs of finite values (NaN breaks a line).
fn segments(pts: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in pts {
        if y.is_finite() {
            out.last_mut().unwrap().push((x, y));
        } else if !out.last().unwrap().is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Polygons of a band (upper edge forward, lower edge back), split where undefined.
fn band_polygons(band: &[(f64, f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64, f64)> = Vec::new();
    let flush = |cur: &mut Vec<(f64, f64, f64)>, out: &mut Vec<Vec<(f64, f64)>>| {
        if cur.len() >= 2 {
            let mut p: Vec<(f64, f64)> = cur.iter().map(|&(x, _, h)| (x, h)).collect();
            p.extend(cur.iter().rev().map(|&(x, l, _)| (x, l.max(0.0))));
            out.push(p);
        }
        cur.clear();
    };
    for &b in band {
        if b.1.is_finite() && b.2.is_finite() {
            cur.push(b);
        } else {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Every `k`-th finite point so that a line carries at most `max` tooltip markers.
fn tip_points(pts: &[(f64, f64)], max: usize) -> Vec<(usize, f64, f64)> {
    let fin: Vec<(usize, f64, f64)> = pts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.1.is_finite())
        .map(|(i, p)| (i, p.0, p.1))
        .collect();
    let k = fin.len().div_ceil(max.max(1)).max(1);
    fin.into_iter().step_by(k).collect()
}

/// Adds `<title>` to the last `titles.len()` circles of `svg`, in order.
pub fn add_tooltips(svg: &str, titles: &[String]) -> String {
    let starts: Vec<usize> = svg.match_indices("<circle").map(|(i, _)| i).collect();
    let first = starts.len().saturating_sub(titles.len());
    let mut out = String::with_capacity(svg.len() + titles.len() * 60);
    let mut pos = 0;
    for (start, title) in starts[first..].iter().zip(titles) {
        let Some(rel) = svg[*start..].find("/>") else {
            break;
        };
        let end = start + rel;
        out.push_str(&svg[pos..end]);
        out.push_str("><title>");
        out.push_str(&escape(title));
        out.push_str("</title></circle>");
        pos = end + 2;
    }
    out.push_str(&svg[pos..]);
    out
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<TickAxis, RangedCoordf64>>;
type Root<'b> = DrawingArea<SVGBackend<'b>, Shift>;

/// Draws into a fresh SVG of `size`; `draw` pushes one tooltip per point marker it draws last.
/// Returns the SVG with the tooltips added, and how many there are.
fn render(
    size: (u32, u32),
    draw: impl FnOnce(&Root<'_>, &mut Vec<String>) -> Result<(), Error>,
) -> Result<(String, usize), Error> {
    let mut svg = String::new();
    let mut titles = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root, &mut titles)?;
        root.present().map_err(draw_err)?;
    }
    Ok((add_tooltips(&svg, &titles), titles.len()))
}

/// Axes, the grid and their labels in the house style.
struct Axes<'l> {
    title: &'l str,
    caption: u32,
    x: TickAxis,
    y: std::ops::Range<f64>,
    x_label: &'l str,
    y_label: &'l str,
    x_fmt: &'l dyn Fn(&f64) -> String,
}

fn axes<'a, 'b>(root: &'a Root<'b>, a: Axes<'_>) -> Result<Ctx<'a, 'b>, Error> {
    let mut ch = ChartBuilder::on(root)
        .caption(a.title, (FONT, a.caption))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(76)
        .build_cartesian_2d(a.x, a.y)
        .map_err(draw_err)?;
    ch.configure_mesh()
        .x_desc(a.x_label)
        .y_desc(a.y_label)
        .x_label_formatter(a.x_fmt)
        .y_label_formatter(&|y| fmt_num(*y))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xE4, 0xE4, 0xE4))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(draw_err)?;
    Ok(ch)
}

/// Renders a time chart.
pub fn time_chart(c: &TimeChart) -> Result<Chart, Error> {
    let (x0, x1) = c.x_range;
    let values = c
        .lines
        .iter()
        .flat_map(|l| l.pts.iter().map(|p| p.1).chain(l.band.iter().map(|b| b.2)));
    let ymax = y_top(values);
    let (svg, points) = render((W, H), |root, titles| {
        let x = TickAxis {
            lo: x0,
            hi: x1,
            ticks: clock_ticks(x0, x1),
        };
        let fmt = |x: &f64| hhmm(*x);
        let a = Axes {
            title: &c.title,
            caption: 21,
            x,
            y: 0.0..ymax,
            x_label: X_LABEL_CLOCK,
            y_label: &c.y_label,
            x_fmt: &fmt,
        };
        let mut ch = axes(root, a)?;
        draw_shades(&mut ch, &c.shades, ymax)?;
        draw_markers(&mut ch, &c.markers, ymax, c.x_range)?;
        for l in &c.lines {
            draw_line(&mut ch, l)?;
        }
        legend(&mut ch)?;
        for l in c.lines.iter().filter(|l| l.tips) {
            let col = PALETTE[l.colour % PALETTE.len()];
            for (i, x, y) in tip_points(&l.pts, 60) {
                ch.draw_series(std::iter::once(Circle::new((x, y), 3, col.filled())))
                    .map_err(draw_err)?;
                titles.push(time_tip(l, i, x, y, &c.unit));
            }
        }
        Ok(())
    })?;
    Ok(Chart {
        id: c.id.clone(),
        title: c.title.clone(),
        x_label: X_LABEL_CLOCK.into(),
        y_label: c.y_label.clone(),
        svg,
        points,
        has_line: c
            .lines
            .iter()
            .any(|l| segments(&l.pts).iter().any(|s| s.len() >= 3)),
        narrow: false,
    })
}

fn time_tip(l: &Line, i: usize, x: f64, y: f64, unit: &str) -> String {
    let ci = l
        .band
        .get(i)
        .filter(|b| b.1.is_finite() && b.2.is_finite())
        .map(|b| format!(" (95% CI {} to {})", fmt_num(b.1), fmt_num(b.2)))
        .unwrap_or_default();
    format!("{} at {}: {} {unit}{ci}", l.name, hhmm(x), fmt_num(y))
}

fn draw_line(ch: &mut Ctx<'_, '_>, l: &Line) -> Result<(), Error> {
    let col = PALETTE[l.colour % PALETTE.len()];
    for poly in band_polygons(&l.band) {
        ch.draw_series(std::iter::once(Polygon::new(poly, col.mix(0.18).filled())))
            .map_err(draw_err)?;
    }
    let style = col.stroke_width(2);
    for (k, seg) in segments(&l.pts).into_iter().enumerate() {
        let anno = if l.dashed {
            ch.draw_series(DashedLineSeries::new(seg, 8, 5, style))
                .map_err(draw_err)?
        } else {
            ch.draw_series(LineSeries::new(seg, style))
                .map_err(draw_err)?
        };
        if k == 0 {
            let dashed = l.dashed;
            anno.label(&l.name).legend(move |(x, y)| {
                let gap = if dashed { 8 } else { 20 };
                PathElement::new(vec![(x, y), (x + gap, y)], col.stroke_width(2))
            });
        }
    }
    Ok(())
}

fn draw_shades(ch: &mut Ctx<'_, '_>, shades: &[Shade], ymax: f64) -> Result<(), Error> {
    for (i, s) in shades.iter().enumerate() {
        let col = if s.backup { BACKUP_SHADE } else { WINDOW_SHADE };
        ch.draw_series(std::iter::once(Rectangle::new(
            [(s.from, 0.0), (s.to, ymax)],
            col.mix(0.16).filled(),
        )))
        .map_err(draw_err)?;
        let y = ymax * if i % 2 == 0 { 0.97 } else { 0.91 };
        let style = TextStyle::from((FONT, 13).into_font())
            .color(&RGBColor(0x33, 0x33, 0x33))
            .pos(Pos::new(HPos::Left, VPos::Top));
        ch.draw_series(std::iter::once(Text::new(
            s.label.clone(),
            (s.from, y),
            style,
        )))
        .map_err(draw_err)?;
    }
    Ok(())
}

fn draw_markers(
    ch: &mut Ctx<'_, '_>,
    markers: &[Marker],
    ymax: f64,
    x_range: (f64, f64),
) -> Result<(), Error> {
    let grey = RGBColor(0x55, 0x55, 0x55);
    let mid = x_range.0 + 0.6 * (x_range.1 - x_range.0);
    for (i, m) in markers.iter().enumerate() {
        ch.draw_series(DashedLineSeries::new(
            vec![(m.at, 0.0), (m.at, ymax)],
            4,
            4,
            grey.stroke_width(1),
        ))
        .map_err(draw_err)?;
        let y = ymax * (0.84 - 0.07 * (i % 3) as f64);
        let label = short(&m.label, 48);
        let (text, h) = if m.at < mid {
            (format!(" {label}"), HPos::Left)
        } else {
            (format!("{label} "), HPos::Right)
        };
        let style = TextStyle::from((FONT, 13).into_font())
            .color(&grey)
            .pos(Pos::new(h, VPos::Top));
        ch.draw_series(std::iter::once(Text::new(text, (m.at, y), style)))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// At most `n` characters, with an ellipsis when cut (the page lists the full text).
pub fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>().trim_end())
    }
}

fn legend<'a, 'b: 'a>(ch: &mut Ctx<'a, 'b>) -> Result<(), Error> {
    ch.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xAA, 0xAA, 0xAA))
        .label_font((FONT, 14))
        .draw()
        .map_err(draw_err)
}

/// One whisker of an interval chart.
#[derive(Clone, Debug)]
pub struct Whisker {
    pub label: String,
    /// Palette index: a variant keeps its colour across charts.
    pub colour: usize,
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// y range of an interval chart: zero included, 12% headroom.
fn interval_range(items: &[Whisker]) -> std::ops::Range<f64> {
    let vals = items.iter().flat_map(|w| [w.mean, w.low, w.high]);
    let (lo, hi) = vals
        .filter(|v| v.is_finite())
        .fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.12).max(if hi == lo { 1.0 } else { 0.0 });
    (if lo < 0.0 { lo - pad } else { 0.0 })..(if hi > 0.0 { hi + pad } else { pad })
}

/// Means with 95% whiskers by category (variants); `zero` draws the zero line (differences).
pub fn interval_chart(
    id: &str,
    title: &str,
    y_label: &str,
    items: &[Whisker],
    zero: bool,
) -> Result<Chart, Error> {
    let n = items.len() as f64;
    let names: Vec<String> = items.iter().map(|w| w.label.clone()).collect();
    let x_label = "variant";
    let (svg, points) = render((600, 340), |root, titles| {
        let x = TickAxis {
            lo: -0.5,
            hi: n - 0.5,
            ticks: (0..items.len()).map(|i| i as f64).collect(),
        };
        let fmt = |x: &f64| names.get(x.round() as usize).cloned().unwrap_or_default();
        let a = Axes {
            title,
            caption: 17,
            x,
            y: interval_range(items),
            x_label,
            y_label,
            x_fmt: &fmt,
        };
        let mut ch = axes(root, a)?;
        if zero {
            let l = LineSeries::new(vec![(-0.5, 0.0), (n - 0.5, 0.0)], BLACK.stroke_width(1));
            ch.draw_series(l).map_err(draw_err)?;
        }
        for (i, w) in items
            .iter()
            .enumerate()
            .filter(|(_, w)| w.low.is_finite() && w.high.is_finite())
        {
            let (x, s) = (i as f64, PALETTE[w.colour % PALETTE.len()].stroke_width(2));
            let path = vec![
                (x - 0.08, w.low),
                (x + 0.08, w.low),
                (x, w.low),
                (x, w.high),
                (x - 0.08, w.high),
                (x + 0.08, w.high),
            ];
            ch.draw_series(std::iter::once(PathElement::new(path, s)))
                .map_err(draw_err)?;
        }
        for (i, w) in items.iter().enumerate().filter(|(_, w)| w.mean.is_finite()) {
            let dot = Circle::new(
                (i as f64, w.mean),
                5,
                PALETTE[w.colour % PALETTE.len()].filled(),
            );
            ch.draw_series(std::iter::once(dot)).map_err(draw_err)?;
            titles.push(format!(
                "{}: {} (95% CI {} to {})",
                w.label,
                fmt_num(w.mean),
                fmt_num(w.low),
                fmt_num(w.high)
            ));
        }
        Ok(())
    })?;
    Ok(Chart {
        id: id.into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        points,
        has_line: false,
        narrow: true,
    })
}

/// A point of a lever chart: setting, mean and interval, and (plans) a verdict.
#[derive(Clone, Debug)]
pub struct LeverPoint {
    pub x: f64,
    pub label: String,
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    /// "pass", "fail", "unclear" or empty.
    pub verdict: String,
}

/// A metric against a lever (sweep, plan): band, line, points, target line, chosen value.
pub struct LeverChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub points: &'a [LeverPoint],
    pub target: Option<(f64, String)>,
    pub chosen: Option<(f64, String)>,
}

fn verdict_colour(v: &str) -> RGBColor {
    match v {
        "pass" => PALETTE[2],
        "fail" => PALETTE[3],
        "unclear" => RGBColor(0x88, 0x88, 0x88),
        _ => PALETTE[0],
    }
}

/// The band and mean line, the target line, the chosen value and the legend.
fn draw_lever<'a, 'b: 'a>(
    ch: &mut Ctx<'a, 'b>,
    c: &LeverChart,
    pts: &[LeverPoint],
    xr: (f64, f64),
    ymax: f64,
) -> Result<(), Error> {
    let mean = Line {
        name: "mean with 95% CI".into(),
        pts: pts.iter().map(|p| (p.x, p.mean)).collect(),
        band: pts.iter().map(|p| (p.x, p.low, p.high)).collect(),
        ..Line::default()
    };
    draw_line(ch, &mean)?;
    if let Some((t, label)) = &c.target {
        let pts = vec![(xr.0, *t), (xr.1, *t)];
        let name = label.clone();
        draw_line(
            ch,
            &Line {
                name,
                pts,
                colour: 3,
                dashed: true,
                ..Line::default()
            },
        )?;
    }
    if let Some((x, label)) = &c.chosen {
        let m = Marker {
            at: *x,
            label: label.clone(),
        };
        draw_markers(ch, &[m], ymax, xr)?;
    }
    legend(ch)
}

fn lever_tip(x_label: &str, p: &LeverPoint) -> String {
    let v = if p.verdict.is_empty() {
        String::new()
    } else {
        format!(": {}", p.verdict)
    };
    let (m, lo, hi) = (fmt_num(p.mean), fmt_num(p.low), fmt_num(p.high));
    format!("{x_label} = {}: {m} (95% CI {lo} to {hi}){v}", p.label)
}

/// A metric against a lever: points in order of the setting, ticks at the evaluated settings.
pub fn lever_chart(c: &LeverChart) -> Result<Chart, Error> {
    let mut pts = c.points.to_vec();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let (xa, xb) = match (pts.first(), pts.last()) {
        (Some(a), Some(b)) => (a.x, b.x),
        _ => (0.0, 1.0),
    };
    let pad = ((xb - xa) * 0.05).max(0.5);
    let xr = (xa - pad, xb + pad);
    let ymax = y_top(
        pts.iter()
            .flat_map(|p| [p.mean, p.high])
            .chain(c.target.iter().map(|t| t.0)),
    );
    let labels: Vec<(f64, String)> = pts.iter().map(|p| (p.x, p.label.clone())).collect();
    let (svg, points) = render((W, H), |root, titles| {
        let x = TickAxis {
            lo: xr.0,
            hi: xr.1,
            ticks: pts.iter().map(|p| p.x).collect(),
        };
        let fmt = |x: &f64| {
            labels
                .iter()
                .find(|l| l.0 == *x)
                .map_or_else(|| fmt_num(*x), |l| l.1.clone())
        };
        let a = Axes {
            title: c.title,
            caption: 21,
            x,
            y: 0.0..ymax,
            x_label: c.x_label,
            y_label: c.y_label,
            x_fmt: &fmt,
        };
        let mut ch = axes(root, a)?;
        draw_lever(&mut ch, c, &pts, xr, ymax)?;
        for p in pts.iter().filter(|p| p.mean.is_finite()) {
            let dot = Circle::new((p.x, p.mean), 5, verdict_colour(&p.verdict).filled());
            ch.draw_series(std::iter::once(dot)).map_err(draw_err)?;
            titles.push(lever_tip(c.x_label, p));
        }
        Ok(())
    })?;
    Ok(Chart {
        id: c.id.into(),
        title: c.title.into(),
        x_label: c.x_label.into(),
        y_label: c.y_label.into(),
        svg,
        points,
        // A line of 2 points looks like a legend sample to the page's self-check.
        has_line: pts.iter().filter(|p| p.mean.is_finite()).count() >= 3,
        narrow: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tooltips_go_on_the_last_circles_in_order() {
        let svg = r#"<svg><circle r="1"/><circle r="2"/><circle r="3"/></svg>"#;
        let out = add_tooltips(svg, &["b<".into(), "c".into()]);
        assert_eq!(
            out,
            r#"<svg><circle r="1"/><circle r="2"><title>b&lt;</title></circle><circle r="3"><title>c</title></circle></svg>"#
        );
    }

    #[test]
    fn nan_splits_lines_and_bands() {
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 2.0), (3.0, 3.0)];
        assert_eq!(
            segments(&pts),
            vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]
        );
        let band = [
            (0.0, 0.0, 1.0),
            (1.0, 0.0, 1.0),
            (2.0, f64::NAN, f64::NAN),
            (3.0, 1.0, 2.0),
        ];
        let polys = band_polygons(&band);
        assert_eq!(polys.len(), 1, "a one-point run makes no polygon");
        assert_eq!(
            polys[0],
            vec![(0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)]
        );
    }

    #[test]
    fn a_lever_line_of_two_points_is_not_claimed_as_a_line() {
        let p = |x: f64| LeverPoint {
            x,
            label: format!("{x}/s"),
            mean: x,
            low: x - 1.0,
            high: x + 1.0,
            verdict: "pass".into(),
        };
        let chart = |pts: &[LeverPoint]| {
            lever_chart(&LeverChart {
                id: "p",
                title: "t",
                x_label: "rate (/s)",
                y_label: "y",
                points: pts,
                target: Some((5.0, "target".into())),
                chosen: Some((9.0, "chosen: 9/s".into())),
            })
            .unwrap()
        };
        let two = chart(&[p(9.0), p(8.0)]);
        assert!(!two.has_line && two.points == 2 && !two.narrow);
        assert!(two.svg.contains("<title>rate (/s) = 8/s: 8") && two.svg.contains("chosen: 9/s"));
        assert!(chart(&[p(9.0), p(8.0), p(10.0)]).has_line);
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(fmt_num(0.0036718), "0.00367");
        assert_eq!(fmt_num(0.5), "0.500");
        assert_eq!(fmt_num(12.345), "12.3");
        assert_eq!(fmt_num(191673.4), "191673");
        assert_eq!(fmt_num(f64::NAN), "-");
    }

    #[test]
    fn clock_ticks_are_round_and_few() {
        let t = clock_ticks(12.0 * 3600.0, 18.5 * 3600.0);
        assert_eq!(t.first().copied(), Some(43200.0));
        assert!(
            t.len() <= 14 && t.windows(2).all(|w| w[1] - w[0] == 1800.0),
            "{t:?}"
        );
        assert_eq!(hhmm(14.0 * 3600.0 + 39.0 * 60.0), "14:39");
        // Long runs tick in whole days, still few.
        for span_h in [400.0, 7000.0, 5e6] {
            let t = clock_ticks(0.0, span_h * 3600.0);
            assert!(t.len() <= 15 && t[1] % 86400.0 == 0.0, "{span_h} h: {t:?}");
        }
    }

    #[test]
    fn a_time_chart_has_its_labels_lines_and_tooltips() {
        let c = TimeChart {
            id: "t".into(),
            title: "Calls".into(),
            y_label: "calls per minute".into(),
            unit: "calls".into(),
            x_range: (43200.0, 46800.0),
            lines: vec![Line {
                name: "offered".into(),
                pts: (0..60)
                    .map(|i| (43200.0 + 60.0 * i as f64, i as f64))
                    .collect(),
                tips: true,
                ..Line::default()
            }],
            ..TimeChart::default()
        };
        let ch = time_chart(&c).unwrap();
        assert!(ch.svg.contains("calls per minute") && ch.svg.contains(X_LABEL_CLOCK));
        assert!(
            ch.svg.contains("<polyline")
                && ch.svg.contains("<title>offered at 12:59: 59 calls</title>")
        );
        assert_eq!(ch.points, 60);
    }
}
