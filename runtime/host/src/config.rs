//! `wisp.toml`: the limits and settings of a Wisp server, with a default for every key.
//!
//! ```toml
//! [runtime]
//! max_memory_pages = 2048   # 64 KiB Wasm pages per instance (128 MiB)
//! max_instances = 256       # instances alive at once (pool slots)
//! timeout_ms = 10000        # wall-clock limit per request (504 past it)
//! debug = false             # error messages and JS stacks in 500 bodies
//!
//! [http]
//! listen = "127.0.0.1:8080"
//! workers = 0               # tokio worker threads; 0 = one per core
//! max_concurrent_requests = 256   # past it: 503 at once
//! max_body_bytes = 33554432 # request body limit (413 past it)
//! reuse_port = false        # let several wisp processes share the port (SO_REUSEPORT)
//!
//! [log]
//! level = "info"            # error, warn, info, debug, trace
//! path = ""                 # a file to append to; empty = stderr
//! format = "text"           # "text" or "json" (one JSON object per line)
//!
//! # `wisp serve` only:
//! [admin]
//! listen = "127.0.0.1:8081" # the admin API (deploys, metrics); its own listener
//! token = ""                # bearer token; empty = $WISP_ADMIN_TOKEN; none = loopback only
//! max_upload_bytes = 67108864 # largest upload (64 MiB)
//! max_unpacked_bytes = 268435456 # largest unpacked project (256 MiB): zip bombs
//! max_archive_entries = 20000
//!
//! [routing]
//! path_prefix = true        # /NAME/rest reaches NAME with the URL /rest
//! base_domain = ""          # e.g. "fn.example.com": NAME.fn.example.com reaches NAME
//!
//! [cache]
//! dir = ""                  # compiled snapshots (.cwasm); empty = $XDG_CACHE_HOME/wisp
//!
//! [storage]
//! data_dir = ""             # KV and SQLite files; empty = $XDG_DATA_HOME/wisp
//!
//! [kv]
//! backend = "sled"          # "sled" (embedded) or "redis" (shared by nodes; needs [redis] url)
//! durability = "periodic"   # "periodic": flushed every flush_interval_ms, a crash may lose
//!                           # that last interval's writes; "sync": flushed before each write returns
//! flush_interval_ms = 500
//! namespace = ""            # empty = one namespace per function; a name = shared by functions
//! binding = "KV"            # the name on the module `env` argument; "" = none
//! max_value_bytes = 26214400 # 25 MiB
//! quota_bytes = 1073741824  # per namespace (sled backend); 0 = none
//! sweep_interval_ms = 60000 # how often expired keys are removed from disk
//!
//! [sqlite]
//! binding = "DB"            # the function's own database on `env`; "" = none
//! busy_timeout_ms = 5000
//! [sqlite.databases]        # named databases, each also bound on `env` under its name
//! # PRODUCTS = "/data/edge/products.db"
//!
//! [redis]
//! url = ""                  # e.g. redis://127.0.0.1:6379; empty = no Redis
//! timeout_ms = 2000         # per command and per connection attempt
//!
//! [net]
//! allow = []                # hosts outbound fetch may reach: "api.example.com",
//!                           # "127.0.0.1:9000", "*.example.org", "*"; nothing by default
//! timeout_ms = 10000        # per outbound request (connect, headers and body)
//! max_response_bytes = 33554432   # an outbound response body larger than this fails
//! max_subrequests = 50      # outbound requests (redirect hops included) per request
//! max_redirects = 20
//! ca_file = ""              # PEM certificates trusted for outbound HTTPS besides the
//!                           # Mozilla roots (a private CA); none by default
//! ```
//!
//! Unknown keys are errors: a typo must not silently leave a default in force.

use anyhow::{Context, Result, bail};

/// The most `[runtime] max_instances` may be. Each slot reserves a 4 GiB linear memory (so that
/// compiled code needs no bounds checks) plus guard pages: about 29,000 of them fill a Linux
/// process's 128 TiB of address space.
pub const MAX_INSTANCES: u32 = 20_000;

