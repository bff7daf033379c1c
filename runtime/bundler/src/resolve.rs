//! Resolution: from an import specifier and the importing file to a file on disk, a virtual
//! module the engine provides (left as an external import), or a bundled Node.js shim.
//!
//! Relative and absolute paths try the exact name, then the extensions (TypeScript first), then
//! `.js` → `.ts` (TypeScript's convention of importing `./x.js` for `./x.ts`), then a folder's
//! `package.json` `module`/`main` and `index` file. Bare specifiers search `node_modules` up the
//! directory tree as Node.js does; a package with `exports` is resolved only through them (with
//! the conditions of [`crate::Options::conditions`], `import` replaced by `require` for
//! `require()` calls); otherwise its `module`/`main` fields and plain subpaths apply.

use crate::errors::{BundleError, ErrorKind};
use crate::package::{PackageCache, match_map};
use std::path::{Path, PathBuf};

/// Modules the engine provides: imports of them stay in the bundle as ES imports.
pub const ENGINE_MODULES: &[&str] = &[
    "wasmedge-quickjs",
    "wasmedge-kv",
    "wasmedge-sqlite",
    "wasmedge-redis",
];

/// Node.js built-ins that Wisp bundles a small shim for (`node:events` or `events`).
pub const NODE_SHIMS: &[&str] = &["buffer", "events"];

/// Node.js built-in module names (without `node:`), to tell a user why one fails.
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "events",
    "fs",
    "fs/promises",
    "http",
    "http2",
    "https",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "querystring",
    "readline",
    "stream",
    "stream/web",
    "string_decoder",
    "timers",
    "tls",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "worker_threads",
    "zlib",
];

/// Extensions tried, in order, for a path without one.
pub const EXTENSIONS: &[&str] = &[
    ".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs", ".json",
];

/// Where a specifier leads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resolved {
    /// A file (canonical path).
    File(PathBuf),
    /// A module the engine provides, imported at run time.
    External(String),
    /// One of [`NODE_SHIMS`].
    Shim(&'static str),
}

/// Whether a specifier comes from `import` (and `export … from`, `import()`) or `require()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Import,
    Require,
}

/// A failed resolution, before it is given a location.
#[derive(Debug)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    pub notes: Vec<String>,
}

impl Failure {
    fn new(kind: ErrorKind, message: String) -> Failure {
        Failure {
            kind,
            message,
            notes: Vec::new(),
        }
    }
}

impl From<BundleError> for Failure {
    fn from(e: BundleError) -> Failure {
        Failure {
            kind: e.kind,
            message: e.message,
            notes: e.notes,
        }
    }
}

pub struct Resolver {
    conditions: Vec<String>,
    require_conditions: Vec<String>,
    packages: PackageCache,
}

impl Resolver {
    pub fn new(conditions: &[String]) -> Resolver {
        let require_conditions = conditions
            .iter()
            .map(|c| {
                if c == "import" {
                    "require".into()
                } else {
                    c.clone()
                }
            })
            .collect();
        Resolver {
            conditions: conditions.to_vec(),
            require_conditions,
            packages: PackageCache::default(),
        }
    }

    pub fn packages(&self) -> &PackageCache {
        &self.packages
    }

