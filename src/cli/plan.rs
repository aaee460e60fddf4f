//! `callsim plan`: the least value of a lever at which every target holds with the stated
//! confidence. Points are evaluated as the search (src/plan.rs) asks for them; a point whose
//! verdict is unclear gets more replications (doubling, up to --max-replications).

use super::run::fmt_num;
use super::sweep::{load_points, point_label};
use super::work::Manifest;
use super::{CliError, CommonArgs};
use crate::batch::{evaluate, Config, Unit};
use crate::export::{num, OutputFiles};
use crate::grid::parse_vary;
use crate::plan::{
    analytic_estimate, combine, contradictions, judge, parse_target, search, Answer, Judgement,
    Target, Verdict,
};
use std::path::PathBuf;

pub const PLAN_EXAMPLES: &str = "\
Examples:
  callsim plan scenarios/sales-line.toml --vary carriers.carrier.rate=4/s..20/s:1/s \\
      --target 'dial_delay_ms_p95@peak <= 2000' --target 'abandon_ratio@peak <= 0.01'
  callsim plan scenarios/validation/erlang-c-c10-a8.toml --vary carriers.trunk.channels=8..30:1 \\
      --target 'dial_delay_ms_p90 <= 1000'

The lever must help as it grows (more rate, channels, pods): plan assumes each target is monotone
in it, says so, and reports any evaluated point that contradicts it. Thresholds are in the
metric's unit (ms for delays, a fraction for ratios). On a cluster, run each round's points as a
sharded `callsim sweep` (see deploy/README.md).";

#[derive(clap::Args, Debug)]
#[command(after_help = PLAN_EXAMPLES)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The lever: KEY=RANGE (or a list), ascending; keys joined by `;` move together.
    #[arg(long = "vary", value_name = "KEY=RANGE")]
    pub vary: String,
    /// A target, 'METRIC OP VALUE' with OP one of <=, <, >=, > (repeatable; all must hold).
    #[arg(long = "target", value_name = "'METRIC OP VALUE'", required = true)]
    pub targets: Vec<String>,
    /// Run this variant at every point.
    #[arg(long)]
    pub variant: Option<String>,
    /// One-sided confidence that each target holds at the answer. A point may be judged several
    /// times as its replications double, so each judgement's bound is at 1 - (1 - this)/looks.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Most replications a point may get while its verdict is unclear (default: 8 x the
    /// starting count).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub max_replications: Option<u32>,
    /// Write plan.csv (every evaluated point and target) and manifest.json into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// One evaluated point: its replications so far and its judgements.
struct Evaluated {
    index: usize,
    reps: Vec<crate::batch::UnitValues>,
    judgements: Vec<Judgement>,
    verdict: Verdict,
}

struct Planner<'a> {
    a: &'a PlanArgs,
    settings: super::settings::Settings,
    points: Vec<Vec<(String, String)>>,
    configs: Vec<Option<Config>>,
    targets: Vec<Target>,
    /// Column of each target in its point's names.
    start_reps: u32,
    max_reps: u32,
    /// How often a point may be judged, and the confidence of each look (see plan::per_look).
    looks: u32,
    look_confidence: f64,
    seed: u64,
    done: Vec<Evaluated>,
}

pub fn run(a: PlanArgs, _argv: &[String]) -> Result<(), CliError> {
    if a.common.shard.is_some() {
        return Err(CliError::input(
            "plan --shard: plan chooses its points one round at a time; on a cluster run each round as a sharded `callsim sweep` over the bracket (deploy/README.md)",
        ));
    }
    if !(a.confidence > 0.5 && a.confidence < 1.0) {
        return Err(CliError::input(format!(
            "--confidence {}: expected a value between 0.5 and 1, e.g. 0.95",
            a.confidence
        )));
    }
    let mut p = Planner::new(&a)?;
    p.run_search(_argv)
}

