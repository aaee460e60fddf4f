//! Output folders: files are written under temporary names and renamed only when a whole run
//! succeeded; a folder holds the files of exactly one run (the previous run's outputs that this
//! run does not write again are removed at commit; files callsim did not write are kept); the
//! leftovers of a killed run are removed by the next run into the folder; SIGINT and SIGTERM
//! remove the temporary files of the running one before it exits (130, 143).

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every file name a callsim command writes into an output folder (shard files aside).
pub const OUTPUT_NAMES: &[&str] = &[
    "summary.csv",
    "timeline.csv",
    "calls.csv",
    "tenants.csv",
    "tenants_timeline.csv",
    "stages.csv",
    "stages_timeline.csv",
    "alerts.csv",
    "compare.csv",
    "sweep.csv",
    "plan.csv",
    "validation.csv",
    "manifest.json",
];

/// Temporary files of this process not yet committed or removed: what a signal cleans up.
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn register(p: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.push(p.to_path_buf());
    }
}

fn unregister(p: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.retain(|x| x != p);
    }
}

/// On SIGINT or SIGTERM: remove this process's temporary files and exit 130 or 143 (128 +
/// the signal). Called once by `main`.
pub fn install_signal_cleanup() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return; // no handler: the default action still stops the run; the next run cleans up
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let temps = TEMPS.lock().map(|t| t.clone()).unwrap_or_default();
            for p in temps {
                let _ = fs::remove_file(p);
            }
            eprintln!("\ninterrupted: temporary files removed, no output written");
            std::process::exit(128 + sig);
        }
    });
}

/// A set of output files committed together.
pub struct OutputFiles {
    dir: PathBuf,
    created_dir: bool,
    pending: Vec<(PathBuf, PathBuf)>,
    scratch: Vec<PathBuf>,
    committed: bool,
    /// Shard files share a folder with other shards: no manifest, no clean-up of other files.
    shared: bool,
}

impl OutputFiles {
    /// Prepares `dir` (created if missing) for one run's outputs, removing the leftovers of
    /// killed runs.
    pub fn new(dir: &Path) -> Result<OutputFiles, String> {
        Self::open(dir, false)
    }

    /// As `new`, for a folder several processes write into (shards).
    pub fn shared(dir: &Path) -> Result<OutputFiles, String> {
        Self::open(dir, true)
    }

    fn open(dir: &Path, shared: bool) -> Result<OutputFiles, String> {
        let existed = dir.exists();
        if existed && !dir.is_dir() {
            return Err(format!(
                "--out `{}` exists and is not a directory",
                dir.display()
            ));
        }
        if !existed {
            fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create output directory `{}`: {e}", dir.display()))?;
        }
        remove_leftovers(dir);
        Ok(OutputFiles {
            dir: dir.to_path_buf(),
            created_dir: !existed,
            pending: Vec::new(),
            scratch: Vec::new(),
            committed: false,
            shared,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A temporary path that becomes `name` on commit.
    pub fn temp_path(&mut self, name: &str) -> PathBuf {
        let tmp = self.dir.join(format!(".{name}.tmp-{}", std::process::id()));
        register(&tmp);
        self.pending.push((tmp.clone(), self.dir.join(name)));
        tmp
    }

    /// Final names of the files created so far, in creation order.
    pub fn pending_names(&self) -> Vec<String> {
        self.pending
            .iter()
            .filter_map(|(_, f)| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect()
    }

    /// A scratch file removed at the end whatever happens (e.g. per-replication parts).
    pub fn scratch_path(&mut self, name: &str) -> PathBuf {
        let p = self
            .dir
            .join(format!(".{name}.part-{}", std::process::id()));
        register(&p);
        self.scratch.push(p.clone());
        p
    }

    pub fn create(&mut self, name: &str) -> Result<BufWriter<File>, String> {
        let p = self.temp_path(name);
        File::create(&p)
            .map(BufWriter::new)
            .map_err(|e| format!("cannot write `{}`: {e}", p.display()))
    }

    /// Renames every temporary file to its final name, then (unless shared) removes the outputs
    /// of an earlier run that this one did not write again, so the folder holds one run's files.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, String> {
        let mut out = Vec::new();
        for (tmp, fin) in &self.pending {
            fs::rename(tmp, fin)
                .map_err(|e| format!("cannot move `{}` into place: {e}", fin.display()))?;
            unregister(tmp);
            out.push(fin.clone());
        }
        self.committed = true;
        if !self.shared {
            let written = self.pending_names();
            for name in OUTPUT_NAMES {
                let p = self.dir.join(name);
                if !written.iter().any(|w| w == name) && p.is_file() {
                    fs::remove_file(&p).map_err(|e| {
                        format!("cannot remove the earlier run's `{}`: {e}", p.display())
                    })?;
                }
            }
            self.remove_report()?;
        }
        Ok(out)
    }

    /// The report of an earlier run (report.html and the charts/*.svg beside it) describes
    /// files that are gone: removed with them. Other files in charts/ are kept.
    fn remove_report(&self) -> Result<(), String> {
        let gone = |p: &Path| {
            fs::remove_file(p)
                .map_err(|e| format!("cannot remove the earlier run's `{}`: {e}", p.display()))
        };
        let page = self.dir.join("report.html");
        if page.is_file() {
            gone(&page)?;
        }
        let charts = self.dir.join("charts");
        if let Ok(entries) = fs::read_dir(&charts) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "svg") && p.is_file() {
                    gone(&p)?;
                }
            }
            let _ = fs::remove_dir(&charts); // only succeeds when empty
        }
        Ok(())
    }
}

impl Drop for OutputFiles {
    fn drop(&mut self) {
        for p in &self.scratch {
            let _ = fs::remove_file(p);
            unregister(p);
        }
        if self.committed {
            return;
        }
        for (tmp, _) in &self.pending {
            let _ = fs::remove_file(tmp);
            unregister(tmp);
        }
        if self.created_dir {
            let _ = fs::remove_dir(&self.dir); // only succeeds when empty
        }
    }
}

/// Removes `.NAME.tmp-PID` and `.NAME.part-PID` files of processes that are gone (a run killed
/// with SIGKILL, or a crash). Files of a live process (another run writing here) are kept.
fn remove_leftovers(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = leftover_pid(&name) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The PID in a temporary name `.x.tmp-123` or `.x.part-123`.
fn leftover_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, pid) = name
        .rsplit_once(".tmp-")
        .or_else(|| name.rsplit_once(".part-"))?;
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if proc.is_dir() {
        proc.join(pid.to_string()).exists()
    } else {
        true // cannot tell: keep the file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_names_are_recognised() {
        assert_eq!(leftover_pid(".summary.csv.tmp-42"), Some(42));
        assert_eq!(leftover_pid(".calls-3.csv.part-7"), Some(7));
        assert_eq!(leftover_pid("summary.csv"), None);
        assert_eq!(leftover_pid(".hidden"), None);
    }
}
