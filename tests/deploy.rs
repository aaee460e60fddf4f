//! The cluster deployment files in deploy/: the Kubernetes manifests are parsed and checked for
//! what makes a sharded sweep correct (an Indexed Job with one completion per shard, `--shard
//! auto`, every shard and the merge on the same shared volume, the merge reading the directory
//! the sweep writes, the same image for both); the Slurm scripts parse and `submit.sh` rejects
//! bad use before it reaches sbatch. The scripts themselves run on a real cluster in
//! tools/ci-slurm.sh.

use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The one YAML document of deploy/k8s/NAME.
fn manifest(name: &str) -> Yaml {
    let path = root().join("deploy/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(docs.len(), 1, "{name}: expected one YAML document");
    docs.remove(0)
}

/// The node at a dotted path ("spec.template.spec.containers.0"); panics naming the path.
fn at<'a>(y: &'a Yaml, path: &str) -> &'a Yaml {
    let mut node = y;
    for key in path.split('.') {
        node = match key.parse::<usize>() {
            Ok(i) => &node[i],
            Err(_) => &node[key],
        };
        assert!(!node.is_badvalue(), "no `{path}` (missing `{key}`)");
    }
    node
}

fn text<'a>(y: &'a Yaml, path: &str) -> &'a str {
    at(y, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string: {:?}", at(y, path)))
}

fn int(y: &Yaml, path: &str) -> i64 {
    at(y, path)
        .as_i64()
        .unwrap_or_else(|| panic!("`{path}` is not an integer: {:?}", at(y, path)))
}

fn list<'a>(y: &'a Yaml, path: &str) -> &'a Vec<Yaml> {
    at(y, path)
        .as_vec()
        .unwrap_or_else(|| panic!("`{path}` is not a list"))
}

/// A Job's single container.
fn container<'a>(job: &'a Yaml, name: &str) -> &'a Yaml {
    let cs = list(job, "spec.template.spec.containers");
    assert_eq!(cs.len(), 1, "{name}: expected one container");
    &cs[0]
}

/// The container's command line: `command` then `args`, all strings.
fn command_line(c: &Yaml) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["command", "args"] {
        if let Some(items) = c[key].as_vec() {
            for item in items {
                let s = item
                    .as_str()
                    .unwrap_or_else(|| panic!("`{key}` item {item:?} is not a string"));
                out.push(s.to_string());
            }
        }
    }
    out
}

fn flag<'a>(cmd: &'a [String], name: &str) -> Option<&'a str> {
    cmd.iter()
        .position(|a| a == name)
        .and_then(|i| cmd.get(i + 1))
        .map(String::as_str)
}

fn env_value<'a>(c: &'a Yaml, name: &str) -> Option<&'a str> {
    c["env"]
        .as_vec()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .and_then(|e| e["value"].as_str())
}

/// The claim name of the PVC volume mounted at a prefix of `dir` in this Job's pod.
fn claim_holding(job: &Yaml, dir: &str, what: &str) -> String {
    let c = container(job, what);
    let mounts = c["volumeMounts"]
        .as_vec()
        .unwrap_or_else(|| panic!("{what}: no volumeMounts"));
    let mount = mounts
        .iter()
        .find(|m| {
            m["mountPath"]
                .as_str()
                .is_some_and(|p| Path::new(dir).starts_with(p))
        })
        .unwrap_or_else(|| panic!("{what}: `{dir}` is on no mounted volume (mounts: {mounts:?})"));
    let vol_name = text(mount, "name");
    let vol = list(job, "spec.template.spec.volumes")
        .iter()
        .find(|v| v["name"].as_str() == Some(vol_name))
        .unwrap_or_else(|| panic!("{what}: volume `{vol_name}` is mounted but not defined"));
    text(vol, "persistentVolumeClaim.claimName").to_string()
}

fn assert_job(job: &Yaml, what: &str) {
    assert_eq!(text(job, "apiVersion"), "batch/v1", "{what}");
    assert_eq!(text(job, "kind"), "Job", "{what}");
    let restart = text(job, "spec.template.spec.restartPolicy");
    assert!(
        restart == "Never" || restart == "OnFailure",
        "{what}: a Job's restartPolicy is Never or OnFailure, not {restart}"
    );
}

#[test]
fn k8s_sweep_is_an_indexed_job_with_one_completion_per_shard() {
    let sweep = manifest("sweep-job.yaml");
    assert_job(&sweep, "sweep");
    assert_eq!(
        text(&sweep, "spec.completionMode"),
        "Indexed",
        "JOB_COMPLETION_INDEX is set only for Indexed Jobs"
    );
    let completions = int(&sweep, "spec.completions");
    let parallelism = int(&sweep, "spec.parallelism");
    assert!(completions >= 1, "completions {completions}");
    assert!(
        (1..=completions).contains(&parallelism),
        "parallelism {parallelism} outside 1..={completions}"
    );
    let c = container(&sweep, "sweep");
    let count =
        env_value(c, "CALLSIM_SHARD_COUNT").expect("sweep: no CALLSIM_SHARD_COUNT env value");
    assert_eq!(
        count
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("CALLSIM_SHARD_COUNT `{count}` is not an integer")),
        completions,
        "CALLSIM_SHARD_COUNT must equal spec.completions (indexes 0..completions-1 are the shards)"
    );
}

