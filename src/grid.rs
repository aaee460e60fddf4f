//! The values a sweep or plan gives a scenario key: `--vary KEY=VALUES`, where VALUES is a list
//! (`10/s,15/s,20/s`) or an inclusive range with a step (`10/s..30/s:5/s`, `1s..10s:500ms` is
//! refused: the bounds and the step share one unit, e.g. `1000ms..10000ms:500ms`). Several keys
//! joined by `;` in one `--vary` move together (`carriers.c.rate=10/s..30/s:5/s;
//! carriers.c.burst=10..30:5`). Range arithmetic is exact decimal arithmetic, so `0.1..0.3:0.1`
//! gives 0.1, 0.2, 0.3 and every value prints as it would be written. Pure; no I/O.

/// Most values one `--vary` may give (a guard against a typo such as `1..1000000:1`).
pub const MAX_VALUES: usize = 10_000;

/// One `--vary`: keys that move together and their values (`values[i][k]` is key k's value at
/// position i).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vary {
    pub keys: Vec<String>,
    pub values: Vec<Vec<String>>,
}

impl Vary {
    /// The `--set KEY=VALUE` overrides of position `i`.
    pub fn sets(&self, i: usize) -> Vec<String> {
        self.keys
            .iter()
            .zip(&self.values[i])
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

/// Parses one `--vary` argument.
pub fn parse_vary(arg: &str) -> Result<Vary, String> {
    let mut keys = Vec::new();
    let mut lists: Vec<Vec<String>> = Vec::new();
    for part in arg.split(';').map(str::trim) {
        if part.is_empty() {
            // As an empty item between commas is: `a=1,2;` or `a=1;;b=2` is a slip, not a key.
            return Err(format!(
                "--vary `{arg}`: an empty part between `;`; expected KEY=VALUES joined by `;`, such as carriers.c.rate=10/s,20/s;sources.s.rate=5/s,8/s"
            ));
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!(
                "--vary `{arg}`: expected KEY=VALUES such as carriers.carrier.rate=10/s..30/s:5/s or channels=10,20,30"
            ));
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(format!(
                "--vary `{arg}`: `{k}` is not a key path such as carriers.carrier.rate"
            ));
        }
        if keys.iter().any(|x| x == k) {
            return Err(format!("--vary `{arg}`: key `{k}` appears twice"));
        }
        keys.push(k.to_string());
        lists.push(parse_values(v.trim()).map_err(|m| format!("--vary {k}: {m}"))?);
    }
    if keys.is_empty() {
        return Err(format!("--vary `{arg}`: expected KEY=VALUES"));
    }
    let n = lists[0].len();
    if let Some((k, l)) = keys.iter().zip(&lists).find(|(_, l)| l.len() != n) {
        return Err(format!(
            "--vary `{arg}`: keys joined by `;` move together and need as many values each; `{}` has {n}, `{k}` has {}",
            keys[0],
            l.len()
        ));
    }
    let values = (0..n)
        .map(|i| lists.iter().map(|l| l[i].clone()).collect())
        .collect();
    Ok(Vary { keys, values })
}

/// A list `a,b,c` or a range `lo..hi:step`.
pub fn parse_values(v: &str) -> Result<Vec<String>, String> {
    if v.is_empty() {
        return Err(
            "no values; expected a list such as 10/s,20/s or a range such as 10/s..30/s:5/s".into(),
        );
    }
    if !v.contains("..") {
        let items: Vec<String> = v.split(',').map(|x| x.trim().to_string()).collect();
        if items.iter().any(String::is_empty) {
            return Err(format!(
                "`{v}` has an empty item; expected values separated by commas"
            ));
        }
        if let Some((i, x)) = items
            .iter()
            .enumerate()
            .find(|(i, x)| items[..*i].contains(x))
        {
            return Err(format!(
                "`{x}` appears twice in `{v}` (items {} and {}); each value is one point",
                items.iter().position(|y| y == x).expect("found") + 1,
                i + 1
            ));
        }
        if items.len() > MAX_VALUES {
            return Err(format!(
                "{} values is more than the {MAX_VALUES} allowed",
                items.len()
            ));
        }
        return Ok(items);
    }
    let (lo, rest) = v.split_once("..").expect("checked");
    if lo.contains(':') || rest.split_once(':').is_some_and(|(hi, _)| hi.contains(':')) {
        return Err(format!(
            "range `{v}`: clock times cannot form a range (the `:` of a clock and of the step clash); list them instead, e.g. 08:00,08:30,09:00"
        ));
    }
    let Some((hi, step)) = rest.split_once(':') else {
        return Err(format!(
            "range `{v}` has no step; expected LOW..HIGH:STEP such as 10/s..30/s:5/s"
        ));
    };
    range(v, lo.trim(), hi.trim(), step.trim())
}

/// A decimal number with a unit suffix: `12.5/s` is (125, 1, "/s").
#[derive(Clone, Debug, PartialEq)]
struct Dec {
    mant: i128,
    scale: u32,
    unit: String,
}

fn parse_dec(s: &str, what: &str, whole: &str) -> Result<Dec, String> {
    let end = s
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    let (num, unit) = s.split_at(end);
    let bad = || {
        format!("range `{whole}`: the {what} `{s}` is not a number with an optional unit such as 10/s, 1.5s or 20")
    };
    let (neg, digits) = match num.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    if int.len() + frac.len() > 30 {
        return Err(format!(
            "range `{whole}`: the {what} `{s}` has too many digits"
        ));
    }
    let mant: i128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
    Ok(Dec {
        mant: if neg { -mant } else { mant },
        scale: frac.len() as u32,
        unit: unit.trim().to_string(),
    })
}

fn rescale(d: &Dec, scale: u32) -> i128 {
    d.mant * 10i128.pow(scale - d.scale)
}

fn format_dec(mant: i128, scale: u32, unit: &str) -> String {
    let neg = mant < 0;
    let digits = format!(
        "{:0>width$}",
        mant.unsigned_abs(),
        width = scale as usize + 1
    );
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    let frac = frac.trim_end_matches('0');
    let sign = if neg { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int}{unit}")
    } else {
        format!("{sign}{int}.{frac}{unit}")
    }
}

