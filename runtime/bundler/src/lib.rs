//! Wisp's bundler: turns a function's project (an entry file or folder; ES modules, CommonJS,
//! JSON and TypeScript; packages from `node_modules`) into one ES module for the engine, with a
//! source map back to the original files.
//!
//! Pipeline, one module per stage: [`entry`] finds the entry file → [`graph`] walks the imports
//! from it, for each file [`load`] (read, parse), [`transform`] (strip TypeScript, rewrite
//! specifiers found by [`imports`] and resolved by [`resolve`]/[`package`], ES module →
//! registry function) → [`emit`] prints the registry and the entry's exports with a
//! [`sourcemap`]. Failures are [`errors::BundleError`]s that point at the line.

pub mod emit;
pub mod entry;
pub mod errors;
pub mod graph;
pub mod imports;
pub mod load;
pub mod package;
pub mod resolve;
pub mod sourcemap;
pub mod transform;

pub use errors::{BundleError, ErrorKind};
pub use sourcemap::SourceMapper;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use swc_core::common::{GLOBALS, Globals, SourceMap, sync::Lrc};

/// How to bundle.
#[derive(Debug, Clone)]
pub struct Options {
    /// Active `package.json` `exports` conditions (the package's key order decides among them;
    /// `import` becomes `require` for `require()` calls).
    pub conditions: Vec<String>,
    /// Print without whitespace (swc's compact codegen; names are not mangled).
    pub minify: bool,
    /// Put each original file's text in the source map (for excerpts of run-time errors).
    pub sources_content: bool,
    /// Always bundle, even a plain JavaScript entry without imports.
    pub force: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            conditions: ["workerd", "worker", "browser", "import", "default"]
                .map(String::from)
                .to_vec(),
            minify: false,
            sources_content: true,
            force: false,
        }
    }
}

/// Whether the engine evaluates the output as an ES module or a classic script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    Module,
    Script,
}

/// A bundled function.
#[derive(Debug)]
pub struct Bundle {
    /// The entry file.
    pub entry: PathBuf,
    /// The name the engine runs the code under (stack positions are relative to it).
    pub filename: String,
    pub code: String,
    pub kind: OutputKind,
    /// `None` when the entry was passed through unchanged (it is its own map).
    pub map: Option<SourceMapper>,
    /// Display names of the bundled modules, entry first.
    pub modules: Vec<String>,
    /// Engine modules the bundle imports.
    pub externals: Vec<String>,
    /// Bytes of all the source files that went in.
    pub source_bytes: usize,
    pub elapsed: Duration,
}

impl Bundle {
    /// The source map as JSON text.
    pub fn map_json(&self) -> Option<String> {
        let mut out = Vec::new();
        self.map.as_ref()?.map().to_writer(&mut out).ok()?;
        String::from_utf8(out).ok()
    }
}

/// Bundles the project at `path` (an entry file, or a folder: see [`entry::find`]).
///
/// A plain JavaScript entry with no dependency to bundle (no imports other than engine modules,
/// no `require`, no TypeScript) is returned unchanged, so a one-file function runs exactly as
/// written; everything else becomes one ES module.
pub fn bundle(path: &Path, options: &Options) -> Result<Bundle, BundleError> {
    let started = Instant::now();
    let entry = entry::find(path)?;
    let root = if path.is_dir() {
        path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
    } else {
        entry.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let entry_name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "index.js".into());
    let cm: Lrc<SourceMap> = Default::default();
    let resolver = resolve::Resolver::new(&options.conditions);
    GLOBALS.set(&Globals::new(), || {
        let graph = graph::build(&cm, &entry, &resolver)?;
        let modules: Vec<String> = graph.modules.iter().map(|m| m.display.clone()).collect();
        let externals: Vec<String> = graph.externals.iter().cloned().collect();
        let source_bytes = graph.modules.iter().map(|m| m.source_bytes).sum();
        if !graph.entry_needs_bundling && !options.force {
            return Ok(Bundle {
                kind: if graph.entry_is_module {
                    OutputKind::Module
                } else {
                    OutputKind::Script
                },
                code: graph.entry_text,
                filename: entry_name,
                entry,
                map: None,
                modules,
                externals,
                source_bytes,
                elapsed: started.elapsed(),
            });
        }
        let stem = entry_name.split('.').next().unwrap_or("index");
        let filename = format!("{stem}.bundle.js");
        let out = emit::emit(&cm, graph, &root, options.minify, options.sources_content)
            .map_err(|e| BundleError::new(ErrorKind::Io, format!("printing the bundle: {e}")))?;
        Ok(Bundle {
            entry,
            map: Some(SourceMapper::new(filename.clone(), out.map)),
            filename,
            code: out.code,
            kind: OutputKind::Module,
            modules,
            externals,
            source_bytes,
            elapsed: started.elapsed(),
        })
    })
}
