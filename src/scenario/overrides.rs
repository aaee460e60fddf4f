//! Variants and `--set`: how overrides are taken from the document, parsed, and merged into
//! it before the tables are read.

use super::*;

/// For each `--set variants.NAME.KEY=VALUE`: (variant, key path inside it).
pub(super) type VariantSets = Vec<(String, String)>;

/// Removes `[variants]` from `doc` and applies each `--set variants.NAME.KEY=VALUE` to it;
/// returns the variants and the `VariantSets`.
pub(super) fn take_variants(
    ctx: &Ctx,
    path: &Path,
    doc: &mut toml::Table,
    sets: &[String],
) -> Result<(toml::Table, VariantSets)> {
    let variants_tbl = match doc.remove("variants") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(v) => {
            return Err(ctx.err(
                "variants",
                format!("expected a table of named variants, found {}", describe(&v)),
            ))
        }
    };
    let mut variants_tbl = variants_tbl;
    // `--set variants.NAME.KEY=VALUE` changes a variant (and applies when it is chosen).
    let mut variant_sets: Vec<(String, String)> = Vec::new();
    for s in sets
        .iter()
        .filter(|s| s.trim_start().starts_with("variants."))
    {
        let (k, ov) = parse_set_in(path, s)?;
        let toml::Value::Table(inner) = &ov["variants"] else {
            unreachable!("parse_set nests by key path")
        };
        let name = inner.keys().next().cloned().unwrap_or_default();
        if !variants_tbl.contains_key(&name) {
            return Err(ScenarioError {
                file: path.to_path_buf(),
                line: None,
                key: Some(k),
                origin: Some(format!("--set {s}")),
                message: format!(
                    "no variant named `{name}` to change; variants: {}",
                    variants_tbl.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        variant_sets.push((
            name,
            k.split_once('.')
                .map(|x| x.1)
                .unwrap_or("")
                .split_once('.')
                .map(|x| x.1.to_string())
                .unwrap_or_default(),
        ));
        check_indices(&variants_tbl, inner, "variants", true)
            .map_err(|e| index_error(path, e, s))?;
        merge(&mut variants_tbl, inner);
    }
    Ok((variants_tbl, variant_sets))
}

/// Merges variant `name` into `doc`, recording where each overridden key came from.
pub(super) fn apply_variant(
    ctx: &Ctx,
    doc: &mut toml::Table,
    variants_tbl: &toml::Table,
    variant_sets: &[(String, String)],
    variants: &[String],
    name: &str,
) -> Result<()> {
    let Some(ov) = variants_tbl.get(name) else {
        let list = if variants.is_empty() {
            "the file defines none".to_string()
        } else {
            variants.join(", ")
        };
        return Err(ctx.err(
            "variants",
            format!("no variant named `{name}`; variants: {list}"),
        ));
    };
    let toml::Value::Table(ov) = ov else {
        return Err(ctx.err(
            &format!("variants.{name}"),
            format!("expected a table of overrides, found {}", describe(ov)),
        ));
    };
    let ov = expand_dotted(ov);
    check_indices(doc, &ov, "", false).map_err(|(key, message)| ScenarioError {
        file: ctx.file.clone(),
        line: ctx.map.line_of(&format!("variants.{name}")),
        key: Some(key),
        origin: Some(format!("variant `{name}`")),
        message,
    })?;
    check_added_names(doc, &ov).map_err(|(key, message)| ScenarioError {
        file: ctx.file.clone(),
        line: ctx
            .map
            .line_of(&format!("variants.{name}.{key}"))
            .or_else(|| ctx.map.line_of(&format!("variants.{name}"))),
        key: Some(format!("variants.{name}.{key}")),
        origin: Some(format!("variant `{name}`")),
        message,
    })?;
    for leaf in leaf_paths(&ov, "") {
        let from_set = variant_sets
            .iter()
            .any(|(v, k)| v == name && (leaf == *k || leaf.starts_with(&format!("{k}."))));
        let line = ctx.map.line_of(&format!("variants.{name}.{leaf}"));
        ctx.overrides.borrow_mut().push((
            leaf,
            Origin {
                label: if from_set {
                    format!("--set into variant `{name}`")
                } else {
                    format!("variant `{name}`")
                },
                line: if from_set { None } else { line },
            },
        ));
    }
    merge(doc, &ov);
    Ok(())
}

/// Merges each `--set KEY=VALUE` (other than into a variant) into `doc`, recording its origin.
pub(super) fn apply_sets(
    ctx: &Ctx,
    path: &Path,
    doc: &mut toml::Table,
    sets: &[String],
    variant: Option<&str>,
) -> Result<()> {
    for s in sets
        .iter()
        .filter(|s| !s.trim_start().starts_with("variants."))
    {
        let (k, ov) = parse_set_in(path, s)?;
        check_indices(doc, &ov, "", false).map_err(|e| {
            let mut err = index_error(path, e, s);
            if let Some(v) = variant {
                // Every variant is loaded with the --set: say which one lacks the element.
                err.origin = Some(format!("--set {s}, applied to variant `{v}`"));
            }
            err
        })?;
        check_names(doc, &ov).map_err(|e| index_error(path, e, s))?;
        ctx.overrides.borrow_mut().push((
            k,
            Origin {
                label: format!("--set {s}"),
                line: None,
            },
        ));
        merge(doc, &ov);
    }
    Ok(())
}

/// Parses `key.path=value`: the value as a TOML value if it is one, else as a string (so
/// `--set carriers.main.rate=30/s` works unquoted).
pub fn parse_set(s: &str) -> std::result::Result<(String, toml::Table), String> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(format!(
            "bad --set `{s}`: expected KEY=VALUE, e.g. --set carriers.primary.rate=30/s"
        ));
    };
    let k = k.trim();
    if k.is_empty() || k.split('.').any(|p| p.trim().is_empty()) {
        return Err(format!("bad --set `{s}`: the key `{k}` is empty or has an empty part; expected e.g. carriers.primary.rate"));
    }
    let v = v.trim();
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && v.parse::<i64>().is_err()
    {
        return Err(format!(
            "bad --set `{s}`: {v} is outside the whole numbers a scenario can hold ({} to {}, TOML's integers){}",
            i64::MIN,
            i64::MAX,
            if k == "seed" { "; --seed takes any seed up to 18446744073709551615" } else { "" }
        ));
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {v}")) {
        // Clock times such as 13:00:00 parse as TOML times; scenarios write them as strings.
        Ok(t) if matches!(t.get("v"), Some(toml::Value::Datetime(_))) => {
            toml::Value::String(v.to_string())
        }
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(v.to_string()),
    };
    let mut t = toml::Table::new();
    let mut parts: Vec<String> = Vec::new();
    for part in k.split('.').map(str::trim) {
        parts.extend(split_indices(part).map_err(|m| format!("bad --set `{s}`: {m}"))?);
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    insert_path(&mut t, &refs, value);
    Ok((path_of(&refs), t))
}

/// `changes[1]` -> `changes`, `[1]`: an element of an array of tables (or values) is addressed
/// by its index in brackets, counted from 0 as error messages count them.
fn split_indices(part: &str) -> std::result::Result<Vec<String>, String> {
    let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
    if name.is_empty() || name.contains(']') {
        return Err(format!(
            "`{part}` is not a key or an indexed key such as changes[1]"
        ));
    }
    let mut out = vec![name.to_string()];
    while !rest.is_empty() {
        let index = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .filter(|(i, _)| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
        let Some((i, after)) = index else {
            return Err(format!(
                "`{part}`: an index is a number in brackets after the key, counted from 0, e.g. changes[1].at"
            ));
        };
        let i: usize = i
            .parse()
            .map_err(|_| format!("`{part}`: the index {i} is too large"))?;
        out.push(format!("[{i}]"));
        rest = after;
    }
    Ok(out)
}

/// Whether `key` is an index part (`[1]`) made by `split_indices`.
fn index_of(key: &str) -> Option<usize> {
    key.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Joins key parts as error messages write paths: `changes[1].at`.
fn path_of(parts: &[&str]) -> String {
    parts.iter().fold(String::new(), |acc, p| join(&acc, p))
}

/// `prefix.key`, or `prefix[i]` for an index part.
fn join(prefix: &str, key: &str) -> String {
    if key.starts_with('[') {
        format!("{prefix}{key}")
    } else {
        super::reader::join(prefix, key)
    }
}

/// Checks that every index in the override `over` names an element that exists in `base`
/// (where the override will be merged), so that `--set changes[5].at=...` on a scenario with
/// three changes is an error naming both rather than a silently added table. With
/// `missing_ok`, a key that `base` lacks altogether passes (a variant's override that will be
/// checked again when the variant is merged into the document).
pub(super) fn check_indices(
    base: &toml::Table,
    over: &toml::Table,
    prefix: &str,
    missing_ok: bool,
) -> std::result::Result<(), (String, String)> {
    for (k, v) in over {
        let path = join(prefix, k);
        if index_of(k).is_some() {
            return Err((
                path,
                format!(
                    "`{prefix}` is not an array in the scenario; an index applies to an array such as changes or a flow's destinations"
                ),
            ));
        }
        let toml::Value::Table(o) = v else { continue };
        let indexed = o.keys().any(|i| index_of(i).is_some());
        match base.get(k) {
            Some(toml::Value::Table(b)) => check_indices(b, o, &path, missing_ok)?,
            Some(toml::Value::Array(a)) if indexed => check_array(a, o, &path)?,
            None if missing_ok => {}
            None if indexed => {
                return Err((
                    path.clone(),
                    format!("`{path}` is indexed, but the scenario has no `{path}`"),
                ))
            }
            None => check_indices(&toml::Table::new(), o, &path, false)?,
            Some(other) if indexed => {
                return Err((
                    path.clone(),
                    format!(
                        "`{path}` is indexed, but the scenario has {} there, not an array",
                        describe(other)
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_array(
    a: &[toml::Value],
    o: &toml::Table,
    path: &str,
) -> std::result::Result<(), (String, String)> {
    for (k, v) in o {
        let Some(i) = index_of(k) else {
            return Err((
                join(path, k),
                format!("`{path}` is an array: address an element by its index, e.g. {path}[0]"),
            ));
        };
        let Some(elem) = a.get(i) else {
            let has = match a.len() {
                0 => "none".to_string(),
                1 => format!("one, {path}[0]"),
                n => format!("{n}, {path}[0] to {path}[{}]", n - 1),
            };
            return Err((
                join(path, k),
                format!("no element {i} in `{path}`: it has {has}"),
            ));
        };
        if let (toml::Value::Table(b), toml::Value::Table(o2)) = (elem, v) {
            check_indices(b, o2, &join(path, k), false)?;
        } else if let (toml::Value::Array(b), toml::Value::Table(o2)) = (elem, v) {
            check_array(b, o2, &join(path, k))?;
        }
    }
    Ok(())
}

pub(super) fn insert_path(t: &mut toml::Table, parts: &[&str], value: toml::Value) {
    if parts.len() == 1 {
        t.insert(parts[0].to_string(), value);
        return;
    }
    let e = t
        .entry(parts[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !e.is_table() {
        *e = toml::Value::Table(toml::Table::new());
    }
    insert_path(e.as_table_mut().expect("table"), &parts[1..], value);
}

/// Quoted keys containing dots ("carriers.main.rate" = ...) become nested tables.
pub fn expand_dotted(t: &toml::Table) -> toml::Table {
    let mut out = toml::Table::new();
    for (k, v) in t {
        let v = match v {
            toml::Value::Table(inner) => toml::Value::Table(expand_dotted(inner)),
            other => other.clone(),
        };
        let parts: Vec<&str> = k.split('.').collect();
        if parts.len() > 1 {
            let mut nested = toml::Table::new();
            insert_path(&mut nested, &parts, v);
            merge(&mut out, &nested);
        } else if let (Some(toml::Value::Table(a)), toml::Value::Table(b)) = (out.get_mut(k), &v) {
            let b = b.clone();
            merge(a, &b);
        } else {
            out.insert(k.clone(), v);
        }
    }
    out
}

/// Deep merge: tables merge key by key; anything else (arrays included) is replaced, and so is
/// a table by an explicitly empty one (`leak_mb = {}` clears it rather than changing nothing).
/// An override made of index parts (`{ "[1]" = { at = "17:00" } }`, from `--set changes[1].at`)
/// merges into the elements of an array; `check_indices` has made sure they exist.
pub fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match base.get_mut(k) {
            Some(b) => merge_value(b, v),
            None => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn merge_value(base: &mut toml::Value, over: &toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) if !o.is_empty() => merge(b, o),
        (toml::Value::Array(a), toml::Value::Table(o))
            if !o.is_empty() && o.keys().all(|k| index_of(k).is_some_and(|i| i < a.len())) =>
        {
            for (k, v) in o {
                let i = index_of(k).expect("checked above");
                merge_value(&mut a[i], v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Dotted paths of every non-table value in `t`.
pub(super) fn leaf_paths(t: &toml::Table, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in t {
        let p = join(prefix, k);
        match v {
            toml::Value::Table(inner) if !inner.is_empty() => out.extend(leaf_paths(inner, &p)),
            _ => out.push(p),
        }
    }
    out
}

pub(super) const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "replications",
    "start",
    "end",
    "duration",
    "drain",
    "warmup",
    "calls",
    "timeline_interval",
    "sources",
    "carriers",
    "backup",
    "changes",
    "variants",
    "validation",
    "stages",
    "dependencies",
    "windows",
    "levers",
];

/// The tables whose keys are names the scenario gives (a carrier, a source, ...), with what one
/// entry is called in errors.
const NAMED: &[(&str, &str)] = &[
    ("carriers", "carrier"),
    ("sources", "source"),
    ("stages", "stage"),
    ("dependencies", "dependency"),
];

/// A `--set` changes what the scenario has; it does not add a carrier, source, stage or
/// dependency (or a dependency's node): `--set sources.salse.rate=5/s`, a typo, would otherwise
/// add a second source of calls and run.
fn check_names(doc: &toml::Table, ov: &toml::Table) -> std::result::Result<(), (String, String)> {
    let names = |t: Option<&toml::Value>| -> Vec<String> {
        t.and_then(toml::Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let unknown = |key: String, what: &str, have: Vec<String>| {
        let list = if have.is_empty() {
            "none".to_string()
        } else {
            have.join(", ")
        };
        Err((
            key,
            format!("the scenario has no {what} of that name (its {what}s: {list}); --set changes what a scenario has, it does not add to it: add it in the file or a variant"),
        ))
    };
    for (table, what) in NAMED {
        let Some(set) = ov.get(*table).and_then(toml::Value::as_table) else {
            continue;
        };
        for (name, body) in set {
            let Some(have) = doc.get(*table).and_then(|t| t.get(name)) else {
                return unknown(format!("{table}.{name}"), what, names(doc.get(*table)));
            };
            let nodes = body.get("nodes").and_then(toml::Value::as_table);
            for node in nodes.into_iter().flat_map(|n| n.keys()) {
                if have.get("nodes").and_then(|n| n.get(node)).is_none() {
                    return unknown(
                        format!("{table}.{name}.nodes.{node}"),
                        "node",
                        names(have.get("nodes")),
                    );
                }
            }
        }
    }
    Ok(())
}

/// A variant may add a carrier, source, stage, dependency or node (a variant with a second
/// carrier is a fair question), but not under a name so close to one the scenario has that it
/// reads as a typo: `[variants.busy] sources.salse.rate = "4/s"` would otherwise run a second
/// source of calls beside `sales`, without a word.
fn check_added_names(
    doc: &toml::Table,
    ov: &toml::Table,
) -> std::result::Result<(), (String, String)> {
    let near_miss = |key: String, what: &str, new: &str, have: Option<&toml::Value>| {
        let names: Vec<&String> = have
            .and_then(toml::Value::as_table)
            .map(|t| t.keys().collect())
            .unwrap_or_default();
        match names.iter().find(|old| looks_like_a_typo(new, old)) {
            None => Ok(()),
            Some(old) => Err((
                key,
                format!(
                    "the variant adds a {what} `{new}` that the scenario does not have, and the name is close to its {what} `{old}`: a typo? Write `{old}` to change that {what}; a variant that adds a {what} must give it a name not this close to one the scenario has (its {what}s: {})",
                    names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    };
    for (table, what) in NAMED {
        let Some(set) = ov.get(*table).and_then(toml::Value::as_table) else {
            continue;
        };
        for (name, body) in set {
            let Some(have) = doc.get(*table).and_then(|t| t.get(name)) else {
                near_miss(format!("{table}.{name}"), what, name, doc.get(*table))?;
                continue;
            };
            let nodes = body.get("nodes").and_then(toml::Value::as_table);
            for node in nodes.into_iter().flat_map(|n| n.keys()) {
                if have.get("nodes").and_then(|n| n.get(node)).is_none() {
                    near_miss(
                        format!("{table}.{name}.nodes.{node}"),
                        "node",
                        node,
                        have.get("nodes"),
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// `new` reads as a misspelling of `old`: the same name but for case, `-` and `_`, or (for
/// names of three characters or more) one edit away (two for names of six or more; a
/// transposition counts as one edit). Names that differ only in a trailing number
/// (`carrier`, `carrier2`) are taken as meant.
pub(super) fn looks_like_a_typo(new: &str, old: &str) -> bool {
    let norm = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (a, b) = (norm(new), norm(old));
    if a == b {
        return true;
    }
    let stem = |v: &[char]| -> usize {
        v.len() - v.iter().rev().take_while(|c| c.is_ascii_digit()).count()
    };
    if a[..stem(&a)] == b[..stem(&b)] {
        return false;
    }
    let shorter = a.len().min(b.len());
    let limit = match shorter {
        0..=2 => return false,
        3..=5 => 1,
        _ => 2,
    };
    super::reader::edit_distance(&a, &b) <= limit
}

/// A `check_indices` failure of the `--set` `s`, as a scenario error of `path`.
fn index_error(path: &Path, (key, message): (String, String), s: &str) -> ScenarioError {
    ScenarioError {
        file: path.to_path_buf(),
        line: None,
        key: Some(key),
        origin: Some(format!("--set {s}")),
        message,
    }
}

/// `parse_set`, with its error attributed to the `--set` in `path`.
fn parse_set_in(path: &Path, s: &str) -> Result<(String, toml::Table)> {
    parse_set(s).map_err(|m| ScenarioError {
        file: path.to_path_buf(),
        line: None,
        key: None,
        origin: Some(format!("--set {s}")),
        message: m,
    })
}