#[test]
fn k8s_sweep_runs_callsim_sweep_with_shard_auto_into_the_shared_volume() {
    let sweep = manifest("sweep-job.yaml");
    let cmd = command_line(container(&sweep, "sweep"));
    assert_eq!(
        cmd.get(..2),
        Some(&["callsim".to_string(), "sweep".to_string()][..]),
        "sweep command: {cmd:?}"
    );
    assert_eq!(
        flag(&cmd, "--shard"),
        Some("auto"),
        "sweep command must use --shard auto: {cmd:?}"
    );
    assert!(
        flag(&cmd, "--vary").is_some(),
        "a sweep varies something: {cmd:?}"
    );
    let cpu = text(container(&sweep, "sweep"), "resources.requests.cpu");
    assert_eq!(
        flag(&cmd, "--threads"),
        Some(cpu),
        "worker threads must match the CPU request: {cmd:?}"
    );
    // The scenario ships in the image under the working directory, as in this repository.
    assert_eq!(
        text(container(&sweep, "sweep"), "workingDir"),
        "/opt/callsim"
    );
    let scenario = &cmd[2];
    assert!(
        root().join(scenario).is_file(),
        "the sweep's scenario `{scenario}` is not in the repository"
    );
    let out = flag(&cmd, "--out").expect("sweep: no --out");
    assert!(out.starts_with('/'), "sweep --out `{out}` must be absolute");
    let claim = claim_holding(&sweep, out, "sweep");
    let pvc = manifest("pvc.yaml");
    assert_eq!(text(&pvc, "kind"), "PersistentVolumeClaim");
    assert_eq!(
        text(&pvc, "metadata.name"),
        claim,
        "the sweep writes to a claim pvc.yaml does not define"
    );
    let modes: Vec<&str> = list(&pvc, "spec.accessModes")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(
        modes,
        ["ReadWriteMany"],
        "pods on several nodes write the shards at once"
    );
}

#[test]
fn k8s_merge_reads_the_directory_the_sweep_writes() {
    let sweep = manifest("sweep-job.yaml");
    let merge = manifest("merge-job.yaml");
    assert_job(&merge, "merge");
    assert!(
        merge["spec"]["completionMode"].as_str() != Some("Indexed"),
        "the merge is one pod"
    );
    assert_eq!(
        merge["spec"]["completions"].as_i64().unwrap_or(1),
        1,
        "the merge is one pod"
    );
    let sweep_cmd = command_line(container(&sweep, "sweep"));
    let merge_cmd = command_line(container(&merge, "merge"));
    assert_eq!(
        merge_cmd.get(..2),
        Some(&["callsim".to_string(), "merge".to_string()][..]),
        "merge command: {merge_cmd:?}"
    );
    let shards = flag(&sweep_cmd, "--out").expect("sweep: no --out");
    assert_eq!(
        merge_cmd.get(2).map(String::as_str),
        Some(shards),
        "merge must read the sweep's --out directory: {merge_cmd:?}"
    );
    let merged = flag(&merge_cmd, "--out").expect("merge: no --out");
    assert_ne!(
        merged, shards,
        "the merged result must not go into the shard directory"
    );
    let sweep_claim = claim_holding(&sweep, shards, "sweep");
    assert_eq!(
        claim_holding(&merge, shards, "merge (shards)"),
        sweep_claim,
        "the merge must mount the sweep's volume"
    );
    assert_eq!(claim_holding(&merge, merged, "merge (result)"), sweep_claim);
    // `callsim merge` refuses shards of another version: both Jobs run the same image.
    assert_eq!(
        text(container(&merge, "merge"), "image"),
        text(container(&sweep, "sweep"), "image")
    );
}

fn bash(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .args(args)
        .current_dir(root())
        .output()
        .expect("bash runs")
}

#[test]
fn slurm_scripts_parse_and_submit_rejects_bad_use_before_sbatch() {
    for f in [
        "deploy/slurm/submit.sh",
        "deploy/slurm/sweep.sbatch",
        "deploy/slurm/merge.sbatch",
        "tools/slurm-local.sh",
        "tools/ci-slurm.sh",
    ] {
        let o = bash(&["-n", f]);
        assert!(
            o.status.success(),
            "{f} does not parse: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let help = bash(&["deploy/slurm/submit.sh", "--help"]);
    assert!(help.status.success());
    let usage = String::from_utf8_lossy(&help.stdout);
    assert!(
        usage.starts_with("usage: deploy/slurm/submit.sh"),
        "{usage}"
    );
    for (args, message) in [
        (
            &["deploy/slurm/submit.sh", "--out", "/tmp/x"][..],
            "missing SCENARIO",
        ),
        (
            &[
                "deploy/slurm/submit.sh",
                "--out",
                "/tmp/x",
                "--shards",
                "0",
                "scenarios/callrail-2018-05-14.toml",
            ][..],
            "--shards must be a positive integer",
        ),
        (
            &[
                "deploy/slurm/submit.sh",
                "--out",
                "/tmp/x",
                "scenarios/callrail-2018-05-14.toml",
                "--shard",
                "0/2",
            ][..],
            "do not pass --shard",
        ),
        (
            &[
                "deploy/slurm/submit.sh",
                "--out",
                "/tmp/x",
                "scenarios/no-such.toml",
            ][..],
            "no scenario file",
        ),
    ] {
        let o = bash(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(message),
            "{args:?}: expected `{message}` in: {err}"
        );
    }
}
