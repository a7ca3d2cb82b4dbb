//! Swapping cleaned segments in so that a crash at any point leaves either
//! the old segments or the new ones, never a mix. The cleaner writes each
//! new segment as `<base>.{log,index,timeindex}.cleaned` and syncs it; the
//! commit point is the manifest `cleaner.swap` (written to a temporary
//! name, synced, renamed), naming each new segment and the old ones it
//! replaces. Applying a manifest removes the old segments and renames the
//! new files into place, then removes the manifest; every step can be
//! repeated, so start-up simply applies a manifest it finds. Without one,
//! `.cleaned` files are an unfinished clean and are removed.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::log::segment::{file_name, CLEANED};

const MANIFEST: &str = "cleaner.swap";

/// New segment bases, each with the old segment bases it replaces.
pub type Swap = Vec<(i64, Vec<i64>)>;

/// Makes the swap durable: from here on it happens, crash or not.
pub fn commit(dir: &Path, swap: &Swap) -> io::Result<()> {
    let mut text = String::new();
    for (new, old) in swap {
        text.push_str(&new.to_string());
        for base in old {
            text.push_str(&format!(" {base}"));
        }
        text.push('\n');
    }
    let temporary = dir.join(format!("{MANIFEST}.tmp"));
    let mut file = File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, dir.join(MANIFEST))?;
    sync_dir(dir)
}

/// Carries out a committed swap (again, after a crash).
pub fn apply(dir: &Path, swap: &Swap) -> io::Result<()> {
    for (new, old) in swap {
        for base in old.iter().filter(|b| *b != new) {
            for suffix in [".log", ".index", ".timeindex"] {
                remove_if_present(&dir.join(file_name(*base, suffix)))?;
            }
        }
        // The log file last: a reader of the directory that sees the new
        // .log sees its indexes too.
        for suffix in [".index", ".timeindex", ".log"] {
            let cleaned = dir.join(file_name(*new, suffix) + CLEANED);
            if cleaned.exists() {
                fs::rename(&cleaned, dir.join(file_name(*new, suffix)))?;
            }
        }
    }
    sync_dir(dir)?;
    remove_if_present(&dir.join(MANIFEST))?;
    sync_dir(dir)
}

/// At start-up, before the segments are listed: finishes a committed swap.
pub fn finish(dir: &Path) -> io::Result<bool> {
    let text = match fs::read_to_string(dir.join(MANIFEST)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut swap = Swap::new();
    for line in text.lines() {
        let bases: Result<Vec<i64>, _> = line.split_whitespace().map(str::parse).collect();
        match bases.as_deref() {
            Ok([new, old @ ..]) => swap.push((*new, old.to_vec())),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: bad line {line:?}", dir.join(MANIFEST).display()),
                ))
            }
        }
    }
    apply(dir, &swap)?;
    Ok(true)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
