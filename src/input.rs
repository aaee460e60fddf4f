//! Reading files a user names, within bounds: only regular files (a device such as `/dev/zero`
//! or a FIFO never ends, so it is refused before a byte is read), whole-file reads capped in
//! size, and line-by-line readers (CSV) capped in line length so one endless line cannot take
//! all memory.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Longest line a CSV input may have (1 MiB): far above any real trace, CDR or shard row.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Largest scenario or manifest file read whole (16 MiB).
pub const MAX_TEXT_BYTES: u64 = 16 << 20;

/// Opens `path` for reading if it is a regular file (symlinks followed), else says what it is.
pub fn open_regular(path: &Path) -> Result<File, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open `{shown}`: {e}"))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket could be read without end)"
        };
        return Err(format!(
            "cannot read `{shown}`: it is {kind}; expected a regular file"
        ));
    }
    File::open(path).map_err(|e| format!("cannot open `{shown}`: {e}"))
}

/// Reads a regular file of at most `max` bytes as UTF-8 text.
pub fn read_text(path: &Path, max: u64) -> Result<String, String> {
    let shown = path.display();
    let f = open_regular(path)?;
    let mut bytes = Vec::new();
    // One byte past the cap tells a file that is too long from one exactly at it.
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "`{shown}` is larger than {max} bytes; expected a scenario-sized text file"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + good.iter().rev().take_while(|&&b| b != b'\n').count();
        format!(
            "cannot read `{shown}`: line {line}, byte {column} of the line is not UTF-8 text; expected a UTF-8 text file (save it as UTF-8)"
        )
    })
}

/// A reader that fails with `InvalidData` as soon as a line grows past `max` bytes, or when the
/// input ends inside a quoted CSV field (the csv crate would take `"09:00:01` on the last line
/// as a whole field, silently closing the quote the file never closed).
pub struct LineCapped<R> {
    inner: R,
    run: usize,
    max: usize,
    /// Lines seen so far (1-based), and where the open quoted field began.
    line: u64,
    quote: Quote,
    quote_line: u64,
}

/// Where a comma-separated byte stream stands, as far as quotes go: a quote opens a quoted
/// field only at a field's start; inside one, `""` is an escaped quote.
#[derive(Clone, Copy, PartialEq)]
enum Quote {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: it closes the field unless another quote follows.
    ClosingOrEscaped,
}

impl<R: Read> LineCapped<R> {
    pub fn new(inner: R, max: usize) -> LineCapped<R> {
        LineCapped {
            inner,
            run: 0,
            max,
            line: 1,
            quote: Quote::FieldStart,
            quote_line: 0,
        }
    }

    fn step_quote(&mut self, b: u8) {
        self.quote = match (self.quote, b) {
            (Quote::FieldStart, b'"') => {
                self.quote_line = self.line;
                Quote::Quoted
            }
            (Quote::Quoted, b'"') => Quote::ClosingOrEscaped,
            (Quote::Quoted, _) => Quote::Quoted,
            (Quote::ClosingOrEscaped, b'"') => Quote::Quoted,
            (_, b',' | b'\n') => Quote::FieldStart,
            _ => Quote::Unquoted,
        };
    }
}

impl<R: Read> Read for LineCapped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.quote == Quote::Quoted {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the quoted field opened on line {} is never closed (the file ends inside it); expected a closing `\"`",
                    self.quote_line
                ),
            ));
        }
        for &b in &buf[..n] {
            self.step_quote(b);
            if b == b'\n' {
                self.run = 0;
                self.line += 1;
            } else {
                self.run += 1;
                if self.run > self.max {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a line is longer than {} bytes; expected a CSV file with one record per line",
                            self.max
                        ),
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// A buffered, line-capped reader over a regular file: what every CSV input goes through.
pub fn csv_source(path: &Path) -> Result<LineCapped<BufReader<File>>, String> {
    Ok(LineCapped::new(
        BufReader::with_capacity(1 << 16, open_regular(path)?),
        MAX_LINE_BYTES,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_refused_before_reading() {
        let e = open_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_text(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(e.contains("/dev/zero"), "{e}");
        let e = open_regular(Path::new("/")).unwrap_err();
        assert!(e.contains("a directory"), "{e}");
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_with_its_line() {
        let dir = std::env::temp_dir().join(format!("callsim-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.toml");
        std::fs::write(&p, b"name = \"x\"\nseed = 1\nab\xff = 2\n").unwrap();
        let e = read_text(&p, MAX_TEXT_BYTES).unwrap_err();
        assert!(e.contains("line 3, byte 3"), "{e}");
        std::fs::write(&p, "name = \"\u{e9}\"\n").unwrap();
        assert_eq!(
            read_text(&p, MAX_TEXT_BYTES).unwrap(),
            "name = \"\u{e9}\"\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_quote_never_closed_is_an_error_at_the_end() {
        let read = |data: &[u8]| {
            let mut out = Vec::new();
            LineCapped::new(data, 64).read_to_end(&mut out).map(|_| out)
        };
        let e = read(b"t\n09:00:00\n\"09:00:01\n").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("opened on line 3"), "{e}");
        // Closed quotes, escaped quotes, a quoted newline, and a quote inside an unquoted field
        // (taken literally) all read through.
        for ok in [
            &b"t,n\n\"09:00:01\",\"a \"\"b\"\"\"\n"[..],
            b"t,n\n09:00:01,\"two\nlines\"\n",
            b"t,n\n09:00:01,5\" screen\n",
            b"t\n\"09:00:01\"",
        ] {
            assert_eq!(read(ok).unwrap(), ok);
        }
        let e = read(b"t,n\n09:00:01,\"a\"\"\n").unwrap_err();
        assert!(e.to_string().contains("opened on line 2"), "{e}");
    }

    #[test]
    fn an_endless_line_stops_at_the_cap() {
        let data = [b'x'; 100];
        let mut r = LineCapped::new(&data[..], 64);
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // Lines at the cap pass, whatever their number.
        let mut data = Vec::new();
        for _ in 0..10 {
            data.extend_from_slice(&[b'y'; 64]);
            data.push(b'\n');
        }
        let mut out = Vec::new();
        LineCapped::new(&data[..], 64)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn text_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(&p, "a = 1\n").unwrap();
        assert_eq!(read_text(&p, 6).unwrap(), "a = 1\n");
        assert!(read_text(&p, 5).unwrap_err().contains("larger than"));
    }
}
