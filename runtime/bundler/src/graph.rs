//! The module graph: starting from the entry, load and transform each module once, resolve its
//! dependencies, and give every bundled module a numeric id (the entry is 0). Imports of engine
//! modules are collected as externals. The first unresolvable import stops the walk with an
//! error at the import's position (a `require()` inside `try` is left to fail at run time, the
//! way optional dependencies are written).

use crate::errors::{BundleError, ErrorKind, Location};
use crate::imports::{self, Dependency, ImportKind};
use crate::load::{self, Lang};
use crate::resolve::{Resolved, Resolver};
use crate::transform;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use swc_core::common::{FileName, SourceFile, SourceMap, sync::Lrc};
use swc_core::ecma::ast::Stmt;

/// The node shims' sources, compiled into the bundler.
fn shim_source(name: &str) -> &'static str {
    match name {
        "buffer" => include_str!("../shims/buffer.js"),
        "events" => include_str!("../shims/events.js"),
        other => unreachable!("no shim for {other}"),
    }
}

/// What a module is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModuleKey {
    File(PathBuf),
    Shim(&'static str),
}

/// One bundled module.
pub struct ModuleRecord {
    pub key: ModuleKey,
    /// The name users see (relative to the working folder when possible).
    pub display: String,
    /// The body of its registry function.
    pub body: Vec<Stmt>,
    /// Bytes of source it was made from.
    pub source_bytes: usize,
    /// An ES module (its imports need the loader's CommonJS interop).
    pub is_esm: bool,
}

pub struct Graph {
    /// Index = module id; the entry is 0.
    pub modules: Vec<ModuleRecord>,
    /// Engine modules imported anywhere (`wasmedge-kv`, …), in a stable order.
    pub externals: BTreeSet<String>,
    /// The entry's text, whether it is an ES module, and whether it has any dependency that
    /// needs bundling: a plain JS entry without one can be handed to the engine unchanged.
    pub entry_text: String,
    pub entry_is_module: bool,
    pub entry_needs_bundling: bool,
}

/// `path` as a user should read it: relative to the working folder if inside it.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.canonicalize().ok());
    match cwd.as_deref().and_then(|d| path.strip_prefix(d).ok()) {
        Some(rel) => rel.display().to_string(),
        None => path.display().to_string(),
    }
}

