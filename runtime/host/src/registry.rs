//! The registry: every deployed version of every function, in the data directory, and which
//! version of each is active. It survives restarts; the compiled snapshots themselves live in
//! the content-hash cache ([`crate::cache`]), so a restart maps them instead of compiling.
//!
//! ```text
//! <data_dir>/functions/<name>/active              the active version number ("3\n")
//! <data_dir>/functions/<name>/versions/<n>/meta.json      a Version (settings, hashes, sizes)
//! <data_dir>/functions/<name>/versions/<n>/upload         the upload as received
//! <data_dir>/functions/<name>/versions/<n>/bundle.js      what the engine evaluates
//! <data_dir>/functions/<name>/versions/<n>/bundle.js.map  its source map, when bundled
//! <data_dir>/functions/.tmp/                              work folders, emptied at start
//! ```
//!
//! Crash safety: a version is written into a work folder, every file synced, then the folder
//! is renamed into `versions/` and the parent synced; the `active` pointer is replaced by
//! writing a temporary file, syncing it, renaming it over the old one and syncing the folder.
//! A crash at any point leaves either the old active version or the new one, never a torn one.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether `name` can name a function: lowercase letters, digits and `-`, 1–63 characters,
/// not starting with `-` (it is a path segment, a DNS label and a file name).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        bail!(
            "invalid function name {name:?}: use 1-63 lowercase letters, digits and '-', \
             not starting with '-'"
        );
    }
    Ok(())
}

/// The settings of one version, as given at deploy time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `process.env` and the module `env` argument.
    pub env: BTreeMap<String, String>,
    /// Like `env`, but never shown by the API.
    pub secrets: BTreeMap<String, String>,
    /// Wall-clock limit per request; at most the server's `[runtime] timeout_ms`.
    pub timeout_ms: Option<u64>,
    /// Linear memory per instance in 64 KiB pages; at most `[runtime] max_memory_pages`.
    pub max_memory_pages: Option<u32>,
    /// Hosts outbound `fetch` may reach (`host`, `host:port`, `*.domain`).
    pub allow_net: Vec<String>,
    /// Extra routes: `HOST/PATH`, `HOST/PREFIX/*`, with `*` as HOST for any host.
    pub routes: Vec<String>,
    /// For a single-file upload, its file name (default `index.js`; `.ts` for TypeScript);
    /// for a project, the entry file inside it (default: found as `wisp run` finds it).
    pub entry: Option<String>,
}

impl Settings {
    /// The settings with every secret's value replaced.
    pub fn redacted(&self) -> Settings {
        let mut s = self.clone();
        for v in s.secrets.values_mut() {
            *v = "[redacted]".into();
        }
        s
    }

    /// The function's environment: `env`, then `secrets` (a secret wins over an env var).
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut all = self.env.clone();
        all.extend(self.secrets.clone());
        all.into_iter().collect()
    }

    /// Checks the settings against the server's limits.
    pub fn validate(&self, config: &crate::config::Config) -> Result<()> {
        for k in self.env.keys().chain(self.secrets.keys()) {
            if k.is_empty() || k.contains(['=', '\0']) || k.contains(char::is_whitespace) {
                bail!("settings: invalid environment variable name {k:?}");
            }
        }
        if let Some(t) = self.timeout_ms
            && (t == 0 || t > config.runtime.timeout_ms)
        {
            bail!(
                "settings: timeout_ms must be from 1 to the server's limit of {} ms, got {t}",
                config.runtime.timeout_ms
            );
        }
        if let Some(p) = self.max_memory_pages
            && (p == 0 || p > config.runtime.max_memory_pages)
        {
            bail!(
                "settings: max_memory_pages must be from 1 to the server's limit of {}, got {p}",
                config.runtime.max_memory_pages
            );
        }
        for r in &self.routes {
            crate::router::Route::parse(r)?;
        }
        crate::net::AllowList::parse(&self.allow_net).context("settings: allow_net")?;
        if let Some(e) = &self.entry {
            crate::archive::safe_path(e).context("settings: entry")?;
        }
        Ok(())
    }
}

/// One deployed version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub version: u64,
    /// RFC 3339, UTC.
    pub created: String,
    /// What was uploaded: `file`, `tar.gz` or `zip`.
    pub upload_kind: String,
    /// SHA-256 of the upload, hex.
    pub upload_sha256: String,
    pub upload_bytes: u64,
    pub bundle_bytes: u64,
    /// The name the engine runs the bundle under.
    pub filename: String,
    /// `module` or `script`.
    pub source_kind: String,
    /// The compiled snapshot's cache key ([`crate::function::Function::hash`]).
    pub snapshot_hash: String,
    pub settings: Settings,
}

/// A version's code as the engine gets it.
pub struct Code {
    pub source: String,
    pub map: Option<Vec<u8>>,
}

