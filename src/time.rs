//! Simulated time: absolute instants and durations as integer nanoseconds, plus the parsers
//! for the human forms used in scenarios ("250ms", "13:30", "12/s").
//!
//! Depends on nothing else in the crate. No floats are used to *hold* time; floats appear only
//! where a random draw in seconds is converted to a duration (rounded to the nearest ns).

use std::fmt;

pub const NS_PER_US: u64 = 1_000;
pub const NS_PER_MS: u64 = 1_000_000;
pub const NS_PER_S: u64 = 1_000_000_000;
pub const NS_PER_MIN: u64 = 60 * NS_PER_S;
pub const NS_PER_H: u64 = 3_600 * NS_PER_S;
pub const NS_PER_DAY: u64 = 24 * NS_PER_H;

/// An instant: nanoseconds since midnight of the simulated day (the clock the scenario uses).
/// Runs may go past 24:00 (a drain after the last arrival); the clock just keeps counting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime(secs_to_ns(s))
    }
    pub fn as_ns(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    /// Duration since `earlier`; saturates at zero (callers assert ordering where it matters).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    pub fn plus(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// "HH:MM" clock label (hours may exceed 23 after midnight).
    pub fn clock_hhmm(self) -> String {
        let m = self.0 / NS_PER_MIN;
        format!("{:02}:{:02}", m / 60, m % 60)
    }
    /// "HH:MM:SS" clock label.
    pub fn clock_hhmmss(self) -> String {
        let s = self.0 / NS_PER_S;
        format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = (self.0 / NS_PER_MS) % 1000;
        write!(f, "{}.{:03}", self.clock_hhmmss(), ms)
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * NS_PER_S)
    }
    pub fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * NS_PER_MS)
    }
    pub fn from_secs_f64(s: f64) -> SimDuration {
        SimDuration(secs_to_ns(s))
    }
    pub fn as_ns(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            write!(f, "0s")
        } else if ns.is_multiple_of(NS_PER_H) {
            write!(f, "{}h", ns / NS_PER_H)
        } else if ns.is_multiple_of(NS_PER_MIN) {
            write!(f, "{}m", ns / NS_PER_MIN)
        } else if ns.is_multiple_of(NS_PER_S) {
            write!(f, "{}s", ns / NS_PER_S)
        } else if ns.is_multiple_of(NS_PER_MS) {
            write!(f, "{}ms", ns / NS_PER_MS)
        } else {
            write!(f, "{}ns", ns)
        }
    }
}

/// 2^63 as a float: below it, a float truncates to the same integer through i64 as through u64.
const I64_LIMIT: f64 = (1u64 << 63) as f64;

/// Converts a non-negative, finite number of seconds to whole nanoseconds (rounded); values
/// beyond the representable range saturate. Negative or NaN inputs map to zero: random draws
/// from the distributions we support are never negative, and validated inputs are checked
/// before they get here.
pub fn secs_to_ns(s: f64) -> u64 {
    if s.is_nan() || s <= 0.0 {
        return 0;
    }
    // Round half up: for non-negative values, adding 0.5 and truncating is `round()` without
    // the libm call (this sits on the hot path of every draw).
    let ns = s * NS_PER_S as f64 + 0.5;
    if ns < I64_LIMIT {
        // The same truncation through i64, one instruction on x86-64 where u64 takes about
        // ten (below 2^63 ns, about 292 years, the two agree).
        ns as i64 as u64
    } else if ns >= u64::MAX as f64 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// An exact rate: `count` events per `per_ns` nanoseconds, reduced to lowest terms.
/// Exactness matters: a token bucket at "40000/h" must pass exactly 40000 legs an hour.
///
/// `unit_ns` remembers the unit the rate was written in (`/s`, `/min`, `/h`, `/5s`; 0 when it
/// was computed), so that it is echoed as written ("2.5/s" stays "2.5/s", "150/min" stays
/// "150/min"). It is a display hint only: equality and hashing ignore it.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub count: u64,
    pub per_ns: u64,
    pub unit_ns: u64,
}

impl PartialEq for Rate {
    fn eq(&self, o: &Rate) -> bool {
        (self.count, self.per_ns) == (o.count, o.per_ns)
    }
}

impl Eq for Rate {}

impl std::hash::Hash for Rate {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.count, self.per_ns).hash(h)
    }
}