    /// Resolves `specifier` imported by the file `from`.
    pub fn resolve(
        &self,
        specifier: &str,
        from: &Path,
        kind: ImportKind,
    ) -> Result<Resolved, Failure> {
        if ENGINE_MODULES.contains(&specifier) {
            return Ok(Resolved::External(specifier.to_owned()));
        }
        if let Some(name) = specifier.strip_prefix("node:") {
            return node_builtin(name, specifier);
        }
        let dir = from.parent().unwrap_or(Path::new("/"));
        let conditions = match kind {
            ImportKind::Import => &self.conditions,
            ImportKind::Require => &self.require_conditions,
        };
        if is_path(specifier) {
            let mut looked = Vec::new();
            return match self.load_file_or_dir(&normalize(&dir.join(specifier)), &mut looked)? {
                Some(p) => Ok(Resolved::File(p)),
                None => Err(not_found(specifier, looked)),
            };
        }
        if specifier.starts_with('#') {
            return self.resolve_import_map(specifier, dir, conditions);
        }
        let (name, subpath) = split_package(specifier).ok_or_else(|| {
            Failure::new(
                ErrorKind::Unresolved,
                format!("'{specifier}' is not a valid module specifier"),
            )
        })?;
        let mut looked = Vec::new();
        for d in dir.ancestors() {
            if d.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            let pkg_dir = d.join("node_modules").join(name);
            if !pkg_dir.is_dir() {
                looked.push(format!("{} (no such folder)", pkg_dir.display()));
                continue;
            }
            return self.resolve_in_package(&pkg_dir, specifier, &subpath, conditions);
        }
        if NODE_BUILTINS.contains(&specifier) {
            return node_builtin(specifier, specifier);
        }
        let mut f = not_found(specifier, looked);
        f.notes.push(format!(
            "is '{name}' installed? Run `npm install` in the project folder"
        ));
        Err(f)
    }

    fn resolve_in_package(
        &self,
        pkg_dir: &Path,
        specifier: &str,
        subpath: &str,
        conditions: &[String],
    ) -> Result<Resolved, Failure> {
        let pkg = self.packages.get(pkg_dir)?;
        if let Some(pkg) = &pkg
            && let Some(exports) = &pkg.exports
        {
            let Some(target) = match_map(exports, subpath, conditions) else {
                let mut f = Failure::new(
                    ErrorKind::Package,
                    format!(
                        "'{subpath}' is not exported by {}/package.json for the conditions [{}]",
                        pkg_dir.display(),
                        conditions.join(", ")
                    ),
                );
                f.notes.push(format!(
                    "the package exports: {}",
                    pkg.export_keys().join(", ")
                ));
                return Err(f);
            };
            let file = pkg_dir.join(&target);
            return match file.canonicalize() {
                Ok(p) if p.is_file() => Ok(Resolved::File(p)),
                _ => Err(Failure::new(
                    ErrorKind::Package,
                    format!(
                        "{}/package.json maps '{subpath}' to '{target}', which does not exist",
                        pkg_dir.display()
                    ),
                )),
            };
        }
        let mut looked = Vec::new();
        let found = if subpath == "." {
            self.load_dir(pkg_dir, &mut looked)?
        } else {
            self.load_file_or_dir(&pkg_dir.join(subpath), &mut looked)?
        };
        found
            .map(Resolved::File)
            .ok_or_else(|| not_found(specifier, looked))
    }

    /// `#name` specifiers through the nearest `package.json` `imports`.
    fn resolve_import_map(
        &self,
        specifier: &str,
        dir: &Path,
        conditions: &[String],
    ) -> Result<Resolved, Failure> {
        let pkg = self.packages.nearest(dir)?;
        let target = pkg.as_ref().and_then(|p| {
            p.imports
                .as_ref()
                .and_then(|m| match_map(m, specifier, conditions))
        });
        match (pkg, target) {
            (Some(pkg), Some(t)) if t.starts_with("./") => {
                let mut looked = Vec::new();
                self.load_file_or_dir(&pkg.dir.join(&t), &mut looked)?
                    .map(Resolved::File)
                    .ok_or_else(|| not_found(specifier, looked))
            }
            (Some(pkg), Some(t)) => {
                self.resolve(&t, &pkg.dir.join("package.json"), ImportKind::Import)
            }
            _ => Err(Failure::new(
                ErrorKind::Unresolved,
                format!("'{specifier}' is not in the `imports` of the nearest package.json"),
            )),
        }
    }

    fn load_file_or_dir(
        &self,
        path: &Path,
        looked: &mut Vec<String>,
    ) -> Result<Option<PathBuf>, Failure> {
        if let Some(p) = load_file(path, looked) {
            return Ok(Some(p));
        }
        if path.is_dir() {
            return self.load_dir(path, looked);
        }
        Ok(None)
    }

