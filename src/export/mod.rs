//! CSV outputs: `summary.csv`, `timeline.csv`, `calls.csv`, `alerts.csv`, `compare.csv`. Tidy: one
//! observation per row, units last in column names; the headers are a contract documented in
//! docs/outputs.md. Files are written under temporary names and renamed only when everything
//! succeeded, so a failed run never leaves a half-written result file.

use crate::metrics::count_fields;
use crate::metrics::{estimate_column, RepValues};
use crate::model::{CallRecord, CallSink, Outcome};
use crate::run::ReplicationResult;
mod alerts;
mod files;
pub use alerts::{write_alerts, HEADER as ALERTS_HEADER};
mod rows;
pub use files::{install_signal_cleanup, OutputFiles, OUTPUT_NAMES};
pub use rows::{RowCheck, RunRows};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Formats a float for CSV: shortest round-trip form, empty for NaN (read as missing by
/// pandas, polars and R).
pub fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else if x.is_infinite() {
        if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{x}")
    }
}

fn csv_err(e: impl std::fmt::Display) -> String {
    format!("writing CSV: {e}")
}

/// `summary.csv`: one row per replication, then `mean`, `ci95_low`, `ci95_high` rows; one
/// column per metric (`names`, aligned with each row's values).
pub fn write_summary(
    w: impl Write,
    names: &[String],
    rows: &[RepValues],
    seed: u64,
    variant: &str,
) -> Result<(), String> {
    let mut wr = csv::Writer::from_writer(w);
    if rows.is_empty() {
        return Ok(());
    }
    let mut header = vec![
        "statistic",
        "variant",
        "replication",
        "seed",
        "replications",
    ];
    header.extend(names.iter().map(String::as_str));
    wr.write_record(&header).map_err(csv_err)?;
    for r in rows {
        let mut rec = vec![
            "replication".to_string(),
            variant.to_string(),
            r.replication.to_string(),
            seed.to_string(),
            "1".into(),
        ];
        rec.extend(r.values.iter().map(|v| num(*v)));
        wr.write_record(&rec).map_err(csv_err)?;
    }
    let ests: Vec<_> = (0..names.len())
        .map(|j| estimate_column(rows, j, 0.95))
        .collect();
    for stat in ["mean", "ci95_low", "ci95_high"] {
        let mut rec = vec![
            stat.to_string(),
            variant.to_string(),
            String::new(),
            seed.to_string(),
            rows.len().to_string(),
        ];
        rec.extend(ests.iter().map(|e| {
            num(match stat {
                "mean" => e.mean,
                "ci95_low" => e.low(),
                _ => e.high(),
            })
        }));
        wr.write_record(&rec).map_err(csv_err)?;
    }
    wr.flush().map_err(csv_err)
}

/// The columns of `timeline.csv` after the counters: `abandoned`, the ten delay statistics
/// (empty when the interval had none), the three maxima and `backup_on`.
pub const TIMELINE_TAIL: [&str; 15] = [
    "abandoned",
    "dial_delay_ms_p50",
    "dial_delay_ms_p90",
    "dial_delay_ms_p95",
    "dial_delay_ms_p99",
    "dial_delay_ms_max",
    "pdd_ms_p50",
    "pdd_ms_p90",
    "pdd_ms_p95",
    "pdd_ms_p99",
    "pdd_ms_max",
    "queue_len_max",
    "channels_in_use_max",
    "accounts_blocked_max",
    "backup_on",
];

/// The counters a scenario reports (`count_fields`), by name.
pub fn count_names(cfg: &crate::model::config::ModelConfig) -> Vec<&'static str> {
    count_fields(&crate::model::obs::Counts::default(), cfg)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// `timeline.csv`'s header for a scenario.
pub fn timeline_header(cfg: &crate::model::config::ModelConfig) -> Vec<&'static str> {
    let mut header: Vec<&str> = vec!["variant", "replication", "clock", "t_s"];
    header.extend(count_names(cfg));
    header.extend(TIMELINE_TAIL);
    header
}

