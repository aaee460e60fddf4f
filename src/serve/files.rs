//! The scenario folder the dashboard may read: listing its `.toml` files and resolving a name
//! from a request to a file inside it. A name is relative, made of plain components (no `..`,
//! no root, no drive), and its canonical path must lie under the folder's canonical path, so a
//! symlink that leads out of the folder is refused like a `..`. Files a scenario names (traces,
//! empirical distributions) must lie under the folder too.

use std::path::{Component, Path, PathBuf};

/// Most scenario files listed (the folder is walked at most `MAX_DEPTH` deep).
pub const MAX_FILES: usize = 500;
const MAX_DEPTH: usize = 4;
/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why a name was refused: 400 for a malformed name, 404 for one that names nothing allowed.
#[derive(Debug, PartialEq)]
pub enum Refused {
    Bad(String),
    NotFound(String),
}

/// The `.toml` files under `root` (canonical), relative, with `/` separators, sorted.
pub fn list(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, 0, &mut out);
    out.sort();
    out.truncate(MAX_FILES);
    out
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        // Symlinks are followed only when they stay inside the folder.
        let Ok(real) = p.canonicalize() else { continue };
        if !real.starts_with(root) {
            continue;
        }
        if real.is_dir() && depth + 1 < MAX_DEPTH {
            walk(root, &p, depth + 1, out);
        } else if real.is_file() && p.extension().is_some_and(|e| e == "toml") {
            if let Ok(rel) = p.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
}

/// Resolves `name` (from a request) to a scenario file under `root` (canonical).
pub fn resolve(root: &Path, name: &str) -> Result<PathBuf, Refused> {
    if name.is_empty() || name.len() > 512 || name.contains('\0') || name.contains('\\') {
        return Err(Refused::Bad(format!("bad scenario name `{}`", short(name))));
    }
    let rel = Path::new(name);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Refused::Bad(format!(
            "bad scenario name `{}`: expected a path inside the scenario folder, without `..`",
            short(name)
        )));
    }
    if rel.extension().is_none_or(|e| e != "toml") {
        return Err(Refused::Bad(format!(
            "bad scenario name `{}`: expected a .toml file",
            short(name)
        )));
    }
    let not_found = || Refused::NotFound(format!("no scenario `{}` in the folder", short(name)));
    let real = root.join(rel).canonicalize().map_err(|_| not_found())?;
    if !real.starts_with(root) || !real.is_file() {
        return Err(not_found());
    }
    Ok(real)
}

/// Checks that `file` (named in a scenario whose folder is `scenario_dir`) lies under `root`.
pub fn inside(root: &Path, scenario_dir: &Path, file: &str) -> Result<(), String> {
    let p = Path::new(file);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        scenario_dir.join(p)
    };
    match joined.canonicalize() {
        Ok(real) if real.starts_with(root) => Ok(()),
        // A missing file is the loader's error to report (with its line).
        Err(_) if !p.is_absolute() && p.components().all(|c| matches!(c, Component::Normal(_))) => {
            Ok(())
        }
        _ => Err(format!(
            "the file `{}` lies outside the scenario folder; the dashboard reads only files under it",
            short(file)
        )),
    }
}

/// Every string value of a key named `file` in `v` (traces and empirical distributions).
pub fn named_files(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                match x {
                    toml::Value::String(s) if k == "file" => out.push(s.clone()),
                    _ => named_files(x, out),
                }
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|x| named_files(x, out)),
        _ => {}
    }
}

fn short(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.toml"), "x = 1").unwrap();
        assert!(resolve(&root, "a.toml").is_ok());
        for bad in [
            "../a.toml",
            "/etc/passwd.toml",
            "./a.toml",
            "a.txt",
            "",
            "x/../a.toml",
        ] {
            assert!(matches!(resolve(&root, bad), Err(Refused::Bad(_))), "{bad}");
        }
        assert!(matches!(
            resolve(&root, "b.toml"),
            Err(Refused::NotFound(_))
        ));
        assert!(inside(&root, &root, "/etc/passwd").is_err());
        assert!(inside(&root, &root, "../x.csv").is_err());
        assert!(inside(&root, &root, "traces/missing.csv").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_folder_are_refused() {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join("secret.toml"), "x = 1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(out.path().join("secret.toml"), root.join("link.toml")).unwrap();
        std::os::unix::fs::symlink(out.path(), root.join("sub")).unwrap();
        assert!(matches!(
            resolve(&root, "link.toml"),
            Err(Refused::NotFound(_))
        ));
        assert!(matches!(
            resolve(&root, "sub/secret.toml"),
            Err(Refused::NotFound(_))
        ));
        assert!(list(&root).is_empty());
    }
}
