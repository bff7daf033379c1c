//! The admin API's command-line client: `wisp deploy`, `list`, `rollback`, `delete`, `logs`.
//!
//! The server and token come from `--server`/`--token`, else `WISP_SERVER`/`WISP_ADMIN_TOKEN`,
//! else the CLI config file (`$WISP_CLI_CONFIG`, or `$XDG_CONFIG_HOME/wisp/cli.toml`, or
//! `~/.config/wisp/cli.toml`: `server = "http://…"`, `token = "…"`), else
//! `http://127.0.0.1:8081` without a token. Plain HTTP only (put TLS in front of the admin
//! listener, or reach it over SSH or a VPN).

use crate::{Fail, runtime_failure, usage};
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Clone)]
pub struct Connection {
    /// The admin API's URL [env: WISP_SERVER] (default http://127.0.0.1:8081).
    #[arg(long)]
    server: Option<String>,
    /// The admin token [env: WISP_ADMIN_TOKEN].
    #[arg(long)]
    token: Option<String>,
}

#[derive(Args)]
pub struct DeployArgs {
    /// The function's name (lowercase letters, digits, '-').
    name: String,
    /// A project folder (packed as .tar.gz, respecting .gitignore) or a single file.
    path: PathBuf,
    /// Environment variable for the function, repeatable.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = crate::parse_env)]
    env: Vec<(String, String)>,
    /// Like --env, but never shown by `GET /functions/NAME`.
    #[arg(long = "secret", value_name = "KEY=VALUE", value_parser = crate::parse_env)]
    secret: Vec<(String, String)>,
    /// Wall-clock limit per request (at most the server's).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Linear memory per instance, in 64 KiB pages (at most the server's).
    #[arg(long)]
    max_memory_pages: Option<u32>,
    /// A host outbound fetch may reach, repeatable.
    #[arg(long = "allow-net", value_name = "HOST[:PORT]")]
    allow_net: Vec<String>,
    /// An extra route (HOST/PATH or HOST/PREFIX/*, * for any host), repeatable.
    #[arg(long = "route", value_name = "ROUTE")]
    routes: Vec<String>,
    /// The entry file inside the project (default: found as `wisp run` finds it).
    #[arg(long)]
    entry: Option<String>,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub struct RollbackArgs {
    name: String,
    version: u64,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub struct DeleteArgs {
    name: String,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Args)]
pub struct LogsArgs {
    name: String,
    /// Keep printing new lines as they come.
    #[arg(long, short = 'f')]
    follow: bool,
    #[command(flatten)]
    conn: Connection,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CliConfig {
    server: String,
    token: String,
}

fn cli_config() -> Result<CliConfig> {
    let path = match std::env::var_os("WISP_CLI_CONFIG") {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x).join("wisp/cli.toml"),
            None => match std::env::var_os("HOME") {
                Some(h) => PathBuf::from(h).join(".config/wisp/cli.toml"),
                None => return Ok(CliConfig::default()),
            },
        },
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CliConfig::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

struct Api {
    base: String,
    token: Option<String>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Api {
    fn new(c: &Connection) -> Result<Api, Fail> {
        let file = cli_config().map_err(usage)?;
        let base = c
            .server
            .clone()
            .or_else(|| env_nonempty("WISP_SERVER"))
            .or_else(|| (!file.server.is_empty()).then_some(file.server))
            .unwrap_or_else(|| "http://127.0.0.1:8081".into());
        if !base.starts_with("http://") {
            return Err(usage(anyhow!(
                "--server: expected an http:// URL, got {base:?} (https is not built in: use a \
                 TLS proxy or an SSH tunnel)"
            )));
        }
        let token = c
            .token
            .clone()
            .or_else(|| env_nonempty("WISP_ADMIN_TOKEN"))
            .or_else(|| (!file.token.is_empty()).then_some(file.token));
        Ok(Api {
            base: base.trim_end_matches('/').to_owned(),
            token,
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<hyper::Request<Full<Bytes>>> {
        let url = format!("{}/_wisp/api/v1{path}", self.base);
        let mut b = hyper::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        b.body(Full::new(Bytes::from(body)))
            .with_context(|| format!("building the request to {url}"))
    }

    /// Sends a request and returns the JSON body of a 2xx answer, or the server's error text.
    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<serde_json::Value> {
        let req = self.request(method, path, headers, body)?;
        let resp = self
            .client
            .request(req)
            .await
            .with_context(|| format!("connecting to {}", self.base))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({ "error": String::from_utf8_lossy(&bytes) }));
        if !status.is_success() {
            let msg = value["error"].as_str().unwrap_or("(no message)");
            bail!("the server answered {status}:\n{msg}");
        }
        Ok(value)
    }
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T, Fail> {
    crate::tokio_runtime(1)?
        .block_on(f)
        .map_err(runtime_failure)
}

/// JSON with every non-ASCII character escaped, so that it fits in a header.
fn ascii_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

pub fn deploy(args: DeployArgs) -> Result<(), Fail> {
    let api = Api::new(&args.conn)?;
    let started = Instant::now();
    let (upload, what) = if args.path.is_dir() {
        let (bytes, files) = pack(&args.path).map_err(runtime_failure)?;
        let what = format!("{files} files packed as .tar.gz");
        (bytes, what)
    } else {
        let bytes = std::fs::read(&args.path)
            .with_context(|| format!("reading {}", args.path.display()))
            .map_err(usage)?;
        (bytes, "1 file".to_owned())
    };
    let mut entry = args.entry.clone();
    if entry.is_none() && args.path.is_file() {
        entry = args
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
    }
    let mut settings = serde_json::json!({
        "env": args.env.iter().cloned().collect::<BTreeMap<_, _>>(),
        "secrets": args.secret.iter().cloned().collect::<BTreeMap<_, _>>(),
        "allow_net": args.allow_net,
        "routes": args.routes,
    });
    if let Some(e) = entry {
        settings["entry"] = e.into();
    }
    if let Some(t) = args.timeout_ms {
        settings["timeout_ms"] = t.into();
    }
    if let Some(p) = args.max_memory_pages {
        settings["max_memory_pages"] = p.into();
    }
    println!(
        "  pack      {:>9.1} ms  {what}, {} bytes",
        started.elapsed().as_secs_f64() * 1e3,
        upload.len()
    );
    let name = args.name.clone();
    let sent = Instant::now();
    let report = block_on(async move {
        let header = ascii_json(&settings);
        api.call(
            "PUT",
            &format!("/functions/{name}"),
            &[
                (wisp_host::admin::SETTINGS_HEADER, header),
                ("content-type", "application/octet-stream".into()),
            ],
            upload,
        )
        .await
    })
    .map_err(|Fail(code, e)| Fail(code, anyhow!("deploying {}: {e:#}", args.name)))?;
    if let Some(stages) = report["stages"].as_array() {
        for s in stages {
            let ms = s["ms"].as_f64().unwrap_or(0.0);
            println!("  {:<9} {:>9.1} ms", s["stage"].as_str().unwrap_or("?"), ms);
        }
    }
    let total = sent.elapsed().as_secs_f64() * 1e3;
    let server_ms = report["total_ms"].as_f64().unwrap_or(0.0);
    println!(
        "  {:<9} {:>9.1} ms  (upload, network, waiting for another deploy)",
        "transfer",
        (total - server_ms).max(0.0)
    );
    println!(
        "deployed {} version {} in {:.0} ms{} (sha256 {})",
        args.name,
        report["version"],
        started.elapsed().as_secs_f64() * 1e3,
        if report["cached"] == true {
            ", compiled snapshot reused"
        } else {
            ""
        },
        report["upload_sha256"]
            .as_str()
            .unwrap_or("?")
            .get(..12)
            .unwrap_or("?"),
    );
    Ok(())
}

/// The folder as a .tar.gz: files not ignored by `.gitignore` (and `.ignore`), never `.git`;
/// `node_modules` always goes in, ignored or not, because the server bundles from it.
pub fn pack(dir: &Path) -> Result<(Vec<u8>, usize)> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    let mut count = 0;
    let mut add = |walk: ignore::Walk, tar: &mut tar::Builder<_>| -> Result<()> {
        for entry in walk {
            let entry = entry.context("walking the project folder")?;
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap_or(path);
            if rel.as_os_str().is_empty() || entry.file_type().is_some_and(|t| t.is_dir()) {
                continue;
            }
            tar.append_path_with_name(path, rel)
                .with_context(|| format!("packing {}", path.display()))?;
            count += 1;
        }
        Ok(())
    };
    let skip_git = |e: &ignore::DirEntry| e.file_name() != ".git";
    let main = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .require_git(false)
        .filter_entry(move |e| skip_git(e) && e.file_name() != "node_modules" || e.depth() == 0)
        .build();
    add(main, &mut tar)?;
    let modules = dir.join("node_modules");
    if modules.is_dir() {
        let walk = ignore::WalkBuilder::new(&modules)
            .standard_filters(false)
            .filter_entry(move |e| e.file_name() != ".git")
            .build();
        add(walk, &mut tar)?;
    }
    let gz = tar.into_inner().context("finishing the archive")?;
    let bytes = gz.finish().context("compressing the archive")?;
    Ok((bytes, count))
}

pub fn list(args: ListArgs) -> Result<(), Fail> {
    let api = Api::new(&args.conn)?;
    let v = block_on(async move { api.call("GET", "/functions", &[], Vec::new()).await })?;
    let functions = v["functions"].as_array().cloned().unwrap_or_default();
    if functions.is_empty() {
        println!("no functions deployed");
        return Ok(());
    }
    println!(
        "{:<24} {:>7}  {:<24}  {:>9}  sha256",
        "NAME", "VERSION", "CREATED", "BUNDLE"
    );
    for f in functions {
        println!(
            "{:<24} {:>7}  {:<24}  {:>9}  {}",
            f["name"].as_str().unwrap_or("?"),
            f["active_version"].to_string(),
            f["created"].as_str().unwrap_or("-"),
            f["bundle_bytes"].to_string(),
            f["upload_sha256"]
                .as_str()
                .unwrap_or("-")
                .get(..12)
                .unwrap_or("-"),
        );
    }
    Ok(())
}

pub fn rollback(args: RollbackArgs) -> Result<(), Fail> {
    let api = Api::new(&args.conn)?;
    let path = format!("/functions/{}/rollback", args.name);
    let body = serde_json::json!({ "version": args.version }).to_string();
    let v = block_on(async move {
        api.call(
            "POST",
            &path,
            &[("content-type", "application/json".into())],
            body.into_bytes(),
        )
        .await
    })?;
    println!(
        "{} is now at version {} ({:.0} ms)",
        args.name,
        v["version"],
        v["total_ms"].as_f64().unwrap_or(0.0)
    );
    Ok(())
}

pub fn delete(args: DeleteArgs) -> Result<(), Fail> {
    let api = Api::new(&args.conn)?;
    let path = format!("/functions/{}", args.name);
    block_on(async move { api.call("DELETE", &path, &[], Vec::new()).await })?;
    println!("deleted {}", args.name);
    Ok(())
}

pub fn logs(args: LogsArgs) -> Result<(), Fail> {
    let api = Api::new(&args.conn)?;
    let path = format!(
        "/functions/{}/logs{}",
        args.name,
        if args.follow { "?follow=1" } else { "" }
    );
    block_on(async move {
        let req = api.request("GET", &path, &[], Vec::new())?;
        let resp = api
            .client
            .request(req)
            .await
            .with_context(|| format!("connecting to {}", api.base))?;
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = body.collect().await?.to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            bail!(
                "the server answered {status}:\n{}",
                v["error"]
                    .as_str()
                    .unwrap_or(&String::from_utf8_lossy(&bytes))
            );
        }
        let mut out = std::io::stdout();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                out.write_all(&data)?;
                out.flush()?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_headers_are_ascii() {
        let v = serde_json::json!({ "env": { "GREETING": "héllo 👋" } });
        let h = ascii_json(&v);
        assert!(h.is_ascii(), "{h}");
        let back: serde_json::Value = serde_json::from_str(&h).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn packing_respects_gitignore_but_keeps_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(".gitignore"), "secret.txt\nnode_modules\n").unwrap();
        std::fs::write(d.join("index.js"), "x").unwrap();
        std::fs::write(d.join("secret.txt"), "no").unwrap();
        std::fs::create_dir_all(d.join(".git")).unwrap();
        std::fs::write(d.join(".git/config"), "no").unwrap();
        std::fs::create_dir_all(d.join("node_modules/pkg")).unwrap();
        std::fs::write(d.join("node_modules/pkg/index.js"), "y").unwrap();
        let (bytes, count) = pack(d).unwrap();
        let mut names: Vec<String> = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]))
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".gitignore", "index.js", "node_modules/pkg/index.js"]
        );
        assert_eq!(count, 3);
    }
}