impl Rate {
    /// `count` per `per_ns`, reduced. Panics on a zero period (a programming error).
    pub fn new(count: u64, per_ns: u64) -> Rate {
        assert!(per_ns > 0, "rate period must be positive");
        let g = gcd(count, per_ns).max(1);
        Rate {
            count: count / g,
            per_ns: per_ns / g,
            unit_ns: 0,
        }
    }
    /// The same rate, shown in `unit_ns` (see the type's doc).
    pub fn written_in(self, unit_ns: u64) -> Rate {
        Rate { unit_ns, ..self }
    }
    pub fn per_second(&self) -> f64 {
        self.count as f64 * NS_PER_S as f64 / self.per_ns as f64
    }
    pub fn is_zero(&self) -> bool {
        self.count == 0
    }
    /// This rate multiplied by a decimal factor given as `num/den` (exact).
    pub fn scaled(&self, num: u64, den: u64) -> Rate {
        let count = self.count as u128 * num as u128;
        let per = self.per_ns as u128 * den as u128;
        let g = gcd_u128(count, per).max(1);
        let (mut c, mut p) = (count / g, per / g);
        // Keep within u64 by giving up exactness only in absurd cases.
        while c > u64::MAX as u128 || p > u64::MAX as u128 {
            c /= 2;
            p /= 2;
        }
        Rate::new(c as u64, p.max(1) as u64).written_in(self.unit_ns)
    }
}

impl fmt::Display for Rate {
    /// In the unit it was written in when the value is exact there (an integer, or a decimal of
    /// at most 9 places); otherwise in the first of /s, /min, /h that gives an integer, then a
    /// decimal per second of at most 3 places, then "N/Ds" (N per D seconds), then 6 places.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unit_ns > 0 {
            if let Some(v) = self.exact_in(self.unit_ns, 9) {
                return write!(f, "{v}/{}", unit_words(self.unit_ns));
            }
        }
        for ns in [NS_PER_S, NS_PER_MIN, NS_PER_H] {
            if let Some(v) = self.exact_in(ns, 0) {
                return write!(f, "{v}/{}", unit_words(ns));
            }
        }
        if let Some(v) = self.exact_in(NS_PER_S, 3) {
            return write!(f, "{v}/s");
        }
        // N per D seconds with D a whole number of seconds, when one exists.
        let (c, p) = (self.count as u128, self.per_ns as u128);
        let s = NS_PER_S as u128;
        let d = p / gcd_u128(p, c * s).max(1);
        if d > 1 && d <= 86_400 && (c * s * d).is_multiple_of(p) {
            return write!(f, "{}/{d}s", c * s * d / p);
        }
        write!(f, "{:.6}/s", self.per_second())
    }
}

impl Rate {
    /// The rate per `unit_ns` as a decimal with at most `places` decimal places, if exact.
    fn exact_in(&self, unit_ns: u64, places: u32) -> Option<String> {
        let num = self.count as u128 * unit_ns as u128;
        let den = self.per_ns as u128;
        for k in 0..=places {
            let scaled = num.checked_mul(10u128.pow(k))?;
            if scaled % den == 0 {
                let v = scaled / den;
                if k == 0 {
                    return Some(v.to_string());
                }
                let p = 10u128.pow(k);
                let frac = format!("{:0width$}", v % p, width = k as usize);
                return Some(format!("{}.{}", v / p, frac.trim_end_matches('0')));
            }
        }
        None
    }
}

/// "s", "min", "h", or a multiple such as "5s" or "2min".
fn unit_words(ns: u64) -> String {
    for (name, u) in [("h", NS_PER_H), ("min", NS_PER_MIN), ("s", NS_PER_S)] {
        if ns == u {
            return name.to_string();
        }
    }
    for (name, u) in [("h", NS_PER_H), ("min", NS_PER_MIN), ("s", NS_PER_S)] {
        if ns.is_multiple_of(u) {
            return format!("{}{name}", ns / u);
        }
    }
    format!("{ns}ns")
}

pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Parses a non-negative decimal number exactly into `(mantissa, scale)` with value
/// `mantissa / 10^scale` (at most 9 decimal places). Rejects signs, exponents and junk.
pub fn parse_decimal(s: &str) -> Result<(u64, u32), String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("expected a number".into());
    }
    if s.starts_with('-') {
        return Err(format!("`{s}` is negative; expected a value >= 0"));
    }
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(format!("`{s}` is not a number"));
    }
    if !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("`{s}` is not a plain decimal number"));
    }
    if frac_part.len() > 9 {
        return Err(format!("`{s}` has more than 9 decimal places"));
    }
    let digits = format!("{int_part}{frac_part}");
    let mantissa: u64 = digits
        .trim_start_matches('0')
        .parse::<u64>()
        .or_else(|e| {
            if digits.trim_start_matches('0').is_empty() {
                Ok(0)
            } else {
                Err(e)
            }
        })
        .map_err(|_| format!("`{s}` is too large"))?;
    Ok((mantissa, frac_part.len() as u32))
}

/// Parses a duration: a number followed by a unit, `ns`, `us`, `ms`, `s`, `m`/`min`, `h`
/// (e.g. "250ms", "1.5s", "5m"). Several parts may be joined: "1m30s". A bare "0" is zero.
///
/// ```
/// use callsim::time::{parse_duration, SimDuration};
/// assert_eq!(parse_duration("1m30s").unwrap(), SimDuration::from_secs(90));
/// assert_eq!(parse_duration("250ms").unwrap(), SimDuration::from_millis(250));
/// assert!(parse_duration("30").unwrap_err().contains("no unit"));
/// ```
pub fn parse_duration(s: &str) -> Result<SimDuration, String> {
    let orig = s;
    let s = s.trim();
    if s == "0" {
        return Ok(SimDuration::ZERO);
    }
    if s.is_empty() {
        return Err(
            "expected a duration such as \"30s\", \"250ms\" or \"5m\", found an empty string"
                .into(),
        );
    }
    if s.starts_with('-') {
        return Err(format!(
            "duration `{orig}` is negative; expected a duration >= 0 such as \"30s\""
        ));
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        if num.is_empty() {
            return Err(format!("duration `{orig}`: expected a number before `{after}` (e.g. \"30s\", \"250ms\", \"5m\")"));
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let unit_ns: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => NS_PER_US,
            "ms" => NS_PER_MS,
            "s" | "sec" => NS_PER_S,
            "m" | "min" => NS_PER_MIN,
            "h" => NS_PER_H,
            "" => {
                return Err(format!(
                "duration `{orig}` has no unit; write e.g. \"{num}s\" (units: ns, us, ms, s, m, h)"
            ))
            }
            other => {
                return Err(format!(
                    "duration `{orig}` has unknown unit `{other}` (units: ns, us, ms, s, m, h)"
                ))
            }
        };
        let (mant, scale) = parse_decimal(num).map_err(|e| format!("duration `{orig}`: {e}"))?;
        let ns = mant as u128 * unit_ns as u128 / 10u128.pow(scale);
        if !(mant as u128 * unit_ns as u128).is_multiple_of(10u128.pow(scale)) {
            return Err(format!("duration `{orig}` is finer than one nanosecond"));
        }
        total += ns;
        rest = next;
    }
    if total > u64::MAX as u128 / 4 {
        return Err(format!(
            "duration `{orig}` is too large: at most {} s (about 146 years)",
            u64::MAX / 4 / NS_PER_S
        ));
    }
    Ok(SimDuration(total as u64))
}

/// Parses a clock time "HH:MM" or "HH:MM:SS" (optionally with fractional seconds) into an
/// instant since midnight. Hours may run to 47 so a scenario can cross midnight.
pub fn parse_clock(s: &str) -> Result<SimTime, String> {
    let t = s.trim();
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(format!(
            "`{s}` is not a clock time; expected \"HH:MM\" or \"HH:MM:SS\" such as \"13:30\""
        ));
    }
    let num = |p: &str, what: &str| -> Result<u64, String> {
        if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "`{s}` has an invalid {what} `{p}`; expected \"HH:MM\" or \"HH:MM:SS\""
            ));
        }
        p.parse::<u64>()
            .map_err(|_| format!("`{s}`: invalid {what}"))
    };
    let h = num(parts[0], "hour")?;
    let m = num(parts[1], "minute")?;
    if h > 47 {
        return Err(format!("`{s}` is an impossible time: hour {h} > 47"));
    }
    if m > 59 {
        return Err(format!("`{s}` is an impossible time: minute {m} > 59"));
    }
    let mut ns = h * NS_PER_H + m * NS_PER_MIN;
    if parts.len() == 3 {
        let sec = parts[2];
        let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
        let sv = num(whole, "second")?;
        if sv > 59 {
            return Err(format!("`{s}` is an impossible time: second {sv} > 59"));
        }
        ns += sv * NS_PER_S;
        if !frac.is_empty() {
            if frac.len() > 9 || !frac.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("`{s}` has an invalid fraction of a second"));
            }
            let f: u64 = frac
                .parse()
                .map_err(|_| format!("`{s}`: invalid fraction"))?;
            ns += f * 10u64.pow(9 - frac.len() as u32);
        }
    }
    Ok(SimTime(ns))
}

