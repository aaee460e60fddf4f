//! The scenario schema (`callsim schema`, from `scenario/schema.rs`, the registry the loader
//! checks its keys against): docs/scenario.md's key tables list exactly its keys, every
//! bundled scenario and fixture validates against it with a JSON Schema validator, and it
//! rejects what the loader rejects for the common mistakes (a misspelt key, a wrong type).

use callsim::scenario::schema::{self, Def};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// docs/scenario.md's key tables: label (the heading, or a "`label`:" line before the table)
/// -> keys in the first column.
fn doc_tables(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut label = String::new();
    let mut in_table = false;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('#') {
            label = h.trim_start_matches('#').trim().to_string();
        } else if line.starts_with('`') && line.ends_with("`:") {
            label = line.trim_end_matches(':').to_string();
        }
        if line.starts_with("| key |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if in_table && !line.starts_with("|---") {
            let first = line
                .trim_start_matches('|')
                .split(" | ")
                .next()
                .unwrap_or("");
            for k in first.split(',') {
                let k = k.trim().trim_matches('`');
                if !k.is_empty() {
                    out.entry(label.clone()).or_default().insert(k.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn docs_key_tables_list_exactly_the_schema_keys() {
    let text = std::fs::read_to_string(root().join("docs/scenario.md")).unwrap();
    let tables = doc_tables(&text);
    let defs = schema::defs();
    // Every key table of the docs belongs to a definition.
    for label in tables.keys() {
        assert!(
            defs.iter().any(|d| d.docs.contains(&label.as_str())),
            "docs/scenario.md has a key table under `{label}` that no definition in scenario/schema.rs names"
        );
    }
    for d in defs.iter().filter(|d| !d.docs.is_empty()) {
        let in_docs: BTreeSet<String> = d
            .docs
            .iter()
            .flat_map(|l| tables.get(*l).cloned().unwrap_or_default())
            .collect();
        let in_schema: BTreeSet<String> = d.keys.iter().map(|k| k.name.to_string()).collect();
        let missing: Vec<_> = in_schema.difference(&in_docs).collect();
        let extra: Vec<_> = in_docs.difference(&in_schema).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: keys in the schema but not in docs/scenario.md: {missing:?}; in the docs but not in the schema: {extra:?}",
            d.title
        );
    }
}

#[test]
fn docs_distribution_table_names_the_schema_parameters() {
    let text = std::fs::read_to_string(root().join("docs/scenario.md")).unwrap();
    let start = text
        .find("| `dist` | parameters | draw |")
        .expect("the distribution table");
    let table: Vec<&str> = text[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let mut kinds = Vec::new();
    let mut params = BTreeSet::new();
    for row in table {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        kinds.push(cells[0].trim().trim_matches('`').to_string());
        for w in cells[1].split('`').skip(1).step_by(2) {
            if w.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                params.insert(w.to_string());
            }
        }
    }
    assert_eq!(kinds, schema::DIST_KINDS);
    let keys: BTreeSet<String> = schema::DIST
        .keys
        .iter()
        .map(|k| k.name.to_string())
        .collect();
    assert_eq!(params, keys);
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

fn as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    serde_json::to_value(doc).unwrap()
}

#[test]
fn every_bundled_scenario_validates_against_the_schema() {
    let schema = schema::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let mut files = Vec::new();
    toml_files(&root().join("scenarios"), &mut files);
    toml_files(&root().join("tests/fixtures"), &mut files);
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    for f in &files {
        let doc = as_json(f);
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
    }
}

#[test]
fn the_schema_rejects_common_mistakes() {
    let schema = schema::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = as_json(&root().join("tests/fixtures/cli-small.toml"));
    assert!(validator.is_valid(&good));
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut v = good.clone();
    v["carriers"]["main"]["rat"] = "3/s".into();
    cases.push(("misspelt carrier key", v));
    let mut v = good.clone();
    v["carriers"]["main"]["rate"] = 30.into();
    cases.push(("rate as a number", v));
    let mut v = good.clone();
    v["carriers"]["main"]["algorithm"] = "leaky".into();
    cases.push(("unknown algorithm", v));
    let mut v = good.clone();
    v["sources"]["callers"]["flow"]["legs"] = 11.into();
    cases.push(("11 legs", v));
    let mut v = good.clone();
    v["replications"] = 0.into();
    cases.push(("zero replications", v));
    let mut v = good.clone();
    v["sources"]["callers"]["patience"] = serde_json::json!({"dist": "gamma"});
    cases.push(("unknown distribution", v));
    let mut v = good.clone();
    v["start"] = "9am".into();
    cases.push(("clock not HH:MM", v));
    for (what, v) in cases {
        assert!(!validator.is_valid(&v), "the schema accepts {what}");
    }
}

#[test]
fn callsim_schema_prints_the_registry() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callsim"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, schema::json_schema());
    assert_eq!(
        printed["$schema"],
        "http://json-schema.org/draft-04/schema#"
    );
    // Every definition has a title and keys with descriptions.
    let defs: Vec<&Def> = schema::defs().to_vec();
    for d in defs {
        for k in d.keys {
            assert!(
                !k.meaning.is_empty(),
                "{}.{} has no meaning",
                d.title,
                k.name
            );
        }
    }
}
