//! Which hosts a function may reach over the network.
//!
//! Outbound HTTP from every kind of function (JS `fetch`, a component's
//! `wasi:http/outgoing-handler`) is checked here, once per request and again on every redirect
//! hop. Nothing is allowed unless listed: `[net] allow` in the config, `--allow-net` on the
//! command line.
//!
//! An entry is `host`, `host:port`, `*.domain` (any subdomain, not the domain itself) or `*`
//! (everything; for development). Without a port, any port is allowed. Host names compare
//! case-insensitively; IPv6 literals are written in brackets (`[::1]:8080`).

use anyhow::{Result, bail};

/// A parsed allowlist; cheap to check, shared by every request of a function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowList {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
}

impl AllowList {
    /// Allows nothing.
    pub fn none() -> AllowList {
        AllowList::default()
    }

    /// Parses `entries`; an error names the entry that is wrong.
    pub fn parse(entries: &[String]) -> Result<AllowList> {
        let entries = entries
            .iter()
            .map(|e| parse_entry(e.trim()).map_err(|why| anyhow::anyhow!("{e:?}: {why}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(AllowList { entries })
    }

    /// This list plus `other`'s entries (a function's own list on top of the server's).
    pub fn union(&self, other: &AllowList) -> AllowList {
        let mut entries = self.entries.clone();
        entries.extend(other.entries.iter().cloned());
        AllowList { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a request to `host:port` may go out. `host` is as in a URL (IPv6 in brackets).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries.iter().any(|e| {
            e.port.is_none_or(|p| p == port)
                && match &e.host {
                    HostPattern::Any => true,
                    HostPattern::Exact(h) => *h == host,
                    HostPattern::Suffix(s) => host.ends_with(s.as_str()),
                }
        })
    }
}

fn parse_entry(entry: &str) -> Result<Entry, &'static str> {
    if entry.is_empty() {
        return Err("empty entry");
    }
    if entry.contains("://") || entry.contains('/') {
        return Err("write a host or host:port, not a URL");
    }
    let (host, port) = split_port(entry)?;
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(domain) = host.strip_prefix("*.") {
        if domain.is_empty() || domain.contains('*') {
            return Err("a wildcard is `*.domain`");
        }
        HostPattern::Suffix(format!(".{domain}"))
    } else if host.contains('*') {
        return Err("a wildcard is `*.domain`");
    } else if host.is_empty() {
        return Err("missing host");
    } else {
        HostPattern::Exact(host)
    };
    Ok(Entry { host, port })
}

fn split_port(entry: &str) -> Result<(&str, Option<u16>), &'static str> {
    if entry.starts_with('[') {
        let end = entry.find(']').ok_or("unclosed `[` in an IPv6 address")?;
        let host = &entry[..=end];
        return match &entry[end + 1..] {
            "" => Ok((host, None)),
            rest => match rest.strip_prefix(':').map(str::parse::<u16>) {
                Some(Ok(p)) => Ok((host, Some(p))),
                _ => Err("the port must be a number from 0 to 65535"),
            },
        };
    }
    match entry.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Err("write an IPv6 address in brackets"),
        Some((host, port)) => match port.parse::<u16>() {
            Ok(p) => Ok((host, Some(p))),
            Err(_) => Err("the port must be a number from 0 to 65535"),
        },
        None => Ok((entry, None)),
    }
}

/// Validates `[net] allow`-style lists for config errors that name the key.
pub fn check(key: &str, entries: &[String]) -> Result<()> {
    if let Err(e) = AllowList::parse(entries) {
        bail!("{key}: {e}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert!(!AllowList::none().allows("example.com", 443));
    }

    #[test]
    fn hosts_ports_and_wildcards() {
        let l = list(&[
            "API.example.com",
            "127.0.0.1:9000",
            "*.cdn.net",
            "[::1]:8080",
        ]);
        assert!(l.allows("api.example.com", 443));
        assert!(l.allows("Api.Example.Com.", 80));
        assert!(!l.allows("example.com", 443));
        assert!(l.allows("127.0.0.1", 9000));
        assert!(!l.allows("127.0.0.1", 9001));
        assert!(l.allows("a.b.cdn.net", 443));
        assert!(!l.allows("cdn.net", 443));
        assert!(!l.allows("evilcdn.net", 443));
        assert!(l.allows("[::1]", 8080));
        assert!(list(&["*"]).allows("anything.at.all", 1));
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "",
            "http://x.com",
            "x.com/path",
            "x.com:99999",
            "a*.com",
            "::1",
            "[::1",
        ] {
            let e = AllowList::parse(&[bad.to_string()]).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
