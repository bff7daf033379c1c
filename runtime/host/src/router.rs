//! Which deployed function serves a request, for `wisp serve`: custom routes from a function's
//! settings first (`api.example.com/v1/*`), then the host name (`NAME.<base_domain>`), then the
//! path prefix (`/NAME/rest`, stripped so the function sees `/rest`).
//!
//! The table is immutable and swapped whole (`arc-swap`) on every deploy, rollback or delete:
//! a request reads it once, holds its target's `Arc`, and finishes on that version even if a
//! new one goes live meanwhile.

use crate::function::Function;
use crate::metrics::FunctionMetrics;
use anyhow::{Result, bail};
use arc_swap::ArcSwap;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A deployed function, whatever its kind. The router and the server only see this.
pub enum Deployed {
    /// JavaScript on the QuickJS engine.
    Js(Arc<Function>),
    /// A WebAssembly component of the `wasi:http/proxy` world.
    Component(Arc<crate::component::ComponentFunction>),
}

/// One live version of a function.
pub struct Target {
    pub name: Arc<str>,
    pub version: u64,
    pub deployed: Deployed,
    pub metrics: Arc<FunctionMetrics>,
    pub routes: Vec<Route>,
}

/// What the router holds: anything with a name and routes (a [`Target`] in the server).
pub trait Routable {
    fn name(&self) -> &Arc<str>;
    fn routes(&self) -> &[Route];
}

impl Routable for Target {
    fn name(&self) -> &Arc<str> {
        &self.name
    }
    fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// A custom route: a host (or any host) and a path, exact or a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Lowercase, without a port; `None` = any host.
    pub host: Option<String>,
    /// Starts with `/`; without a trailing `/` for a prefix (`/v1` matches `/v1` and `/v1/…`).
    pub path: String,
    pub prefix: bool,
}

impl Route {
    /// `HOST/PATH` (exact), `HOST/PREFIX/*` (a prefix), `HOST` (= `HOST/*`); `*` for any host.
    pub fn parse(text: &str) -> Result<Route> {
        if !text.is_ascii() {
            // A request's host and path are ASCII (IDNA, percent-encoding): such a route could
            // never match.
            bail!(
                "route {text:?}: must be ASCII (write an international host in its xn-- form \
                 and percent-encode the path)"
            );
        }
        let (host, path) = match text.find('/') {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, "/*"),
        };
        if host.is_empty()
            || host.contains(['*', ' ', ':']) && host != "*"
            || path.contains(['?', '#', ' '])
            || path.strip_suffix('*').unwrap_or(path).contains('*')
        {
            bail!(
                "route {text:?}: expected HOST/PATH or HOST/PREFIX/* (HOST may be * for any host, \
                 without a port)"
            );
        }
        let (path, prefix) = match path.strip_suffix('*') {
            Some(p) => (p.trim_end_matches('/'), true),
            None => (path, false),
        };
        Ok(Route {
            host: (host != "*").then(|| host.to_ascii_lowercase()),
            path: path.to_owned(),
            prefix,
        })
    }

    fn matches(&self, host: &str, path: &str) -> bool {
        if self.host.as_deref().is_some_and(|h| h != host) {
            return false;
        }
        if self.prefix {
            path.strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        } else {
            path == self.path
        }
    }

    /// More specific routes are tried first: a host before any host, longer paths first.
    fn specificity(&self) -> (bool, bool, usize) {
        (self.host.is_some(), !self.prefix, self.path.len())
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = self.host.as_deref().unwrap_or("*");
        if self.prefix {
            write!(f, "{host}{}/*", self.path)
        } else {
            write!(f, "{host}{}", self.path)
        }
    }
}

struct Table<T> {
    by_name: HashMap<Arc<str>, Arc<T>>,
    routes: Vec<(Route, Arc<T>)>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            by_name: HashMap::new(),
            routes: Vec::new(),
        }
    }
}

/// Where a request goes and the path (with its query) the function sees.
pub struct Routed<'a, T = Target> {
    pub target: Arc<T>,
    pub path: Cow<'a, str>,
}

