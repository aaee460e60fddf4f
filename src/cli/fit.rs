//! `callsim fit CDRS --out scenario.toml`: estimate a scenario from call detail records.

use super::CliError;
use crate::fit::read::{parse_columns, Format};
use crate::fit::{fit_file, FitError, FitOptions};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// Call detail records (CSV).
    pub cdrs: PathBuf,
    /// Record layout: asterisk (cdr_csv Master.csv), freeswitch (mod_cdr_csv default template),
    /// twilio (call log export) or csv (named columns).
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Column mapping, e.g. --columns call=17,caller=2 (1-based numbers or header names);
    /// fields: call, leg, parent, caller, start, answer, end, status, talk (each at most once).
    #[arg(long)]
    pub columns: Option<String>,
    /// Write first-attempt arrival instants to this trace file and use it instead of a profile.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Width of the arrival-profile bins, whole minutes from 1m to 24h, e.g. 30m (default:
    /// chosen from the data volume).
    #[arg(long)]
    pub interval: Option<String>,
    /// Ring timeout, 1s to 1h: the scenario's ring_timeout, and what tells Asterisk's ambiguous
    /// NO ANSWER legs apart (default: the most common ringing time of legs that rang out).
    #[arg(long)]
    pub ring_timeout: Option<String>,
    /// A call is complete when no row for it came for this long (record time).
    #[arg(long, default_value = "10m")]
    pub window: String,
    /// Same caller again within this long after an unanswered call counts as a redial.
    #[arg(long, default_value = "30m")]
    pub redial_window: String,
    /// The scenario to write.
    #[arg(long)]
    pub out: PathBuf,
    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn secs(flag: &str, v: &str) -> Result<f64, CliError> {
    crate::time::parse_duration(v)
        .map(|d| d.as_secs_f64())
        .map_err(|e| CliError::input(format!("--{flag} `{v}`: {e}")))
}

fn options(a: &FitArgs, trace_tmp: Option<PathBuf>) -> Result<FitOptions, CliError> {
    let mut o = FitOptions {
        format: Format::parse(&a.format).map_err(|e| CliError::input(format!("--format: {e}")))?,
        trace: trace_tmp,
        progress: !a.quiet,
        window: secs("window", &a.window)?,
        redial_window: secs("redial-window", &a.redial_window)?,
        ..Default::default()
    };
    if let Some(c) = &a.columns {
        o.columns = parse_columns(c).map_err(CliError::input)?;
    }
    if let Some(i) = &a.interval {
        o.interval = Some(secs("interval", i)?);
    }
    if let Some(t) = &a.ring_timeout {
        o.ring_timeout = Some(secs("ring-timeout", t)?);
    }
    o.check().map_err(from_fit)?;
    Ok(o)
}

fn tmp(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

fn from_fit(e: FitError) -> CliError {
    if e.input {
        CliError::input(e.message)
    } else {
        CliError::failure(e.message)
    }
}

pub fn run(a: FitArgs) -> Result<(), CliError> {
    let trace_tmp = a.trace.as_deref().map(tmp);
    let r = run_inner(&a, trace_tmp.as_deref());
    if let Some(t) = &trace_tmp {
        let _ = std::fs::remove_file(t);
    }
    let _ = std::fs::remove_file(tmp(&a.out));
    r
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(x) if !x.as_os_str().is_empty() => x.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// How the scenario at `out` names `file`: its bare name beside the scenario, else absolute.
fn name_from(out: &Path, file: &Path) -> String {
    if parent_of(file) == parent_of(out) {
        file.file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default()
    } else {
        std::path::absolute(file)
            .unwrap_or(file.to_path_buf())
            .display()
            .to_string()
    }
}

fn failure(p: &Path, e: std::io::Error) -> CliError {
    CliError::failure(format!("cannot write `{}`: {e}", p.display()))
}

fn run_inner(a: &FitArgs, trace_tmp: Option<&Path>) -> Result<(), CliError> {
    let o = options(a, trace_tmp.map(Path::to_path_buf))?;
    let fit = fit_file(&a.cdrs, &o).map_err(from_fit)?;
    for l in fit.info.issues.lines() {
        eprintln!("warning: {}: {l}", a.cdrs.display());
    }
    if let (Some(g), Some((t, n, share))) = (fit.ring_timeout_given, fit.ring_timeout) {
        if share >= 0.5 && (g - t).abs() > crate::fit::estimate::ring_tolerance(t) {
            eprintln!(
                "warning: {}: --ring-timeout {} is used, but {:.0}% of the {n} legs that rang out rang {} (the records' own ring timeout?)",
                a.cdrs.display(),
                crate::fit::out::duration(g),
                100.0 * share,
                crate::fit::out::duration(t.round().max(1.0))
            );
        }
    }
    if fit.trace.is_some_and(|t| t.2 >= 47.0 * 3600.0) {
        return Err(CliError::input("--trace: the records run past 47:00 of their first day; a trace covers one day (use the profile instead)"));
    }
    let trace_name = a.trace.as_ref().map(|t| name_from(&a.out, t));
    let talk_path = fit.talk_empirical.as_ref().map(|_| {
        let stem = a
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        parent_of(&a.out).join(format!("{stem}-talk_time.csv"))
    });
    let talk_name = talk_path.as_ref().map(|p| name_from(&a.out, p));
    let cdrs = a
        .cdrs
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let text = crate::fit::out::scenario(
        &fit,
        &format!("fitted from {cdrs}"),
        trace_name.as_deref(),
        talk_name.as_deref(),
    );
    let mut written = Vec::new();
    let r = commit(
        a,
        &fit,
        trace_tmp,
        talk_path.as_deref(),
        &text,
        &mut written,
    );
    if r.is_err() {
        for p in written {
            let _ = std::fs::remove_file(p);
        }
    }
    r?;
    crate::cli::say(&crate::fit::out::summary_text(&fit, &a.out));
    Ok(())
}

/// Puts the side files (trace, empirical talk time) in place, checks that the scenario loads
/// with them, then writes the scenario; `written` lists what to remove if anything fails.
fn commit(
    a: &FitArgs,
    fit: &crate::fit::summary::Fit,
    trace_tmp: Option<&Path>,
    talk_path: Option<&Path>,
    text: &str,
    written: &mut Vec<PathBuf>,
) -> Result<(), CliError> {
    if let (Some(t), Some(tt)) = (&a.trace, trace_tmp) {
        std::fs::rename(tt, t).map_err(|e| failure(t, e))?;
        written.push(t.clone());
    }
    if let (Some(p), Some(v)) = (talk_path, &fit.talk_empirical) {
        let t = tmp(p);
        std::fs::write(&t, crate::fit::out::empirical_csv(v)).map_err(|e| failure(&t, e))?;
        std::fs::rename(&t, p).map_err(|e| failure(p, e))?;
        written.push(p.to_path_buf());
    }
    if let Err(e) = crate::scenario::load_str(&a.out, text, None, &[]) {
        return Err(CliError::failure(format!(
            "internal error: the fitted scenario does not load (please report it): {e}"
        )));
    }
    let t = tmp(&a.out);
    std::fs::write(&t, text).map_err(|e| failure(&t, e))?;
    std::fs::rename(&t, &a.out).map_err(|e| failure(&a.out, e))
}
