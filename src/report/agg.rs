//! Means over replications per timeline interval (and per group: a source, a stage), with 95%
//! Student-t intervals, downsampled to at most `MAX_POINTS` points per line so that a report's
//! size does not grow with the length of the run.

use super::table::Table;
use super::Error;
use crate::stats::{estimate, Estimate};
use std::collections::BTreeMap;

/// Most points per line; longer timelines average runs of consecutive intervals first.
pub const MAX_POINTS: usize = 720;

/// The latest `t_s` a run can write: the engine's clock (u64 nanoseconds) ends there.
const MAX_T_S: f64 = u64::MAX as f64 / 1e9;

/// Per (group, bucket start in ms): per replication (sum, count) of the defined values.
pub struct Agg {
    pub groups: Vec<String>,
    cells: BTreeMap<(usize, i64), BTreeMap<u64, (f64, u32)>>,
}

/// The timeline grid: first interval, width (s) and how many intervals go into one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    pub t0: f64,
    pub interval_s: f64,
    pub per_point: u32,
    pub last: f64,
}

impl Grid {
    /// From the distinct `t_s` of a timeline; an empty timeline is an input error, a single
    /// interval gets `fallback_s` as its width.
    pub fn of(t: &Table, fallback_s: f64) -> Result<Grid, Error> {
        let c = t.col("t_s")?;
        let mut ts: Vec<i64> = Vec::with_capacity(t.rows.len());
        for i in 0..t.rows.len() {
            let v = t.num(i, c)?;
            if !(0.0..=MAX_T_S).contains(&v) {
                return Err(Error::Input(format!(
                    "`{}` line {}: `t_s` is `{}`; expected seconds since midnight, from 0 to {MAX_T_S:.0} (what a run can write)",
                    t.path.display(),
                    i + 2,
                    t.text(i, c)
                )));
            }
            ts.push((v * 1000.0).round() as i64);
        }
        ts.sort_unstable();
        ts.dedup();
        let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
            return Err(Error::Input(format!(
                "`{}` has no rows; expected one row per replication and interval",
                t.path.display()
            )));
        };
        let step_ms = ts.windows(2).map(|w| w[1] - w[0]).min();
        let interval_s = step_ms.map_or(fallback_s, |s| s as f64 / 1000.0);
        // Intervals the timeline spans (not the distinct values: an edited or damaged file
        // may skip some), so that the points per line stay within MAX_POINTS whatever it holds.
        let n = step_ms.map_or(1, |s| (last - first) / s + 1) as usize;
        Ok(Grid {
            t0: first as f64 / 1000.0,
            interval_s,
            per_point: n.div_ceil(MAX_POINTS).max(1) as u32,
            last: last as f64 / 1000.0,
        })
    }

    /// Start (ms) of the point that interval `t_s` falls in.
    fn bucket(&self, t_s: f64) -> i64 {
        let w = self.interval_s * self.per_point as f64;
        let k = ((t_s - self.t0) / w + 1e-9).floor();
        ((self.t0 + k * w) * 1000.0).round() as i64
    }

    /// Seconds one point spans.
    pub fn point_s(&self) -> f64 {
        self.interval_s * self.per_point as f64
    }
}

impl Agg {
    /// Aggregates `value(row)` of every row of `t`, grouped by column `group` (None: one group).
    pub fn new(
        t: &Table,
        grid: &Grid,
        group: Option<&str>,
        value: impl Fn(&Table, usize) -> Result<f64, Error>,
    ) -> Result<Agg, Error> {
        let (ct, cr) = (t.col("t_s")?, t.col("replication")?);
        let cg = group.map(|g| t.col(g)).transpose()?;
        let mut groups: Vec<String> = Vec::new();
        let mut cells: BTreeMap<(usize, i64), BTreeMap<u64, (f64, u32)>> = BTreeMap::new();
        for i in 0..t.rows.len() {
            let name = cg.map_or("", |c| t.text(i, c));
            let g = match groups.iter().position(|x| x == name) {
                Some(g) => g,
                None => {
                    groups.push(name.to_string());
                    groups.len() - 1
                }
            };
            let rep = t.num(i, cr)?;
            let v = value(t, i)?;
            let cell = cells.entry((g, grid.bucket(t.num(i, ct)?))).or_default();
            let e = cell.entry(rep as u64).or_insert((0.0, 0));
            if v.is_finite() {
                e.0 += v;
                e.1 += 1;
            }
        }
        Ok(Agg { groups, cells })
    }