fn range(whole: &str, lo: &str, hi: &str, step: &str) -> Result<Vec<String>, String> {
    let (l, h, s) = (
        parse_dec(lo, "low end", whole)?,
        parse_dec(hi, "high end", whole)?,
        parse_dec(step, "step", whole)?,
    );
    if l.unit != h.unit || l.unit != s.unit {
        return Err(format!(
            "range `{whole}`: the low end, high end and step must use the same unit (found `{}`, `{}`, `{}`); e.g. 10/s..30/s:5/s",
            l.unit, h.unit, s.unit
        ));
    }
    let scale = l.scale.max(h.scale).max(s.scale);
    let (lo_v, hi_v, st) = (rescale(&l, scale), rescale(&h, scale), rescale(&s, scale));
    if st <= 0 {
        return Err(format!("range `{whole}`: the step must be greater than 0"));
    }
    if hi_v < lo_v {
        return Err(format!(
            "range `{whole}` is reversed: the high end {hi} is below the low end {lo}"
        ));
    }
    if (hi_v - lo_v) % st != 0 {
        let last = lo_v + (hi_v - lo_v) / st * st;
        return Err(format!(
            "range `{whole}`: the steps from {lo} do not land on {hi} (the last would be {}); change the high end or the step",
            format_dec(last, scale, &l.unit)
        ));
    }
    let n = (hi_v - lo_v) / st + 1;
    if n > MAX_VALUES as i128 {
        return Err(format!(
            "range `{whole}` has {n} values, more than the {MAX_VALUES} allowed"
        ));
    }
    Ok((0..n)
        .map(|i| format_dec(lo_v + i * st, scale, &l.unit))
        .collect())
}

/// The grid of a sweep: the Cartesian product of its `--vary`s, the first varying slowest.
/// Each point is a list of (key, value).
pub fn product(varies: &[Vary]) -> Vec<Vec<(String, String)>> {
    let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for v in varies {
        let mut next = Vec::with_capacity(points.len() * v.values.len());
        for p in &points {
            for vals in &v.values {
                let mut q = p.clone();
                q.extend(v.keys.iter().cloned().zip(vals.iter().cloned()));
                next.push(q);
            }
        }
        points = next;
    }
    points
}

/// A value's place in the lever's order, and its kind: a plain number, a rate (per second), a
/// duration or a clock time (seconds). None if it is none of these.
pub fn order_key(v: &str) -> Option<(&'static str, f64)> {
    use crate::time::{parse_clock, parse_duration, parse_rate};
    if let Ok(x) = v.trim().parse::<f64>() {
        return x.is_finite().then_some(("number", x));
    }
    if let Ok(r) = parse_rate(v) {
        return Some(("rate", r.per_second()));
    }
    if let Ok(d) = parse_duration(v) {
        return Some(("duration", d.as_secs_f64()));
    }
    parse_clock(v)
        .ok()
        .map(|t| ("clock time", t.as_ns() as f64 / 1e9))
}