    /// A folder: its `package.json` `module`/`main`, then `index` with each extension.
    fn load_dir(&self, dir: &Path, looked: &mut Vec<String>) -> Result<Option<PathBuf>, Failure> {
        if let Some(pkg) = self.packages.get(dir)? {
            for main in [&pkg.module, &pkg.main].into_iter().flatten() {
                let p = dir.join(main);
                if let Some(found) = load_file(&p, looked) {
                    return Ok(Some(found));
                }
                if p.is_dir()
                    && let Some(found) = load_file(&p.join("index"), looked)
                {
                    return Ok(Some(found));
                }
            }
        }
        Ok(load_file(&dir.join("index"), looked))
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_path(s: &str) -> bool {
    s.starts_with("./") || s.starts_with("../") || s.starts_with('/') || s == "." || s == ".."
}

/// `@scope/name/sub/path` → (`@scope/name`, `./sub/path`); `name` → (`name`, `.`).
pub fn split_package(spec: &str) -> Option<(&str, String)> {
    let mut parts = spec.splitn(3, '/');
    let first = parts.next().filter(|s| !s.is_empty())?;
    let name_len = if first.starts_with('@') {
        let second = parts.next().filter(|s| !s.is_empty())?;
        first.len() + 1 + second.len()
    } else {
        first.len()
    };
    let name = &spec[..name_len];
    let rest = &spec[name_len..];
    Some((
        name,
        if rest.is_empty() {
            ".".into()
        } else {
            format!(".{rest}")
        },
    ))
}

/// A file: the exact path, the path plus each extension, or `x.js` → `x.ts`.
fn load_file(path: &Path, looked: &mut Vec<String>) -> Option<PathBuf> {
    let found = |p: &Path| {
        p.is_file()
            .then(|| p.canonicalize().unwrap_or(p.to_path_buf()))
    };
    if let Some(p) = found(path) {
        return Some(p);
    }
    let s = path.as_os_str().to_string_lossy();
    let ts_twin = [
        (".js", ".ts"),
        (".js", ".tsx"),
        (".mjs", ".mts"),
        (".cjs", ".cts"),
    ]
    .iter()
    .filter_map(|(js, ts)| s.strip_suffix(js).map(|stem| format!("{stem}{ts}")));
    let with_ext = EXTENSIONS.iter().map(|e| format!("{s}{e}"));
    for candidate in with_ext.chain(ts_twin) {
        if let Some(p) = found(Path::new(&candidate)) {
            return Some(p);
        }
    }
    looked.push(format!("{s}{{,{}}}", EXTENSIONS.join(",")));
    None
}

fn not_found(specifier: &str, looked: Vec<String>) -> Failure {
    let mut f = Failure::new(
        ErrorKind::Unresolved,
        format!("cannot find module '{specifier}'"),
    );
    if !looked.is_empty() {
        f.notes
            .push(format!("looked in:\n      {}", looked.join("\n      ")));
    }
    f
}

fn node_builtin(name: &str, specifier: &str) -> Result<Resolved, Failure> {
    if let Some(shim) = NODE_SHIMS.iter().find(|s| **s == name) {
        return Ok(Resolved::Shim(shim));
    }
    let what = if NODE_BUILTINS.contains(&name) {
        "is a Node.js built-in module that Wisp does not provide"
    } else {
        "is not a Node.js built-in module"
    };
    let mut f = Failure::new(ErrorKind::Unsupported, format!("'{specifier}' {what}"));
    f.notes.push(format!(
        "Wisp provides: {}, and the engine modules {}",
        NODE_SHIMS
            .iter()
            .map(|s| format!("node:{s}"))
            .collect::<Vec<_>>()
            .join(", "),
        ENGINE_MODULES.join(", ")
    ));
    Err(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, rel: &str, text: &str) -> PathBuf {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    fn conditions() -> Vec<String> {
        crate::Options::default().conditions
    }

    #[test]
    fn splits_package_names() {
        assert_eq!(split_package("hono"), Some(("hono", ".".into())));
        assert_eq!(split_package("hono/cors"), Some(("hono", "./cors".into())));
        assert_eq!(split_package("@a/b/c/d"), Some(("@a/b", "./c/d".into())));
        assert_eq!(split_package("@a"), None);
    }

    #[test]
    fn relative_files_extensions_and_index() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        let main = write(&root, "src/main.ts", "");
        let util = write(&root, "src/util.ts", "");
        let lib = write(&root, "src/lib/index.js", "");
        let data = write(&root, "src/data.json", "{}");
        let r = Resolver::new(&conditions());
        let file = |s: &str| r.resolve(s, &main, ImportKind::Import).unwrap();
        assert_eq!(file("./util"), Resolved::File(util.clone()));
        assert_eq!(file("./util.js"), Resolved::File(util));
        assert_eq!(file("./lib"), Resolved::File(lib));
        assert_eq!(file("./data.json"), Resolved::File(data));
        let e = r.resolve("./nope", &main, ImportKind::Import).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unresolved);
        assert!(e.notes[0].contains("src/nope{,.ts"), "{:?}", e.notes);
    }

    #[test]
    fn packages_exports_conditions_and_fallbacks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        let main = write(&root, "app/src/index.js", "");
        write(
            &root,
            "app/node_modules/router/package.json",
            r#"{"exports":{".":{"require":"./r.cjs","worker":"./w.js","default":"./d.js"},"./cors":"./cors.js"}}"#,
        );
        let w = write(&root, "app/node_modules/router/w.js", "");
        let rq = write(&root, "app/node_modules/router/r.cjs", "");
        let cors = write(&root, "app/node_modules/router/cors.js", "");
        // Found two levels up, and a plain package with `main` one level above the project.
        write(
            &root,
            "node_modules/@s/old/package.json",
            r#"{"main":"lib/main"}"#,
        );
        let old = write(&root, "node_modules/@s/old/lib/main.js", "");
        let r = Resolver::new(&conditions());
        let res = |s: &str, k| r.resolve(s, &main, k);
        assert_eq!(
            res("router", ImportKind::Import).unwrap(),
            Resolved::File(w)
        );
        assert_eq!(
            res("router", ImportKind::Require).unwrap(),
            Resolved::File(rq)
        );
        assert_eq!(
            res("router/cors", ImportKind::Import).unwrap(),
            Resolved::File(cors)
        );
        assert_eq!(
            res("@s/old", ImportKind::Import).unwrap(),
            Resolved::File(old)
        );
        let e = res("router/secret", ImportKind::Import).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Package);
        assert!(e.notes[0].contains("./cors"), "{:?}", e.notes);
        let e = res("missing-pkg", ImportKind::Import).unwrap_err();
        assert!(
            e.notes[0].contains("app/src/node_modules/missing-pkg (no such folder)"),
            "{:?}",
            e.notes
        );
        assert!(e.notes[1].contains("npm install"));
    }

    #[test]
    fn virtual_modules_and_node_builtins() {
        let r = Resolver::new(&conditions());
        let from = Path::new("/nonexistent/index.js");
        assert_eq!(
            r.resolve("wasmedge-kv", from, ImportKind::Import).unwrap(),
            Resolved::External("wasmedge-kv".into())
        );
        assert_eq!(
            r.resolve("node:events", from, ImportKind::Import).unwrap(),
            Resolved::Shim("events")
        );
        assert_eq!(
            r.resolve("buffer", from, ImportKind::Require).unwrap(),
            Resolved::Shim("buffer")
        );
        let e = r.resolve("node:fs", from, ImportKind::Import).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(
            e.message.contains("'node:fs' is a Node.js built-in"),
            "{}",
            e.message
        );
        assert!(e.notes[0].contains("node:buffer, node:events"));
    }
}
