//! `wisp serve`: many functions on one server. [`Platform`] owns the registry, the router,
//! the loader and the metrics, and carries out deploys, rollbacks, deletes and the restore at
//! start.
//!
//! A deploy, stage by stage: unpack the upload into a work folder ([`crate::archive`]) →
//! bundle ([`wisp_bundler`]) → snapshot (Wizer) → compile (Cranelift; both in
//! [`crate::function::Loader`], cached by content hash) → store the version in the
//! [`crate::registry`] and make it active → swap it into the [`crate::router`]. Every stage
//! before the last two only touches the work folder and the cache, so a failure anywhere leaves
//! the function as it was; the failure's text (file:line:column for code) goes back to the
//! caller. Deploys run one at a time, off the serving threads.

use crate::archive::{self, Kind};
use crate::capabilities::Stores;
use crate::component::{Capabilities, ComponentFunction};
use crate::config::Config;
use crate::function::{Function, Limits, Loader};
use crate::metrics::Metrics;
use crate::registry::{Code, Registry, Settings, Version, validate_name};
use crate::router::{Deployed, Route, Router, Target};
use anyhow::{Context, anyhow};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use wisp_abi::{InitInput, SourceKind};
use wisp_bundler::SourceMapper;

pub struct Platform {
    pub config: Config,
    pub loader: Loader,
    components: crate::component::ComponentLoader,
    pub registry: Registry,
    pub router: Router,
    pub metrics: Metrics,
    stores: Arc<Stores>,
    /// One deploy, rollback or delete at a time: version numbers and the active pointer stay
    /// consistent without finer locking.
    changes: tokio::sync::Mutex<()>,
}

/// Why a change was refused.
#[derive(Debug)]
pub enum ChangeError {
    /// The caller's mistake (bad name, settings, archive or code): 400 with this text.
    Invalid(String),
    NotFound(String),
    /// The server's problem (disk, cache): 500.
    Internal(anyhow::Error),
}

impl std::fmt::Display for ChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeError::Invalid(m) | ChangeError::NotFound(m) => f.write_str(m),
            ChangeError::Internal(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for ChangeError {
    fn from(e: anyhow::Error) -> Self {
        ChangeError::Internal(e)
    }
}

/// One stage of a deploy and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub stage: &'static str,
    pub ms: f64,
}

/// What a deploy or rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub function: String,
    pub version: u64,
    pub upload_sha256: String,
    pub snapshot_hash: String,
    /// Whether the compiled snapshot was already in the cache (same code and settings).
    pub cached: bool,
    pub stages: Vec<Stage>,
    pub total_ms: f64,
}

/// Raises the soft limit on open files to the hard limit: every loaded function keeps its
/// compiled file open (mapped), so a thousand functions need more than the usual 1,024.
pub fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::warn!("could not raise the open-files limit");
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A version's code ready to load, and where it came from.
/// What a deploy reports of the code it loaded, whatever its kind.
struct Loaded {
    hash: String,
    cached: bool,
    snapshot_time: Duration,
    compile_time: Duration,
}

struct Prepared {
    code: Code,
    map: Option<Arc<SourceMapper>>,
    filename: String,
    kind: SourceKind,
    /// A WebAssembly component upload: where it was written (nothing to bundle).
    component: Option<std::path::PathBuf>,
    upload_kind: &'static str,
    stages: Vec<Stage>,
    /// The unpacked upload, kept until the deploy ends (then removed; a crash leaves it for
    /// the next start to remove).
    _work: crate::registry::WorkDir,
}

impl Platform {
    pub fn new(config: Config) -> anyhow::Result<Arc<Platform>> {
        let loader = Loader::new(&config)?;
        let registry = Registry::open(&config.data_dir())?;
        let stores = Stores::new(&config)?;
        Ok(Arc::new(Platform {
            router: Router::new(&config.routing),
            components: crate::component::ComponentLoader::new(loader.runtime.clone())?,
            loader,
            registry,
            metrics: Metrics::default(),
            stores,
            changes: tokio::sync::Mutex::new(()),
            config,
        }))
    }