/// A plan's lever must be ordered: every key's values strictly ascending, of one kind (numbers,
/// rates, durations or clock times; units may differ, `30s,1m` is ascending). The search halves
/// the list, so a value out of order would give a wrong answer, not an error.
pub fn check_ascending(vary: &Vary) -> Result<(), String> {
    for (k, key) in vary.keys.iter().enumerate() {
        let mut prev: Option<(&str, &str, f64)> = None;
        for vals in &vary.values {
            let v = vals[k].as_str();
            let Some((kind, x)) = order_key(v) else {
                return Err(format!(
                    "--vary {key}: `{v}` has no order; plan searches an ascending list of numbers, rates, durations or clock times"
                ));
            };
            if let Some((pkind, pv, px)) = prev {
                if pkind != kind {
                    return Err(format!(
                        "--vary {key}: `{pv}` is a {pkind} and `{v}` a {kind}; a lever's values must be of one kind"
                    ));
                }
                if x <= px {
                    return Err(format!(
                        "--vary {key}: the values must be strictly ascending (plan halves the list to find the least value that meets the targets), but `{v}` follows `{pv}`"
                    ));
                }
            }
            prev = Some((kind, v, x));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lever_must_ascend_in_one_kind() {
        let ok = |s: &str| check_ascending(&parse_vary(s).unwrap());
        assert!(ok("c.rate=5/s,12/s,20/s,30/s").is_ok());
        assert!(ok("c.rate=5/s..30/s:5/s").is_ok());
        assert!(ok("c.channels=8,10,30").is_ok());
        assert!(ok("p=30s,1m,2m").is_ok());
        assert!(ok("changes[0].at=13:00,14:00,17:30").is_ok());
        assert!(ok("c.rate=300/min,6/s,1000/min").is_ok());
        assert!(ok("a=1,2;b=10/s,20/s").is_ok());
        let e = ok("c.rate=30/s,5/s,12/s").unwrap_err();
        assert!(
            e.contains("strictly ascending") && e.contains("`5/s` follows `30/s`"),
            "{e}"
        );
        assert!(ok("p=60s,1m").unwrap_err().contains("strictly ascending"));
        assert!(ok("a=1,2;b=20/s,10/s").unwrap_err().contains("--vary b"));
        assert!(ok("c.rate=5/s,10s").unwrap_err().contains("of one kind"));
        assert!(ok("policy=off,auto").unwrap_err().contains("has no order"));
        let dup = parse_values("10/s,20/s,10/s").unwrap_err();
        assert!(
            dup.contains("`10/s` appears twice") && dup.contains("items 1 and 3"),
            "{dup}"
        );
        for slip in ["c.rate=5/s,10/s;", "a=1;;b=2", ";a=1", ""] {
            let e = parse_vary(slip).unwrap_err();
            assert!(e.contains("an empty part between `;`"), "{slip}: {e}");
        }
        let clock = parse_values("08:00..09:05:5m").unwrap_err();
        assert!(clock.contains("clock times cannot form a range"), "{clock}");
    }

    #[test]
    fn ranges_are_exact_and_keep_units() {
        assert_eq!(
            parse_values("10/s..30/s:5/s").unwrap(),
            ["10/s", "15/s", "20/s", "25/s", "30/s"]
        );
        assert_eq!(parse_values("0.1..0.3:0.1").unwrap(), ["0.1", "0.2", "0.3"]);
        assert_eq!(
            parse_values("1.5s..2.5s:0.25s").unwrap(),
            ["1.5s", "1.75s", "2s", "2.25s", "2.5s"]
        );
        assert_eq!(parse_values("8..12:2").unwrap(), ["8", "10", "12"]);
        assert_eq!(parse_values("5..5:1").unwrap(), ["5"]);
        assert_eq!(parse_values("-1..1:1").unwrap(), ["-1", "0", "1"]);
        assert_eq!(parse_values("10/s, 20/s").unwrap(), ["10/s", "20/s"]);
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        let e = |v: &str| parse_values(v).unwrap_err();
        assert!(e("30/s..10/s:5/s").contains("reversed"));
        assert!(e("10/s..30/s:0/s").contains("greater than 0"));
        assert!(e("10/s..30/s:7/s").contains("do not land on 30/s"));
        assert!(e("10/s..30/s").contains("no step"));
        assert!(e("10/s..30s:5/s").contains("same unit"));
        assert!(e("x..3:1").contains("not a number"));
        assert!(e("").contains("no values"));
        assert!(e("1,,2").contains("empty item"));
        assert!(e("1..1000000:1").contains("more than"));
    }

    #[test]
    fn tied_keys_move_together_and_products_nest() {
        let v = parse_vary("a=1..3:1; b=10,20,30").unwrap();
        assert_eq!(v.sets(1), ["a=2", "b=20"]);
        assert!(parse_vary("a=1,2;b=1")
            .unwrap_err()
            .contains("as many values"));
        assert!(parse_vary("a=1;a=2").unwrap_err().contains("twice"));
        assert!(parse_vary("1,2").unwrap_err().contains("KEY=VALUES"));
        let p = product(&[parse_vary("a=1,2").unwrap(), parse_vary("b=x,y,z").unwrap()]);
        assert_eq!(p.len(), 6);
        assert_eq!(p[1], [("a".into(), "1".into()), ("b".into(), "y".into())]);
    }
}
