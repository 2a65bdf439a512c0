//! Item paths in virtual folders: `/prod/aws/dev-creds`.
//!
//! Folders are implicit: they exist because an item's path passes through them.

use crate::ValidationError;
use std::fmt;

/// Longest accepted item path, in bytes.
const MAX_PATH_LEN: usize = crate::limits::NAME;

/// A normalized item path: one leading `/`, no trailing `/`, no empty, `.` or `..`
/// segments, printable characters only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemPath(String);

impl ItemPath {
    /// Parses a user-supplied name; `field` names the request field in errors.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        let mut segments = Vec::new();
        for segment in trimmed.split('/') {
            match segment {
                "" => continue,
                "." | ".." => {
                    return Err(ValidationError::new(
                        field,
                        "path segments '.' and '..' are not allowed",
                    ))
                }
                s if s.chars().any(|c| c.is_control()) => {
                    return Err(ValidationError::new(
                        field,
                        "control characters are not allowed",
                    ))
                }
                s if s.contains('*') => {
                    return Err(ValidationError::new(
                        field,
                        "'*' is reserved for access rules",
                    ))
                }
                s => segments.push(s),
            }
        }
        if segments.is_empty() {
            return Err(ValidationError::new(field, "must name an item, not '/'"));
        }
        let path = format!("/{}", segments.join("/"));
        if path.len() > MAX_PATH_LEN {
            return Err(ValidationError::new(
                field,
                format!("longer than {MAX_PATH_LEN} characters"),
            ));
        }
        Ok(Self(path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment: the item's own name without its folders.
    pub fn leaf(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for ItemPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalizes a folder given to `list-items` (`""`, `/`, `prod/`, `/prod/aws`).
pub fn normalize_folder(raw: &str) -> String {
    let inner: Vec<&str> = raw.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", inner.join("/"))
}

/// Where `item` sits relative to `folder`: directly inside it, inside one of its
/// sub-folders (returned as that sub-folder's full path), or elsewhere.
pub fn placement(folder: &str, item: &str) -> Placement {
    let prefix = if folder == "/" {
        "/".to_string()
    } else {
        format!("{folder}/")
    };
    let Some(rest) = item.strip_prefix(&prefix) else {
        return Placement::Outside;
    };
    match rest.find('/') {
        None => Placement::Direct,
        Some(i) => Placement::InSubfolder(format!("{prefix}{}", &rest[..i])),
    }
}

/// See [`placement`].
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    Direct,
    InSubfolder(String),
    Outside,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_slashes() {
        let p = ItemPath::parse("name", "prod//aws/dev-creds/").unwrap();
        assert_eq!(p.as_str(), "/prod/aws/dev-creds");
        assert_eq!(p.leaf(), "dev-creds");
    }

    #[test]
    fn rejects_bad_paths_naming_the_field() {
        for bad in ["", "/", "  ", "/a/../b", "/a/*/b", "/a/\u{7}"] {
            let err = ItemPath::parse("name", bad).unwrap_err();
            assert_eq!(err.field, "name", "{bad:?}");
        }
    }

    #[test]
    fn placement_in_folders() {
        assert_eq!(placement("/", "/a"), Placement::Direct);
        assert_eq!(
            placement("/", "/prod/aws/x"),
            Placement::InSubfolder("/prod".into())
        );
        assert_eq!(
            placement("/prod", "/prod/aws/x"),
            Placement::InSubfolder("/prod/aws".into())
        );
        assert_eq!(placement("/prod/aws", "/prod/aws/x"), Placement::Direct);
        assert_eq!(placement("/prod", "/production/x"), Placement::Outside);
        assert_eq!(normalize_folder("prod/aws/"), "/prod/aws");
        assert_eq!(normalize_folder(""), "/");
    }
}
