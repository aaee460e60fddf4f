//! Maps key paths of a TOML document to the line they are written on, so that every error can
//! name file, line and key, including errors found long after parsing (in validation).

use std::collections::BTreeMap;

/// Line numbers (1-based) of every key path in a document, e.g. "carriers.primary.rate" -> 42.
/// Array elements are written as `[i]`: "changes[0].at".
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    lines: BTreeMap<String, usize>,
}

impl SourceMap {
    pub fn build(text: &str) -> SourceMap {
        let mut map = SourceMap::default();
        if let Ok(doc) = toml_edit::ImDocument::parse(text.to_string()) {
            let starts = line_starts(text);
            walk_table(doc.as_table(), "", &starts, &mut map.lines);
        }
        map
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path.to_string();
        loop {
            if let Some(&l) = self.lines.get(&p) {
                return Some(l);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
            if p.is_empty() {
                return None;
            }
        }
    }
}

pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// 1-based line of a byte offset.
pub fn line_of_offset(starts: &[usize], offset: usize) -> usize {
    match starts.binary_search(&offset) {
        Ok(i) => i + 1,
        Err(i) => i,
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn record(
    lines: &mut BTreeMap<String, usize>,
    path: &str,
    span: Option<std::ops::Range<usize>>,
    starts: &[usize],
) {
    if let Some(s) = span {
        lines
            .entry(path.to_string())
            .or_insert_with(|| line_of_offset(starts, s.start));
    }
}

fn walk_table(
    t: &toml_edit::Table,
    prefix: &str,
    starts: &[usize],
    lines: &mut BTreeMap<String, usize>,
) {
    for (k, item) in t.iter() {
        let path = join(prefix, k);
        if let Some((key, _)) = t.get_key_value(k) {
            record(lines, &path, key.span(), starts);
        }
        walk_item(item, &path, starts, lines);
    }
}

fn walk_item(
    item: &toml_edit::Item,
    path: &str,
    starts: &[usize],
    lines: &mut BTreeMap<String, usize>,
) {
    match item {
        toml_edit::Item::Table(t) => {
            record(lines, path, t.span(), starts);
            walk_table(t, path, starts, lines);
        }
        toml_edit::Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                record(lines, &p, t.span(), starts);
                walk_table(t, &p, starts, lines);
            }
        }
        toml_edit::Item::Value(v) => walk_value(v, path, starts, lines),
        toml_edit::Item::None => {}
    }
}

fn walk_value(
    v: &toml_edit::Value,
    path: &str,
    starts: &[usize],
    lines: &mut BTreeMap<String, usize>,
) {
    record(lines, path, v.span(), starts);
    match v {
        toml_edit::Value::InlineTable(t) => {
            for (k, val) in t.iter() {
                let p = join(path, k);
                if let Some((key, _)) = t.get_key_value(k) {
                    record(lines, &p, key.span(), starts);
                }
                walk_value(val, &p, starts, lines);
            }
        }
        toml_edit::Value::Array(a) => {
            for (i, val) in a.iter().enumerate() {
                walk_value(val, &format!("{path}[{i}]"), starts, lines);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_nested_and_dotted_keys() {
        let text = "name = \"x\"\n\n[carriers.primary]\nrate = \"20/s\"\n\n[[changes]]\nat = \"17:30\"\nset = { carriers.primary.rate = \"30/s\" }\n\n[variants.no-backup]\nbackup.policy = \"off\"\n";
        let m = SourceMap::build(text);
        assert_eq!(m.line_of("name"), Some(1));
        assert_eq!(m.line_of("carriers.primary.rate"), Some(4));
        assert_eq!(m.line_of("changes[0].at"), Some(7));
        assert_eq!(m.line_of("changes[0].set.carriers.primary.rate"), Some(8));
        assert_eq!(m.line_of("variants.no-backup.backup.policy"), Some(11));
        // Unknown child falls back to the nearest ancestor.
        assert_eq!(m.line_of("carriers.primary.bogus"), Some(3));
    }
}
