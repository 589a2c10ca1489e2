//! Storage addressed by URL (SPEC 2.6): every input and output path is a local
//! path or an `s3://bucket/prefix` URL, resolved once into a [`Location`].

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};

/// A place: a local path or an S3 prefix/key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl Location {
    /// `s3://bucket/prefix` or a local path (relative paths taken from `base`).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if text.trim().is_empty() {
            return Err("an empty path".into());
        }
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                let valid = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    });
                if !valid {
                    return Err(format!("{text:?}: {bucket:?} is not an S3 bucket name"));
                }
                let key = key.strip_suffix('/').unwrap_or(key);
                // S3 takes any key, so a typo would silently name another
                // place: no empty, `.` or `..` segment, no space or control character.
                if !key.is_empty() {
                    if let Some(bad) = key
                        .split('/')
                        .find(|s| s.is_empty() || *s == "." || *s == "..")
                    {
                        return Err(format!(
                            "{text:?}: the key has a {} segment; write the prefix without it",
                            if bad.is_empty() {
                                "empty (`//`)"
                            } else {
                                "`.` or `..`"
                            }
                        ));
                    }
                    if let Some(c) = key
                        .chars()
                        .find(|c| c.is_whitespace() || c.is_control() || *c == '\\')
                    {
                        return Err(format!(
                            "{text:?}: the key has the character {c:?}, which costjob refuses in S3 prefixes"
                        ));
                    }
                }
                Ok(Self::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                })
            }
            None if text.contains("://") => Err(format!(
                "{text:?}: only local paths and s3:// URLs are supported"
            )),
            None => Ok(Self::Local(PathBuf::from(text))),
        }
    }

    /// The location with `{date}`, `{yyyy}`, `{mm}` and `{dd}` filled in for `date`.
    pub fn for_date(&self, date: NaiveDate) -> Self {
        let fill = |s: &str| {
            s.replace("{date}", &date.to_string())
                .replace("{yyyy}", &format!("{:04}", date.year()))
                .replace("{mm}", &format!("{:02}", date.month()))
                .replace("{dd}", &format!("{:02}", date.day()))
        };
        match self {
            Self::Local(p) => Self::Local(PathBuf::from(fill(&p.to_string_lossy()))),
            Self::S3 { bucket, key } => Self::S3 {
                bucket: bucket.clone(),
                key: fill(key),
            },
        }
    }

    /// Whether the location names a day by a placeholder.
    pub fn has_placeholders(&self) -> bool {
        let text = self.to_string();
        ["{date}", "{yyyy}", "{mm}", "{dd}"]
            .iter()
            .any(|p| text.contains(p))
    }

    /// A child: `root/a/b`.
    pub fn join(&self, part: &str) -> Self {
        match self {
            Self::Local(p) => Self::Local(p.join(part)),
            Self::S3 { bucket, key } => Self::S3 {
                bucket: bucket.clone(),
                key: if key.is_empty() {
                    part.to_string()
                } else {
                    format!("{key}/{part}")
                },
            },
        }
    }

    /// The local path, if local.
    pub fn local(&self) -> Option<&Path> {
        match self {
            Self::Local(p) => Some(p),
            Self::S3 { .. } => None,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// One listed object or file: where it is, how large, and which version
/// (S3: its ETag; a file: its modification time; empty when not listed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Object {
    pub location: Location,
    pub size: u64,
    pub version: String,
}

impl Object {
    /// How the object is named in errors and reports (`s3://...` or a path).
    pub fn name(&self) -> PathBuf {
        PathBuf::from(self.location.to_string())
    }
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Object>,
    /// Names not read: hidden (`.`/`_`) and non-regular files, for the run report.
    pub skipped: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_placeholders() {
        let l = Location::parse("s3://logs-bucket/exports/{yyyy}/{mm}/{dd}/").unwrap();
        let d: NaiveDate = "2026-11-03".parse().unwrap();
        assert_eq!(
            l.for_date(d).to_string(),
            "s3://logs-bucket/exports/2026/11/03"
        );
        assert_eq!(
            Location::parse("out/{date}").unwrap().for_date(d),
            Location::Local("out/2026-11-03".into())
        );
        assert!(Location::parse("").is_err());
        assert!(Location::parse("s3://A_B/x").is_err());
        assert!(Location::parse("gs://bucket/x").is_err());
        // Issue 34.8: keys that name another place than they seem to.
        for bad in [
            "s3://bucket/../x",
            "s3://bucket//x",
            "s3://bucket/a//b",
            "s3://bucket/a/./b",
            "s3://bucket/a/..",
            "s3://bucket/my logs",
            "s3://bucket/tab\tx",
            "s3://bucket/a\\b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "s3://bucket",
            "s3://bucket/",
            "s3://bucket/a/b/",
            "s3://bucket/x/{date}/y=1",
        ] {
            assert!(Location::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            Location::parse("s3://bucket/a/b/").unwrap().to_string(),
            "s3://bucket/a/b"
        );
        assert_eq!(
            Location::parse("s3://bucket")
                .unwrap()
                .join("t")
                .to_string(),
            "s3://bucket/t"
        );
    }
}
