//! The page: header (scenario, seed, replications, version, the reproducing command), the
//! headline table beside the charts, CSS for screen and print, and a small inline self-check
//! that `tools/browser-check.sh` reads from the DOM (every chart has data, axis labels, and no
//! script error happened).

use super::charts::escape;
use super::{Page, Section};
use std::fmt::Write;

const CSS: &str = r#"
:root { --ink: #1b1b1b; --muted: #555; --rule: #d8d8d8; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
header, main, footer { max-width: 1500px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 18px; border-bottom: 1px solid var(--rule); }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 22px 0 6px; }
.desc { margin: 0 0 10px; color: var(--muted); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; font-size: 14px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
pre.command { background: #f4f4f4; padding: 8px 10px; border-radius: 4px; white-space: pre-wrap; word-break: break-all; font-size: 13px; }
ul.notes { background: #fff8e6; border-left: 4px solid #E69F00; padding: 8px 8px 8px 28px; font-size: 14px; }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) 330px; gap: 24px; align-items: start; }
.layout.full { grid-template-columns: minmax(0, 1fr); }
aside { position: sticky; top: 10px; }
table.headline { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
table.headline th, table.headline td { text-align: left; padding: 3px 4px; border-bottom: 1px solid var(--rule); vertical-align: top; }
table.headline td.num { text-align: right; white-space: nowrap; }
table.headline caption { text-align: left; color: var(--muted); font-size: 12px; padding-bottom: 4px; }
figure.chart { margin: 0 0 18px; }
figure.chart.narrow { display: inline-block; vertical-align: top; width: calc(50% - 12px); margin-right: 8px; }
figure.chart svg { display: block; width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: var(--muted); }
p.section-text { color: var(--muted); font-size: 14px; margin: 0 0 10px; }
footer { color: var(--muted); font-size: 12px; padding: 16px 24px 30px; }
@media (max-width: 1000px) { .layout { grid-template-columns: 1fr; } aside { position: static; } }
@media print {
  body { font-size: 11pt; }
  header, main, footer { max-width: none; padding: 0; }
  .layout { display: flex; flex-direction: column; }
  aside { position: static; order: -1; margin-bottom: 12pt; }
  figure.chart { break-inside: avoid; page-break-inside: avoid; }
  h2, p.section-text { break-after: avoid; page-break-after: avoid; }
  figure.chart.narrow { width: 48%; }
  figure.chart svg { border: none; }
  pre.command { background: none; border: 1px solid #999; }
}
"#;

/// Records script errors, then checks every chart: an SVG with a size, data points (circles
/// with a tooltip), a data line where one is expected, and its axis labels as text. The verdict
/// goes to `<body data-selfcheck="ok N charts" | "fail: ...">`.
const SELF_CHECK: &str = r#"
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message || e)); });
  document.addEventListener('DOMContentLoaded', function () {
    var bad = [], figs = document.querySelectorAll('figure.chart');
    figs.forEach(function (f) {
      var svg = f.querySelector('svg'), id = f.id;
      if (!svg) { bad.push(id + ': no svg'); return; }
      var r = svg.getBoundingClientRect();
      if (!(r.width > 0 && r.height > 0)) bad.push(id + ': zero size');
      if (svg.querySelectorAll('circle > title').length < 1) bad.push(id + ': no data points');
      var lines = 0;
      svg.querySelectorAll('polyline').forEach(function (p) {
        if ((p.getAttribute('points') || '').trim().split(/\s+/).length >= 3) lines++;
      });
      if (f.getAttribute('data-line') === '1' && lines < 1) bad.push(id + ': no data line');
      var texts = Array.prototype.map.call(svg.querySelectorAll('text'), function (t) { return t.textContent.trim(); });
      ['data-xlabel', 'data-ylabel'].forEach(function (a) {
        if (texts.indexOf(f.getAttribute(a)) < 0) bad.push(id + ': axis label missing: ' + f.getAttribute(a));
      });
    });
    if (figs.length === 0) bad.push('no charts');
    var all = errors.concat(bad);
    document.body.setAttribute('data-selfcheck', all.length ? 'fail: ' + all.join('; ') : 'ok ' + figs.length + ' charts');
  });
})();
"#;

