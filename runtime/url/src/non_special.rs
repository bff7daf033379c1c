//! Setters on URLs of non-special schemes (`foo://h/p`, `non-spec:/p`) where the `url` crate
//! departs from the standard: the `/.` that the standard puts before a host-less path starting
//! with `//` (so that it cannot be read back as a host). The crate keeps it after a host is set,
//! drops it (turning the path into a host) when a pathname setter makes such a path, and gives
//! an empty path one `/`. Here the new path is computed by the standard's path state and the URL
//! is serialized again, then parsed by the crate, whose parser gets these URLs right.

use crate::file::{EncodeSet, encode_into, is_double_dot, is_single_dot};
use url::Url;

const SPECIAL: [&str; 6] = ["http", "https", "ws", "wss", "ftp", "file"];

/// Whether the setter `which` on `url` needs this module: a non-special URL with a
/// hierarchical path, and a setter that changes its host or its path.
pub fn applies(url: &Url, which: &str) -> bool {
    !SPECIAL.contains(&url.scheme())
        && !url.cannot_be_a_base()
        && matches!(which, "pathname" | "host" | "hostname")
}

/// The path segments the standard's path start state makes of a `pathname` setter's value.
fn parse_path(value: &str, has_host: bool) -> Vec<String> {
    let chars: Vec<char> = value
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let mut path = Vec::new();
    if chars.is_empty() {
        if !has_host {
            path.push(String::new());
        }
        return path;
    }
    let start = usize::from(chars[0] == '/');
    let mut buffer = String::new();
    for i in start..=chars.len() {
        let c = chars.get(i).copied();
        if c.is_none() || c == Some('/') {
            if is_double_dot(&buffer) {
                path.pop();
                if c.is_none() {
                    path.push(String::new());
                }
            } else if is_single_dot(&buffer) {
                if c.is_none() {
                    path.push(String::new());
                }
            } else {
                path.push(std::mem::take(&mut buffer));
            }
            buffer.clear();
        } else if let Some(c) = c {
            encode_into(&mut buffer, c, EncodeSet::Path);
        }
    }
    path
}

/// Whether `url` has a host, an empty one included (`foo:///p` has one; the crate says not).
fn has_authority(url: &Url) -> bool {
    url.as_str()[url.scheme().len() + 1..].starts_with("//")
}

/// `url` serialized with `path` (already serialized, `/a/b` or empty) as its path.
fn with_path(url: &Url, path: &str) -> String {
    use url::quirks as q;
    let mut out = format!("{}:", url.scheme());
    if has_authority(url) {
        out.push_str("//");
        let (user, pass) = (q::username(url), q::password(url));
        if !user.is_empty() || !pass.is_empty() {
            out.push_str(user);
            if !pass.is_empty() {
                out.push(':');
                out.push_str(pass);
            }
            out.push('@');
        }
        out.push_str(q::host(url));
    } else if path.starts_with("//") {
        out.push_str("/.");
    }
    out.push_str(path);
    out.push_str(q::search(url));
    out.push_str(q::hash(url));
    out
}

/// Applies the setter (one [`applies`] to) and returns the URL the standard gives.
pub fn set(mut url: Url, which: &str, value: &str) -> Url {
    use url::quirks as q;
    let href = match which {
        "pathname" => {
            let path: String = parse_path(value, has_authority(&url))
                .iter()
                .map(|s| format!("/{s}"))
                .collect();
            with_path(&url, &path)
        }
        _ => {
            let path = q::pathname(&url).to_owned();
            // An empty host is a host for these schemes, which the crate refuses to set.
            let host_end = value.find(['/', '?', '#']).unwrap_or(value.len());
            if value[..host_end].is_empty() {
                if url.port().is_some() || !url.username().is_empty() || url.password().is_some() {
                    return url;
                }
                let mut href = format!("{}://{path}", url.scheme());
                href.push_str(q::search(&url));
                href.push_str(q::hash(&url));
                return Url::parse(&href).unwrap_or(url);
            }
            let changed = if which == "host" {
                q::set_host(&mut url, value)
            } else {
                q::set_hostname(&mut url, value)
            };
            if changed.is_err() {
                return url;
            }
            with_path(&url, &path)
        }
    };
    Url::parse(&href).unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(href: &str, which: &str, value: &str) -> String {
        let url = Url::parse(href).unwrap();
        assert!(applies(&url, which));
        set(url, which, value).to_string()
    }

    #[test]
    fn a_host_less_path_starting_with_two_slashes_keeps_its_dot() {
        assert_eq!(apply("non-spec:/", "pathname", "/.//p"), "non-spec:/.//p");
        assert_eq!(apply("non-spec:/", "pathname", "/..//p"), "non-spec:/.//p");
        assert_eq!(apply("non-spec:/", "pathname", "//p"), "non-spec:/.//p");
        assert_eq!(apply("non-spec:/.//", "pathname", "p"), "non-spec:/p");
    }

    #[test]
    fn setting_a_host_drops_the_dot() {
        assert_eq!(apply("non-spec:/.//p", "hostname", "h"), "non-spec://h//p");
        assert_eq!(apply("non-spec:/.//p", "hostname", ""), "non-spec:////p");
        assert_eq!(apply("foo://h/a?q#f", "host", "x:8"), "foo://x:8/a?q#f");
    }

    #[test]
    fn an_empty_path_with_a_host_stays_empty() {
        assert_eq!(apply("foo:///some/path", "pathname", ""), "foo://");
        assert_eq!(apply("foo:/a", "pathname", ""), "foo:/");
        assert_eq!(apply("foo://h/x", "pathname", "a b/../c"), "foo://h/c");
    }
}
