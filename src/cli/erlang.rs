//! The `callsim erlang` subcommand: exact queueing results from
//! [`crate::analytic`] (Erlang B, C, A with exponential or fixed patience, M/M/c/K, M/D/1
//! and M/G/1), forward or inverse, printed as
//! a two-column `metric  value` table or as CSV (`model,metric,value`).

use std::io::Write;

use crate::analytic;

const EXAMPLES: &str = "\
Examples:
  callsim erlang b --channels 10 --load 5
  callsim erlang b --load 5 --target-blocking 0.01
  callsim erlang c --channels 12 --arrival-rate 0.05 --mean-talk 180 --wait-threshold 20
  callsim erlang a --arrival-rate 2 --mean-talk 180 --mean-patience 60 --target-abandon 0.05 --csv
  callsim erlang md1 --arrival-rate 8 --percentile 0.95 --target-delay 0.5
  callsim erlang mg1 --arrival-rate 0.7 --mean-talk 1 --sd-talk 1.5
  callsim erlang a-fixed --channels 10 --arrival-rate 0.09 --mean-talk 100 --patience 20
  callsim erlang mmck --channels 10 --queue-capacity 5 --arrival-rate 0.09 --mean-talk 100

Durations are plain seconds, rates are per second, loads are in Erlangs.";