pub fn page(p: &Page, generated_at: Option<&str>) -> String {
    let mut h = String::with_capacity(1 << 20);
    let title = if p.title.is_empty() {
        format!("callsim {}", p.kind)
    } else {
        p.title.clone()
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} — callsim {} report</title>\n<style>{CSS}</style>\n<script>{SELF_CHECK}</script>\n</head>\n<body>\n",
        escape(&title),
        escape(&p.kind)
    );
    header(&mut h, p, &title, generated_at);
    let full = if p.headline.is_empty() { " full" } else { "" };
    let _ = write!(h, "<main class=\"layout{full}\">\n<div class=\"charts\">\n");
    for s in &p.sections {
        section(&mut h, s);
    }
    h.push_str("</div>\n<aside>\n");
    headline(&mut h, p);
    h.push_str("</aside>\n</main>\n<footer>Made by <code>callsim report</code>: self-contained (no network); every chart is also in <code>charts/</code> as an SVG file. Hover a point for its value.</footer>\n</body>\n</html>\n");
    h
}

fn header(h: &mut String, p: &Page, title: &str, generated_at: Option<&str>) {
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", escape(title));
    if !p.description.is_empty() {
        let _ = writeln!(h, "<p class=\"desc\">{}</p>", escape(&p.description));
    }
    h.push_str("<dl class=\"meta\">\n");
    let _ = writeln!(h, "<dt>report of</dt><dd>callsim {}</dd>", escape(&p.kind));
    for (k, v) in &p.meta {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
    }
    if let Some(g) = generated_at {
        let _ = writeln!(
            h,
            "<dt>generated at</dt><dd class=\"generated\">{}</dd>",
            escape(g)
        );
    }
    h.push_str("</dl>\n");
    if let Some(c) = &p.command {
        let _ = writeln!(
            h,
            "<p>Reproduce with:</p>\n<pre class=\"command\">{}</pre>",
            escape(c)
        );
    }
    if !p.notes.is_empty() {
        h.push_str("<ul class=\"notes\">\n");
        for n in &p.notes {
            let _ = writeln!(h, "<li>{}</li>", escape(n));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</header>\n");
}

fn section(h: &mut String, s: &Section) {
    let _ = writeln!(h, "<section>\n<h2>{}</h2>", escape(&s.heading));
    if !s.text.is_empty() {
        let _ = writeln!(h, "<p class=\"section-text\">{}</p>", escape(&s.text));
    }
    for c in &s.charts {
        let line = u8::from(c.has_line);
        let _ = writeln!(
            h,
            "<figure class=\"chart{}\" id=\"chart-{}\" data-xlabel=\"{}\" data-ylabel=\"{}\" data-line=\"{line}\" data-points=\"{}\">\n{}\n<figcaption>{} — <a href=\"charts/{}.svg\">charts/{}.svg</a></figcaption>\n</figure>",
            if c.narrow { " narrow" } else { "" },
            escape(&c.id),
            escape(&c.x_label),
            escape(&c.y_label),
            c.points,
            svg_body(&c.svg),
            escape(&c.title),
            escape(&c.id),
            escape(&c.id)
        );
    }
    h.push_str("</section>\n");
}

/// The SVG without an XML declaration, for inline use.
fn svg_body(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn headline(h: &mut String, p: &Page) {
    if p.headline.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Headline numbers</h2>\n<table class=\"headline\">\n<caption>{}</caption>",
        escape(&p.headline_caption)
    );
    for r in &p.headline {
        let _ = writeln!(
            h,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&r.label),
            escape(&r.value),
            escape(&r.ci)
        );
    }
    h.push_str("</table>\n");
}