pub struct Registry {
    root: PathBuf,
    /// Held for the registry's life: one `wisp serve` owns a data folder (a second one would
    /// clear the first's deploys in progress, and both would write the same versions).
    _owner: std::fs::File,
}

impl Registry {
    /// Opens (or makes) the registry under `data_dir`, removing work folders of interrupted
    /// deploys.
    pub fn open(data_dir: &Path) -> Result<Registry> {
        let root = data_dir.join("functions");
        // Versions hold their settings, secrets included: this user's only.
        crate::cache::create_private_dir(&root)
            .with_context(|| format!("creating the registry folder {}", root.display()))?;
        let owner = lock_owner(&root.join(".lock"))?;
        let tmp = root.join(".tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("removing interrupted deploys in {}", tmp.display()))?;
        }
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("creating the registry folder {}", root.display()))?;
        Ok(Registry {
            root,
            _owner: owner,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn version_dir(&self, name: &str, version: u64) -> PathBuf {
        self.dir(name).join("versions").join(version.to_string())
    }

    /// A fresh, empty work folder on the registry's file system (removed when dropped).
    pub fn work_dir(&self) -> Result<WorkDir> {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random name: {e}"))?;
        let path = self.root.join(".tmp").join(hex::encode(b));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating the work folder {}", path.display()))?;
        Ok(WorkDir(path))
    }

    /// Functions that have an active version, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root)
            .with_context(|| format!("listing {}", self.root.display()))?
        {
            let name = entry?.file_name().to_string_lossy().into_owned();
            // A corrupt pointer is listed: whoever reads it reports the error for that name.
            if validate_name(&name).is_ok() && !matches!(self.active(&name), Ok(None)) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every function folder, active or not (a crash between storing a first version and
    /// activating it leaves one without `active`).
    pub fn all_names(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root)
            .with_context(|| format!("listing {}", self.root.display()))?
        {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if validate_name(&name).is_ok() {
                out.push(name);
            }
        }
        Ok(out)
    }

    pub fn active(&self, name: &str) -> Result<Option<u64>> {
        let path = self.dir(name).join("active");
        match std::fs::read_to_string(&path) {
            Ok(s) => s
                .trim()
                .parse()
                .map(Some)
                .with_context(|| format!("{} is corrupt: {s:?}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Every complete version of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Version>> {
        let dir = self.dir(name).join("versions");
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
        };
        for entry in entries {
            let n = entry?.file_name().to_string_lossy().into_owned();
            if let Ok(n) = n.parse::<u64>() {
                out.push(self.version(name, n)?);
            }
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }

    pub fn version(&self, name: &str, version: u64) -> Result<Version> {
        let path = self.version_dir(name, version).join("meta.json");
        let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn exists(&self, name: &str, version: u64) -> bool {
        self.version_dir(name, version).join("meta.json").is_file()
    }

    /// Where a stored version's upload is (a component is loaded from it as uploaded).
    pub fn upload_path(&self, name: &str, version: u64) -> PathBuf {
        self.version_dir(name, version).join("upload")
    }

    pub fn code(&self, name: &str, version: u64) -> Result<Code> {
        let dir = self.version_dir(name, version);
        let source = std::fs::read_to_string(dir.join("bundle.js"))
            .with_context(|| format!("reading {}", dir.join("bundle.js").display()))?;
        let map = std::fs::read(dir.join("bundle.js.map")).ok();
        Ok(Code { source, map })
    }

    /// The number the next version of `name` gets.
    pub fn next_version(&self, name: &str) -> Result<u64> {
        Ok(self.versions(name)?.last().map_or(1, |v| v.version + 1))
    }

    /// Writes a complete version (not yet active).
    pub fn write_version(
        &self,
        name: &str,
        meta: &Version,
        upload: &[u8],
        code: &Code,
    ) -> Result<()> {
        let work = self.work_dir()?;
        write_synced(&work.0.join("upload"), upload)?;
        write_synced(&work.0.join("bundle.js"), code.source.as_bytes())?;
        if let Some(map) = &code.map {
            write_synced(&work.0.join("bundle.js.map"), map)?;
        }
        write_synced(
            &work.0.join("meta.json"),
            &serde_json::to_vec_pretty(meta).context("encoding the version")?,
        )?;
        sync_dir(&work.0)?;
        let versions = self.dir(name).join("versions");
        std::fs::create_dir_all(&versions)
            .with_context(|| format!("creating {}", versions.display()))?;
        let target = versions.join(meta.version.to_string());
        if target.exists() {
            bail!("{} already exists", target.display());
        }
        std::fs::rename(&work.0, &target)
            .with_context(|| format!("moving the new version to {}", target.display()))?;
        sync_dir(&versions)?;
        sync_dir(&self.root)?;
        std::mem::forget(work);
        Ok(())
    }

    /// Makes `version` the active one, atomically.
    pub fn activate(&self, name: &str, version: u64) -> Result<()> {
        if !self.exists(name, version) {
            bail!("{name} has no version {version}");
        }
        write_atomic(
            &self.dir(name).join("active"),
            format!("{version}\n").as_bytes(),
        )
    }

    /// Removes `name` and all its versions; `false` when it did not exist. The active pointer
    /// goes first, so a crash half-way leaves a function that is simply not served.
    pub fn delete(&self, name: &str) -> Result<bool> {
        let dir = self.dir(name);
        if !dir.exists() {
            return Ok(false);
        }
        let active = dir.join("active");
        if active.exists() {
            std::fs::remove_file(&active)
                .with_context(|| format!("removing {}", active.display()))?;
            sync_dir(&dir)?;
        }
        let work = self.work_dir()?;
        let grave = work.0.join("deleted");
        std::fs::rename(&dir, &grave).with_context(|| format!("removing {}", dir.display()))?;
        sync_dir(&self.root)?;
        drop(work);
        Ok(true)
    }
}

/// A work folder, removed with its contents when dropped.
pub struct WorkDir(PathBuf);

impl WorkDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Takes the registry's lock file, or says which folder another process serves.
fn lock_owner(path: &Path) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor this function owns; the lock goes with the file.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        anyhow::bail!(
            "the data folder {} is in use by another wisp serve (one server owns a data folder)",
            path.parent()
                .and_then(Path::parent)
                .unwrap_or(path)
                .display()
        );
    }
    Ok(file)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = crate::cache::create_private_file(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the folder {}", dir.display()))
}

/// Replaces `path` with `bytes`: a temporary file, synced, renamed over it, the folder synced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file path has a parent")?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    write_synced(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        for ok in ["a", "hello", "my-fn-2", "0", &"a".repeat(63)] {
            validate_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "-a",
            "Hello",
            "a_b",
            "a.b",
            "../x",
            "a/b",
            &"a".repeat(64),
            "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn meta(version: u64) -> Version {
        Version {
            version,
            created: "2026-11-25T00:00:00.000Z".into(),
            upload_kind: "file".into(),
            upload_sha256: "00".into(),
            upload_bytes: 2,
            bundle_bytes: 2,
            filename: "index.js".into(),
            source_kind: "script".into(),
            snapshot_hash: "ab".into(),
            settings: Settings {
                secrets: [("TOKEN".to_owned(), "s3cret".to_owned())].into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn versions_activate_roll_back_and_delete() {
        let data = tempfile::tempdir().unwrap();
        let r = Registry::open(data.path()).unwrap();
        assert_eq!(r.next_version("f").unwrap(), 1);
        let code = |s: &str| Code {
            source: s.into(),
            map: None,
        };
        r.write_version("f", &meta(1), b"v1", &code("one")).unwrap();
        assert_eq!(r.active("f").unwrap(), None);
        assert!(
            r.names().unwrap().is_empty(),
            "an inactive function is not listed"
        );
        r.activate("f", 1).unwrap();
        r.write_version("f", &meta(2), b"v2", &code("two")).unwrap();
        r.activate("f", 2).unwrap();
        assert!(r.write_version("f", &meta(2), b"v2", &code("two")).is_err());

        // A reopened registry (a restart) sees the same state; stale work folders are gone.
        let stale = r.work_dir().unwrap();
        std::mem::forget(stale);
        // While one is open, no other may be: it would clear the first one's work folders.
        let second = Registry::open(data.path())
            .err()
            .expect("a second owner was let in");
        assert!(
            format!("{second:#}").contains("in use by another wisp serve"),
            "{second:#}"
        );
        drop(r);
        let r = Registry::open(data.path()).unwrap();
        assert_eq!(std::fs::read_dir(r.root().join(".tmp")).unwrap().count(), 0);
        assert_eq!(r.names().unwrap(), vec!["f"]);
        assert_eq!(r.active("f").unwrap(), Some(2));
        assert_eq!(r.code("f", 2).unwrap().source, "two");
        let versions = r.versions("f").unwrap();
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(
            versions[0].settings.redacted().secrets["TOKEN"],
            "[redacted]"
        );
        assert_eq!(r.next_version("f").unwrap(), 3);

        r.activate("f", 1).unwrap();
        assert_eq!(r.active("f").unwrap(), Some(1));
        assert!(r.activate("f", 9).is_err());
        assert!(r.delete("f").unwrap());
        assert!(!r.delete("f").unwrap());
        assert!(r.names().unwrap().is_empty());
        assert_eq!(r.next_version("f").unwrap(), 1);
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("active");
        write_atomic(&p, b"1\n").unwrap();
        write_atomic(&p, b"2\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"2\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