/// Exact queueing formulas (Erlang B/C/A, M/M/c/K, M/D/1, M/G/1) to compare simulations against.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ErlangArgs {
    #[command(subcommand)]
    pub model: ErlangModel,
    /// print CSV instead of a table
    #[arg(long, global = true)]
    pub csv: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum ErlangModel {
    /// Erlang B loss system (M/M/c/c): blocking probability, or fewest channels for a
    /// target blocking
    #[command(group(clap::ArgGroup::new("size").required(true).args(["channels", "target_blocking"])))]
    #[command(group(clap::ArgGroup::new("offered").required(true).args(["load", "arrival_rate"])))]
    B {
        /// Number of channels (concurrent-call slots); omit when using --target-blocking
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=analytic::ERLANG_B_MAX_CHANNELS))]
        channels: Option<u64>,
        /// Offered load in Erlangs (arrival rate per second × mean talk seconds);
        /// alternatively give --arrival-rate and --mean-talk
        #[arg(long, value_name = "ERLANGS", value_parser = non_negative, allow_negative_numbers = true)]
        load: Option<f64>,
        /// Call arrival rate in calls per second (with --mean-talk, instead of --load)
        #[arg(long, value_name = "PER_S", requires = "mean_talk", value_parser = non_negative, allow_negative_numbers = true)]
        arrival_rate: Option<f64>,
        /// Mean talk (holding) time in seconds (with --arrival-rate, instead of --load)
        #[arg(long, value_name = "SECONDS", requires = "arrival_rate", conflicts_with = "load", value_parser = positive, allow_negative_numbers = true)]
        mean_talk: Option<f64>,
        /// Inverse: find the fewest channels whose blocking probability is <= P (0 < P <= 1)
        #[arg(long, value_name = "P", value_parser = probability, allow_negative_numbers = true)]
        target_blocking: Option<f64>,
    },
    /// Erlang C queue (M/M/c, unlimited FIFO queue): probability and length of waits,
    /// or fewest channels for a wait target
    #[command(group(clap::ArgGroup::new("size").required(true).args(["channels", "target_p_wait_gt"])))]
    C {
        /// Number of channels (servers); omit when using --target-p-wait-gt
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        channels: Option<u32>,
        /// Call arrival rate in calls per second
        #[arg(long, value_name = "PER_S", value_parser = non_negative, allow_negative_numbers = true)]
        arrival_rate: f64,
        /// Mean talk (service) time in seconds
        #[arg(long, value_name = "SECONDS", value_parser = positive, allow_negative_numbers = true)]
        mean_talk: f64,
        /// Wait threshold T in seconds: also print P(wait > T) (required by
        /// --target-p-wait-gt)
        #[arg(long, value_name = "SECONDS", value_parser = non_negative, allow_negative_numbers = true)]
        wait_threshold: Option<f64>,
        /// Inverse: find the fewest channels with P(wait > --wait-threshold) <= P (0 < P <= 1)
        #[arg(long, value_name = "P", requires = "wait_threshold", value_parser = probability, allow_negative_numbers = true)]
        target_p_wait_gt: Option<f64>,
    },
    /// Erlang A queue (M/M/c+M: callers abandon after an exponential patience):
    /// waits and abandonment, or fewest channels for an abandonment target
    #[command(group(clap::ArgGroup::new("size").required(true).args(["channels", "target_abandon"])))]
    A {
        /// Number of channels (servers); omit when using --target-abandon
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        channels: Option<u32>,
        /// Call arrival rate in calls per second
        #[arg(long, value_name = "PER_S", value_parser = non_negative, allow_negative_numbers = true)]
        arrival_rate: f64,
        /// Mean talk (service) time in seconds
        #[arg(long, value_name = "SECONDS", value_parser = positive, allow_negative_numbers = true)]
        mean_talk: f64,
        /// Mean patience (time a caller is willing to wait) in seconds, > 0
        #[arg(long, value_name = "SECONDS", value_parser = positive, allow_negative_numbers = true)]
        mean_patience: f64,
        /// Wait threshold T in seconds: also print the waiting-time tails at T, each a share of
        /// all arrivals: p_offered_wait_gt_threshold = P(V > T), the wait of an infinitely
        /// patient caller; p_wait_gt_threshold = P(W > T), still waiting at T (served later or
        /// abandoning); p_served_wait_gt_threshold = P(served and W > T);
        /// p_served_within_threshold = P(served and W <= T), the service level that counts
        /// abandoned callers as failures (joint, not conditional on being served)
        #[arg(long, value_name = "SECONDS", value_parser = non_negative, allow_negative_numbers = true)]
        wait_threshold: Option<f64>,
        /// Inverse: find the fewest channels with P(abandon) <= P (0 < P <= 1)
        #[arg(long, value_name = "P", value_parser = probability, allow_negative_numbers = true)]
        target_abandon: Option<f64>,
    },
    /// M/D/1 queue (Poisson arrivals, one dialler at a constant dial rate): wait
    /// distribution, or lowest dial rate for a wait percentile target
    #[command(group(clap::ArgGroup::new("size").required(true).args(["dial_rate", "target_delay"])))]
    Md1 {
        /// Call attempt arrival rate in attempts per second
        #[arg(long, value_name = "PER_S", value_parser = non_negative, allow_negative_numbers = true)]
        arrival_rate: f64,
        /// Dial rate (constant service rate) in attempts per second; omit when using
        /// --target-delay
        #[arg(long, value_name = "PER_S", value_parser = positive, allow_negative_numbers = true)]
        dial_rate: Option<f64>,
        /// Wait threshold T in seconds: also print P(wait > T)
        #[arg(long, value_name = "SECONDS", value_parser = non_negative, allow_negative_numbers = true)]
        wait_threshold: Option<f64>,
        /// Percentile Q of the wait, 0 < Q <= 0.999999999: print the Q-quantile of the
        /// wait (with --dial-rate) or use it as the target (with --target-delay)
        #[arg(long, value_name = "Q", value_parser = percentile, allow_negative_numbers = true)]
        percentile: Option<f64>,
        /// Inverse: find the lowest dial rate whose --percentile wait is <= this many
        /// seconds
        #[arg(long, value_name = "SECONDS", requires = "percentile", value_parser = non_negative, allow_negative_numbers = true)]
        target_delay: Option<f64>,
    },
    /// Erlang A with a fixed patience (M/M/c+D: every caller gives up after exactly
    /// --patience seconds in the queue): waits and abandonment
    #[command(name = "a-fixed")]
    #[command(group(clap::ArgGroup::new("size").required(true).args(["channels", "target_abandon"])))]
    AFixed {
        /// Number of channels (servers); omit when using --target-abandon
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        channels: Option<u32>,
        /// Call arrival rate in calls per second
        #[arg(long, value_name = "PER_S", value_parser = non_negative, allow_negative_numbers = true)]
        arrival_rate: f64,
        /// Mean talk (service) time in seconds
        #[arg(long, value_name = "SECONDS", value_parser = positive, allow_negative_numbers = true)]
        mean_talk: f64,
        /// The patience of every caller in seconds (0: nobody waits, Erlang B)
        #[arg(long, value_name = "SECONDS", value_parser = non_negative, allow_negative_numbers = true)]
        patience: f64,
        /// Inverse: find the fewest channels with P(abandon) <= P (0 < P <= 1)
        #[arg(long, value_name = "P", value_parser = probability, allow_negative_numbers = true)]
        target_abandon: Option<f64>,
    },
    /// M/M/c/K queue (Erlang C with room for --queue-capacity waiting calls; a call that
    /// finds the room full is blocked): blocking, waits
    Mmck {
        /// Number of channels (servers)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        channels: u32,
        /// Waiting room: how many calls may wait for a channel (0: Erlang B)
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        queue_capacity: u64,
        /// Call arrival rate in calls per second
        #[arg(long, value_name = "PER_S", value_parser = non_negative, allow_negative_numbers = true)]
        arrival_rate: f64,
        /// Mean talk (service) time in seconds
        #[arg(long, value_name = "SECONDS", value_parser = positive, allow_negative_numbers = true)]
        mean_talk: f64,
    },
    /// M/G/1 queue (Poisson arrivals, one channel, talk times of any distribution):
    /// mean wait by Pollaczek-Khinchine, from the talk time's mean and standard deviation
    Mg1 {
        /// Call arrival rate in calls per second
        #[arg(long, value_name = "PER_S", value_parser = non_negative, allow_negative_numbers = true)]
        arrival_rate: f64,
        /// Mean talk (service) time in seconds
        #[arg(long, value_name = "SECONDS", value_parser = positive, allow_negative_numbers = true)]
        mean_talk: f64,
        /// Standard deviation of the talk time in seconds (0: M/D/1; equal to the mean:
        /// exponential, M/M/1)
        #[arg(long, value_name = "SECONDS", value_parser = non_negative, allow_negative_numbers = true)]
        sd_talk: f64,
    },
}

