//! `[[changes]]`: scheduled changes, each re-validated against the tables it touches.

use super::*;

/// Scheduled changes: each `set` is merged into the scenario as it stands at that time (base,
/// then earlier changes), and the affected carrier, source or backup settings are re-validated
/// as a whole, so any key of those tables can change mid-run.
/// What a change may refer to.
pub(super) struct Names<'a> {
    pub(super) carriers: &'a [String],
    pub(super) sources: &'a [SourceConfig],
    pub(super) stages: &'a [String],
    pub(super) dependencies: &'a [DependencyConfig],
}

pub(super) fn build_changes(
    ctx: &Ctx,
    top: &Obj,
    doc: &toml::Table,
    names: &Names,
    start: SimTime,
) -> Result<Vec<Change>> {
    let Some(arr) = top.array_opt("changes")? else {
        return Ok(Vec::new());
    };
    let (mut items, resets) = parse_change_items(ctx, arr)?;
    items.sort_by_key(|(at, i, _)| (*at, *i));
    let mut effective = doc.clone();
    let mut out = Vec::new();
    for (at, i, set) in items {
        let leaves = leaf_paths(&set, "");
        let mut touched = Touched::default();
        let n_overrides = ctx.overrides.borrow().len();
        for leaf in &leaves {
            let set_path = format!("changes[{i}].set.{leaf}");
            let line = ctx.map.line_of(&set_path);
            touched.add(leaf, names, |msg| ctx.err(&set_path, msg))?;
            ctx.overrides.borrow_mut().push((
                leaf.clone(),
                Origin {
                    label: format!("changes[{i}] at {}", at.clock_hhmm()),
                    line,
                },
            ));
        }
        merge(&mut effective, &set);
        let label = format!("{} {}", at.clock_hhmm(), leaves.join(", "));
        let eff = Obj::new(ctx, "", &effective);
        for kind in touched.rebuild(&eff, names)? {
            out.push(Change {
                at: at.max(start),
                label: label.clone(),
                kind,
            });
        }
        ctx.overrides.borrow_mut().truncate(n_overrides);
    }
    for (at, i) in resets {
        out.push(Change {
            at: at.max(start),
            label: format!("{} reset blocked accounts (changes[{i}])", at.clock_hhmm()),
            kind: ChangeKind::ResetAccounts,
        });
    }
    // Same-time changes apply in file order of their kind (stable sort on the time).
    out.sort_by_key(|c| c.at);
    Ok(out)
}

/// A change's `set` tables: (at, index in the file, the dotted keys expanded).
pub(super) type ChangeItems = Vec<(SimTime, usize, toml::Table)>;

/// Reads each `[[changes]]` entry: its `set` table as (at, index, table), and its
/// `action = "reset_accounts"` as (at, index).
pub(super) fn parse_change_items(
    ctx: &Ctx,
    arr: &[toml::Value],
) -> Result<(ChangeItems, Vec<(SimTime, usize)>)> {
    let mut items = Vec::new();
    let mut resets = Vec::new();
    for (i, v) in arr.iter().enumerate() {
        let path = format!("changes[{i}]");
        let toml::Value::Table(t) = v else {
            return Err(ctx.err(
                &path,
                format!(
                    "expected a table {{ at = \"17:30\", set = {{ ... }} }}, found {}",
                    describe(v)
                ),
            ));
        };
        let o = Obj::new(ctx, path.clone(), t);
        // Unknown keys first: `att = "17:30"` is a misspelt `at`, not a missing one.
        o.finish(&["at", "action", "description", "set"])?;
        let at = parse_clock(o.str_req("at", "\"17:30\"")?).map_err(|m| o.err("at", m))?;
        let action = o.choice_opt("action", &["reset_accounts"])?;
        let _ = o.str_opt("description")?;
        if action.is_some() {
            resets.push((at, i));
        }
        match o.table_opt("set")? {
            Some(set) if set.table.is_empty() => {
                return Err(o.err("set", "nothing to change: `set` is empty"))
            }
            Some(set) => items.push((at, i, expand_dotted(set.table))),
            None if action.is_none() => {
                return Err(o.missing(
                    "set",
                    "{ carriers.primary.rate = \"30/s\" }  (or action = \"reset_accounts\")",
                ))
            }
            None => {}
        }
        o.finish(&[])?;
    }
    Ok((items, resets))
}

/// The tables one change touches (indices in first-touched order), to be rebuilt whole from the
/// effective document after the change is merged in.
#[derive(Default)]
pub(super) struct Touched {
    carriers: Vec<usize>,
    sources: Vec<usize>,
    /// The change sets `backup.policy`, `backup.windows` or `backup.auto.*`.
    backup_platform: bool,
    /// Sources whose `backup.sources.NAME.*` the change sets.
    backup_sources: Vec<usize>,
    stages: Vec<usize>,
    deps: Vec<usize>,
    /// Dependencies whose `primary` the change sets explicitly.
    primary_set: Vec<usize>,
}

pub(super) fn push_once(v: &mut Vec<usize>, idx: usize) {
    if !v.contains(&idx) {
        v.push(idx);
    }
}

