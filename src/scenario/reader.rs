//! A checked reader over a TOML table: every access records the key as used, typed getters say
//! what was expected and what was found, and `finish` rejects unknown keys (listing the valid
//! ones). Errors carry the key path; `Ctx` turns a path into file and line.

use super::spans::SourceMap;
use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario error: file, line, key path, where the value came from, and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    /// Set when the offending value came from a variant, `--set` or a scheduled change.
    pub origin: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": key `{k}`")?;
        }
        if let Some(o) = &self.origin {
            write!(f, " (from {o})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Where an overriding value came from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub label: String,
    pub line: Option<usize>,
}

/// Error context for one scenario file.
pub struct Ctx {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub map: SourceMap,
    /// (path prefix, origin): values under the prefix came from an override.
    pub overrides: RefCell<Vec<(String, Origin)>>,
}

impl Ctx {
    pub fn new(file: &Path, text: &str) -> Ctx {
        Ctx {
            file: file.to_path_buf(),
            dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            map: SourceMap::build(text),
            overrides: RefCell::new(Vec::new()),
        }
    }

    pub fn err(&self, path: &str, message: impl Into<String>) -> ScenarioError {
        let ov = self.overrides.borrow();
        // An override covers the value at `path` if it set `path` or an ancestor of it, or if it
        // set something inside it (`--set a.b.c=1` when `a.b` is a string is an error at `a.b`).
        let covers = |p: &str| {
            path == p
                || path.starts_with(&format!("{p}."))
                || path.starts_with(&format!("{p}["))
                || (!path.is_empty() && p.starts_with(&format!("{path}.")))
        };
        let hit = ov
            .iter()
            .filter(|(p, _)| covers(p))
            .max_by_key(|(p, _)| p.len());
        let (line, origin) = match hit {
            Some((_, o)) => (o.line, Some(o.label.clone())),
            None => (self.map.line_of(path), None),
        };
        ScenarioError {
            file: self.file.clone(),
            line,
            key: if path.is_empty() {
                None
            } else {
                Some(path.to_string())
            },
            origin,
            message: message.into(),
        }
    }

    /// Resolves a file named in the scenario relative to the scenario's folder.
    pub fn resolve(&self, name: &str) -> PathBuf {
        let p = Path::new(name);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

pub type Result<T> = std::result::Result<T, ScenarioError>;

pub fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date-time {d}"),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A table being read: knows its path and which keys were consumed.
pub struct Obj<'a> {
    pub ctx: &'a Ctx,
    pub path: String,
    pub table: &'a toml::Table,
    used: RefCell<Vec<String>>,
}

impl<'a> Obj<'a> {
    pub fn new(ctx: &'a Ctx, path: impl Into<String>, table: &'a toml::Table) -> Obj<'a> {
        Obj {
            ctx,
            path: path.into(),
            table,
            used: RefCell::new(Vec::new()),
        }
    }

    pub fn key_path(&self, key: &str) -> String {
        if key.is_empty() {
            return self.path.clone();
        }
        join(&self.path, key)
    }

    pub fn err(&self, key: &str, msg: impl Into<String>) -> ScenarioError {
        self.ctx.err(&self.key_path(key), msg)
    }

    pub fn get(&self, key: &str) -> Option<&'a toml::Value> {
        // The registry (schema.rs) must describe every key the loader reads: `callsim schema`,
        // the docs check and the dashboard's controls come from it.
        debug_assert!(
            super::schema::knows(&self.path, key),
            "scenario key `{}` is read by the loader but missing from scenario/schema.rs",
            self.key_path(key)
        );
        self.used.borrow_mut().push(key.to_string());
        self.table.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Rejects keys that no getter asked for.
    pub fn finish(&self, allowed: &[&str]) -> Result<()> {
        let used = self.used.borrow();
        for k in self.table.keys() {
            if !used.iter().any(|u| u == k) && !allowed.contains(&k.as_str()) {
                let mut valid: Vec<&str> = used
                    .iter()
                    .map(String::as_str)
                    .chain(allowed.iter().copied())
                    .collect();
                valid.sort_unstable();
                valid.dedup();
                let near = valid.iter().find(|v| close(v, k));
                let hint = near
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                return Err(self.err(
                    k,
                    format!(
                        "unknown key `{k}`{hint}; expected one of: {}",
                        valid.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn str_opt(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.err(key, format!("expected a string, found {}", describe(v)))),
        }
    }

    pub fn str_req(&self, key: &str, example: &str) -> Result<&'a str> {
        self.str_opt(key)?.ok_or_else(|| self.missing(key, example))
    }

    pub fn missing(&self, key: &str, example: &str) -> ScenarioError {
        let where_ = if self.path.is_empty() {
            "the top level".to_string()
        } else {
            format!("[{}]", self.path)
        };
        self.ctx.err(
            &self.path,
            format!("missing key `{key}` in {where_}; expected e.g. {key} = {example}"),
        )
    }

    pub fn f64_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
            Some(v) => Err(self.err(
                key,
                format!("expected a finite number, found {}", describe(v)),
            )),
        }
    }

    pub fn prob_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.f64_opt(key)? {
            Some(p) if !(0.0..=1.0).contains(&p) => Err(self.err(
                key,
                format!("expected a probability between 0 and 1, found {p}"),
            )),
            x => Ok(x),
        }
    }

    pub fn positive_f64_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.f64_opt(key)? {
            Some(x) if x <= 0.0 => Err(self.err(key, format!("expected a number > 0, found {x}"))),
            x => Ok(x),
        }
    }

    pub fn u64_opt(&self, key: &str) -> Result<Option<u64>> {
        self.u64_at_least(key, 0)
    }

    /// A whole number of at least `min`; an error below it names that minimum.
    fn u64_at_least(&self, key: &str, min: i64) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if *i >= min => Ok(Some(*i as u64)),
            Some(toml::Value::Integer(i)) => {
                Err(self.err(key, format!("expected a whole number >= {min}, found {i}")))
            }
            Some(v) => Err(self.err(
                key,
                format!("expected a whole number, found {}", describe(v)),
            )),
        }
    }

    pub fn positive_u64_opt(&self, key: &str) -> Result<Option<u64>> {
        self.u64_at_least(key, 1)
    }

    pub fn bool_opt(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(
                key,
                format!("expected true or false, found {}", describe(v)),
            )),
        }
    }

    pub fn table_opt(&self, key: &str) -> Result<Option<Obj<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => Ok(Some(Obj::new(self.ctx, self.key_path(key), t))),
            Some(v) => Err(self.err(key, format!("expected a table, found {}", describe(v)))),
        }
    }

    pub fn array_opt(&self, key: &str) -> Result<Option<&'a Vec<toml::Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(self.err(key, format!("expected an array, found {}", describe(v)))),
        }
    }

    /// One of a fixed set of words.
    pub fn choice_opt(&self, key: &str, choices: &[&str]) -> Result<Option<&'a str>> {
        debug_assert_eq!(
            super::schema::choices(&self.path, key),
            Some(choices),
            "the words accepted at `{}` differ from scenario/schema.rs",
            self.key_path(key)
        );
        match self.str_opt(key)? {
            None => Ok(None),
            Some(s) if choices.contains(&s) => Ok(Some(s)),
            Some(s) => Err(self.err(
                key,
                format!(
                    "`{s}` is not valid; expected one of: {}",
                    choices.join(", ")
                ),
            )),
        }
    }
}

/// Edit distance <= 2 or a case-insensitive match: enough for "did you mean".
pub fn close(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    a.len().abs_diff(b.len()) <= 2 && edit_distance(&a, &b) <= 2
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of neighbours (`salse` for `sales`), each one edit.
pub(crate) fn edit_distance(a: &[char], b: &[char]) -> usize {
    let w = b.len() + 1;
    let mut d: Vec<usize> = vec![0; (a.len() + 1) * w];
    for (i, row) in d.chunks_mut(w).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}