/// `timeline.csv`: one row per replication and interval.
/// `origin_ns` is the run's start: labels show seconds unless start and interval are both whole
/// minutes.
pub fn write_timeline(
    w: impl Write,
    results: &[ReplicationResult],
    variant: &str,
    cfg: &crate::model::config::ModelConfig,
) -> Result<(), String> {
    let (origin_ns, interval_ns) = (cfg.start.as_ns(), cfg.interval.as_ns());
    let mut wr = csv::Writer::from_writer(w);
    if results.iter().all(|r| r.obs.timeline.rows.is_empty()) {
        return Ok(());
    }
    wr.write_record(timeline_header(cfg)).map_err(csv_err)?;
    let seconds_grid =
        !interval_ns.is_multiple_of(60_000_000_000) || !origin_ns.is_multiple_of(60_000_000_000);
    for r in results {
        for row in &r.obs.timeline.rows {
            let clock = if seconds_grid {
                row.start.clock_hhmmss()
            } else {
                row.start.clock_hhmm()
            };
            let mut rec = vec![
                variant.to_string(),
                r.replication.to_string(),
                clock,
                num(row.start.as_secs_f64()),
            ];
            rec.extend(
                count_fields(&row.counts, cfg)
                    .into_iter()
                    .map(|(_, v)| v.to_string()),
            );
            rec.push(row.counts.abandoned().to_string());
            for v in [
                row.dial_delay_ms_p50,
                row.dial_delay_ms_p90,
                row.dial_delay_ms_p95,
                row.dial_delay_ms_p99,
                row.dial_delay_ms_max,
                row.pdd_ms_p50,
                row.pdd_ms_p90,
                row.pdd_ms_p95,
                row.pdd_ms_p99,
                row.pdd_ms_max,
            ] {
                rec.push(num(v));
            }
            rec.push(row.queue_len_max.to_string());
            rec.push(row.channels_in_use_max.to_string());
            rec.push(row.accounts_blocked_max.to_string());
            rec.push(u8::from(row.backup_on).to_string());
            wr.write_record(&rec).map_err(csv_err)?;
        }
    }
    wr.flush().map_err(csv_err)
}

pub const CALLS_HEADER: &[&str] = &[
    "variant",
    "replication",
    "source",
    "call_index",
    "attempt",
    "arrival_clock",
    "arrival_s",
    "routing",
    "legs",
    "outcome",
    "pdd_ms",
    "wait_s",
    "talk_s",
    "failure_code",
];

/// Streams one replication's calls to a part file (concatenated in replication order later).
pub struct CallsCsvSink {
    wr: csv::Writer<BufWriter<File>>,
    variant: String,
    replication: u32,
    sources: Vec<String>,
    error: Option<String>,
}

impl CallsCsvSink {
    pub fn create(
        path: &Path,
        variant: &str,
        replication: u32,
        sources: Vec<String>,
    ) -> Result<Self, String> {
        let f =
            File::create(path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        let wr = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(BufWriter::new(f));
        Ok(CallsCsvSink {
            wr,
            variant: variant.to_string(),
            replication,
            sources,
            error: None,
        })
    }
}

impl CallSink for CallsCsvSink {
    fn record(&mut self, c: &CallRecord) {
        if self.error.is_some() {
            return;
        }
        let rec = [
            self.variant.clone(),
            self.replication.to_string(),
            self.sources[c.source].clone(),
            c.call_index.to_string(),
            c.attempt.to_string(),
            c.arrival.clock_hhmmss(),
            num(c.arrival.as_secs_f64()),
            if c.backup {
                "backup".into()
            } else {
                "normal".into()
            },
            c.legs.to_string(),
            c.outcome.as_str().to_string(),
            c.pdd.map(|d| num(d.as_millis_f64())).unwrap_or_default(),
            num(c.wait.as_secs_f64()),
            c.talk.map(|d| num(d.as_secs_f64())).unwrap_or_default(),
            c.failure_code.map(|x| x.to_string()).unwrap_or_default(),
        ];
        if let Err(e) = self.wr.write_record(&rec) {
            self.error = Some(csv_err(e));
        }
    }
    fn finish(&mut self) -> Result<(), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.wr.flush().map_err(csv_err)
    }
}

