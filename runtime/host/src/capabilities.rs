//! What a function may reach beyond its sandbox, and the dispatcher of its host calls.
//!
//! [`Stores`] holds the server's stores (built from `[storage]`, `[kv]`, `[sqlite]`, `[redis]`),
//! shared by every function. A [`Grant`] is one function's view of them: its KV namespace, its
//! SQLite database. A request's store carries its function's grant; `wisp.call` (see
//! `hostcalls.rs`) hands every decoded [`HostCall`] to [`Grant::perform`], under the request's
//! deadline. Top-level code at pre-initialisation has no grant: storage is per request.
//!
//! The embedded KV store is opened on first use, so that a function that never touches KV does
//! not create or lock the data directory.

use crate::config::Config;
use crate::net::AllowList;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wisp_abi::hostcall::{HostCall, HostReply};
use wisp_storage::kv::{Durability, Entry, KvLimits, KvStore, RedisKv, SledKv};
use wisp_storage::redis::RedisClient;
use wisp_storage::sqlite::SqliteStore;

pub struct Stores {
    data_dir: PathBuf,
    kv_backend: KvBackend,
    kv: Mutex<Option<Arc<dyn KvStore>>>,
    shared_namespace: Option<String>,
    sqlite: SqliteStore,
    redis: Option<Arc<RedisClient>>,
    outbound: crate::outbound::Outbound,
    /// Hosts every function may reach (`[net] allow`, `--allow-net`).
    allow: AllowList,
}

enum KvBackend {
    Sled {
        limits: KvLimits,
        durability: Durability,
        sweep_every: Duration,
    },
    Redis(Arc<RedisKv>),
}

impl Stores {
    pub fn new(config: &Config) -> Result<Arc<Stores>> {
        let data_dir = config.data_dir();
        let redis = if config.redis.url.is_empty() {
            None
        } else {
            Some(RedisClient::new(
                &config.redis.url,
                Duration::from_millis(config.redis.timeout_ms),
            )?)
        };
        let limits = KvLimits {
            max_value_bytes: config.kv.max_value_bytes as usize,
            quota_bytes: config.kv.quota_bytes,
        };
        let kv_backend = match (config.kv.backend.as_str(), &redis) {
            ("redis", Some(client)) => {
                KvBackend::Redis(Arc::new(RedisKv::new(client.clone(), limits)))
            }
            ("redis", None) => anyhow::bail!("[kv] backend: \"redis\" needs [redis] url"),
            _ => KvBackend::Sled {
                limits,
                durability: if config.kv.durability == "sync" {
                    Durability::Sync
                } else {
                    Durability::Periodic(Duration::from_millis(config.kv.flush_interval_ms))
                },
                sweep_every: Duration::from_millis(config.kv.sweep_interval_ms),
            },
        };
        let databases = config
            .sqlite
            .databases
            .iter()
            .map(|(name, path)| (name.clone(), PathBuf::from(path)))
            .collect();
        Ok(Arc::new(Stores {
            sqlite: SqliteStore::new(
                &data_dir.join("sqlite"),
                databases,
                Duration::from_millis(config.sqlite.busy_timeout_ms),
            ),
            data_dir,
            kv_backend,
            kv: Mutex::new(None),
            shared_namespace: (!config.kv.namespace.is_empty())
                .then(|| config.kv.namespace.clone()),
            redis,
            outbound: crate::outbound::Outbound::new(&config.net)?,
            allow: config.allow_list(),
        }))
    }

    /// The server's outbound TLS settings (`[net] ca_file` read once), for components.
    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.outbound.tls.clone()
    }

    /// The subrequest budget each incoming request starts with.
    pub fn max_subrequests(&self) -> u32 {
        self.outbound.max_subrequests
    }

    /// The grant of the function called `function`.
    pub fn grant(self: &Arc<Self>, function: &str) -> Arc<Grant> {
        self.grant_allowing(function, &AllowList::none())
    }

    /// The grant of `function`, which may also reach the hosts in `allow` (its own settings).
    pub fn grant_allowing(self: &Arc<Self>, function: &str, allow: &AllowList) -> Arc<Grant> {
        Arc::new(Grant {
            allow: self.allow.union(allow),
            function: function.to_owned(),
            kv_namespace: self
                .shared_namespace
                .clone()
                .unwrap_or_else(|| function.to_owned()),
            stores: self.clone(),
        })
    }

    fn kv(&self) -> Result<Arc<dyn KvStore>> {
        let mut slot = self.kv.lock().unwrap();
        if let Some(kv) = slot.as_ref() {
            return Ok(kv.clone());
        }
        let kv: Arc<dyn KvStore> = match &self.kv_backend {
            KvBackend::Redis(kv) => kv.clone(),
            KvBackend::Sled {
                limits,
                durability,
                sweep_every,
            } => SledKv::open(
                &self.data_dir.join("kv"),
                *limits,
                *durability,
                *sweep_every,
            )?,
        };
        *slot = Some(kv.clone());
        Ok(kv)
    }
}