/// Parses a rate "12/s", "40000/h", "2.5/min" (also "/sec", "/minute", "/hour") exactly.
///
/// ```
/// use callsim::time::parse_rate;
/// let r = parse_rate("40000/h").unwrap();
/// assert_eq!(r.to_string(), "40000/h");
/// assert!((r.per_second() - 11.111_111).abs() < 1e-6);
/// assert!(parse_rate("-5/s").is_err());
/// ```
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let t = s.trim();
    let Some((num, unit)) = t.split_once('/') else {
        return Err(format!("`{s}` is not a rate; expected a number per unit such as \"12/s\", \"300/min\" or \"40000/h\""));
    };
    let unit = unit.trim();
    // An optional whole multiple before the unit: "150/5s" is 150 per 5 seconds.
    let digits = unit.len() - unit.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (mult, name) = unit.split_at(digits);
    let mult: u64 = if mult.is_empty() {
        1
    } else {
        match mult.parse() {
            Ok(m) if m > 0 && m <= 1_000_000 => m,
            _ => {
                return Err(format!(
                    "rate `{s}`: the period `/{unit}` must be a whole number from 1 to 1000000 of s, min or h, as in \"150/5s\""
                ))
            }
        }
    };
    let unit_ns = mult
        * match name.trim() {
            "s" | "sec" | "second" => NS_PER_S,
            "m" | "min" | "minute" => NS_PER_MIN,
            "h" | "hour" => NS_PER_H,
            other => {
                return Err(format!(
                    "rate `{s}` has unknown unit `/{other}`; use /s, /min or /h, optionally with a whole multiple such as /5s"
                ))
            }
        };
    let per_ns = unit_ns;
    if num.trim().starts_with('-') {
        return Err(format!(
            "rate `{s}` is negative; expected a rate >= 0 such as \"12/s\""
        ));
    }
    let (mant, scale) = parse_decimal(num).map_err(|e| format!("rate `{s}`: {e}"))?;
    let per = per_ns as u128 * 10u128.pow(scale);
    if per > u64::MAX as u128 {
        return Err(format!("rate `{s}` has too many decimal places"));
    }
    Ok(Rate::new(mant, per as u64).written_in(unit_ns))
}