    /// Loads the active version of every function in the registry (from the compiled cache
    /// when it is there). A function that fails to load is logged and left out, not fatal.
    /// Returns (functions served, of which from the cache).
    pub async fn restore(self: &Arc<Self>) -> anyhow::Result<(usize, usize)> {
        let (mut served, mut cached) = (0, 0);
        for name in self.registry.names().unwrap_or_else(|e| {
            tracing::error!("listing the registry: {e:#}");
            Vec::new()
        }) {
            let version = match self.registry.active(&name) {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(function = name, "not served: {e:#}");
                    continue;
                }
            };
            match self.load_stored(&name, version).await {
                Ok((target, was_cached)) => {
                    self.router.insert(Arc::new(target));
                    served += 1;
                    cached += usize::from(was_cached);
                }
                Err(e) => tracing::error!(function = name, version, "not served: {e}"),
            }
        }
        Ok((served, cached))
    }

    /// Prepares for the first deploy in the background (the snapshotter is built lazily, so a
    /// restart with everything cached never pays for it on the way up).
    pub fn warm_up_in_background(self: &Arc<Self>) {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.loader.warm_up());
    }

    /// Loads a stored version (for a restore or a rollback).
    async fn load_stored(
        self: &Arc<Self>,
        name: &str,
        version: u64,
    ) -> Result<(Target, bool), ChangeError> {
        let meta = self.registry.version(name, version)?;
        if meta.source_kind == "component" {
            let path = self.registry.upload_path(name, version);
            let c = self.load_component(name, &meta.settings, &path).await?;
            let cached = c.info.cached;
            let deployed = Deployed::Component(Arc::new(c));
            return Ok((
                self.target(name, version, deployed, &meta.settings)?,
                cached,
            ));
        }
        let code = self.registry.code(name, version)?;
        let map = match &code.map {
            Some(json) => Some(Arc::new(
                SourceMapper::from_json(meta.filename.clone(), json).map_err(|e| anyhow!(e))?,
            )),
            None => None,
        };
        let kind = if meta.source_kind == "module" {
            SourceKind::Module
        } else {
            SourceKind::Script
        };
        let function = self
            .load(
                name,
                &meta.settings,
                code.source,
                meta.filename.clone(),
                kind,
                map,
            )
            .await?;
        let cached = function.info.cached;
        let deployed = Deployed::Js(Arc::new(function));
        Ok((
            self.target(name, version, deployed, &meta.settings)?,
            cached,
        ))
    }

    /// Compiles a component (or maps it from the cache) on a blocking thread, with the
    /// function's environment, outbound allowlist and storage grant. Components run under the
    /// server's time and memory limits.
    async fn load_component(
        self: &Arc<Self>,
        name: &str,
        settings: &Settings,
        path: &std::path::Path,
    ) -> Result<ComponentFunction, ChangeError> {
        let allow = crate::net::AllowList::parse(&settings.allow_net)
            .map_err(|e| ChangeError::Invalid(format!("settings: allow_net: {e}")))?;
        let caps = Capabilities {
            env: settings.environment(),
            dirs: Vec::new(),
            allow: crate::component::outbound::from_allowlist(
                self.config.allow_list().union(&allow),
            ),
            tls: self.stores.tls(),
        };
        let this = self.clone();
        let (owned_name, path) = (name.to_owned(), path.to_owned());
        let loaded = tokio::task::spawn_blocking(move || {
            this.components
                .load(&this.loader.cache, &owned_name, &path, caps)
        })
        .await
        .context("the load task failed")?;
        let mut c =
            loaded.map_err(|e| ChangeError::Invalid(format!("{name} failed to load:\n{e}")))?;
        c.grant = Some(self.stores.grant_allowing(name, &allow));
        Ok(c)
    }

    /// Snapshots and compiles (or maps from the cache) on a blocking thread: a deploy must not
    /// hold a serving thread for the half second a compile takes.
    async fn load(
        self: &Arc<Self>,
        name: &str,
        settings: &Settings,
        source: String,
        filename: String,
        kind: SourceKind,
        map: Option<Arc<SourceMapper>>,
    ) -> Result<Function, ChangeError> {
        let input = InitInput {
            kind,
            filename,
            source,
            env: settings.environment(),
            bindings: self.config.bindings(),
        };
        let this = self.clone();
        let owned_name = name.to_owned();
        let handle = tokio::runtime::Handle::current();
        let loaded = tokio::task::spawn_blocking(move || {
            handle.block_on(this.loader.load(&owned_name, &input))
        })
        .await
        .context("the load task failed")?;
        let mut function = loaded.map_err(|e| {
            let e = e.with_source_map(map.as_deref());
            match e {
                crate::errors::LoadError::Other(e) => ChangeError::Internal(e),
                e => ChangeError::Invalid(format!("{name} failed to load:\n{e}")),
            }
        })?;
        function.source_map = map;
        let allow = crate::net::AllowList::parse(&settings.allow_net)
            .map_err(|e| ChangeError::Invalid(format!("settings: allow_net: {e}")))?;
        function.grant = Some(self.stores.grant_allowing(name, &allow));
        if settings.timeout_ms.is_some() || settings.max_memory_pages.is_some() {
            // A version's limits never exceed the server's, also when the server restarts
            // with lower ones than it had when the version was deployed.
            let max_memory = settings
                .max_memory_pages
                .map_or(self.loader.runtime.max_memory, |p| {
                    (u64::from(p) * crate::config::WASM_PAGE).min(self.loader.runtime.max_memory)
                });
            // Refused here, while the live version still serves: below the snapshot's own
            // memory, every request would fail.
            let initial = function.info.initial_memory;
            if initial > max_memory {
                return Err(ChangeError::Invalid(format!(
                    "settings: max_memory_pages {} is below the {} pages {name}'s snapshot \
                     starts with",
                    max_memory / crate::config::WASM_PAGE,
                    initial.div_ceil(crate::config::WASM_PAGE)
                )));
            }
            function.limits = Some(Limits {
                timeout: settings
                    .timeout_ms
                    .map_or(self.loader.runtime.timeout, Duration::from_millis)
                    .min(self.loader.runtime.timeout),
                max_memory,
            });
        }
        Ok(function)
    }

    fn target(
        &self,
        name: &str,
        version: u64,
        deployed: Deployed,
        settings: &Settings,
    ) -> anyhow::Result<Target> {
        let routes = settings
            .routes
            .iter()
            .map(|r| Route::parse(r))
            .collect::<anyhow::Result<_>>()?;
        Ok(Target {
            name: Arc::from(name),
            version,
            deployed,
            metrics: self.metrics.function(name),
            routes,
        })
    }

    /// Deploys `upload` as the next version of `name` and makes it live.
    pub async fn deploy(
        self: &Arc<Self>,
        name: &str,
        upload: bytes::Bytes,
        settings: Settings,
    ) -> Result<Report, ChangeError> {
        let started = Instant::now();
        let result = self.deploy_inner(name, upload, settings, started).await;
        match &result {
            Ok(_) => {
                self.metrics.deploys_ok.fetch_add(1, Relaxed);
                self.metrics.deploy_duration.observe(started.elapsed());
            }
            Err(_) => {
                self.metrics.deploys_failed.fetch_add(1, Relaxed);
            }
        }
        result
    }

    async fn deploy_inner(
        self: &Arc<Self>,
        name: &str,
        upload: bytes::Bytes,
        settings: Settings,
        started: Instant,
    ) -> Result<Report, ChangeError> {
        validate_name(name).map_err(|e| ChangeError::Invalid(e.to_string()))?;
        settings
            .validate(&self.config)
            .map_err(|e| ChangeError::Invalid(format!("{e:#}")))?;
        let routes: Vec<Route> = settings
            .routes
            .iter()
            .map(|r| Route::parse(r))
            .collect::<anyhow::Result<_>>()
            .map_err(|e| ChangeError::Invalid(e.to_string()))?;
        let _one_at_a_time = self.changes.lock().await;
        if let Some((route, owner)) = self.router.conflict(name, &routes) {
            return Err(ChangeError::Invalid(format!(
                "route {route} is already bound to the function {owner}"
            )));
        }
        let upload_sha256 = hex::encode(Sha256::digest(&upload));
        let this = self.clone();
        let (upload, prepared) = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || {
                let p = this.prepare(&upload, &settings);
                (upload, p)
            })
            .await
            .context("the bundle task failed")?
        };
        let mut p = prepared?;
        let loading = Instant::now();
        let (deployed, info) = match &p.component {
            Some(path) => {
                let c = self.load_component(name, &settings, path).await?;
                let info = Loaded {
                    hash: c.info.hash.clone(),
                    cached: c.info.cached,
                    snapshot_time: Duration::ZERO,
                    compile_time: c.info.compile_time,
                };
                (Deployed::Component(Arc::new(c)), info)
            }
            None => {
                let function = self
                    .load(
                        name,
                        &settings,
                        p.code.source.clone(),
                        p.filename.clone(),
                        p.kind,
                        p.map.clone(),
                    )
                    .await?;
                let info = Loaded {
                    hash: function.info.hash.clone(),
                    cached: function.info.cached,
                    snapshot_time: function.info.snapshot_time,
                    compile_time: function.info.compile_time,
                };
                (Deployed::Js(Arc::new(function)), info)
            }
        };
        // The first snapshot of a process builds the snapshotter (instrumenting the engine):
        // reported apart, since later deploys do not pay it.
        let setup = loading
            .elapsed()
            .saturating_sub(info.snapshot_time + info.compile_time);
        if setup > Duration::from_millis(20) {
            p.stages.push(Stage {
                stage: "setup",
                ms: ms(setup),
            });
        }
        p.stages.push(Stage {
            stage: "snapshot",
            ms: ms(info.snapshot_time),
        });
        p.stages.push(Stage {
            stage: "compile",
            ms: ms(info.compile_time),
        });

        let stored = Instant::now();
        let version = self.registry.next_version(name)?;
        let meta = Version {
            version,
            created: crate::logs::timestamp(std::time::SystemTime::now()),
            upload_kind: p.upload_kind.into(),
            upload_sha256: upload_sha256.clone(),
            upload_bytes: upload.len() as u64,
            bundle_bytes: p.code.source.len() as u64,
            filename: p.filename.clone(),
            source_kind: match (&p.component, p.kind) {
                (Some(_), _) => "component".into(),
                (None, SourceKind::Module) => "module".into(),
                (None, SourceKind::Script) => "script".into(),
            },
            snapshot_hash: info.hash.clone(),
            settings: settings.clone(),
        };
        let target = self.target(name, version, deployed, &settings)?;
        self.registry.write_version(name, &meta, &upload, &p.code)?;
        self.registry.activate(name, version)?;
        p.stages.push(Stage {
            stage: "store",
            ms: ms(stored.elapsed()),
        });
        let activated = Instant::now();
        self.router.insert(Arc::new(target));
        p.stages.push(Stage {
            stage: "activate",
            ms: ms(activated.elapsed()),
        });
        tracing::info!(
            function = name,
            version,
            hash = &info.hash[..16],
            cached = info.cached,
            total_ms = ms(started.elapsed()),
            "deployed"
        );
        Ok(Report {
            function: name.into(),
            version,
            upload_sha256,
            snapshot_hash: info.hash,
            cached: info.cached,
            stages: p.stages,
            total_ms: ms(started.elapsed()),
        })
    }

    /// Unpacks and bundles an upload (blocking: file I/O and swc).
    fn prepare(&self, upload: &[u8], settings: &Settings) -> Result<Prepared, ChangeError> {
        let invalid = |e: anyhow::Error| ChangeError::Invalid(format!("{e:#}"));
        let work = self.registry.work_dir()?;
        let src = work.path().join("src");
        std::fs::create_dir(&src).context("creating the work folder")?;
        let unpacked = Instant::now();
        let limits = archive::Limits {
            max_bytes: self.config.admin.max_unpacked_bytes,
            max_entries: self.config.admin.max_archive_entries,
        };
        let kind = archive::detect(upload);
        let (entry, upload_kind) = match kind {
            Kind::TarGz | Kind::Zip => {
                if kind == Kind::TarGz {
                    archive::unpack_tar_gz(upload, &src, limits).map_err(invalid)?;
                } else {
                    archive::unpack_zip(upload, &src, limits).map_err(invalid)?;
                }
                let entry = match &settings.entry {
                    Some(e) => src.join(archive::safe_path(e).map_err(invalid)?),
                    None => src.clone(),
                };
                (entry, if kind == Kind::TarGz { "tar.gz" } else { "zip" })
            }
            Kind::Wasm => {
                let path = src.join("component.wasm");
                std::fs::write(&path, upload).context("writing the upload")?;
                return Ok(Prepared {
                    code: Code {
                        source: String::new(),
                        map: None,
                    },
                    map: None,
                    filename: "component.wasm".into(),
                    kind: SourceKind::Module,
                    component: Some(path),
                    upload_kind: "wasm",
                    stages: vec![Stage {
                        stage: "unpack",
                        ms: ms(unpacked.elapsed()),
                    }],
                    _work: work,
                });
            }
            Kind::File => {
                let file = settings.entry.as_deref().unwrap_or("index.js");
                let file = archive::safe_path(file)
                    .map_err(invalid)?
                    .file_name()
                    .map(std::path::PathBuf::from)
                    .ok_or_else(|| {
                        ChangeError::Invalid("settings: entry has no file name".into())
                    })?;
                let path = src.join(file);
                std::fs::write(&path, upload).context("writing the upload")?;
                (path, "file")
            }
        };
        let mut stages = vec![Stage {
            stage: "unpack",
            ms: ms(unpacked.elapsed()),
        }];
        let bundle =
            wisp_bundler::bundle(&entry, &wisp_bundler::Options::default()).map_err(|e| {
                ChangeError::Invalid(as_uploaded(&format!("failed to bundle:\n{e}"), &src))
            })?;
        let map_json = bundle.map_json();
        stages.push(Stage {
            stage: "bundle",
            ms: ms(bundle.elapsed),
        });
        Ok(Prepared {
            code: Code {
                source: bundle.code,
                map: map_json.map(String::into_bytes),
            },
            map: bundle.map.map(Arc::new),
            filename: bundle.filename,
            kind: match bundle.kind {
                wisp_bundler::OutputKind::Module => SourceKind::Module,
                wisp_bundler::OutputKind::Script => SourceKind::Script,
            },
            component: None,
            upload_kind,
            stages,
            _work: work,
        })
    }

    /// Makes a stored `version` of `name` the live one.
    pub async fn rollback(
        self: &Arc<Self>,
        name: &str,
        version: u64,
    ) -> Result<Report, ChangeError> {
        let started = Instant::now();
        validate_name(name).map_err(|e| ChangeError::Invalid(e.to_string()))?;
        let _one_at_a_time = self.changes.lock().await;
        if self.registry.active(name)?.is_none() {
            return Err(ChangeError::NotFound(format!("no function named {name}")));
        }
        if !self.registry.exists(name, version) {
            return Err(ChangeError::NotFound(format!(
                "{name} has no version {version}"
            )));
        }
        let meta = self.registry.version(name, version)?;
        let routes: Vec<Route> = meta
            .settings
            .routes
            .iter()
            .map(|r| Route::parse(r))
            .collect::<anyhow::Result<_>>()?;
        if let Some((route, owner)) = self.router.conflict(name, &routes) {
            return Err(ChangeError::Invalid(format!(
                "route {route} is now bound to the function {owner}"
            )));
        }
        let loaded = Instant::now();
        let (target, cached) = self.load_stored(name, version).await?;
        let load_ms = ms(loaded.elapsed());
        self.registry.activate(name, version)?;
        let activated = Instant::now();
        self.router.insert(Arc::new(target));
        tracing::info!(function = name, version, cached, "rolled back");
        Ok(Report {
            function: name.into(),
            version,
            upload_sha256: meta.upload_sha256,
            snapshot_hash: meta.snapshot_hash,
            cached,
            stages: vec![
                Stage {
                    stage: "load",
                    ms: load_ms,
                },
                Stage {
                    stage: "activate",
                    ms: ms(activated.elapsed()),
                },
            ],
            total_ms: ms(started.elapsed()),
        })
    }

    /// Stops serving `name` and removes all its versions.
    pub async fn delete(&self, name: &str) -> Result<(), ChangeError> {
        validate_name(name).map_err(|e| ChangeError::Invalid(e.to_string()))?;
        let _one_at_a_time = self.changes.lock().await;
        let doomed: Vec<String> = self
            .registry
            .versions(name)?
            .into_iter()
            .map(|v| v.snapshot_hash)
            .collect();
        if !self.registry.delete(name)? {
            return Err(ChangeError::NotFound(format!("no function named {name}")));
        }
        self.router.remove(name);
        crate::logs::hub().forget(name);
        let removed = self.drop_unused_snapshots(doomed).unwrap_or_else(|e| {
            tracing::warn!(function = name, "removing its compiled snapshots: {e:#}");
            0
        });
        tracing::info!(function = name, compiled_removed = removed, "deleted");
        Ok(())
    }

    /// Removes the compiled snapshots among `candidates` that no stored version uses any more,
    /// when the cache is the server's own (`<data_dir>/cache`): a cache shared with other
    /// processes is left alone. Requests still running on a removed file keep their mapping.
    fn drop_unused_snapshots(&self, candidates: Vec<String>) -> anyhow::Result<usize> {
        let own = self.config.data_dir().join("cache");
        if self.loader.cache.dir() != own {
            return Ok(0);
        }
        let mut used = std::collections::HashSet::new();
        for name in self.registry.all_names()? {
            for v in self.registry.versions(&name)? {
                used.insert(v.snapshot_hash);
            }
        }
        let mut removed = 0;
        for hash in candidates {
            if used.contains(&hash) {
                continue;
            }
            match std::fs::remove_file(self.loader.cache.path(&hash)) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("removing a compiled snapshot"),
            }
            used.insert(hash);
        }
        Ok(removed)
    }

    /// What `GET /functions/NAME` shows: the active version, every version (secrets redacted).
    pub fn describe(&self, name: &str) -> Result<serde_json::Value, ChangeError> {
        validate_name(name).map_err(|e| ChangeError::Invalid(e.to_string()))?;
        let Some(active) = self.registry.active(name)? else {
            return Err(ChangeError::NotFound(format!("no function named {name}")));
        };
        let versions: Vec<serde_json::Value> = self
            .registry
            .versions(name)?
            .into_iter()
            .map(|mut v| {
                v.settings = v.settings.redacted();
                serde_json::to_value(v).unwrap_or_default()
            })
            .collect();
        let live = self.router.get(name);
        Ok(serde_json::json!({
            "name": name,
            "active_version": active,
            "serving": live.is_some(),
            "routes": live.map(|t| t.routes.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
            "versions": versions,
        }))
    }

    /// What `GET /functions` shows.
    pub fn list(&self) -> Result<serde_json::Value, ChangeError> {
        let mut out = Vec::new();
        for name in self.registry.names()? {
            let active = self.registry.active(&name).ok().flatten();
            let meta = match active {
                Some(v) => self.registry.version(&name, v).ok(),
                None => None,
            };
            out.push(serde_json::json!({
                "name": name,
                "active_version": active,
                "serving": self.router.get(&name).is_some(),
                "created": meta.as_ref().map(|m| m.created.clone()),
                "upload_sha256": meta.as_ref().map(|m| m.upload_sha256.clone()),
                "bundle_bytes": meta.as_ref().map(|m| m.bundle_bytes),
            }));
        }
        Ok(serde_json::json!({ "functions": out }))
    }
}

/// `message` with the paths of the server's work folder `src` (absolute, or relative to the
/// working directory as the bundler prints them) written as the upload has them.
fn as_uploaded(message: &str, src: &std::path::Path) -> String {
    let src = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
    let mut out = message.to_owned();
    for shown in [
        src.display().to_string(),
        wisp_bundler::graph::display_path(&src),
    ] {
        // A name without a folder in it (the server running inside the work folder) could be
        // any word of the message.
        if !shown.contains(std::path::MAIN_SEPARATOR) {
            continue;
        }
        out = out.replace(&format!("{shown}{}", std::path::MAIN_SEPARATOR), "");
        out = out.replace(&shown, "the upload");
    }
    out
}