/// The most `[http] max_concurrent_requests` may be: far more requests than one process can
/// run at once (each holds an instance), and few enough to count with a semaphore.
pub const MAX_CONCURRENT_REQUESTS: u32 = 1_000_000;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One Wasm page.
pub const WASM_PAGE: u64 = 64 * 1024;

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub runtime: RuntimeConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub cache: CacheConfig,
    pub storage: StorageConfig,
    pub kv: KvConfig,
    pub sqlite: SqliteConfig,
    pub redis: RedisConfig,
    pub admin: AdminConfig,
    pub routing: RoutingConfig,
    pub net: NetConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    pub listen: String,
    pub token: String,
    pub max_upload_bytes: u64,
    pub max_unpacked_bytes: u64,
    pub max_archive_entries: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: "127.0.0.1:8081".into(),
            token: String::new(),
            max_upload_bytes: 64 << 20,
            max_unpacked_bytes: 256 << 20,
            max_archive_entries: 20_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub path_prefix: bool,
    pub base_domain: String,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            path_prefix: true,
            base_domain: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NetConfig {
    pub allow: Vec<String>,
    pub timeout_ms: u64,
    pub max_response_bytes: u64,
    pub max_subrequests: u32,
    pub max_redirects: u32,
    pub ca_file: String,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            allow: Vec::new(),
            timeout_ms: 10_000,
            max_response_bytes: 32 * 1024 * 1024,
            max_subrequests: 50,
            max_redirects: 20,
            ca_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    pub backend: String,
    pub durability: String,
    pub flush_interval_ms: u64,
    pub namespace: String,
    pub binding: String,
    pub max_value_bytes: u64,
    pub quota_bytes: u64,
    pub sweep_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteConfig {
    pub binding: String,
    pub busy_timeout_ms: u64,
    pub databases: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    pub url: String,
    pub timeout_ms: u64,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            backend: "sled".into(),
            durability: "periodic".into(),
            flush_interval_ms: 500,
            namespace: String::new(),
            binding: "KV".into(),
            max_value_bytes: 25 * 1024 * 1024,
            quota_bytes: 1 << 30,
            sweep_interval_ms: 60_000,
        }
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            binding: "DB".into(),
            busy_timeout_ms: 5000,
            databases: Default::default(),
        }
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: String::new(),
            timeout_ms: 2000,
        }
    }
}