/// One function's access to the stores.
pub struct Grant {
    function: String,
    allow: AllowList,
    kv_namespace: String,
    stores: Arc<Stores>,
}

impl Grant {
    /// Outbound requests one incoming request may make.
    pub fn max_subrequests(&self) -> u32 {
        self.stores.max_subrequests()
    }

    /// One outbound request for this function (JS `fetch`), spending from `subrequests`, what
    /// its incoming request has left of its budget (shared by the fetches running at once).
    /// `stream` is its request body when JS sends that as a stream.
    pub async fn fetch(
        &self,
        req: wisp_abi::hostcall::FetchRequest,
        stream: Option<crate::body::SendBody>,
        deadline: Instant,
        subrequests: &std::sync::atomic::AtomicU32,
    ) -> Result<crate::outbound::Fetched, String> {
        self.stores
            .outbound
            .fetch(&self.allow, req, stream, subrequests, deadline)
            .await
    }

    /// Performs a storage `call` for this function; `Err` is the message the engine throws to
    /// JS.
    pub async fn perform(&self, call: HostCall, deadline: Instant) -> Result<HostReply, String> {
        let deadline_tokio = tokio::time::Instant::from_std(deadline);
        match tokio::time::timeout_at(deadline_tokio, self.dispatch(call, deadline)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err("the storage call did not finish within the request's time limit".into()),
        }
    }

    async fn dispatch(&self, call: HostCall, deadline: Instant) -> Result<HostReply> {
        let ns = self.kv_namespace.as_str();
        match call {
            HostCall::KvGet { key } => {
                let entry = self.stores.kv()?.get(ns, &key).await?;
                Ok(HostReply::KvValue(entry.map(|e| (e.value, e.metadata))))
            }
            HostCall::KvPut {
                key,
                value,
                expires_at_ms,
                metadata,
            } => {
                let entry = Entry {
                    value,
                    expires_at_ms,
                    metadata,
                };
                self.stores.kv()?.put(ns, &key, entry).await?;
                Ok(HostReply::Done)
            }
            HostCall::KvDelete { key } => {
                self.stores.kv()?.delete(ns, &key).await?;
                Ok(HostReply::Done)
            }
            HostCall::KvList {
                prefix,
                limit,
                cursor,
            } => {
                let listing = self.stores.kv()?.list(ns, &prefix, limit, &cursor).await?;
                Ok(HostReply::KvKeys {
                    keys: listing.keys,
                    cursor: listing.cursor,
                })
            }
            HostCall::Sql {
                database,
                statements,
            } => {
                let results = self
                    .stores
                    .sqlite
                    .run(&self.function, &database, statements, deadline)
                    .await?;
                Ok(HostReply::Sql(results))
            }
            HostCall::Redis { args } => {
                let client = self.stores.redis.as_ref().context(
                    "redis: no Redis server is configured ([redis] url in wisp.toml, or --redis-url)",
                )?;
                Ok(HostReply::Redis(client.command(&args).await?))
            }
            // The request's own response and fetches, not storage (`crate::hostcalls`).
            HostCall::ResponseHead { .. }
            | HostCall::ResponseChunk(_)
            | HostCall::ResponseEnd
            | HostCall::Respond(_)
            | HostCall::Fetch(_)
            | HostCall::FetchWait { .. }
            | HostCall::FetchCancel(_)
            | HostCall::FetchRead(_)
            | HostCall::FetchSend { .. } => {
                anyhow::bail!("not a storage call")
            }
        }
    }
}
