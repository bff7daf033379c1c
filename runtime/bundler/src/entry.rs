//! Finding a project's entry file: a file is its own entry; a folder's entry is its
//! `package.json` `module` or `main` (when that file exists), else the first of
//! [`ENTRY_CANDIDATES`].

use crate::errors::{BundleError, ErrorKind};
use crate::package::Package;
use std::path::{Path, PathBuf};

/// Entry files looked for in a folder without a usable `package.json` entry.
pub const ENTRY_CANDIDATES: &[&str] = &[
    "index.ts",
    "index.mts",
    "index.js",
    "index.mjs",
    "src/index.ts",
    "src/index.mts",
    "src/index.js",
    "src/index.mjs",
    "worker.ts",
    "worker.js",
];

/// The entry file of `path`, canonicalised.
pub fn find(path: &Path) -> Result<PathBuf, BundleError> {
    if path.is_file() {
        return canonical(path);
    }
    if !path.exists() {
        return Err(BundleError::new(
            ErrorKind::Entry,
            format!("{}: no such file or folder", path.display()),
        ));
    }
    if let Ok(text) = std::fs::read_to_string(path.join("package.json")) {
        let pkg = Package::parse(path, &text)?;
        for field in [&pkg.module, &pkg.main].into_iter().flatten() {
            let p = path.join(field);
            if p.is_file() {
                return canonical(&p);
            }
        }
    }
    for candidate in ENTRY_CANDIDATES {
        let p = path.join(candidate);
        if p.is_file() {
            return canonical(&p);
        }
    }
    Err(BundleError::new(
        ErrorKind::Entry,
        format!(
            "{}: no entry file found (looked for package.json `module`/`main`, then {})",
            path.display(),
            ENTRY_CANDIDATES.join(", ")
        ),
    ))
}

fn canonical(p: &Path) -> Result<PathBuf, BundleError> {
    p.canonicalize()
        .map_err(|e| BundleError::new(ErrorKind::Io, format!("{}: {e}", p.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn package_main_then_candidates() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir_all(d.join("src")).unwrap();
        fs::write(d.join("src/index.ts"), "").unwrap();
        assert!(find(d).unwrap().ends_with("src/index.ts"));
        fs::write(d.join("package.json"), r#"{"main":"app.js"}"#).unwrap();
        assert!(
            find(d).unwrap().ends_with("src/index.ts"),
            "main does not exist yet"
        );
        fs::write(d.join("app.js"), "").unwrap();
        assert!(find(d).unwrap().ends_with("app.js"));
        let e = find(&d.join("src/nothing")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Entry);
        let empty = tempfile::tempdir().unwrap();
        assert!(
            find(empty.path())
                .unwrap_err()
                .to_string()
                .contains("no entry file found")
        );
    }
}