pub struct Router<T = Target> {
    table: ArcSwap<Table<T>>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    path_prefix: bool,
    /// Lowercase, with a leading dot: `.fn.example.com`.
    base_suffix: Option<String>,
}

impl<T: Routable> Router<T> {
    pub fn new(routing: &crate::config::RoutingConfig) -> Router<T> {
        Router {
            table: ArcSwap::from_pointee(Table::default()),
            write: Mutex::new(()),
            path_prefix: routing.path_prefix,
            base_suffix: (!routing.base_domain.is_empty())
                .then(|| format!(".{}", routing.base_domain.to_ascii_lowercase())),
        }
    }

    /// The function for a request with this `Host` header and path (with query).
    pub fn resolve<'a>(
        &self,
        host: Option<&str>,
        path_and_query: &'a str,
    ) -> Option<Routed<'a, T>> {
        let table = self.table.load();
        let host = host.map(|h| match h.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => h,
        });
        let host_lower;
        let host = match host {
            Some(h) if h.bytes().any(|b| b.is_ascii_uppercase()) => {
                host_lower = h.to_ascii_lowercase();
                host_lower.as_str()
            }
            Some(h) => h,
            None => "",
        };
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query, |(p, _)| p);
        for (route, target) in &table.routes {
            if route.matches(host, path) {
                return Some(Routed {
                    target: target.clone(),
                    path: Cow::Borrowed(path_and_query),
                });
            }
        }
        if let Some(suffix) = &self.base_suffix
            && let Some(name) = host.strip_suffix(suffix.as_str())
            && let Some(target) = table.by_name.get(name)
        {
            return Some(Routed {
                target: target.clone(),
                path: Cow::Borrowed(path_and_query),
            });
        }
        if self.path_prefix {
            let rest = path_and_query.strip_prefix('/')?;
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let target = table.by_name.get(&rest[..end])?;
            let tail = &rest[end..];
            let path = if tail.starts_with('/') {
                Cow::Borrowed(tail)
            } else {
                Cow::Owned(format!("/{tail}"))
            };
            return Some(Routed {
                target: target.clone(),
                path,
            });
        }
        None
    }

    pub fn get(&self, name: &str) -> Option<Arc<T>> {
        self.table.load().by_name.get(name).cloned()
    }

    pub fn names(&self) -> Vec<Arc<str>> {
        let mut v: Vec<_> = self.table.load().by_name.keys().cloned().collect();
        v.sort();
        v
    }

    /// The function other than `name` that already owns one of `routes`, if any.
    pub fn conflict(&self, name: &str, routes: &[Route]) -> Option<(Route, Arc<str>)> {
        let table = self.table.load();
        routes.iter().find_map(|r| {
            table
                .routes
                .iter()
                .find(|(theirs, t)| theirs == r && &**t.name() != name)
                .map(|(_, t)| (r.clone(), t.name().clone()))
        })
    }

    /// Puts `target` live (replacing the function's previous version).
    pub fn insert(&self, target: Arc<T>) {
        self.update(|by_name| {
            by_name.insert(target.name().clone(), target);
        });
    }

    pub fn remove(&self, name: &str) -> Option<Arc<T>> {
        let mut removed = None;
        self.update(|by_name| removed = by_name.remove(name));
        removed
    }

    fn update(&self, change: impl FnOnce(&mut HashMap<Arc<str>, Arc<T>>)) {
        let _guard = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut by_name = self.table.load().by_name.clone();
        change(&mut by_name);
        let mut routes: Vec<(Route, Arc<T>)> = by_name
            .values()
            .flat_map(|t| t.routes().iter().map(|r| (r.clone(), t.clone())))
            .collect();
        routes.sort_by_key(|r| std::cmp::Reverse(r.0.specificity()));
        self.table.store(Arc::new(Table { by_name, routes }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_and_match() {
        let r = Route::parse("API.example.com/v1/*").unwrap();
        assert_eq!(r.host.as_deref(), Some("api.example.com"));
        assert_eq!((r.path.as_str(), r.prefix), ("/v1", true));
        assert!(r.matches("api.example.com", "/v1"));
        assert!(r.matches("api.example.com", "/v1/users"));
        assert!(!r.matches("api.example.com", "/v10"));
        assert!(!r.matches("other.com", "/v1"));
        let exact = Route::parse("*/health").unwrap();
        assert!(exact.matches("anything", "/health"));
        assert!(!exact.matches("anything", "/health/x"));
        let whole = Route::parse("example.com").unwrap();
        assert!(whole.matches("example.com", "/"));
        assert!(whole.matches("example.com", "/a/b"));
        assert_eq!(whole.to_string(), "example.com/*");
        for bad in [
            "",
            "/v1",
            "a b/x",
            "h:80/x",
            "h/a*b",
            "h/x?y",
            "*.example.com/x",
            "h/a/**",
            // Non-ASCII is refused, including a last character of several bytes (this once
            // panicked, slicing inside it).
            "a/é",
            "é.example.com/x",
        ] {
            assert!(Route::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// A stand-in target: routing does not look inside functions.
    pub struct Named(pub Arc<str>, pub Vec<Route>);

    impl Routable for Named {
        fn name(&self) -> &Arc<str> {
            &self.0
        }
        fn routes(&self) -> &[Route] {
            &self.1
        }
    }

    fn named(name: &str, routes: &[&str]) -> Arc<Named> {
        Arc::new(Named(
            Arc::from(name),
            routes.iter().map(|r| Route::parse(r).unwrap()).collect(),
        ))
    }

    fn router(prefix: bool, base: &str) -> Router<Named> {
        Router::new(&crate::config::RoutingConfig {
            path_prefix: prefix,
            base_domain: base.into(),
        })
    }

    fn resolve(r: &Router<Named>, host: Option<&str>, path: &str) -> Option<(String, String)> {
        r.resolve(host, path)
            .map(|x| (x.target.0.to_string(), x.path.into_owned()))
    }

    #[test]
    fn path_prefix_host_and_custom_routes() {
        let r = router(true, "fn.example.com");
        r.insert(named("hello", &[]));
        r.insert(named("api", &["api.example.com/v1/*", "*/status"]));
        let pair = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        assert_eq!(resolve(&r, None, "/hello/x?y=1"), pair("hello", "/x?y=1"));
        assert_eq!(resolve(&r, None, "/hello"), pair("hello", "/"));
        assert_eq!(resolve(&r, None, "/hello?q"), pair("hello", "/?q"));
        assert_eq!(resolve(&r, None, "/hellox"), None);
        assert_eq!(resolve(&r, None, "/"), None);
        assert_eq!(
            resolve(&r, Some("Hello.FN.example.com:8080"), "/a?b"),
            pair("hello", "/a?b")
        );
        assert_eq!(resolve(&r, Some("nope.fn.example.com"), "/a"), None);
        assert_eq!(
            resolve(&r, Some("api.example.com"), "/v1/users?id=2"),
            pair("api", "/v1/users?id=2")
        );
        assert_eq!(
            resolve(&r, Some("x.org"), "/status"),
            pair("api", "/status")
        );
        // A custom route wins over the path prefix.
        r.insert(named("hello2", &["*/hello/*"]));
        assert_eq!(resolve(&r, None, "/hello/x"), pair("hello2", "/hello/x"));
        assert!(
            r.conflict("other", &[Route::parse("*/hello/*").unwrap()])
                .is_some()
        );
        assert!(
            r.conflict("hello2", &[Route::parse("*/hello/*").unwrap()])
                .is_none()
        );
        r.remove("hello2");
        assert_eq!(resolve(&r, None, "/hello/x"), pair("hello", "/x"));

        let off = router(false, "");
        off.insert(named("hello", &[]));
        assert_eq!(resolve(&off, None, "/hello/x"), None);
    }

    #[test]
    fn a_held_target_outlives_its_replacement() {
        let r = router(true, "");
        r.insert(named("f", &["*/old"]));
        let held = r.resolve(None, "/f/").unwrap().target;
        r.insert(named("f", &[]));
        assert_eq!(held.1.len(), 1, "the request in flight keeps its version");
        assert!(r.resolve(None, "/old").is_none());
        assert_eq!(r.get("f").unwrap().1.len(), 0);
    }
}
