//! `callsim report DIR [--out FILE] [--no-timestamp]`: the HTML report of an output directory.

use super::CliError;
use crate::report::{self, Error};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  callsim run scenarios/callrail-2018-05-14.toml --out results/callrail
  callsim report results/callrail                   (writes results/callrail/report.html and charts/*.svg)
  callsim report results/callrail --out callrail.html --no-timestamp")]
pub struct ReportArgs {
    /// Output directory of `callsim run|compare|sweep|plan --out DIR`.
    pub dir: PathBuf,
    /// Where to write the HTML (default DIR/report.html); the charts always go to DIR/charts/.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Leave out the "generated at" line, so the same inputs give byte-identical files.
    #[arg(long)]
    pub no_timestamp: bool,
}

pub fn run(a: ReportArgs) -> Result<(), CliError> {
    let stamp = (!a.no_timestamp).then(utc_now);
    let rep = report::render(&a.dir, stamp.as_deref()).map_err(cli_error)?;
    let written = report::write(&rep, &a.dir, a.out.as_deref()).map_err(cli_error)?;
    for n in &rep.notes {
        eprintln!("note: {n}");
    }
    let html = written
        .last()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    crate::sayln!(
        "wrote {html} ({} KB) and {} charts in {}",
        rep.html.len().div_ceil(1024),
        rep.charts.len(),
        a.dir.join("charts").display()
    );
    Ok(())
}

fn cli_error(e: Error) -> CliError {
    match e {
        Error::Input(m) => CliError::input(m),
        Error::Io(m) => CliError::failure(m),
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC` (the only clock read of `report`).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_589), (2026, 5, 16));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
    }
}
