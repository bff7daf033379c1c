//! Reading a bundle's source map back: from a `bundle:line:column` in a JS stack or message to
//! the original file, line and column (and that line's text, when the map inlines sources), so
//! that run-time errors and load errors point at what the user wrote.

use swc_sourcemap::SourceMap;

/// A position in an original file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub line_text: Option<String>,
}

/// A bundle's source map, with the file name the bundle runs under.
#[derive(Debug)]
pub struct SourceMapper {
    bundle_name: String,
    map: SourceMap,
}

impl SourceMapper {
    pub fn new(bundle_name: impl Into<String>, map: SourceMap) -> SourceMapper {
        SourceMapper {
            bundle_name: bundle_name.into(),
            map,
        }
    }

    /// A source map read back from its JSON text (as written by [`crate::Bundle::map_json`]).
    pub fn from_json(bundle_name: impl Into<String>, json: &[u8]) -> Result<SourceMapper, String> {
        let map = SourceMap::from_slice(json).map_err(|e| format!("reading a source map: {e}"))?;
        Ok(SourceMapper::new(bundle_name, map))
    }

    /// The name positions in stacks are relative to (`index.bundle.js`).
    pub fn bundle_name(&self) -> &str {
        &self.bundle_name
    }

    pub fn map(&self) -> &SourceMap {
        &self.map
    }

    /// The original of bundle position `line:col` (1-based, as QuickJS prints them), when the
    /// map has a mapping on that bundle line at or before that column.
    pub fn original(&self, line: usize, col: usize) -> Option<Original> {
        let (line0, col0) = (line.checked_sub(1)? as u32, col.saturating_sub(1) as u32);
        // The last mapping at or before the column on that line, else the line's first one
        // (QuickJS may point at a statement's indentation).
        let token = match self.map.lookup_token(line0, col0) {
            Some(t) if t.get_dst_line() == line0 => t,
            _ => self.map.tokens().find(|t| t.get_dst_line() == line0)?,
        };
        let file = token.get_source()?.to_string();
        let src_line = token.get_src_line() as usize;
        let line_text = self
            .map
            .get_source_contents(token.get_src_id())
            .and_then(|text| text.lines().nth(src_line).map(str::to_owned));
        Some(Original {
            file,
            line: src_line + 1,
            col: token.get_src_col() as usize + 1,
            line_text,
        })
    }

    /// `text` with every `bundle:line:col` (or `bundle:line`) that the map knows replaced by the
    /// original `file:line:col`.
    pub fn rewrite(&self, text: &str) -> String {
        let needle = format!("{}:", self.bundle_name);
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(&needle) {
            out.push_str(&rest[..at]);
            let after = &rest[at + needle.len()..];
            let (line, used_line) = digits(after);
            let (col, used_col) = match after[used_line..].strip_prefix(':') {
                Some(c) if used_line > 0 => {
                    let (col, n) = digits(c);
                    (col, if n > 0 { n + 1 } else { 0 })
                }
                _ => (None, 0),
            };
            match line.and_then(|l| self.original(l, col.unwrap_or(1))) {
                Some(o) => {
                    out.push_str(&format!("{}:{}:{}", o.file, o.line, o.col));
                    rest = &after[used_line + used_col..];
                }
                None => {
                    out.push_str(&needle);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn digits(s: &str) -> (Option<usize>, usize) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (s[..n].parse().ok(), n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swc_sourcemap::SourceMapBuilder;

    fn mapper() -> SourceMapper {
        let mut b = SourceMapBuilder::new(None);
        let src = b.add_source("src/app.ts".into());
        b.set_source_contents(src, Some("line one\n  throw new Error('x');\n".into()));
        // Bundle line 5 (0-based 4), col 10 → app.ts line 2 (1), col 3 (2).
        b.add_raw(4, 9, 1, 2, Some(src), None, false);
        SourceMapper::new("index.bundle.js", b.into_sourcemap())
    }

    #[test]
    fn looks_up_original_positions_with_their_line() {
        let m = mapper();
        let o = m.original(5, 12).unwrap();
        assert_eq!((o.file.as_str(), o.line, o.col), ("src/app.ts", 2, 3));
        assert_eq!(o.line_text.as_deref(), Some("  throw new Error('x');"));
        assert_eq!(m.original(6, 1), None, "no mapping on that line");
    }

    #[test]
    fn rewrites_stacks() {
        let m = mapper();
        let stack = "Error: x\n    at handler (index.bundle.js:5:10)\n    at index.bundle.js:99:1\n    at other.js:5:10";
        assert_eq!(
            m.rewrite(stack),
            "Error: x\n    at handler (src/app.ts:2:3)\n    at index.bundle.js:99:1\n    at other.js:5:10"
        );
        assert_eq!(m.rewrite("index.bundle.js:5"), "src/app.ts:2:3");
        assert_eq!(m.rewrite("index.bundle.js:"), "index.bundle.js:");
    }
}
