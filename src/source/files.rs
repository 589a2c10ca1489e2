//! Input file discovery shared by the sources: a file, a directory (recursive,
//! sorted), or a glob in the last path component (`data/cur/*.parquet`).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The files under `path` accepted by `keep`, sorted by path. Hidden files and
/// directories (`.` or `_` prefix, as Hive writers leave them) are skipped.
pub fn list(path: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let text = path.to_string_lossy();
    if text.contains('*') || text.contains('?') {
        let dir = path.parent().unwrap_or(Path::new("."));
        let pattern = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = read_dir(dir)?
            .into_iter()
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .is_some_and(|n| wildcard_match(&pattern, &n.to_string_lossy()))
            })
            .collect();
        files.sort();
        return Ok(files);
    }
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(Error::input(path, "no such file or directory"));
    }
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in read_dir(&dir)? {
            let hidden = entry.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with('.') || n.starts_with('_')
            });
            if hidden {
                continue;
            }
            if entry.is_dir() {
                pending.push(entry);
            } else if keep(&entry) {
                files.push(entry);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| Error::io(dir, e))
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