/// Concatenates part files (in the given order) under one header into `w`, removing them.
pub fn concat_parts(mut w: impl Write, parts: &[PathBuf]) -> Result<(), String> {
    writeln!(w, "{}", CALLS_HEADER.join(",")).map_err(csv_err)?;
    for p in parts {
        let mut f = File::open(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
        std::io::copy(&mut f, &mut w).map_err(csv_err)?;
        let _ = fs::remove_file(p);
    }
    w.flush().map_err(csv_err)
}

/// Concatenates CSV parts that each start with the same header line: the header once (from the
/// first non-empty part), then every part's rows. Parts are removed as they are copied.
pub fn concat_with_header(mut w: impl Write, parts: &[PathBuf]) -> Result<(), String> {
    use std::io::BufRead;
    let mut header_written = false;
    for p in parts {
        let f = File::open(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
        let mut r = std::io::BufReader::new(f);
        let mut first = String::new();
        r.read_line(&mut first).map_err(csv_err)?;
        if !first.is_empty() && !header_written {
            w.write_all(first.as_bytes()).map_err(csv_err)?;
            header_written = true;
        }
        std::io::copy(&mut r, &mut w).map_err(csv_err)?;
        let _ = fs::remove_file(p);
    }
    w.flush().map_err(csv_err)
}

impl Outcome {
    pub fn is_abandoned(self) -> bool {
        matches!(self, Outcome::AbandonedWaiting | Outcome::AbandonedRinging)
    }
}

pub fn clock_label(origin_ns: u64, interval_ns: u64, idx: usize) -> (String, String) {
    let t = crate::time::SimTime(origin_ns + idx as u64 * interval_ns);
    let seconds_grid =
        !interval_ns.is_multiple_of(60_000_000_000) || !origin_ns.is_multiple_of(60_000_000_000);
    (
        if seconds_grid {
            t.clock_hhmmss()
        } else {
            t.clock_hhmm()
        },
        num(t.as_secs_f64()),
    )
}

/// The header of `tenants.csv`, or with `timeline` of `tenants_timeline.csv`.
pub fn tenants_header(
    cfg: &crate::model::config::ModelConfig,
    timeline: bool,
) -> Vec<&'static str> {
    let mut head = vec!["variant", "replication", "source", "tenant", "method"];
    if timeline {
        head.extend(["clock", "t_s"]);
    } else {
        head.push("kind");
    }
    head.extend(count_names(cfg));
    head
}

/// `tenants.csv` (totals per replication and source) and `tenants_timeline.csv` (per interval).
pub fn write_tenants(
    totals: impl Write,
    timeline: impl Write,
    results: &[ReplicationResult],
    cfg: &crate::model::config::ModelConfig,
    variant: &str,
) -> Result<(), String> {
    let mut wt = csv::Writer::from_writer(totals);
    wt.write_record(tenants_header(cfg, false))
        .map_err(csv_err)?;
    let mut wl = csv::Writer::from_writer(timeline);
    wl.write_record(tenants_header(cfg, true))
        .map_err(csv_err)?;
    for r in results {
        for (s, so) in cfg.sources.iter().zip(&r.obs.per_source) {
            let c = &s.behaviour.client;
            let kind = if c.kind == crate::model::config::SourceKind::Request {
                "request"
            } else {
                "call"
            };
            let mut rec = vec![
                variant.to_string(),
                r.replication.to_string(),
                s.name.clone(),
                c.tenant.clone(),
                c.method.clone(),
                kind.into(),
            ];
            rec.extend(
                count_fields(&so.total, cfg)
                    .into_iter()
                    .map(|(_, v)| v.to_string()),
            );
            wt.write_record(&rec).map_err(csv_err)?;
            let rows = r.obs.timeline.rows.len();
            for idx in 0..rows {
                let (clock, t_s) = clock_label(cfg.start.as_ns(), cfg.interval.as_ns(), idx);
                let zero = crate::model::obs::Counts::default();
                let row = so.rows.get(idx).unwrap_or(&zero);
                let mut rec = vec![
                    variant.to_string(),
                    r.replication.to_string(),
                    s.name.clone(),
                    c.tenant.clone(),
                    c.method.clone(),
                    clock,
                    t_s,
                ];
                rec.extend(
                    count_fields(row, cfg)
                        .into_iter()
                        .map(|(_, v)| v.to_string()),
                );
                wl.write_record(&rec).map_err(csv_err)?;
            }
        }
    }
    wt.flush().map_err(csv_err)?;
    wl.flush().map_err(csv_err)
}

/// The event counts every stage row carries, in column order.
const STAGE_COUNTS: [&str; 8] = [
    "jobs",
    "refused",
    "rate_limited",
    "errors",
    "accounts_blocked",
    "pod_crashes",
    "pods_added",
    "failovers",
];

/// The values of [`STAGE_COUNTS`], in the same order.
fn stage_counts(c: &crate::model::obs::StageCounts) -> [u64; 8] {
    [
        c.jobs,
        c.refused,
        c.rate_limited,
        c.errors,
        c.accounts_blocked,
        c.pod_crashes,
        c.pods_added,
        c.failovers,
    ]
}

/// The columns of `stages.csv` after the counts: a maximum, then latencies (empty when the
/// stage served nothing).
const STAGE_TOTALS_TAIL: [&str; 7] = [
    "sessions_in_use_max",
    "latency_ms_mean",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p95",
    "latency_ms_p99",
    "latency_ms_max",
];

/// The columns of `stages_timeline.csv` after the counts: two levels, then latencies.
const STAGE_TIMELINE_TAIL: [&str; 7] = [
    "sessions_in_use_max",
    "pods_up_min",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p95",
    "latency_ms_p99",
    "latency_ms_max",
];

/// The header of `stages.csv`, or with `timeline` of `stages_timeline.csv`: the keys, the
/// clock columns for a timeline, the counts, then the tail.
pub fn stage_header(timeline: bool) -> Vec<&'static str> {
    let mut head = vec!["variant", "replication", "stage"];
    if timeline {
        head.extend(["clock", "t_s"]);
    }
    head.extend(STAGE_COUNTS);
    head.extend(if timeline {
        STAGE_TIMELINE_TAIL
    } else {
        STAGE_TOTALS_TAIL
    });
    head
}

