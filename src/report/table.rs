//! Reading callsim's CSV outputs for the report: whole files into memory (they are small:
//! aggregated per interval, never per call), with header checks that name the file and the
//! column expected.

use super::Error;
use std::path::{Path, PathBuf};

/// One CSV file: its header and rows as text.
pub struct Table {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<csv::StringRecord>,
}

impl Table {
    /// Reads `path`, requiring each of `required` among the header's columns. `what` says which
    /// output the file should be (e.g. "timeline.csv of `callsim run --out`").
    pub fn read(path: &Path, required: &[&str], what: &str) -> Result<Table, Error> {
        let mut rd = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(path)
            .map_err(|e| Error::Input(format!("cannot read `{}`: {e}", path.display())))?;
        let header: Vec<String> = rd
            .headers()
            .map_err(|e| bad_csv(path, e))?
            .iter()
            .map(str::to_string)
            .collect();
        if let Some(missing) = required.iter().find(|c| !header.iter().any(|h| h == *c)) {
            return Err(Error::Input(format!(
                "`{}`: unknown or older format: the header has no column `{missing}`; expected the {what} written by this callsim ({} columns starting `{}`), found `{}`",
                path.display(),
                required.len(),
                required.iter().take(4).copied().collect::<Vec<_>>().join(","),
                shorten(&header.join(","), 120)
            )));
        }
        let mut rows = Vec::new();
        for r in rd.records() {
            rows.push(r.map_err(|e| bad_csv(path, e))?);
        }
        Ok(Table {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// Index of column `name` (which `read` checked when it was required).
    pub fn col(&self, name: &str) -> Result<usize, Error> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            Error::Input(format!(
                "`{}`: the header has no column `{name}`",
                self.path.display()
            ))
        })
    }

    /// The number in row `i` (0-based data row), column `c`: empty is NaN (undefined).
    pub fn num(&self, i: usize, c: usize) -> Result<f64, Error> {
        let cell = self.rows[i].get(c).unwrap_or("");
        if cell.is_empty() {
            return Ok(f64::NAN);
        }
        cell.parse::<f64>().map_err(|_| {
            Error::Input(format!(
                "`{}` line {}: column `{}` holds `{}`; expected a number or an empty cell",
                self.path.display(),
                i + 2,
                self.header[c],
                shorten(cell, 40)
            ))
        })
    }

    /// Checks every cell of every column but those named in `text` is a number or empty, so
    /// a cell the page does not chart is refused as one it does would be.
    pub fn check_numbers(&self, text: &[&str]) -> Result<(), Error> {
        let cols: Vec<usize> = (0..self.header.len())
            .filter(|&c| !text.contains(&self.header[c].as_str()))
            .collect();
        for i in 0..self.rows.len() {
            for &c in &cols {
                self.num(i, c)?;
            }
        }
        Ok(())
    }

    pub fn text(&self, i: usize, c: usize) -> &str {
        self.rows[i].get(c).unwrap_or("")
    }
}

fn bad_csv(path: &Path, e: csv::Error) -> Error {
    Error::Input(format!(
        "`{}`: not a valid callsim CSV: {e}",
        path.display()
    ))
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_column_is_named_with_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("timeline.csv");
        std::fs::write(&p, "variant,replication,clock\nbase,0,12:00\n").unwrap();
        let Err(Error::Input(m)) = Table::read(&p, &["variant", "t_s"], "timeline.csv") else {
            panic!("expected an input error")
        };
        assert!(m.contains("timeline.csv") && m.contains("`t_s`"), "{m}");
    }

    #[test]
    fn empty_cell_is_nan_and_text_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.csv");
        std::fs::write(&p, "a,b\n,2\nx,3\n").unwrap();
        let t = Table::read(&p, &["a"], "x").unwrap();
        assert!(t.num(0, 0).unwrap().is_nan());
        assert_eq!(t.num(0, 1).unwrap(), 2.0);
        let Err(Error::Input(m)) = t.num(1, 0) else {
            panic!("expected an error")
        };
        assert!(m.contains("line 3") && m.contains("`a`"), "{m}");
    }
}
