//! Compiled code on disk: Cranelift output (`.cwasm`) keyed by the content hash of what it was
//! compiled from, so that a restart with unchanged code maps the file instead of compiling.
//!
//! Files are written to a temporary name, synced and renamed, so a crash never leaves a
//! half-written entry; an entry that the current wasmtime refuses (another version or settings)
//! is recompiled and replaced.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

pub struct Cache {
    dir: PathBuf,
}

/// Whether a module came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cached,
    Compiled,
}

/// Creates `dir` and its missing parents readable by this user only: compiled snapshots hold a
/// function's environment, its secrets included. A folder that exists keeps its permissions.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates (or truncates) `path` as a file readable and writable by this user only.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Result<Cache> {
        let dir = dir.into();
        create_private_dir(&dir)
            .with_context(|| format!("creating the cache folder {}", dir.display()))?;
        Ok(Cache { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hex SHA-256 of the parts, separated so that ("ab","c") and ("a","bc") differ.
    pub fn key(parts: &[&[u8]]) -> String {
        let mut h = Sha256::new();
        h.update(b"wisp-cache-v1\0");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        hex::encode(h.finalize())
    }

    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The cached module for `key`, if there is a usable one.
    pub fn lookup(&self, engine: &Engine, key: &str) -> Option<Module> {
        let path = self.path(key);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file was written by `store` below from wasmtime's own serialisation, in a
        // folder this process owns; wasmtime checks the header (version, settings) and refuses
        // a mismatch, which we treat as a miss.
        match unsafe { Module::deserialize_file(engine, &path) } {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e:#}");
                None
            }
        }
    }

    /// Compiles `wasm`, writes it under `key` atomically, and returns the module mapped from
    /// the file (so its memory image can be mapped copy-on-write from the page cache).
    pub fn store(&self, engine: &Engine, key: &str, wasm: &[u8]) -> Result<Module> {
        let compiled = engine
            .precompile_module(wasm)
            .map_err(anyhow::Error::from)
            .context("compiling the module with Cranelift")?;
        let path = self.write(key, &compiled)?;
        // SAFETY: just written by `precompile_module` of this very engine.
        unsafe { Module::deserialize_file(engine, &path) }
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading {}", path.display()))
    }

    /// The cached component for `key`, if there is a usable one.
    pub fn lookup_component(&self, engine: &Engine, key: &str) -> Option<Component> {
        let path = self.path(key);
        if !path.is_file() {
            return None;
        }
        // SAFETY: as in `lookup`: written by `store_component` from wasmtime's serialisation,
        // and wasmtime refuses (as a miss here) an entry from another version or settings.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e:#}");
                None
            }
        }
    }

    /// Caches a component compiled by `engine.precompile_component` under `key` atomically,
    /// and returns it mapped from the file.
    pub fn store_component(
        &self,
        engine: &Engine,
        key: &str,
        compiled: &[u8],
    ) -> Result<Component> {
        let path = self.write(key, compiled)?;
        // SAFETY: the caller compiled it with `precompile_component` of this very engine.
        unsafe { Component::deserialize_file(engine, &path) }
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading {}", path.display()))
    }

    /// Writes an entry under a temporary name, syncs and renames it into place.
    fn write(&self, key: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path(key);
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let mut file =
            create_private_file(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(path)
    }

    /// The module for `wasm` under `name`: from the cache, or compiled and cached.
    pub fn module(&self, engine: &Engine, name: &str, wasm: &[u8]) -> Result<Module> {
        let key = Self::key(&[name.as_bytes(), wasm]);
        match self.lookup(engine, &key) {
            Some(m) => Ok(m),
            None => self.store(engine, &key, wasm),
        }
    }
}

/// Cranelift's per-function incremental cache, on disk beside the modules.
///
/// Every snapshot of a function carries the same engine code; only its data differs. With this
/// store, compiling a new snapshot reuses the machine code of every Wasm function compiled
/// before (by this or an earlier process), so a deploy costs the snapshot, not a full compile.
#[derive(Debug)]
pub struct IncrementalStore {
    dir: PathBuf,
}

impl IncrementalStore {
    pub fn new(cache_dir: &Path) -> Result<IncrementalStore> {
        let dir = cache_dir.join("functions");
        create_private_dir(&dir)
            .with_context(|| format!("creating the cache folder {}", dir.display()))?;
        Ok(IncrementalStore { dir })
    }

    fn path(&self, key: &[u8]) -> PathBuf {
        self.dir.join(hex::encode(Sha256::digest(key)))
    }
}

impl wasmtime::CacheStore for IncrementalStore {
    fn get(&self, key: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
        std::fs::read(self.path(key))
            .ok()
            .map(std::borrow::Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let path = self.path(key);
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, &value).is_ok() && std::fs::rename(&tmp, &path).is_ok()
    }
}
