//! Reading a function's code from disk into what the engine evaluates at pre-initialisation.
//!
//! A single `.js`/`.mjs` file, or a folder with an entry file. Files with ES module syntax
//! (`import`/`export` at the start of a line, or a `.mjs` name) are evaluated as modules, the
//! rest as classic scripts. Imports other than Wisp's built-in modules need the bundler.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use wisp_abi::{InitInput, SourceKind};

/// Finds the entry file of `path` (a file, or a folder holding `index.js` and the like).
pub fn entry_file(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    for candidate in [
        "index.js",
        "index.mjs",
        "src/index.js",
        "src/index.mjs",
        "worker.js",
    ] {
        let p = path.join(candidate);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "{}: no entry file found (looked for index.js, index.mjs, src/index.js, src/index.mjs, worker.js)",
        path.display()
    )
}

/// Reads the function at `path` with its environment.
pub fn read(path: &Path, env: Vec<(String, String)>) -> Result<InitInput> {
    let entry = entry_file(path)?;
    let ext = entry.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "ts" | "mts" | "tsx" | "jsx") {
        bail!(
            "{}: .{ext} files need the bundler, which this build does not have yet; \
             compile to JavaScript first",
            entry.display()
        );
    }
    let source =
        std::fs::read_to_string(&entry).with_context(|| format!("reading {}", entry.display()))?;
    let filename = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index.js".into());
    let kind = match ext {
        "mjs" => SourceKind::Module,
        "cjs" => SourceKind::Script,
        _ if has_module_syntax(&source) => SourceKind::Module,
        _ => SourceKind::Script,
    };
    Ok(InitInput {
        bindings: Vec::new(),
        kind,
        filename,
        source,
        env,
    })
}

/// Whether a line starts with an `import` or `export` declaration (not `import(…)`).
pub fn has_module_syntax(source: &str) -> bool {
    let mut in_block_comment = false;
    for line in source.lines() {
        let mut l = line.trim_start();
        if in_block_comment {
            match l.find("*/") {
                Some(end) => {
                    in_block_comment = false;
                    l = l[end + 2..].trim_start();
                }
                None => continue,
            }
        }
        if l.starts_with("/*") && !l.contains("*/") {
            in_block_comment = true;
            continue;
        }
        for keyword in ["import", "export"] {
            if let Some(rest) = l.strip_prefix(keyword)
                && let Some(next) = rest.chars().next()
                && (next.is_whitespace() || matches!(next, '{' | '*' | '"' | '\''))
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_modules() {
        assert!(has_module_syntax("import { x } from 'y';"));
        assert!(has_module_syntax("// hi\nexport default { fetch() {} }"));
        assert!(has_module_syntax("export{a}"));
        assert!(!has_module_syntax("addEventListener('fetch', e => {});"));
        assert!(!has_module_syntax("const m = import('x');"));
        assert!(!has_module_syntax("/*\nimport x from 'y'\n*/\nfoo()"));
        assert!(!has_module_syntax("const important = 1;"));
    }
}
