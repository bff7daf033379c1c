//! Reading a function's code from disk into what the engine evaluates at pre-initialisation.
//!
//! An entry file (`.js`, `.mjs`, `.ts`, …) or a project folder goes through the bundler
//! (`wisp-bundler`): imports, npm packages, CommonJS, JSON and TypeScript become one ES module
//! with a source map. A plain JavaScript file without imports (other than Wisp's built-in
//! modules) is passed through unchanged, as a module or a classic script by its syntax.

use anyhow::{Result, anyhow};
use std::path::Path;
use std::sync::Arc;
use wisp_abi::{InitInput, SourceKind};
use wisp_bundler::{Bundle, OutputKind, SourceMapper};

/// A function's code, ready to load, with what maps its positions back to the user's files.
pub struct Source {
    pub input: InitInput,
    /// `None` when the code is the user's file unchanged.
    pub map: Option<Arc<SourceMapper>>,
    pub bundle: BundleInfo,
}

/// What the bundler did, for reports.
#[derive(Debug, Clone)]
pub struct BundleInfo {
    pub modules: usize,
    pub source_bytes: usize,
    pub elapsed: std::time::Duration,
}

/// Bundles the function at `path` (see [`wisp_bundler::bundle`]) with its environment.
pub fn load(path: &Path, env: Vec<(String, String)>) -> Result<Source> {
    let bundle = wisp_bundler::bundle(path, &wisp_bundler::Options::default())
        .map_err(|e| anyhow!("{} failed to bundle:\n{e}", path.display()))?;
    Ok(from_bundle(bundle, env))
}

/// The engine's input for a bundle.
pub fn from_bundle(bundle: Bundle, env: Vec<(String, String)>) -> Source {
    let bundle_info = BundleInfo {
        modules: bundle.modules.len(),
        source_bytes: bundle.source_bytes,
        elapsed: bundle.elapsed,
    };
    Source {
        input: InitInput {
            bindings: Vec::new(),
            kind: match bundle.kind {
                OutputKind::Module => SourceKind::Module,
                OutputKind::Script => SourceKind::Script,
            },
            filename: bundle.filename,
            source: bundle.code,
            env,
        },
        map: bundle.map.map(Arc::new),
        bundle: bundle_info,
    }
}

/// Reads the function at `path` with its environment (without its source map).
pub fn read(path: &Path, env: Vec<(String, String)>) -> Result<InitInput> {
    load(path, env).map(|s| s.input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_files_pass_through_and_typescript_is_bundled() {
        let dir = tempfile::tempdir().unwrap();
        let js = dir.path().join("index.js");
        let text = "addEventListener('fetch', (e) => e.respondWith(new Response('hi')));\n";
        std::fs::write(&js, text).unwrap();
        let s = load(&js, vec![]).unwrap();
        assert_eq!(s.input.kind, SourceKind::Script);
        assert_eq!(s.input.source, text);
        assert!(s.map.is_none());
        let esm = "import { EdgeResponse } from 'wasmedge-quickjs';\nexport default {};\n";
        std::fs::write(&js, esm).unwrap();
        assert_eq!(load(&js, vec![]).unwrap().input.kind, SourceKind::Module);

        let ts = dir.path().join("main.ts");
        std::fs::write(
            &ts,
            "export default { fetch(): Response { return new Response('ts'); } };\n",
        )
        .unwrap();
        let s = load(dir.path().join("main.ts").as_path(), vec![]).unwrap();
        assert_eq!(s.input.kind, SourceKind::Module);
        assert_eq!(s.input.filename, "main.bundle.js");
        assert!(!s.input.source.contains(": Response"));
        assert!(s.map.is_some());
    }
}