// ----- value parsers: clap names the flag and the value in its error -----

fn number(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err("expected a finite number".to_string()),
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    number(s).and_then(|x| {
        (x >= 0.0)
            .then_some(x)
            .ok_or_else(|| "expected a number >= 0".to_string())
    })
}

fn positive(s: &str) -> Result<f64, String> {
    number(s).and_then(|x| {
        (x > 0.0)
            .then_some(x)
            .ok_or_else(|| "expected a number > 0".to_string())
    })
}

fn probability(s: &str) -> Result<f64, String> {
    number(s).and_then(|p| {
        (p > 0.0 && p <= 1.0)
            .then_some(p)
            .ok_or_else(|| "expected a probability with 0 < P <= 1".to_string())
    })
}

fn percentile(s: &str) -> Result<f64, String> {
    number(s).and_then(|q| {
        (q > 0.0 && q <= analytic::MD1_MAX_PERCENTILE)
            .then_some(q)
            .ok_or_else(|| "expected a fraction with 0 < Q <= 0.999999999 (e.g. 0.95)".to_string())
    })
}

/// The one of two alternatives clap's required group guarantees (an error, not a panic, for
/// arguments built without clap).
fn one_of<A, B>(a: Option<A>, b: Option<B>, names: &str) -> Result<Result<A, B>, String> {
    match (a, b) {
        (Some(a), None) => Ok(Ok(a)),
        (None, Some(b)) => Ok(Err(b)),
        _ => Err(format!("give exactly one of {names}")),
    }
}

/// One output value: integers print without a decimal point.
#[derive(Debug, Clone, Copy)]
enum Val {
    Int(u64),
    Num(f64),
}

struct Report {
    model: &'static str,
    rows: Vec<(String, Val)>,
}

impl Report {
    fn new(model: &'static str) -> Self {
        Report {
            model,
            rows: Vec::new(),
        }
    }
    fn num(&mut self, metric: &str, v: f64) {
        self.rows.push((metric.to_string(), Val::Num(v)));
    }
    fn int(&mut self, metric: &str, v: u64) {
        self.rows.push((metric.to_string(), Val::Int(v)));
    }
}