/// Whether `name` can be a property of `env` written as `env.NAME`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    pub max_memory_pages: u32,
    pub max_instances: u32,
    pub timeout_ms: u64,
    pub debug: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: String,
    pub workers: usize,
    pub max_concurrent_requests: usize,
    pub max_body_bytes: u64,
    /// Let several processes share the listening port (`SO_REUSEPORT`).
    pub reuse_port: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub path: String,
    pub format: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub dir: String,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_memory_pages: 2048,
            max_instances: 256,
            timeout_ms: 10_000,
            debug: false,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            workers: 0,
            max_concurrent_requests: 256,
            max_body_bytes: 32 * 1024 * 1024,
            reuse_port: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            path: String::new(),
            format: "text".into(),
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the error names the key.
    pub fn validate(&self) -> Result<()> {
        let r = &self.runtime;
        if r.max_memory_pages == 0 || r.max_memory_pages > 65536 {
            bail!(
                "[runtime] max_memory_pages: must be from 1 to 65536 (64 KiB pages), got {}",
                r.max_memory_pages
            );
        }
        if r.max_instances == 0 || r.max_instances > MAX_INSTANCES {
            bail!(
                "[runtime] max_instances: must be from 1 to {MAX_INSTANCES} (each pool slot \
                 reserves 4 GiB of address space, of the 128 TiB a process has), got {}",
                r.max_instances
            );
        }
        if r.timeout_ms == 0 || r.timeout_ms > 3_600_000 {
            bail!(
                "[runtime] timeout_ms: must be from 1 to 3600000, got {}",
                r.timeout_ms
            );
        }
        let h = &self.http;
        self.listen_addr()?;
        if h.workers > 1024 {
            bail!(
                "[http] workers: must be at most 1024 (0 = one per core), got {}",
                h.workers
            );
        }
        if h.max_concurrent_requests == 0
            || h.max_concurrent_requests > MAX_CONCURRENT_REQUESTS as usize
        {
            bail!(
                "[http] max_concurrent_requests: must be from 1 to {MAX_CONCURRENT_REQUESTS}, got {}",
                h.max_concurrent_requests
            );
        }
        if h.max_body_bytes > 1 << 31 {
            bail!(
                "[http] max_body_bytes: must be at most 2 GiB, got {}",
                h.max_body_bytes
            );
        }
        self.validate_storage()?;
        if !["text", "json"].contains(&self.log.format.as_str()) {
            bail!(
                "[log] format: must be \"text\" or \"json\", got {:?}",
                self.log.format
            );
        }
        self.admin_addr()?;
        let a = &self.admin;
        if a.max_upload_bytes == 0 || a.max_unpacked_bytes == 0 || a.max_archive_entries == 0 {
            bail!(
                "[admin] max_upload_bytes, max_unpacked_bytes and max_archive_entries: must be at least 1"
            );
        }
        let d = &self.routing.base_domain;
        if d.starts_with('.') || d.contains(['/', ':', ' ']) {
            bail!("[routing] base_domain: expected a domain like fn.example.com, got {d:?}");
        }
        self.validate_net()?;
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            bail!(
                "[log] level: must be one of error, warn, info, debug, trace; got {:?}",
                self.log.level
            );
        }
        Ok(())
    }

    fn validate_storage(&self) -> Result<()> {
        let kv = &self.kv;
        if !["sled", "redis"].contains(&kv.backend.as_str()) {
            bail!(
                "[kv] backend: must be \"sled\" or \"redis\", got {:?}",
                kv.backend
            );
        }
        if kv.backend == "redis" && self.redis.url.is_empty() {
            bail!("[kv] backend: \"redis\" needs [redis] url (or --redis-url)");
        }
        if !["periodic", "sync"].contains(&kv.durability.as_str()) {
            bail!(
                "[kv] durability: must be \"periodic\" or \"sync\", got {:?}",
                kv.durability
            );
        }
        if kv.flush_interval_ms == 0 || kv.sweep_interval_ms == 0 {
            bail!("[kv] flush_interval_ms and sweep_interval_ms: must be at least 1");
        }
        if kv.max_value_bytes == 0 || kv.max_value_bytes > 1 << 30 {
            bail!(
                "[kv] max_value_bytes: must be from 1 to 1 GiB, got {}",
                kv.max_value_bytes
            );
        }
        if !kv.namespace.is_empty() && kv.namespace.contains(['/', ':', '\0']) {
            bail!(
                "[kv] namespace: must not contain '/', ':' or NUL, got {:?}",
                kv.namespace
            );
        }
        for (key, name) in [
            ("[kv] binding", &kv.binding),
            ("[sqlite] binding", &self.sqlite.binding),
        ] {
            if !name.is_empty() && !is_identifier(name) {
                bail!("{key}: {name:?} is not a JavaScript identifier");
            }
        }
        for (name, path) in &self.sqlite.databases {
            if !is_identifier(name) {
                bail!("[sqlite.databases] {name:?}: the name must be a JavaScript identifier");
            }
            if path.is_empty() {
                bail!("[sqlite.databases] {name}: the path must not be empty");
            }
        }
        if self.redis.timeout_ms == 0 {
            bail!("[redis] timeout_ms: must be at least 1");
        }
        Ok(())
    }

    fn validate_net(&self) -> Result<()> {
        let n = &self.net;
        crate::net::check("[net] allow", &n.allow)?;
        if n.timeout_ms == 0 || n.timeout_ms > 3_600_000 {
            bail!(
                "[net] timeout_ms: must be from 1 to 3600000, got {}",
                n.timeout_ms
            );
        }
        if n.max_response_bytes == 0 || n.max_response_bytes > 1 << 31 {
            bail!(
                "[net] max_response_bytes: must be from 1 to 2 GiB, got {}",
                n.max_response_bytes
            );
        }
        if n.max_subrequests == 0 || n.max_subrequests > 10_000 {
            bail!(
                "[net] max_subrequests: must be from 1 to 10000, got {}",
                n.max_subrequests
            );
        }
        if n.max_redirects > 100 {
            bail!(
                "[net] max_redirects: must be at most 100, got {}",
                n.max_redirects
            );
        }
        if !n.ca_file.is_empty() {
            crate::tls::client_config(n).context("[net] ca_file")?;
        }
        Ok(())
    }

    /// The hosts outbound requests may reach (validated by [`Config::validate`]).
    pub fn allow_list(&self) -> crate::net::AllowList {
        crate::net::AllowList::parse(&self.net.allow).unwrap_or_default()
    }

    /// Where KV and SQLite files live.
    pub fn data_dir(&self) -> PathBuf {
        if !self.storage.data_dir.is_empty() {
            return PathBuf::from(&self.storage.data_dir);
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("wisp");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(home)
                .join(".local")
                .join("share")
                .join("wisp");
        }
        PathBuf::from(".wisp-data")
    }

    /// The storage bindings every function gets on its module `env` argument.
    pub fn bindings(&self) -> Vec<wisp_abi::Binding> {
        let mut out = Vec::new();
        if !self.kv.binding.is_empty() {
            out.push(wisp_abi::Binding::Kv {
                name: self.kv.binding.clone(),
            });
        }
        if !self.sqlite.binding.is_empty() {
            out.push(wisp_abi::Binding::Sqlite {
                name: self.sqlite.binding.clone(),
                database: String::new(),
            });
        }
        for name in self.sqlite.databases.keys() {
            out.push(wisp_abi::Binding::Sqlite {
                name: name.clone(),
                database: name.clone(),
            });
        }
        out
    }

    pub fn listen_addr(&self) -> Result<SocketAddr> {
        self.http.listen.parse().map_err(|_| {
            anyhow::anyhow!(
                "[http] listen: {:?} is not an address like 127.0.0.1:8080",
                self.http.listen
            )
        })
    }

    pub fn admin_addr(&self) -> Result<SocketAddr> {
        self.admin.listen.parse().map_err(|_| {
            anyhow::anyhow!(
                "[admin] listen: {:?} is not an address like 127.0.0.1:8081",
                self.admin.listen
            )
        })
    }

    /// The admin token: `[admin] token`, else `$WISP_ADMIN_TOKEN`; `None` when neither is set.
    pub fn admin_token(&self) -> Option<String> {
        if !self.admin.token.is_empty() {
            return Some(self.admin.token.clone());
        }
        std::env::var("WISP_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
    }

    pub fn max_memory_bytes(&self) -> u64 {
        u64::from(self.runtime.max_memory_pages) * WASM_PAGE
    }

    /// Where compiled snapshots are cached.
    pub fn cache_dir(&self) -> PathBuf {
        if !self.cache.dir.is_empty() {
            return PathBuf::from(&self.cache.dir);
        }
        if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("wisp");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(home).join(".cache").join("wisp");
        }
        PathBuf::from(".wisp-cache")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn reads_every_section() {
        let c = Config::from_toml(
            "[runtime]\nmax_memory_pages = 100\nmax_instances = 8\ntimeout_ms = 50\n\
             [http]\nlisten = \"0.0.0.0:9000\"\nworkers = 2\nmax_concurrent_requests = 4\n\
             [log]\nlevel = \"debug\"\n",
        )
        .unwrap();
        assert_eq!(c.runtime.max_memory_pages, 100);
        assert_eq!(c.runtime.timeout_ms, 50);
        assert_eq!(c.http.workers, 2);
        assert_eq!(c.listen_addr().unwrap().port(), 9000);
        assert_eq!(c.log.level, "debug");
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_toml("[runtime]\ntimeout_ms = 0\n").unwrap_err();
        assert!(e.to_string().contains("[runtime] timeout_ms"), "{e}");
        let e = Config::from_toml("[http]\nlisten = \"nope\"\n").unwrap_err();
        assert!(e.to_string().contains("[http] listen"), "{e}");
        let e = Config::from_toml("[runtime]\ntimeout = 5\n").unwrap_err();
        assert!(e.to_string().contains("timeout"), "{e}");
        let e = Config::from_toml("[runtime]\ntimeout_ms = \"fast\"\n").unwrap_err();
        assert!(e.to_string().contains("timeout_ms"), "{e}");
        let e = Config::from_toml("[kv]\nbackend = \"redis\"\n").unwrap_err();
        assert!(e.to_string().contains("[redis] url"), "{e}");
        let e = Config::from_toml("[kv]\ndurability = \"always\"\n").unwrap_err();
        assert!(e.to_string().contains("[kv] durability"), "{e}");
        let e = Config::from_toml("[log]\nformat = \"xml\"\n").unwrap_err();
        assert!(e.to_string().contains("[log] format"), "{e}");
        let e = Config::from_toml("[admin]\nlisten = \"8081\"\n").unwrap_err();
        assert!(e.to_string().contains("[admin] listen"), "{e}");
        let e = Config::from_toml("[routing]\nbase_domain = \"a/b\"\n").unwrap_err();
        assert!(e.to_string().contains("[routing] base_domain"), "{e}");
        let e = Config::from_toml("[sqlite.databases]\n\"my-db\" = \"x.db\"\n").unwrap_err();
        assert!(e.to_string().contains("my-db"), "{e}");
    }

    #[test]
    fn storage_bindings_follow_the_config() {
        let c = Config::from_toml(
            "[kv]\nbinding = \"CACHE\"\n[sqlite]\nbinding = \"\"\n\
             [sqlite.databases]\nPRODUCTS = \"/tmp/p.db\"\n",
        )
        .unwrap();
        assert_eq!(
            c.bindings(),
            vec![
                wisp_abi::Binding::Kv {
                    name: "CACHE".into()
                },
                wisp_abi::Binding::Sqlite {
                    name: "PRODUCTS".into(),
                    database: "PRODUCTS".into()
                },
            ]
        );
    }
}
