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
    let mut text = String::new();
    // One byte past the cap tells a file that is too long from one exactly at it.
    f.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if text.len() as u64 > max {
        return Err(format!(
            "`{shown}` is larger than {max} bytes; expected a scenario-sized text file"
        ));
    }
    Ok(text)
}

/// A reader that fails with `InvalidData` as soon as a line grows past `max` bytes.
pub struct LineCapped<R> {
    inner: R,
    run: usize,
    max: usize,
}

impl<R: Read> LineCapped<R> {
    pub fn new(inner: R, max: usize) -> LineCapped<R> {
        LineCapped { inner, run: 0, max }
    }
}

impl<R: Read> Read for LineCapped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.run = 0;
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