pub fn build(cm: &Lrc<SourceMap>, entry: &Path, resolver: &Resolver) -> Result<Graph, BundleError> {
    let entry_key = ModuleKey::File(entry.to_path_buf());
    let mut ids: HashMap<ModuleKey, usize> = HashMap::from([(entry_key.clone(), 0)]);
    let mut queue = VecDeque::from([(0usize, entry_key)]);
    let mut modules: Vec<Option<ModuleRecord>> = vec![None];
    let mut externals = BTreeSet::new();
    let mut entry_info = (String::new(), false, false);

    while let Some((id, key)) = queue.pop_front() {
        let (fm, lang, display, path) = match &key {
            ModuleKey::File(p) => {
                let display = display_path(p);
                (
                    load::read(cm, p, &display)?,
                    Lang::of(p),
                    display,
                    p.clone(),
                )
            }
            ModuleKey::Shim(name) => {
                let display = format!("node:{name}");
                let fm = cm.new_source_file(
                    Lrc::new(FileName::Custom(display.clone())),
                    shim_source(name),
                );
                (
                    fm,
                    Lang::Js,
                    display,
                    PathBuf::from(format!("/node:{name}")),
                )
            }
        };
        let mut program = load::parse(cm, &fm, lang, &display)?;
        let marks = transform::prepare(&mut program, lang);
        let is_module = program.is_module();
        let mut error: Option<BundleError> = None;
        let mut needs_bundling = lang != Lang::Js;
        let url = format!("file://{}", path.display());
        imports::rewrite(
            &mut program,
            marks.unresolved_ctxt(),
            &url,
            |dep: Dependency| {
                if error.is_some() {
                    return None;
                }
                match resolver.resolve(dep.specifier, &path, dep.kind) {
                    Ok(Resolved::External(name)) => {
                        if dep.kind == ImportKind::Require || !is_module {
                            needs_bundling = true;
                        }
                        externals.insert(name);
                        None
                    }
                    Ok(found) => {
                        needs_bundling = true;
                        let key = match found {
                            Resolved::File(p) => ModuleKey::File(p),
                            Resolved::Shim(s) => ModuleKey::Shim(s),
                            Resolved::External(_) => unreachable!(),
                        };
                        let next = ids.len();
                        let dep_id = *ids.entry(key.clone()).or_insert_with(|| {
                            queue.push_back((next, key));
                            next
                        });
                        Some(dep_id.to_string())
                    }
                    Err(_) if dep.kind == ImportKind::Require && dep.in_try => {
                        needs_bundling = true;
                        None
                    }
                    Err(f) => {
                        let mut e = BundleError::new(
                            f.kind,
                            format!("{} (imported by {display})", f.message),
                        )
                        .at(Location::of_span(cm, dep.span, &display));
                        e.notes = f.notes;
                        error = Some(e);
                        None
                    }
                }
            },
        );
        if let Some(e) = error {
            return Err(e);
        }
        if id == 0 {
            entry_info = (fm.src.to_string(), is_module, needs_bundling);
        }
        let source_bytes = source_len(&fm);
        let body = transform::finish(program, &marks);
        if modules.len() <= id {
            modules.resize_with(id + 1, || None);
        }
        modules[id] = Some(ModuleRecord {
            key,
            display,
            body,
            source_bytes,
            is_esm: is_module,
        });
    }
    let modules = modules
        .into_iter()
        .map(|m| {
            m.ok_or_else(|| {
                BundleError::new(
                    ErrorKind::Io,
                    "internal error: a module id was never loaded",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Graph {
        modules,
        externals,
        entry_text: entry_info.0,
        entry_is_module: entry_info.1,
        entry_needs_bundling: entry_info.2,
    })
}

fn source_len(fm: &SourceFile) -> usize {
    fm.src.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use swc_core::common::{GLOBALS, Globals};

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn build_at(root: &Path, entry: &str) -> Result<Graph, BundleError> {
        let cm: Lrc<SourceMap> = Default::default();
        let resolver = Resolver::new(&crate::Options::default().conditions);
        let entry = root.join(entry).canonicalize().unwrap();
        GLOBALS.set(&Globals::new(), || build(&cm, &entry, &resolver))
    }

    #[test]
    fn ids_externals_and_shared_modules() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        write(
            root,
            "main.ts",
            "import kv from 'wasmedge-kv';\nimport { a } from './a';\nimport { b } from './b';\nexport default { a, b, kv };\n",
        );
        write(root, "a.js", "export { b as a } from './b.js';\n");
        write(
            root,
            "b.js",
            "let pkg; try { pkg = require('./nope.json'); } catch {}\nmodule.exports.b = 1;\n",
        );
        let g = build_at(root, "main.ts").unwrap();
        let names: Vec<_> = g
            .modules
            .iter()
            .map(|m| m.display.rsplit('/').next().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["main.ts", "a.js", "b.js"], "b.js is loaded once");
        assert_eq!(g.externals.iter().collect::<Vec<_>>(), ["wasmedge-kv"]);
        assert!(g.entry_needs_bundling);
        assert!(g.modules[0].is_esm && g.modules[1].is_esm && !g.modules[2].is_esm);
    }

    #[test]
    fn a_plain_entry_with_only_engine_imports_needs_no_bundling() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "index.js",
            "import { EdgeResponse } from 'wasmedge-quickjs';\nexport default {};\n",
        );
        let g = build_at(t.path(), "index.js").unwrap();
        assert!(!g.entry_needs_bundling && g.entry_is_module);
        assert!(g.entry_text.starts_with("import { EdgeResponse }"));
        write(t.path(), "index.js", "const x = require('./x');\n");
        write(t.path(), "x.js", "module.exports = 1;\n");
        assert!(build_at(t.path(), "index.js").unwrap().entry_needs_bundling);
    }

    #[test]
    fn the_first_failure_is_located_at_its_specifier() {
        let t = tempfile::tempdir().unwrap();
        write(
            t.path(),
            "index.js",
            "import './ok.js';\n  import x from './missing';\n",
        );
        write(t.path(), "ok.js", "");
        let Err(e) = build_at(t.path(), "index.js") else {
            panic!("a missing import must fail the build");
        };
        assert_eq!(e.kind, ErrorKind::Unresolved);
        let loc = e.location.unwrap();
        assert_eq!((loc.line, loc.col), (2, 17));
        assert!(
            e.message.starts_with("cannot find module './missing'"),
            "{}",
            e.message
        );
    }
}
