//! Bundle errors: what went wrong, where (file, line, column, the line itself with a caret) and
//! what a person can do about it (the places a resolver looked, the supported alternatives).

use std::fmt;
use swc_core::common::{SourceMap, Span};

/// What kind of failure a [`BundleError`] is; tests and callers match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No entry file in a folder, or the entry does not exist.
    Entry,
    /// A file could not be read.
    Io,
    /// JavaScript, TypeScript or JSON that does not parse.
    Syntax,
    /// An import or `require` that names no file, package or virtual module.
    Unresolved,
    /// A Node.js built-in module that Wisp does not provide.
    Unsupported,
    /// A `package.json` that is malformed or whose `exports` do not allow the import.
    Package,
}

/// A place in a source file, 1-based, with the text of its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub line_text: String,
}

impl Location {
    /// The location of the start of `span` in `cm`, with `file` as the name to print.
    pub fn of_span(cm: &SourceMap, span: Span, file: &str) -> Location {
        let loc = cm.lookup_char_pos(span.lo);
        let line_text = loc
            .file
            .get_line(loc.line.saturating_sub(1))
            .map(|l| l.trim_end_matches(['\r', '\n']).to_owned())
            .unwrap_or_default();
        Location {
            file: file.to_owned(),
            line: loc.line,
            col: loc.col.0 + 1,
            line_text,
        }
    }

    /// ` 12 | the line\n    |     ^`: the excerpt printed under a message.
    pub fn excerpt(&self) -> String {
        let gutter = self.line.to_string();
        let pad = " ".repeat(gutter.len());
        // Keep tabs so that the caret lines up with the text above it.
        let caret: String = self
            .line_text
            .chars()
            .take(self.col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(" {gutter} | {}\n {pad} | {caret}^", self.line_text)
    }
}

/// Why a project could not be bundled. `Display` gives `file:line:col: message`, the excerpt,
/// and one `  = note` line per hint.
#[derive(Debug, Clone)]
pub struct BundleError {
    pub kind: ErrorKind,
    pub message: String,
    pub location: Option<Location>,
    pub notes: Vec<String>,
}

impl BundleError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> BundleError {
        BundleError {
            kind,
            message: message.into(),
            location: None,
            notes: Vec::new(),
        }
    }

    pub fn at(mut self, location: Location) -> BundleError {
        self.location = Some(location);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> BundleError {
        self.notes.push(note.into());
        self
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(
                f,
                "{}:{}:{}: {}\n{}",
                loc.file,
                loc.line,
                loc.col,
                self.message,
                loc.excerpt()
            )?,
            None => write!(f, "{}", self.message)?,
        }
        for note in &self.notes {
            write!(f, "\n  = {note}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BundleError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_excerpt_and_notes() {
        let e = BundleError::new(ErrorKind::Unresolved, "cannot find module 'x'")
            .at(Location {
                file: "src/a.ts".into(),
                line: 3,
                col: 16,
                line_text: "import y from 'x';".into(),
            })
            .note("looked in: node_modules/x");
        assert_eq!(
            e.to_string(),
            "src/a.ts:3:16: cannot find module 'x'\n 3 | import y from 'x';\n   |                ^\n  = looked in: node_modules/x"
        );
    }

    #[test]
    fn caret_keeps_tabs() {
        let loc = Location {
            file: "a.js".into(),
            line: 10,
            col: 3,
            line_text: "\t\tx(;".into(),
        };
        assert_eq!(loc.excerpt(), " 10 | \t\tx(;\n    | \t\t^");
    }
}