/// Inputs for testing a float conversion against a reference: `edges`, the values every such
/// conversion must get right (both zeros, -1, the largest float, NaN, both infinities), and for
/// each of 100,000 uniform draws u from the stream seeded by `seed`, every `spread(u)` and one
/// random bit pattern.
#[cfg(test)]
pub(crate) fn float_cases(seed: u64, edges: &[f64], spreads: &[&dyn Fn(f64) -> f64]) -> Vec<f64> {
    use rand::Rng;
    let mut rng = crate::rng::rng_from(seed);
    let mut cases = edges.to_vec();
    cases.extend([
        0.0,
        -0.0,
        -1.0,
        f64::MAX,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ]);
    for _ in 0..100_000 {
        let u: f64 = rng.random();
        cases.extend(spreads.iter().map(|f| f(u)));
        cases.push(f64::from_bits(rng.random::<u64>()));
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `secs_to_ns` converts through i64 below 2^63: the same integers as the plain u64
    /// conversion it replaced (kept here), for edge values and random bit patterns.
    #[test]
    fn secs_to_ns_agrees_with_the_u64_conversion() {
        fn plain(s: f64) -> u64 {
            if s.is_nan() || s <= 0.0 {
                return 0;
            }
            let ns = s * NS_PER_S as f64 + 0.5;
            if ns >= u64::MAX as f64 {
                u64::MAX
            } else {
                ns as u64
            }
        }
        let two63 = (1u64 << 63) as f64 / 1e9;
        let edges = [
            1e-10,
            4.9e-10,
            5e-10,
            1.0,
            two63,
            two63 * (1.0 - f64::EPSILON),
            two63 * (1.0 + f64::EPSILON),
            1.8e10,
            1.9e10,
        ];
        for s in float_cases(11, &edges, &[&|u| u * 1e4, &|u| u * 2e10]) {
            assert_eq!(secs_to_ns(s), plain(s), "{s:e}");
        }
    }

    #[test]
    fn durations_parse_exactly() {
        assert_eq!(
            parse_duration("250ms").unwrap(),
            SimDuration(250 * NS_PER_MS)
        );
        assert_eq!(
            parse_duration("1.5s").unwrap(),
            SimDuration(1_500 * NS_PER_MS)
        );
        assert_eq!(parse_duration("1m30s").unwrap(), SimDuration(90 * NS_PER_S));
        assert_eq!(parse_duration("2h").unwrap(), SimDuration(2 * NS_PER_H));
        assert_eq!(parse_duration("0").unwrap(), SimDuration::ZERO);
        assert!(parse_duration("-3s").is_err());
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("0.5ns").is_err());
    }

    #[test]
    fn clock_times_parse_and_reject_impossible() {
        assert_eq!(
            parse_clock("13:30").unwrap(),
            SimTime(13 * NS_PER_H + 30 * NS_PER_MIN)
        );
        assert_eq!(
            parse_clock("00:00:01.5").unwrap(),
            SimTime(1_500 * NS_PER_MS)
        );
        assert!(parse_clock("25:61").is_err());
        assert!(parse_clock("13:60").is_err());
        assert!(parse_clock("1330").is_err());
        assert!(parse_clock("ab:cd").is_err());
        assert_eq!(
            SimTime(13 * NS_PER_H + 5 * NS_PER_MIN).clock_hhmm(),
            "13:05"
        );
    }

    #[test]
    fn rates_are_exact_rationals() {
        let r = parse_rate("40000/h").unwrap();
        assert_eq!(r, Rate::new(40000, NS_PER_H));
        assert_eq!(r.to_string(), "40000/h");
        let r = parse_rate("2.5/s").unwrap();
        assert_eq!(r, Rate::new(5, 2 * NS_PER_S));
        assert_eq!(r.to_string(), "2.5/s");
        assert!(parse_rate("-1/s").is_err());
        assert!(parse_rate("12").is_err());
        assert!(parse_rate("12/fortnight").is_err());
        assert_eq!(
            parse_rate("20/s").unwrap().scaled(3, 2),
            parse_rate("30/s").unwrap()
        );
    }

    #[test]
    fn rates_are_echoed_as_written() {
        for (written, shown) in [
            ("2.5/s", "2.5/s"),
            ("150/min", "150/min"),
            ("0.25/s", "0.25/s"),
            ("40000/h", "40000/h"),
            ("150/5s", "150/5s"),
            ("10/3s", "10/3s"),
            ("3/2min", "3/2min"),
            ("0.001/s", "0.001/s"),
        ] {
            assert_eq!(parse_rate(written).unwrap().to_string(), shown, "{written}");
        }
        // A multiple is exact: 10 per 3 s is 200 per minute, not 3.333.../s.
        assert_eq!(parse_rate("10/3s").unwrap(), parse_rate("200/min").unwrap());
        assert_eq!(parse_rate("150/5s").unwrap(), parse_rate("30/s").unwrap());
        // Scaling keeps the unit; computed rates take the plainest exact form.
        assert_eq!(parse_rate("2.5/s").unwrap().scaled(2, 1).to_string(), "5/s");
        assert_eq!(
            parse_rate("150/min").unwrap().scaled(2, 1).to_string(),
            "300/min"
        );
        assert_eq!(Rate::new(5, 2 * NS_PER_S).to_string(), "150/min");
        assert_eq!(Rate::new(1, 7 * NS_PER_S).to_string(), "1/7s");
        assert_eq!(Rate::new(1, 3 * NS_PER_S).to_string(), "20/min");
        for bad in ["5/0s", "5/-2s", "5/2.5s", "5/2fortnights", "5/9999999s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