    /// (point start in s, estimate over replications) for group `g`, in time order.
    pub fn series(&self, g: usize) -> Vec<(f64, Estimate)> {
        self.cells
            .range((g, i64::MIN)..=(g, i64::MAX))
            .map(|((_, t), reps)| {
                let vals: Vec<f64> = reps
                    .values()
                    .map(|&(s, n)| if n == 0 { f64::NAN } else { s / n as f64 })
                    .collect();
                (*t as f64 / 1000.0, estimate(&vals, 0.95))
            })
            .collect()
    }
}

/// A column's value in a row.
pub fn col(name: &'static str) -> impl Fn(&Table, usize) -> Result<f64, Error> {
    move |t, i| t.num(i, t.col(name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> (tempfile::TempDir, Table) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("timeline.csv");
        std::fs::write(&p, text).unwrap();
        let t = Table::read(&p, &["t_s"], "timeline.csv").unwrap();
        (d, t)
    }

    #[test]
    fn means_over_replications_with_a_t_interval() {
        let (_d, t) = table("replication,t_s,x\n0,0,1\n0,60,\n1,0,3\n1,60,5\n");
        let g = Grid::of(&t, 60.0).unwrap();
        assert_eq!((g.interval_s, g.per_point), (60.0, 1));
        let s = Agg::new(&t, &g, None, col("x")).unwrap().series(0);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].0, s[0].1.mean, s[0].1.n), (0.0, 2.0, 2));
        assert!(s[0].1.half_width > 0.0);
        assert_eq!(
            (s[1].1.mean, s[1].1.n),
            (5.0, 1),
            "an empty cell is skipped, not zero"
        );
    }

    #[test]
    fn one_interval_uses_the_fallback_width_and_long_runs_are_downsampled() {
        let (_d, t) = table("replication,t_s\n0,300\n");
        let g = Grid::of(&t, 60.0).unwrap();
        assert_eq!(
            g.interval_s, 60.0,
            "a single row must not give a zero width"
        );
        let rows: String = (0..2000).map(|i| format!("0,{}\n", i * 60)).collect();
        let (_d2, t2) = table(&format!("replication,t_s\n{rows}"));
        let g2 = Grid::of(&t2, 60.0).unwrap();
        assert_eq!(g2.per_point, 3);
        let s = Agg::new(&t2, &g2, None, |_, _| Ok(1.0)).unwrap().series(0);
        assert!(s.len() <= MAX_POINTS, "{}", s.len());
        let (_d3, t3) = table("replication,t_s\n");
        assert!(matches!(Grid::of(&t3, 60.0), Err(Error::Input(_))));
    }

    #[test]
    fn a_stray_time_cannot_blow_up_the_points_and_an_impossible_one_is_refused() {
        // Three intervals, one edited far out: the points follow the span, not the rows.
        let (_d, t) = table("replication,t_s\n0,0\n0,60\n0,1e9\n");
        let g = Grid::of(&t, 60.0).unwrap();
        assert!(
            (1e9 / g.point_s()) as usize <= MAX_POINTS,
            "{} s a point",
            g.point_s()
        );
        for bad in ["-5", "1e300", "inf", "NaN", ""] {
            let (_d, t) = table(&format!("replication,t_s\n0,0\n0,{bad}\n"));
            let Err(Error::Input(m)) = Grid::of(&t, 60.0) else {
                panic!("`{bad}` accepted");
            };
            assert!(m.contains("line 3") && m.contains("`t_s`"), "{m}");
        }
    }
}