impl Touched {
    /// Records the table that key path `leaf` (inside a change's `set`) belongs to, or says why
    /// it cannot change mid-run.
    fn add(
        &mut self,
        leaf: &str,
        names: &Names,
        bad: impl Fn(String) -> ScenarioError,
    ) -> Result<()> {
        let (carrier_names, sources) = (names.carriers, names.sources);
        let parts: Vec<&str> = leaf.split('.').collect();
        match parts.as_slice() {
            ["carriers", name, _, ..] => {
                let idx = carrier_names.iter().position(|n| n == name).ok_or_else(|| bad(format!("no carrier named `{name}`; carriers: {}", carrier_names.join(", "))))?;
                push_once(&mut self.carriers, idx);
            }
            ["sources", name, key, ..] => {
                let idx = sources.iter().position(|s| s.name == *name).ok_or_else(|| {
                    bad(format!("no source named `{name}`; sources: {}", sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")))
                })?;
                if *key == "rate" || *key == "trace" {
                    return Err(bad(format!("`{key}` cannot change mid-run: give the source a rate profile over clock time instead (rate_scale can change)")));
                }
                if ["kind", "tenant", "method", "accounts", "stages"].contains(key) {
                    return Err(bad(format!(
                        "`{key}` cannot change mid-run: it fixes who the traffic is and which path it takes (use a second source active at other times instead)"
                    )));
                }
                push_once(&mut self.sources, idx);
            }
            ["backup", "sources", name, _, ..] => {
                let idx = sources.iter().position(|s| s.name == *name).ok_or_else(|| {
                    bad(format!("no source named `{name}`; sources: {}", sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")))
                })?;
                push_once(&mut self.backup_sources, idx);
            }
            ["backup", "sources", ..] => {
                return Err(bad(format!(
                    "`{leaf}`: a change sets a source's policy key by key, e.g. backup.sources.NAME.policy"
                )))
            }
            ["backup", ..] => self.backup_platform = true,
            ["stages", _, "in_path", ..] => {
                return Err(bad(format!(
                    "`{leaf}` cannot change mid-run (a call in the stage would be neither in its path nor beside it); expected in_path in [stages.NAME] only"
                )))
            }
            ["stages", name, _, ..] => {
                let idx = names.stages.iter().position(|n| n == name).ok_or_else(|| bad(format!("no stage named `{name}`; stages: {}", names.stages.join(", "))))?;
                push_once(&mut self.stages, idx);
            }
            ["dependencies", name, _, ..] => {
                let idx = names.dependencies.iter().position(|d| d.name == *name).ok_or_else(|| {
                    bad(format!(
                        "no dependency named `{name}`; dependencies: {}",
                        names.dependencies.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                push_once(&mut self.deps, idx);
                if parts.get(2) == Some(&"primary") {
                    self.primary_set.push(idx);
                }
            }
            _ => {
                return Err(bad(format!(
                    "`{leaf}` cannot change mid-run; a change may set carriers.NAME.*, sources.NAME.* (not rate or trace), stages.NAME.*, dependencies.NAME.* and backup.*"
                )))
            }
        }
        Ok(())
    }

    /// Rebuilds and validates each touched table from the effective document `eff`, in the
    /// order carriers, sources, stages, dependencies, backup.
    fn rebuild(self, eff: &Obj, names: &Names) -> Result<Vec<ChangeKind>> {
        let ctx = eff.ctx;
        let entry = |section: &str, name: &str| {
            Ok::<_, ScenarioError>(
                eff.table_opt(section)?
                    .and_then(|c| c.table.get(name).and_then(|v| v.as_table()))
                    .map(|t| Obj::new(ctx, join(section, name), t)),
            )
        };
        let mut kinds = Vec::new();
        for idx in self.carriers {
            let cname = &names.carriers[idx];
            let o = entry("carriers", cname)?.expect("carrier exists");
            kinds.push(ChangeKind::Carrier(idx, build_carrier(&o, cname)?));
        }
        for idx in self.sources {
            let sname = &names.sources[idx].name;
            let so = entry("sources", sname)?.expect("source exists");
            let b = build_behaviour(&so, sname, names.carriers, names.stages)?;
            kinds.push(ChangeKind::Source(idx, b));
        }
        for idx in self.stages {
            let sname = &names.stages[idx];
            let o = entry("stages", sname)?.expect("stage exists");
            let cfg = platform::build_stage(&o, sname, names.dependencies)?;
            kinds.push(ChangeKind::Stage(idx, cfg));
        }
        for idx in self.deps {
            let dname = &names.dependencies[idx].name;
            let o = entry("dependencies", dname)?.expect("dependency exists");
            let cfg = platform::build_dependency(&o, dname)?;
            let explicit = self.primary_set.contains(&idx);
            kinds.push(ChangeKind::Dependency(idx, cfg, explicit));
        }
        if self.backup_platform || !self.backup_sources.is_empty() {
            let b = eff.table_opt("backup")?.expect("backup was set");
            kinds.push(ChangeKind::Backup {
                cfg: build_backup(&b, names.sources)?,
                platform: self.backup_platform,
                sources: self.backup_sources,
            });
        }
        Ok(kinds)
    }
}
