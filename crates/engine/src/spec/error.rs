//! Spec errors: every one names the file, line, column and key path.

use std::fmt;
use std::path::PathBuf;

use super::node::Mark;
use super::parse::ParseError;

/// A problem with a pipeline file, found before anything runs (exit 2).
#[derive(Debug, Clone, thiserror::Error)]
pub struct SpecError {
    /// Where, when known.
    pub mark: Option<Mark>,
    /// Dotted key path (`stages.rm.with.lr`), when known.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
    /// The file, when no mark is known.
    pub file: Option<PathBuf>,
}

impl SpecError {
    /// An error at a node.
    pub fn at(mark: &Mark, path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            mark: Some(mark.clone()),
            path: path.into(),
            message: message.into(),
            file: None,
        }
    }

    /// An error about a whole file.
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        SpecError {
            mark: None,
            path: String::new(),
            message: message.into(),
            file: Some(file.into()),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.mark, &self.file) {
            (Some(m), _) => write!(f, "{m}: ")?,
            (None, Some(p)) => write!(f, "{}: ", p.display())?,
            (None, None) => {}
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl From<ParseError> for SpecError {
    fn from(e: ParseError) -> Self {
        SpecError {
            mark: Some(e.mark),
            path: String::new(),
            message: e.message,
            file: None,
        }
    }
}

/// Joins a key path and a child key.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