/// `sig` significant digits (the integer part is never rounded away), trailing
/// zeros trimmed; scientific notation
/// outside [1e-4, 1e9).
fn fmt_sig(x: f64, sig: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let ax = x.abs();
    if !(1e-4..1e9).contains(&ax) {
        let s = format!("{:.*e}", sig - 1, x);
        return match s.split_once('e') {
            Some((mant, exp)) if mant.contains('.') => {
                format!("{}e{exp}", mant.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        };
    }
    let decimals = (sig as i32 - 1 - ax.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn write_report(report: &Report, csv: bool, out: &mut dyn Write) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write output: {e}");
    if csv {
        // Full round-trip precision in CSV, for machine comparison.
        let mut w = csv::Writer::from_writer(out);
        let err = |e: csv::Error| format!("cannot write CSV: {e}");
        w.write_record(["model", "metric", "value"]).map_err(err)?;
        for (metric, v) in &report.rows {
            let value = match v {
                Val::Int(i) => i.to_string(),
                Val::Num(x) => format!("{x}"),
            };
            w.write_record([report.model, metric.as_str(), value.as_str()])
                .map_err(err)?;
        }
        w.flush().map_err(io)?;
    } else {
        let width = report
            .rows
            .iter()
            .map(|(m, _)| m.len())
            .chain(std::iter::once("metric".len()))
            .max()
            .unwrap_or(0);
        writeln!(out, "{:<width$}  value", "metric").map_err(io)?;
        for (metric, v) in &report.rows {
            let value = match v {
                Val::Int(i) => i.to_string(),
                Val::Num(x) => fmt_sig(*x, 10),
            };
            writeln!(out, "{metric:<width$}  {value}").map_err(io)?;
        }
    }
    Ok(())
}

/// Runs `callsim erlang ...`, writing the table or CSV to `out`.
pub fn run(args: &ErlangArgs, out: &mut dyn Write) -> Result<(), String> {
    let report = match &args.model {
        ErlangModel::B {
            channels,
            load,
            arrival_rate,
            mean_talk,
            target_blocking,
        } => run_b(
            *channels,
            *load,
            *arrival_rate,
            *mean_talk,
            *target_blocking,
        )?,
        ErlangModel::C {
            channels,
            arrival_rate,
            mean_talk,
            wait_threshold,
            target_p_wait_gt,
        } => run_c(
            *channels,
            *arrival_rate,
            *mean_talk,
            *wait_threshold,
            *target_p_wait_gt,
        )?,
        ErlangModel::A {
            channels,
            arrival_rate,
            mean_talk,
            mean_patience,
            wait_threshold,
            target_abandon,
        } => run_a(
            *channels,
            (*arrival_rate, *mean_talk, *mean_patience),
            *wait_threshold,
            *target_abandon,
        )?,
        ErlangModel::Md1 {
            arrival_rate,
            dial_rate,
            wait_threshold,
            percentile,
            target_delay,
        } => run_md1(
            *arrival_rate,
            *dial_rate,
            *wait_threshold,
            *percentile,
            *target_delay,
        )?,
        ErlangModel::AFixed {
            channels,
            arrival_rate,
            mean_talk,
            patience,
            target_abandon,
        } => run_a_fixed(
            *channels,
            (*arrival_rate, *mean_talk, *patience),
            *target_abandon,
        )?,
        ErlangModel::Mmck {
            channels,
            queue_capacity,
            arrival_rate,
            mean_talk,
        } => run_mmck(*channels, *queue_capacity, *arrival_rate, *mean_talk)?,
        ErlangModel::Mg1 {
            arrival_rate,
            mean_talk,
            sd_talk,
        } => run_mg1(*arrival_rate, *mean_talk, *sd_talk)?,
    };
    write_report(&report, args.csv, out)
}

fn run_b(
    channels: Option<u64>,
    load: Option<f64>,
    arrival_rate: Option<f64>,
    mean_talk: Option<f64>,
    target_blocking: Option<f64>,
) -> Result<Report, String> {
    let mut r = Report::new("erlang_b");
    let a = match (load, arrival_rate.zip(mean_talk)) {
        (Some(a), None) => a,
        (None, Some((l, s))) => {
            r.num("arrival_rate_per_s", l);
            r.num("mean_talk_s", s);
            l * s
        }
        _ => return Err("give either --load, or --arrival-rate with --mean-talk".into()),
    };
    if !a.is_finite() {
        return Err(format!(
            "offered load --arrival-rate × --mean-talk overflows: {a}"
        ));
    }
    r.num("offered_load_erl", a);
    let c = match one_of(channels, target_blocking, "--channels, --target-blocking")? {
        Ok(c) => {
            r.int("channels", c);
            c
        }
        Err(p) => {
            r.num("target_p_block", p);
            let c = analytic::min_channels_for_blocking(a, p)?;
            r.int("min_channels", c);
            c
        }
    };
    let b = analytic::erlang_b(c, a)?;
    r.num("p_block", b);
    let carried = analytic::erlang_b_carried(c, a)?;
    r.num("carried_load_erl", carried);
    r.num("utilisation", carried / c as f64);
    if target_blocking.is_some() && c > 1 {
        r.num("p_block_one_fewer_channel", analytic::erlang_b(c - 1, a)?);
    }
    Ok(r)
}

fn run_c(
    channels: Option<u32>,
    lambda: f64,
    s: f64,
    t: Option<f64>,
    target_p_wait_gt: Option<f64>,
) -> Result<Report, String> {
    let mut r = Report::new("erlang_c");
    let a = lambda * s;
    r.num("arrival_rate_per_s", lambda);
    r.num("mean_talk_s", s);
    r.num("offered_load_erl", a);
    let c = match one_of(channels, target_p_wait_gt, "--channels, --target-p-wait-gt")? {
        Ok(c) => {
            if a >= f64::from(c) {
                return Err(format!(
                    "erlang c: offered load {a} Erlangs (--arrival-rate × --mean-talk) must be \
                     below --channels {c} for a stable queue; `erlang a` models abandonment"
                ));
            }
            r.int("channels", u64::from(c));
            c
        }
        Err(p) => {
            let t = t.ok_or("erlang c: --target-p-wait-gt needs --wait-threshold SECONDS")?;
            r.num("target_p_wait_gt_threshold", p);
            let c = analytic::min_channels_for_wait(lambda, s, t, p)?;
            r.int("min_channels", u64::from(c));
            c
        }
    };
    let e = analytic::erlang_c(c, lambda, s)?;
    r.num("utilisation", e.utilisation);
    r.num("p_wait", e.p_wait);
    r.num("mean_wait_s", e.mean_wait_s);
    r.num("mean_wait_delayed_s", e.mean_wait_delayed_s);
    r.num("mean_queue_len", e.mean_queue_len);
    r.num("mean_response_s", e.mean_response_s);
    if let Some(t) = t {
        r.num("wait_threshold_s", t);
        r.num("p_wait_gt_threshold", e.p_wait_gt(t)?);
        if target_p_wait_gt.is_some() && c > 1 {
            if let Ok(prev) = analytic::erlang_c_p_wait_gt(c - 1, lambda, s, t) {
                r.num("p_wait_gt_threshold_one_fewer_channel", prev);
            }
        }
    }
    Ok(r)
}

/// `--channels N` as given, or the fewest channels meeting `--target-abandon P` (`fewest(P)`);
/// either way recorded in the report as Erlang A and its fixed-patience form print it.
fn channels_for_abandon(
    r: &mut Report,
    channels: Option<u32>,
    target_abandon: Option<f64>,
    fewest: impl Fn(f64) -> Result<u32, String>,
) -> Result<u32, String> {
    Ok(
        match one_of(channels, target_abandon, "--channels, --target-abandon")? {
            Ok(c) => {
                r.int("channels", u64::from(c));
                c
            }
            Err(p) => {
                r.num("target_p_abandon", p);
                let c = fewest(p)?;
                r.int("min_channels", u64::from(c));
                c
            }
        },
    )
}

fn run_a(
    channels: Option<u32>,
    (lambda, s, patience): (f64, f64, f64),
    t: Option<f64>,
    target_abandon: Option<f64>,
) -> Result<Report, String> {
    let mut r = Report::new("erlang_a");
    r.num("arrival_rate_per_s", lambda);
    r.num("mean_talk_s", s);
    r.num("mean_patience_s", patience);
    r.num("offered_load_erl", lambda * s);
    let c = channels_for_abandon(&mut r, channels, target_abandon, |p| {
        analytic::min_channels_for_abandon(lambda, s, patience, p)
    })?;
    let e = analytic::erlang_a(c, lambda, s, patience)?;
    r.num("p_wait", e.p_wait);
    r.num("p_abandon", e.p_abandon);
    r.num("p_served", e.p_served);
    r.num("mean_wait_all_s", e.mean_wait_all_s);
    r.num("mean_wait_served_s", e.mean_wait_served_s);
    r.num("mean_wait_abandoned_s", e.mean_wait_abandoned_s);
    r.num("mean_queue_len", e.mean_queue_len);
    r.num("carried_load_erl", e.carried_load_erl);
    r.num("utilisation", e.utilisation);
    if target_abandon.is_some() && c > 1 {
        let prev = analytic::erlang_a(c - 1, lambda, s, patience)?;
        r.num("p_abandon_one_fewer_channel", prev.p_abandon);
    }
    if let Some(t) = t {
        let tail = analytic::erlang_a_wait_tail(c, lambda, s, patience, t)?;
        r.num("wait_threshold_s", t);
        r.num("p_offered_wait_gt_threshold", tail.p_offered_wait_gt);
        r.num("p_wait_gt_threshold", tail.p_wait_gt);
        r.num("p_served_wait_gt_threshold", tail.p_served_wait_gt);
        r.num("p_served_within_threshold", tail.p_served_within);
    }
    Ok(r)
}

fn run_md1(
    lambda: f64,
    dial_rate: Option<f64>,
    t: Option<f64>,
    q: Option<f64>,
    target_delay: Option<f64>,
) -> Result<Report, String> {
    let mut r = Report::new("md1");
    r.num("arrival_rate_per_s", lambda);
    let rate = match one_of(dial_rate, target_delay, "--dial-rate, --target-delay")? {
        Ok(rate) => {
            if lambda >= rate {
                return Err(format!(
                    "md1: --arrival-rate {lambda} must be below --dial-rate {rate} for a \
                     stable queue"
                ));
            }
            r.num("dial_rate_per_s", rate);
            rate
        }
        Err(delay) => {
            let q = q.ok_or("md1: --target-delay needs --percentile Q")?;
            if lambda == 0.0 {
                return Err("md1: --target-delay needs --arrival-rate > 0".to_string());
            }
            r.num("target_delay_s", delay);
            let rate = analytic::min_dial_rate_for_percentile(lambda, q, delay)?;
            r.num("min_dial_rate_per_s", rate);
            rate
        }
    };
    let m = analytic::md1(lambda, rate)?;
    r.num("service_s", m.service_s);
    r.num("utilisation", m.utilisation);
    r.num("p_wait", m.p_wait);
    r.num("mean_wait_s", m.mean_wait_s);
    r.num("mean_queue_len", m.mean_queue_len);
    r.num("mean_response_s", m.mean_response_s);
    if let Some(q) = q {
        r.num("percentile", q);
        r.num(
            "wait_at_percentile_s",
            analytic::md1_wait_percentile(lambda, rate, q)?,
        );
    }
    if let Some(t) = t {
        r.num("wait_threshold_s", t);
        r.num(
            "p_wait_gt_threshold",
            analytic::md1_p_wait_gt(lambda, rate, t)?,
        );
    }
    Ok(r)
}

fn run_a_fixed(
    channels: Option<u32>,
    (lambda, mean, patience): (f64, f64, f64),
    target_abandon: Option<f64>,
) -> Result<Report, String> {
    let mut r = Report::new("erlang_a_fixed");
    r.num("arrival_rate_per_s", lambda);
    r.num("mean_talk_s", mean);
    r.num("patience_s", patience);
    r.num("offered_load_erl", lambda * mean);
    let channels = channels_for_abandon(&mut r, channels, target_abandon, |p| {
        analytic::min_channels_for_abandon_fixed(lambda, mean, patience, p)
    })?;
    let a = analytic::erlang_a_fixed(channels, lambda, mean, patience)?;
    r.num("p_wait", a.p_wait);
    r.num("p_abandon", a.p_abandon);
    r.num("mean_wait_all_s", a.mean_wait_all_s);
    r.num("mean_wait_served_s", a.mean_wait_served_s);
    if target_abandon.is_some() && channels > 1 {
        let prev = analytic::erlang_a_fixed(channels - 1, lambda, mean, patience)?;
        r.num("p_abandon_one_fewer_channel", prev.p_abandon);
    }
    Ok(r)
}

fn run_mmck(channels: u32, capacity: u64, lambda: f64, mean: f64) -> Result<Report, String> {
    let mut r = Report::new("mmck");
    r.int("channels", u64::from(channels));
    r.int("queue_capacity", capacity);
    r.num("arrival_rate_per_s", lambda);
    r.num("mean_talk_s", mean);
    let m = analytic::mmck(channels, capacity, lambda, mean)?;
    r.num("p_block", m.p_block);
    r.num("p_wait", m.p_wait);
    r.num("mean_queue_len", m.mean_queue_len);
    r.num("mean_wait_admitted_s", m.mean_wait_admitted_s);
    Ok(r)
}

fn run_mg1(lambda: f64, mean: f64, sd: f64) -> Result<Report, String> {
    let mut r = Report::new("mg1");
    r.num("arrival_rate_per_s", lambda);
    r.num("mean_talk_s", mean);
    r.num("sd_talk_s", sd);
    if lambda * mean >= 1.0 {
        return Err(format!(
            "mg1: --arrival-rate {lambda} x --mean-talk {mean} = {} must be below 1 for a \
             stable queue",
            lambda * mean
        ));
    }
    let m = analytic::mg1(lambda, mean, mean * mean + sd * sd)?;
    r.num("utilisation", m.utilisation);
    r.num("p_wait", m.p_wait);
    r.num("mean_wait_s", m.mean_wait_s);
    r.num("mean_queue_len", lambda * m.mean_wait_s);
    r.num("mean_response_s", m.mean_wait_s + mean);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    #[command(name = "callsim")]
    struct TestCli {
        #[command(subcommand)]
        cmd: TestCmd,
    }

    #[derive(clap::Subcommand, Debug)]
    enum TestCmd {
        Erlang(ErlangArgs),
    }

    fn parse(argv: &[&str]) -> Result<ErlangArgs, clap::Error> {
        let mut full = vec!["callsim", "erlang"];
        full.extend_from_slice(argv);
        TestCli::try_parse_from(full).map(|cli| match cli.cmd {
            TestCmd::Erlang(args) => args,
        })
    }

    fn run_to_string(args: &ErlangArgs) -> Result<String, String> {
        let mut buf = Vec::new();
        run(args, &mut buf)?;
        Ok(String::from_utf8(buf).unwrap())
    }

    fn value_of(table: &str, metric: &str) -> String {
        table
            .lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some(metric)).then(|| it.next().unwrap().to_string())
            })
            .unwrap_or_else(|| panic!("no {metric} in\n{table}"))
    }

    #[test]
    fn clap_definition_is_valid() {
        TestCli::command().debug_assert();
        let help = TestCli::command()
            .find_subcommand_mut("erlang")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(
            help.contains("callsim erlang b --channels 10 --load 5"),
            "{help}"
        );
    }

    #[test]
    fn erlang_b_table() {
        let args = parse(&["b", "--channels", "10", "--load", "5"]).unwrap();
        let out = run_to_string(&args).unwrap();
        let first = out.lines().next().unwrap();
        assert!(first.starts_with("metric") && first.ends_with("value"));
        assert_eq!(value_of(&out, "channels"), "10");
        assert_eq!(value_of(&out, "p_block"), "0.01838457034");
        // Values start in one column.
        let col = first.find("value").unwrap();
        assert!(out
            .lines()
            .all(|l| l.len() > col && &l[col - 2..col] == "  "));
    }

    #[test]
    fn erlang_b_from_rate_and_talk_csv() {
        let args = parse(&[
            "b",
            "--channels",
            "10",
            "--arrival-rate",
            "0.025",
            "--mean-talk",
            "200",
            "--csv",
        ])
        .unwrap();
        assert!(args.csv);
        let out = run_to_string(&args).unwrap();
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("model,metric,value"));
        assert!(out.contains("erlang_b,offered_load_erl,5\n"));
        let b: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("erlang_b,p_block,"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(b, analytic::erlang_b(10, 5.0).unwrap());
    }

    #[test]
    fn erlang_b_inverse() {
        let args = parse(&["b", "--load", "5", "--target-blocking", "0.01"]).unwrap();
        let out = run_to_string(&args).unwrap();
        assert_eq!(value_of(&out, "min_channels"), "11");
        let prev: f64 = value_of(&out, "p_block_one_fewer_channel").parse().unwrap();
        assert!(prev > 0.01);
    }

    #[test]
    fn erlang_c_forward_and_inverse() {
        let args = parse(&[
            "c",
            "--channels",
            "2",
            "--arrival-rate",
            "1",
            "--mean-talk",
            "1",
        ])
        .unwrap();
        let out = run_to_string(&args).unwrap();
        assert_eq!(value_of(&out, "p_wait"), "0.3333333333");
        let args = parse(&[
            "c",
            "--arrival-rate",
            "0.05",
            "--mean-talk",
            "180",
            "--target-p-wait-gt",
            "0.2",
            "--wait-threshold",
            "20",
            "--csv",
        ])
        .unwrap();
        let out = run_to_string(&args).unwrap();
        let c: u32 = out
            .lines()
            .find_map(|l| l.strip_prefix("erlang_c,min_channels,"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            c,
            analytic::min_channels_for_wait(0.05, 180.0, 20.0, 0.2).unwrap()
        );
    }

    #[test]
    fn erlang_a_and_md1_run() {
        let args = parse(&[
            "a",
            "--channels",
            "10",
            "--arrival-rate",
            "0.05",
            "--mean-talk",
            "180",
            "--mean-patience",
            "60",
            "--wait-threshold",
            "20",
        ])
        .unwrap();
        let out = run_to_string(&args).unwrap();
        for m in [
            "p_abandon",
            "mean_wait_served_s",
            "p_served_within_threshold",
        ] {
            let v: f64 = value_of(&out, m).parse().unwrap();
            assert!(v.is_finite() && v > 0.0, "{m}");
        }
        let args = parse(&[
            "md1",
            "--arrival-rate",
            "8",
            "--percentile",
            "0.95",
            "--target-delay",
            "0.5",
        ])
        .unwrap();
        let out = run_to_string(&args).unwrap();
        let rate: f64 = value_of(&out, "min_dial_rate_per_s").parse().unwrap();
        assert!(rate > 8.0);
        let w: f64 = value_of(&out, "wait_at_percentile_s").parse().unwrap();
        assert!(w <= 0.5 + 1e-9);
        // M/G/1 with sd = mean is M/M/1: mean wait ρ m / (1 - ρ) = 0.5 / 0.5 x 2 = 2 s.
        let mg1 = |sd: &str| {
            let a = parse(&[
                "mg1",
                "--arrival-rate",
                "0.25",
                "--mean-talk",
                "2",
                "--sd-talk",
                sd,
            ]);
            run_to_string(&a.unwrap())
        };
        let w: f64 = value_of(&mg1("2").unwrap(), "mean_wait_s").parse().unwrap();
        assert!((w - 2.0).abs() < 1e-9, "{w}");
        // sd = 0 is M/D/1: half that.
        let w: f64 = value_of(&mg1("0").unwrap(), "mean_wait_s").parse().unwrap();
        assert!((w - 1.0).abs() < 1e-9, "{w}");
        let a = parse(&[
            "mg1",
            "--arrival-rate",
            "0.5",
            "--mean-talk",
            "2",
            "--sd-talk",
            "1",
        ]);
        assert!(run_to_string(&a.unwrap())
            .unwrap_err()
            .contains("stable queue"));
    }

    /// The clap error for `argv`, rendered as the user sees it.
    fn clap_error(argv: &[&str]) -> String {
        parse(argv).unwrap_err().render().to_string()
    }

    #[test]
    fn invalid_values_are_refused_by_clap_naming_the_flag() {
        for (argv, flag, expect) in [
            ("b --channels 0 --load 1", "--channels", "1.."),
            ("b --load -1 --channels 2", "--load", ">= 0"),
            ("b --load nan --channels 2", "--load", "finite"),
            (
                "b --load 5 --target-blocking 0",
                "--target-blocking",
                "0 < P <= 1",
            ),
            (
                "c --channels 3 --arrival-rate 1 --mean-talk 0",
                "--mean-talk",
                "> 0",
            ),
            (
                "a --channels 3 --arrival-rate 1 --mean-talk 1 --mean-patience=-1",
                "--mean-patience",
                "> 0",
            ),
            (
                "md1 --arrival-rate 1 --dial-rate 2 --percentile 1.5",
                "--percentile",
                "0.999999999",
            ),
        ] {
            let words: Vec<&str> = argv.split_whitespace().collect();
            let e = clap_error(&words);
            assert!(e.contains(flag) && e.contains(expect), "{argv}: {e}");
        }
    }

    #[test]
    fn combinations_need_exactly_one_of_each_required_group() {
        for argv in [
            "b --load 5",
            "b --channels 3",
            "b --load 5 --channels 3 --target-blocking 0.1",
            "b --load 5 --arrival-rate 1 --mean-talk 5 --channels 3",
            "b --mean-talk 5 --channels 3",
            "c --arrival-rate 1 --mean-talk 1 --target-p-wait-gt 0.1",
            "c --channels 3 --mean-talk 1",
            "a --arrival-rate 1 --mean-talk 1 --mean-patience 1",
            "md1 --arrival-rate 1 --dial-rate 2 --target-delay 1 --percentile 0.9",
            "md1 --arrival-rate 1",
        ] {
            let words: Vec<&str> = argv.split_whitespace().collect();
            assert!(parse(&words).is_err(), "{argv} was accepted");
        }
        let e = clap_error(&["b", "--load", "5"]);
        assert!(
            e.contains("--channels") && e.contains("--target-blocking"),
            "{e}"
        );
    }

    #[test]
    fn model_limits_are_reported_by_run() {
        let args = parse(&[
            "c",
            "--channels",
            "2",
            "--arrival-rate",
            "3",
            "--mean-talk",
            "1",
        ])
        .unwrap();
        let err = run_to_string(&args).unwrap_err();
        assert!(
            err.contains("--channels") && err.contains("stable"),
            "{err}"
        );
        let args = parse(&[
            "b",
            "--channels",
            "2",
            "--arrival-rate",
            "1e300",
            "--mean-talk",
            "1e300",
        ])
        .unwrap();
        assert!(run_to_string(&args).unwrap_err().contains("overflows"));
        // Built without clap: an error, not a panic.
        let args = ErlangArgs {
            model: ErlangModel::Md1 {
                arrival_rate: 1.0,
                dial_rate: Some(2.0),
                wait_threshold: None,
                percentile: Some(0.9),
                target_delay: Some(1.0),
            },
            csv: false,
        };
        let err = run_to_string(&args).unwrap_err();
        assert!(
            err.contains("--dial-rate") && err.contains("--target-delay"),
            "{err}"
        );
    }

    #[test]
    fn erlang_b_inverse_at_a_trillion_erlangs() {
        let args = parse(&["b", "--load", "1e12", "--target-blocking", "0.01", "--csv"]).unwrap();
        let out = run_to_string(&args).unwrap();
        let get = |m: &str| -> f64 {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("erlang_b,{m},")))
                .unwrap_or_else(|| panic!("{m} in {out}"))
                .parse()
                .unwrap()
        };
        let c = get("min_channels");
        assert!(
            get("p_block") <= 0.01 && get("p_block_one_fewer_channel") > 0.01,
            "{out}"
        );
        // Heavy overload regime: B is close to 1 - c/A.
        assert!((c / 1e12 - 0.99).abs() < 1e-4, "{c}");
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_sig(5.0, 10), "5");
        assert_eq!(fmt_sig(0.018384570336648, 10), "0.01838457034");
        assert_eq!(fmt_sig(1.5e-7, 10), "1.5e-7");
        assert_eq!(fmt_sig(123456.789, 4), "123457"); // integer part is never rounded away
        assert_eq!(fmt_sig(0.0, 10), "0");
    }
}