impl<'a> Planner<'a> {
    fn new(a: &'a PlanArgs) -> Result<Planner<'a>, CliError> {
        let vary = parse_vary(&a.vary).map_err(CliError::input)?;
        crate::grid::check_ascending(&vary).map_err(CliError::input)?;
        let points: Vec<Vec<(String, String)>> = (0..vary.values.len())
            .map(|i| {
                vary.keys
                    .iter()
                    .cloned()
                    .zip(vary.values[i].iter().cloned())
                    .collect()
            })
            .collect();
        // The ends are loaded now, so a bad key or value is refused before any run.
        let mut configs: Vec<Option<Config>> = (0..points.len()).map(|_| None).collect();
        let settings = super::settings::Settings::new(&a.common)?;
        let ends = load_points(
            &settings,
            a.variant.as_deref(),
            &[points[0].clone(), points[points.len() - 1].clone()],
        )?;
        let mut ends = ends.into_iter();
        configs[0] = ends.next();
        if points.len() > 1 {
            configs[points.len() - 1] = ends.next();
        }
        let first = configs[0].as_ref().expect("loaded");
        let cols = crate::metrics::columns(&first.scenario.model);
        let mut extra = crate::stats::detail_names(&first.scenario.model);
        extra.extend(crate::alerts::value_names(&first.scenario.model.alerts));
        let mut targets = Vec::new();
        for t in &a.targets {
            let mut t = parse_target(t).map_err(CliError::input)?;
            t.metric = crate::metrics::lookup(&t.metric, &cols, &extra)
                .map_err(|e| CliError::input(format!("--target: {e}")))?;
            let unit = cols
                .iter()
                .find(|c| c.name == t.metric)
                .map(|c| c.def().unit)
                .unwrap_or(if t.metric.contains("_ratio[") {
                    "ratio"
                } else {
                    "count"
                });
            if let Some(e) = crate::plan::never_holds(&t, unit) {
                return Err(CliError::input(e));
            }
            targets.push(t);
        }
        let start_reps = first.scenario.replications.max(2);
        let max_reps = a
            .max_replications
            .unwrap_or(start_reps.saturating_mul(8))
            .max(start_reps);
        // plan.csv: a row per evaluated point and target, at most every point.
        if a.out.is_some() {
            let rows = (points.len() * targets.len()) as f64;
            settings.check_output(
                rows * 160.0,
                &format!("plan.csv could hold {rows} rows (a row per point and target)"),
            )?;
        }
        let seed = first.scenario.seed;
        let looks = crate::plan::looks(start_reps, max_reps);
        Ok(Planner {
            a,
            settings,
            points,
            configs,
            targets,
            start_reps,
            max_reps,
            looks,
            look_confidence: crate::plan::per_look(a.confidence, looks),
            seed,
            done: Vec::new(),
        })
    }

    fn config(&mut self, i: usize) -> Result<&Config, CliError> {
        if self.configs[i].is_none() {
            let c = load_points(
                &self.settings,
                self.a.variant.as_deref(),
                &[self.points[i].clone()],
            )?;
            self.configs[i] = c.into_iter().next();
        }
        Ok(self.configs[i].as_ref().expect("loaded"))
    }

    /// Evaluates point i, adding replications while its verdict is unclear.
    fn evaluate(&mut self, i: usize) -> Result<Verdict, CliError> {
        let opts = self
            .settings
            .eval_options(self.seed, &format!("plan {}", point_label(&self.points[i])));
        let targets = self.targets.clone();
        let confidence = self.look_confidence;
        let (start, max) = (self.start_reps, self.max_reps);
        let cfg = self.config(i)?;
        let names = cfg.names();
        let cols: Vec<usize> = targets
            .iter()
            .map(|t| {
                names
                    .iter()
                    .position(|n| *n == t.metric)
                    .expect("looked up")
            })
            .collect();
        let mut reps: Vec<crate::batch::UnitValues> = Vec::new();
        let mut n = 0u32;
        let mut next = start;
        loop {
            let units: Vec<Unit> = (n..next)
                .map(|r| Unit {
                    config: 0,
                    replication: r,
                })
                .collect();
            let got = evaluate(std::slice::from_ref(cfg), &units, &opts)?;
            reps.extend(got);
            n = next;
            let judgements: Vec<Judgement> = targets
                .iter()
                .zip(&cols)
                .map(|(t, &j)| {
                    judge(
                        t,
                        &reps.iter().map(|u| u.values[j]).collect::<Vec<_>>(),
                        confidence,
                        n >= max,
                    )
                })
                .collect();
            let verdict = combine(&judgements.iter().map(|j| j.verdict).collect::<Vec<_>>());
            if verdict != Verdict::Unclear || n >= max {
                self.print_point(i, n, &judgements, verdict);
                self.done.push(Evaluated {
                    index: i,
                    reps,
                    judgements,
                    verdict,
                });
                return Ok(verdict);
            }
            next = n.saturating_mul(2).min(max);
        }
    }

    fn print_point(&self, i: usize, n: u32, js: &[Judgement], verdict: Verdict) {
        crate::sayln!(
            "point {}: {}  ({n} replications)  {}",
            self.done.len() + 1,
            point_label(&self.points[i]),
            verdict.as_str()
        );
        for (t, j) in self.targets.iter().zip(js) {
            let side = if matches!(t.op, crate::plan::Op::Le | crate::plan::Op::Lt) {
                "upper"
            } else {
                "lower"
            };
            let why = match j.verdict {
                Verdict::Pass => format!(
                    "its {side} {}% bound {} meets {}",
                    fmt_num(self.look_confidence * 100.0),
                    fmt_num(j.bound),
                    t.text()
                ),
                Verdict::Fail => format!(
                    "even the other bound {} misses {}",
                    fmt_num(j.far),
                    t.text()
                ),
                Verdict::Unclear if j.bound == j.far && n < self.max_reps => format!(
                    "every replication gave {}: no spread to bound it, so more replications",
                    fmt_num(j.mean)
                ),
                Verdict::Unclear => format!(
                    "the bounds [{}, {}] straddle {}",
                    fmt_num(j.far.min(j.bound)),
                    fmt_num(j.far.max(j.bound)),
                    crate::plan::number(t.threshold)
                ),
            };
            crate::sayln!(
                "  {:<32} mean {:>10}  {}: {why}",
                t.metric,
                fmt_num(j.mean),
                j.verdict.as_str()
            );
        }
    }

    fn run_search(&mut self, argv: &[String]) -> Result<(), CliError> {
        let first = self.configs[0].as_ref().expect("loaded");
        let lever = self.points[0]
            .iter()
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
            .join(";");
        crate::sayln!(
            "seed {}  scenario {}  lever {}  {} values  targets: {}  (confidence {} per target; {}..{} replications per point, judged up to {} times, so each judgement's bound is at {})",
            self.seed,
            self.a.common.scenario.display(),
            lever,
            self.points.len(),
            self.targets.iter().map(Target::text).collect::<Vec<_>>().join(", "),
            self.a.confidence,
            self.start_reps,
            self.max_reps,
            self.looks,
            fmt_num(self.look_confidence)
        );
        crate::sayln!("assumes every target gets easier as the lever grows (monotone); evaluated points that contradict it are reported");
        let estimate = self.analytic(first);
        let guess = estimate
            .as_ref()
            .and_then(|(e, _)| self.grid_index_at(e.value));
        if let Some((e, _)) = &estimate {
            crate::sayln!(
                "analytic estimate: {}{} ({})",
                fmt_num(e.value),
                e.unit,
                e.model
            );
        }
        let answer = search(self.points.len(), guess, &mut |i| self.evaluate(i))?;
        self.report(answer, estimate, argv)
    }

    /// The first target with an analytic model, and that target.
    fn analytic(&self, c: &Config) -> Option<(crate::plan::Estimate, Target)> {
        let lever = &self.points[0][0].0;
        self.targets.iter().find_map(|t| {
            let window = t.metric.split_once('@').and_then(|(_, w)| {
                c.scenario
                    .model
                    .windows
                    .iter()
                    .find(|x| x.name == w)
                    .map(|x| (x.start.as_secs_f64(), x.end.as_secs_f64()))
            });
            analytic_estimate(&c.scenario.model, lever, t, window).map(|e| (e, t.clone()))
        })
    }

    /// The least grid index whose first key's value is at least `v` (numbers, and rates per
    /// second: `300/min` is 5).
    fn grid_index_at(&self, v: f64) -> Option<usize> {
        let vals: Vec<f64> = self
            .points
            .iter()
            .map(|p| crate::grid::order_key(&p[0].1).map(|k| k.1))
            .collect::<Option<_>>()?;
        Some(
            vals.iter()
                .position(|x| *x >= v - 1e-9)
                .unwrap_or(vals.len() - 1),
        )
    }

    fn report(
        &self,
        answer: Answer,
        estimate: Option<(crate::plan::Estimate, Target)>,
        argv: &[String],
    ) -> Result<(), CliError> {
        let evaluated: Vec<(usize, Verdict)> =
            self.done.iter().map(|e| (e.index, e.verdict)).collect();
        let bad = contradictions(&evaluated);
        for (i, j) in &bad {
            crate::sayln!(
                "warning: not monotone: {} passes but the larger {} fails; the answer assumes monotonicity and may be wrong",
                point_label(&self.points[*i]),
                point_label(&self.points[*j])
            );
        }
        let mut note = None;
        let answer_text = match &answer {
            Answer::None => {
                let best = self.done.iter().max_by_key(|e| e.index).expect("evaluated");
                let detail: Vec<String> = self
                    .targets
                    .iter()
                    .zip(&best.judgements)
                    .map(|(t, j)| {
                        format!("{} {} ({})", t.metric, fmt_num(j.mean), j.verdict.as_str())
                    })
                    .collect();
                // The points evaluated are results too: written before the non-zero exit.
                self.write(
                    "none",
                    Some("no value in the range meets every target"),
                    argv,
                )?;
                return Err(CliError::failure(format!(
                    "no value in {} meets the targets with {}% confidence; the best was {} ({} replications): {}{}",
                    self.a.vary,
                    self.a.confidence * 100.0,
                    point_label(&self.points[best.index]),
                    best.reps.len(),
                    detail.join(", "),
                    if best.verdict == Verdict::Unclear {
                        "; it stayed unclear: raise --max-replications, or widen the range"
                    } else {
                        "; widen the range"
                    }
                )));
            }
            Answer::Found {
                index,
                uncertain_from: None,
            } => {
                crate::sayln!("answer: {} is the least value in range at which every target holds ({}% one-sided confidence per target; {} points evaluated)", point_label(&self.points[*index]), self.a.confidence * 100.0, self.done.len());
                self.points[*index][0].1.clone()
            }
            Answer::Found {
                index,
                uncertain_from: Some(f),
            } => {
                let why = self.uncertainty(*f, *index);
                crate::sayln!("answer: uncertain: {why}");
                note = Some(format!("uncertain: {why}"));
                self.points[*index][0].1.clone()
            }
        };
        if let Some((e, t)) = &estimate {
            let at = self.grid_index_at(e.value);
            let same = matches!(answer, Answer::Found { index, .. } if at == Some(index));
            let why = if same {
                "they agree on the grid".to_string()
            } else {
                format!("why they differ: {}", e.caveats)
            };
            // An uncertain answer is the least value that passed, not a settled one.
            let hedge = if note.is_some() { " (uncertain)" } else { "" };
            crate::sayln!(
                "analytic estimate for {}: {}{} from {}; the simulated answer is {}{hedge}; {why}",
                t.text(),
                fmt_num(e.value),
                e.unit,
                e.model,
                answer_text
            );
        }
        self.write(&answer_text, note.as_deref(), argv)
    }

    /// Why an answer is uncertain, naming only the points that were evaluated: `index` passes;
    /// the least value that holds lies in `from..=index` (`from` is just above the highest
    /// clear fail, or the bottom of the range).
    fn uncertainty(&self, from: usize, index: usize) -> String {
        let mut unclear: Vec<&Evaluated> = self
            .done
            .iter()
            .filter(|e| (from..index).contains(&e.index) && e.verdict == Verdict::Unclear)
            .collect();
        unclear.sort_by_key(|e| e.index);
        let names: Vec<String> = unclear
            .iter()
            .map(|e| {
                format!(
                    "{} ({} replications)",
                    self.points[e.index][0].1,
                    e.reps.len()
                )
            })
            .collect();
        let lowest = unclear.first().map_or(index, |e| e.index);
        let below = if from + 1 == lowest {
            format!(
                "; {} was not evaluated (the search takes an unclear point as not passing)",
                self.points[from][0].1
            )
        } else if from < lowest {
            format!(
                "; {} to {} were not evaluated (the search takes an unclear point as not passing)",
                self.points[from][0].1,
                self.points[lowest - 1][0].1
            )
        } else {
            String::new()
        };
        format!(
            "the least value that holds lies between {} and {}: {} passes; {} stayed unclear{below} (raise --max-replications to decide)",
            self.points[from][0].1,
            self.points[index][0].1,
            point_label(&self.points[index]),
            names.join(", ")
        )
    }

    fn write(&self, answer: &str, note: Option<&str>, argv: &[String]) -> Result<(), CliError> {
        let Some(out) = &self.a.out else {
            return Ok(());
        };
        let mut f = OutputFiles::new(out).map_err(CliError::input)?;
        let w = f.create("plan.csv").map_err(CliError::failure)?;
        let mut wr = csv::Writer::from_writer(w);
        let keys: Vec<String> = self.points[0].iter().map(|(k, _)| k.clone()).collect();
        let mut header: Vec<String> = vec!["point".into()];
        header.extend(keys.iter().cloned());
        header.extend(
            [
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
            ]
            .map(String::from),
        );
        let res = (|| -> Result<(), csv::Error> {
            wr.write_record(&header)?;
            for (k, e) in self.done.iter().enumerate() {
                for (t, j) in self.targets.iter().zip(&e.judgements) {
                    let names = self.configs[e.index].as_ref().expect("evaluated").names();
                    let col = names
                        .iter()
                        .position(|n| *n == t.metric)
                        .expect("looked up");
                    let est = crate::stats::estimate(
                        &e.reps.iter().map(|u| u.values[col]).collect::<Vec<_>>(),
                        0.95,
                    );
                    let (metric, window) = t.metric.split_once('@').unwrap_or((&t.metric, ""));
                    let mut rec = vec![(k + 1).to_string()];
                    rec.extend(self.points[e.index].iter().map(|(_, v)| v.clone()));
                    rec.extend([
                        metric.to_string(),
                        window.to_string(),
                        t.op.as_str().to_string(),
                        num(t.threshold),
                        num(est.mean),
                        num(est.low()),
                        num(est.high()),
                        num(j.bound),
                        j.n.to_string(),
                        j.verdict.as_str().to_string(),
                    ]);
                    wr.write_record(&rec)?;
                }
            }
            wr.flush().map_err(csv::Error::from)
        })();
        res.map_err(|e| CliError::failure(format!("writing plan.csv: {e}")))?;
        drop(wr);
        let sc = &self.configs[0].as_ref().expect("loaded").scenario;
        let mut m = Manifest::new("plan", &super::result_args(argv), out, sc, &self.settings)?;
        m.answer = Some(answer.to_string());
        m.answer_note = note.map(str::to_string);
        m.write(&mut f)?;
        f.commit().map_err(CliError::failure)?;
        crate::sayln!("wrote plan.csv in {}", out.display());
        Ok(())
    }
}
