//! `manifest.json`: what produced an output directory (command, scenario, seed, ...). Read
//! tolerantly: unknown keys are ignored and every key is optional, but a `format` other than 1
//! is refused (a newer layout this callsim cannot promise to read).

use super::Error;
use serde::Deserialize;
use std::path::Path;

pub const FORMAT: u64 = 1;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct Manifest {
    pub format: Option<u64>,
    pub callsim_version: Option<String>,
    pub kind: Option<String>,
    pub command: Option<String>,
    pub scenario: Option<String>,
    pub scenario_name: Option<String>,
    pub scenario_description: Option<String>,
    pub scenario_sha256: Option<String>,
    pub seed: Option<u64>,
    pub replications: Option<u64>,
    pub variant: Option<String>,
    pub variants: Vec<String>,
    pub sets: Vec<String>,
    pub windows: Vec<Window>,
    pub files: Vec<String>,
    /// The lever value a plan chose (plan only; may be absent), and why it is uncertain, or
    /// why there is none.
    pub answer: Option<String>,
    pub answer_note: Option<String>,
}

/// A named clock window (`"start": "10:00"`), shaded on time charts.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct Window {
    pub name: String,
    pub start: String,
    pub end: String,
}

/// Reads `dir/manifest.json`; `Ok(None)` if there is none.
pub fn load(dir: &Path) -> Result<Option<Manifest>, Error> {
    let path = dir.join("manifest.json");
    if !path.exists() {
        return Ok(None);
    }
    let text =
        crate::input::read_text(&path, crate::input::MAX_TEXT_BYTES).map_err(Error::Input)?;
    parse(&text)
        .map(Some)
        .map_err(|m| Error::Input(format!("`{}`: {m}", path.display())))
}

pub fn parse(text: &str) -> Result<Manifest, String> {
    let m: Manifest = serde_json::from_str(text).map_err(|e| {
        format!("not a callsim manifest ({e}); expected a JSON object with \"format\": {FORMAT}")
    })?;
    match m.format {
        Some(FORMAT) => {}
        Some(f) => {
            return Err(format!(
                "manifest format {f} is not known to this callsim (it reads format {FORMAT}); use the callsim that wrote it"
            ))
        }
        None => return Err(format!("no \"format\" key; expected \"format\": {FORMAT}")),
    }
    if let Some(k) = &m.kind {
        if !["run", "compare", "sweep", "plan"].contains(&k.as_str()) {
            return Err(format!(
                "\"kind\": \"{k}\" is unknown; expected \"run\", \"compare\", \"sweep\" or \"plan\""
            ));
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keys_are_ignored_and_fields_read() {
        let m = parse(r#"{"format":1,"kind":"run","seed":7,"future":{"x":1},"windows":[{"name":"peak","start":"10:00","end":"12:00"}],"variant":null}"#).unwrap();
        assert_eq!(m.seed, Some(7));
        assert_eq!(m.kind.as_deref(), Some("run"));
        assert_eq!(m.windows[0].name, "peak");
        assert_eq!(m.variant, None);
    }

    #[test]
    fn unknown_format_and_kind_are_refused() {
        assert!(parse(r#"{"format":2}"#).unwrap_err().contains("format 2"));
        assert!(parse(r#"{"kind":"run"}"#)
            .unwrap_err()
            .contains("\"format\""));
        assert!(parse(r#"{"format":1,"kind":"walk"}"#)
            .unwrap_err()
            .contains("walk"));
        assert!(parse("[1,2]")
            .unwrap_err()
            .contains("not a callsim manifest"));
    }
}
