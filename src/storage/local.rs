//! Local files for the [`super::Store`]: a file, a directory (recursive,
//! sorted), or a glob in the last path component (`data/cur/*.parquet`).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What a walk found: regular files with their sizes, and the names not read.
pub type Walk = (Vec<(PathBuf, u64, String)>, Vec<PathBuf>);

/// The regular files under `path` with their sizes, sorted, each file once even
/// when two paths (symlinks, aliases) reach it; and the names not read: hidden
/// (`.`/`_` prefix) entries and objects that are not regular files (FIFOs,
/// sockets, devices). A dangling symlink is an error naming it.
pub fn list_with_skipped(path: &Path) -> Result<Walk> {
    use std::os::unix::fs::MetadataExt;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let text = path.to_string_lossy();
    let roots: Vec<PathBuf> = if text.contains('*') || text.contains('?') {
        let dir = path.parent().unwrap_or(Path::new("."));
        let pattern = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        read_dir(dir)?
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| wildcard_match(&pattern, &n.to_string_lossy()))
            })
            .collect()
    } else {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(Error::input(path, "no such file or directory"));
        }
        vec![path.to_path_buf()]
    };
    let mut pending: Vec<(PathBuf, bool)> = roots.into_iter().rev().map(|r| (r, true)).collect();
    while let Some((entry, is_root)) = pending.pop() {
        let hidden = !is_root
            && entry.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with('.') || n.starts_with('_')
            });
        if hidden {
            skipped.push(entry);
            continue;
        }
        let meta = match std::fs::metadata(&entry) {
            Ok(meta) => meta,
            Err(e) if std::fs::symlink_metadata(&entry).is_ok() => {
                return Err(Error::input(
                    &entry,
                    format!("a symbolic link whose target cannot be read: {e}"),
                ));
            }
            Err(e) => return Err(Error::unreadable(&entry, &e)),
        };
        if !seen.insert((meta.dev(), meta.ino())) {
            continue; // the same file or directory reached by another path
        }
        if meta.is_dir() {
            let mut children = read_dir(&entry)?;
            children.sort();
            children.reverse();
            pending.extend(children.into_iter().map(|c| (c, false)));
        } else if meta.is_file() {
            // Its version: the modification time, to the nanosecond.
            let version = format!("mtime:{}.{:09}", meta.mtime(), meta.mtime_nsec());
            files.push((entry, meta.len(), version));
        } else {
            skipped.push(entry);
        }
    }
    files.sort();
    skipped.sort();
    Ok((files, skipped))
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| Error::unreadable(dir, &e))
}

/// `*` matches any run of characters, `?` one character.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.parquet", "a.snappy.parquet"));
        assert!(wildcard_match("part-?.parquet", "part-1.parquet"));
        assert!(!wildcard_match("*.parquet", "a.parquet.tmp"));
        assert!(wildcard_match("*", ""));
    }
}
