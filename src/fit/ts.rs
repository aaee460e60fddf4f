//! Timestamps of call records: `2026-03-02 13:30:05`, ISO 8601 with `T`, a fraction and a zone
//! (`Z`, `+01:00`, `+0100`), RFC 2822 (`Mon, 02 Mar 2026 13:30:05 +0000`, Twilio's API form) and
//! epoch seconds (`1772458205.25`). Hand-written: the forms are few and a dependency would not
//! say what was expected.

/// A parsed instant: wall-clock seconds since 1970-01-01 00:00 *in the record's own zone*, and
/// that zone's UTC offset in minutes when the text gave one (epoch seconds count as UTC).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stamp {
    pub local_s: f64,
    pub offset_min: Option<i32>,
}

pub const EXPECTED: &str =
    "a timestamp such as `2026-03-02 13:30:05`, `2026-03-02T13:30:05.25+01:00`, \
`Mon, 02 Mar 2026 13:30:05 +0000` or epoch seconds `1772458205`";

/// Days from 1970-01-01 to the civil date (proleptic Gregorian; H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date of a day number (inverse of `days_from_civil`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Parses one timestamp cell (already trimmed, not empty).
pub fn parse_stamp(s: &str) -> Result<Stamp, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let v: f64 = s.parse().map_err(|_| format!("`{s}` is not {EXPECTED}"))?;
        return Ok(Stamp {
            local_s: v,
            offset_min: Some(0),
        });
    }
    let r = if s
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic())
    {
        parse_rfc2822(s)
    } else {
        parse_iso(s)
    };
    r.ok_or_else(|| format!("`{s}` is not {EXPECTED}"))
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `HH:MM:SS[.frac]` → seconds.
fn parse_hms(t: &str) -> Option<f64> {
    let mut it = t.split(':');
    let (h, m, sec) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let (h, m): (u32, u32) = (num(h)?, num(m)?);
    let (whole, frac) = match sec.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (sec, None),
    };
    let w: u32 = num(whole)?;
    let f = match frac {
        Some(f) => format!("0.{}", f)
            .parse::<f64>()
            .ok()
            .filter(|_| num::<u64>(f).is_some())?,
        None => 0.0,
    };
    if h > 23 || m > 59 || w > 60 {
        return None;
    }
    Some((h * 3600 + m * 60 + w) as f64 + f)
}

/// A zone suffix: `Z`, `UTC`, `GMT`, `+01:00`, `+0100`, `-05`.
fn parse_zone(z: &str) -> Option<i32> {
    let z = z.trim();
    if z == "Z" || z.eq_ignore_ascii_case("UTC") || z.eq_ignore_ascii_case("GMT") {
        return Some(0);
    }
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
    let (h, m): (i32, i32) = match digits.len() {
        2 => (num(&digits)?, 0),
        4 => (num(&digits[..2])?, num(&digits[2..])?),
        _ => return None,
    };
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

fn date_days(y: &str, m: &str, d: &str) -> Option<i64> {
    let (y, m, d): (i64, u32, u32) = (num(y)?, num(m)?, num(d)?);
    if !(1..=12).contains(&m) || d == 0 || d > 31 || y.to_string().len() != 4 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

fn parse_iso(s: &str) -> Option<Stamp> {
    if s.len() < 19 {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let mut dp = date.split('-');
    let days = date_days(dp.next()?, dp.next()?, dp.next()?)?;
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let cut = rest
        .find(|c: char| c == 'Z' || c == '+' || c == '-' || c == ' ' || c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let secs = parse_hms(&rest[..cut])?;
    let zone = rest[cut..].trim();
    let offset_min = if zone.is_empty() {
        None
    } else {
        Some(parse_zone(zone)?)
    };
    Some(Stamp {
        local_s: days as f64 * 86400.0 + secs,
        offset_min,
    })
}

/// `[Mon, ]02 Mar 2026 13:30:05 +0000`.
fn parse_rfc2822(s: &str) -> Option<Stamp> {
    let body = match s.split_once(',') {
        Some((_, b)) => b.trim(),
        None => s,
    };
    let p: Vec<&str> = body.split_whitespace().collect();
    if p.len() != 5 {
        return None;
    }
    let d: u32 = num(p[0])?;
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(p[1]))? as u32 + 1;
    let days = date_days(p[2], &format!("{m:02}"), &format!("{d:02}"))?;
    let secs = parse_hms(p[3])?;
    let off = parse_zone(p[4])?;
    Some(Stamp {
        local_s: days as f64 * 86400.0 + secs,
        offset_min: Some(off),
    })
}

/// Formats wall-clock seconds since the epoch as `YYYY-MM-DD HH:MM:SS` (whole seconds,
/// truncated, as Asterisk and FreeSWITCH print them).
pub fn format_plain(local_s: f64) -> String {
    let t = local_s.floor() as i64;
    let (days, sod) = (t.div_euclid(86400), t.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// RFC 2822 in UTC (`Mon, 02 Mar 2026 13:30:05 +0000`), whole seconds, truncated.
pub fn format_rfc2822(utc_s: f64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let t = utc_s.floor() as i64;
    let (days, sod) = (t.div_euclid(86400), t.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let mon = MONTHS[m as usize - 1];
    let mon = format!("{}{}", mon[..1].to_uppercase(), &mon[1..]);
    format!(
        "{}, {d:02} {mon} {y:04} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_forms() {
        let base = days_from_civil(2026, 3, 2) as f64 * 86400.0 + 13.0 * 3600.0 + 30.0 * 60.0 + 5.0;
        let p = parse_stamp("2026-03-02 13:30:05").unwrap();
        assert_eq!(
            p,
            Stamp {
                local_s: base,
                offset_min: None
            }
        );
        let p = parse_stamp("2026-03-02T13:30:05.25+01:00").unwrap();
        assert_eq!(
            p,
            Stamp {
                local_s: base + 0.25,
                offset_min: Some(60)
            }
        );
        let p = parse_stamp("Mon, 02 Mar 2026 13:30:05 +0000").unwrap();
        assert_eq!(
            p,
            Stamp {
                local_s: base,
                offset_min: Some(0)
            }
        );
        assert_eq!(
            parse_stamp("2026-03-02 13:30:05Z").unwrap().offset_min,
            Some(0)
        );
        assert_eq!(parse_stamp("1772458205").unwrap().local_s, 1772458205.0);
        assert_eq!(format_rfc2822(base), "Mon, 02 Mar 2026 13:30:05 +0000");
        assert_eq!(format_plain(base + 0.9), "2026-03-02 13:30:05");
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "yesterday",
            "2026-02-30 10:00:00",
            "2026-03-02 25:00:00",
            "13:30:05",
            "2026-03-02 13:30:05 PST",
            "2026-03-02 13:30:05.x",
        ] {
            assert!(parse_stamp(bad).is_err(), "{bad}");
        }
    }
}
