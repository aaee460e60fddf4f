//! Writing the report: every file under a temporary name first, renamed into place only when
//! all of them are complete; on failure the temporary files (and directories this created) are
//! removed. Its own small writer rather than `export::OutputFiles`, whose commit manages a
//! run's own result files in the folder: a report must never touch those.

use super::Error;
use std::fs;
use std::path::{Path, PathBuf};

/// Files staged under temporary names, and directories created for them.
#[derive(Default)]
pub struct Staged {
    pending: Vec<(PathBuf, PathBuf)>,
    created_dirs: Vec<PathBuf>,
    committed: bool,
}

impl Staged {
    /// Writes `bytes` to a temporary file beside `path` (creating its directory if missing).
    pub fn put(&mut self, path: &Path, bytes: &[u8]) -> Result<(), Error> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.exists() {
            fs::create_dir_all(&dir).map_err(|e| {
                Error::Io(format!("cannot create directory `{}`: {e}", dir.display()))
            })?;
            self.created_dirs.push(dir.clone());
        } else if !dir.is_dir() {
            return Err(Error::Io(format!("`{}` is not a directory", dir.display())));
        }
        let name = path
            .file_name()
            .ok_or_else(|| Error::Input(format!("`{}` names no file", path.display())))?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        fs::write(&tmp, bytes)
            .map_err(|e| Error::Io(format!("cannot write `{}`: {e}", tmp.display())))?;
        self.pending.push((tmp, path.to_path_buf()));
        Ok(())
    }

    /// Renames every staged file into place, in the order staged. A place that a file cannot
    /// take (a directory there) is found before anything moves; should a rename still fail,
    /// the files this commit created are removed again (files it replaced cannot come back).
    pub fn commit(mut self) -> Result<Vec<PathBuf>, Error> {
        if let Some((_, fin)) = self.pending.iter().find(|(_, f)| f.is_dir()) {
            return Err(Error::Io(format!(
                "cannot write `{}`: a directory of that name is in the way",
                fin.display()
            )));
        }
        let mut done = Vec::new();
        let mut created = Vec::new();
        for (tmp, fin) in &self.pending {
            let existed = fin.exists();
            if let Err(e) = fs::rename(tmp, fin) {
                for f in &created {
                    let _ = fs::remove_file(f);
                }
                return Err(Error::Io(format!(
                    "cannot move `{}` into place: {e}",
                    fin.display()
                )));
            }
            if !existed {
                created.push(fin.clone());
            }
            done.push(fin.clone());
        }
        self.committed = true;
        Ok(done)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (tmp, _) in &self.pending {
            let _ = fs::remove_file(tmp);
        }
        for d in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(d); // only succeeds when empty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_lands_until_commit_and_a_drop_cleans_up() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("summary.csv"), "keep me").unwrap();
        let target = d.path().join("charts").join("a.svg");
        {
            let mut s = Staged::default();
            s.put(&target, b"<svg/>").unwrap();
            assert!(!target.exists());
        } // dropped without commit
        assert!(
            !d.path().join("charts").exists(),
            "the created directory is removed"
        );
        let mut s = Staged::default();
        s.put(&target, b"<svg/>").unwrap();
        s.put(&d.path().join("report.html"), b"<html>").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"<svg/>");
        let names: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.contains(&"summary.csv".to_string()),
            "other files are left alone: {names:?}"
        );
        assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
    }

    #[test]
    fn a_directory_in_the_way_fails_the_commit_before_anything_moves() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("report.html")).unwrap();
        let chart = d.path().join("charts").join("a.svg");
        let mut s = Staged::default();
        s.put(&chart, b"<svg/>").unwrap();
        s.put(&d.path().join("report.html"), b"<html>").unwrap();
        let Err(Error::Io(m)) = s.commit() else {
            panic!("committed over a directory");
        };
        assert!(m.contains("report.html") && m.contains("directory"), "{m}");
        assert!(!d.path().join("charts").exists(), "charts/ left behind");
    }
}