/// `stages.csv` (totals per replication and stage) and `stages_timeline.csv` (per interval).
pub fn write_stages(
    totals: impl Write,
    timeline: impl Write,
    results: &[ReplicationResult],
    cfg: &crate::model::config::ModelConfig,
    variant: &str,
) -> Result<(), String> {
    let mut wt = csv::Writer::from_writer(totals);
    wt.write_record(stage_header(false)).map_err(csv_err)?;
    let mut wl = csv::Writer::from_writer(timeline);
    wl.write_record(stage_header(true)).map_err(csv_err)?;
    for r in results {
        for (s, so) in cfg.stages.iter().zip(&r.obs.stages) {
            let mut rec = vec![
                variant.to_string(),
                r.replication.to_string(),
                s.name.clone(),
            ];
            rec.extend(stage_counts(&so.total).iter().map(u64::to_string));
            rec.push(so.sessions_in_use_max.to_string());
            let h = &so.latency;
            for v in [
                h.mean_ms(),
                h.quantile_ms(0.5),
                h.quantile_ms(0.9),
                h.quantile_ms(0.95),
                h.quantile_ms(0.99),
                h.max_ms(),
            ] {
                rec.push(num(v));
            }
            wt.write_record(&rec).map_err(csv_err)?;
            for (idx, row) in so.rows.iter().enumerate() {
                let (clock, t_s) = clock_label(cfg.start.as_ns(), cfg.interval.as_ns(), idx);
                let mut rec = vec![
                    variant.to_string(),
                    r.replication.to_string(),
                    s.name.clone(),
                    clock,
                    t_s,
                ];
                rec.extend(stage_counts(&row.counts).iter().map(u64::to_string));
                rec.push(row.sessions_in_use_max.to_string());
                rec.push(row.pods_up_min.to_string());
                for v in [
                    row.latency_ms_p50,
                    row.latency_ms_p90,
                    row.latency_ms_p95,
                    row.latency_ms_p99,
                    row.latency_ms_max,
                ] {
                    rec.push(num(v));
                }
                wl.write_record(&rec).map_err(csv_err)?;
            }
        }
    }
    wt.flush().map_err(csv_err)?;
    wl.flush().map_err(csv_err)
}
