//! The fast path for the URL nearly every handler parses: `new URL(request.url)`, an `http:` or
//! `https:` URL that is already in the form the standard serialises it to.
//!
//! Such a URL parses to itself, so its components are slices of the input: no host mapping
//! (UTS #46 tables), no percent-encoding, no path normalisation. [`components`] accepts an
//! input only when every one of its parts is written the one way the parser would write it,
//! and leaves everything else (upper case, credentials, IP literals other than a plain dotted
//! quad, `xn--` labels, default ports, dot segments, characters the parser would encode…) to
//! the full parser. Being strict costs nothing: an input it declines is still parsed right, a
//! little slower. The unit tests compare it with the `url` crate on inputs of every kind.

use crate::Components;
use crate::packed::Spans;

/// The components of `input` when it is a canonical `http:`/`https:` URL, without a base.
pub fn components(input: &str) -> Option<Components> {
    let spans = spans(input)?;
    Some(spans.map(|(start, end)| input[start..end].to_owned()))
}

/// Where each component lies in `input` when it is a canonical `http:`/`https:` URL: the
/// URL is its own href, so every component is a slice of it.
pub fn spans(input: &str) -> Option<Spans> {
    let (protocol, default_port) = if input.starts_with("http://") {
        ("http:", "80")
    } else if input.starts_with("https://") {
        ("https:", "443")
    } else {
        return None;
    };
    let host_start = protocol.len() + 2;
    let rest = &input[host_start..];
    // Bytes, not chars: a `[char; 3]` pattern decodes the text char by char.
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The serialisation of a special URL always has a path, at least "/".
    if !tail.starts_with('/') {
        return None;
    }
    let (hostname, port) = match authority.bytes().position(|b| b == b':') {
        // "host:" serialises without its colon.
        Some(colon) if colon + 1 == authority.len() => return None,
        Some(colon) => (&authority[..colon], &authority[colon + 1..]),
        None => (authority, ""),
    };
    if !canonical_host(hostname) || !canonical_port(port, default_port) {
        return None;
    }
    let hash_at = tail.bytes().position(|b| b == b'#').unwrap_or(tail.len());
    let (before_hash, hash) = tail.split_at(hash_at);
    let search_at = before_hash
        .bytes()
        .position(|b| b == b'?')
        .unwrap_or(before_hash.len());
    let (pathname, search) = before_hash.split_at(search_at);
    if !canonical_path(pathname)
        || !search.bytes().skip(1).all(|b| kept(b) || b == b'?')
        || !hash
            .bytes()
            .skip(1)
            .all(|b| kept(b) || b == b'?' || b == b'#')
    {
        return None;
    }
    let path_start = host_start + authority_end;
    let search_start = path_start + pathname.len();
    let hash_start = search_start + search.len();
    // "?" and "#" alone stay in the href, but read as "" (the standard's search and hash getters).
    let getter = |start: usize, part: &str| {
        if part.len() > 1 {
            (start, start + part.len())
        } else {
            (0, 0)
        }
    };
    Some([
        (0, input.len()),
        (0, protocol.len()),
        (0, 0),
        (0, 0),
        (host_start, path_start),
        (host_start, host_start + hostname.len()),
        (path_start - port.len(), path_start),
        (path_start, search_start),
        getter(search_start, search),
        getter(hash_start, hash),
    ])
}

/// Characters every part past the host keeps as they are: unreserved and sub-delimiters,
/// `:`, `@`, `/` and `%` (which the parser never re-encodes). Anything else (spaces, quotes,
/// `<>`, `^`, backticks, braces, non-ASCII…) is encoded by some part's rules, so it declines.
fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
                | b'%'
        )
}

/// A path the parser leaves alone: no backslashes (special URLs read them as `/`) and no dot
/// segments, written plainly or percent-encoded.
fn canonical_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    let encoded_dot = |i: usize| {
        bytes[i] == b'%'
            && bytes.get(i + 1) == Some(&b'2')
            && matches!(bytes.get(i + 2), Some(b'e' | b'E'))
    };
    // One pass over the bytes (in Wasm, each `split` or search by a char sets up a searcher).
    let mut segment_start = 0;
    for i in 0..=bytes.len() {
        if i == bytes.len() || bytes[i] == b'/' {
            if matches!(&bytes[segment_start..i], b"." | b"..") {
                return false;
            }
            segment_start = i + 1;
        } else if !kept(bytes[i]) || encoded_dot(i) {
            return false;
        }
    }
    true
}

/// A domain of lower-case ASCII labels (letters, digits, inner hyphens), or a dotted quad of
/// decimal bytes without leading zeros. A label that starts with a digit is only accepted in a
/// dotted quad: the standard reads a host whose last label is numeric as an IPv4 address and
/// rewrites it (`127.1` is `127.0.0.1`).
fn canonical_host(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let bytes = host.as_bytes();
    let labels = || bytes.split(|&b| b == b'.');
    let last = bytes.rsplit(|&b| b == b'.').next().unwrap_or_default();
    if last.first().is_some_and(u8::is_ascii_digit) {
        let mut count = 0;
        let decimal_bytes = labels().all(|l| {
            count += 1;
            !l.is_empty()
                && l.len() <= 3
                && l.iter().all(u8::is_ascii_digit)
                && (l == b"0" || l[0] != b'0')
                && l.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0')) <= 255
        });
        return decimal_bytes && count == 4;
    }
    labels().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l[0] != b'-'
            && l[l.len() - 1] != b'-'
            // Punycode labels are decoded and checked by the full parser.
            && !l.starts_with(b"xn--")
            && !l[0].is_ascii_digit()
            && l.iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// No port, or one written as the parser writes it: digits without a leading zero, at most
/// 65535, and not the scheme's default (which the parser drops).
fn canonical_port(port: &str, default: &str) -> bool {
    port.is_empty()
        || (port.bytes().all(|b| b.is_ascii_digit())
            && !port.starts_with('0')
            && port != default
            && port.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the full parser makes of `input` (the `url` crate; none of these is a `file:` URL).
    fn full(input: &str) -> Option<Components> {
        crate::Parsed::with_url_crate(input, None).map(|p| p.components())
    }

    #[test]
    fn the_request_urls_handlers_see_take_the_fast_path() {
        for input in [
            "http://127.0.0.1:8080/api/hello",
            "https://example.com/",
            "https://api.example.com/v1/items?id=42&sort=asc",
            "http://localhost:3000/a/b.c/d?q=x%20y#frag",
            "https://my-site.example.org/path;p=1/@user/~x?",
            "http://10.0.0.255/#",
        ] {
            let fast = components(input).unwrap_or_else(|| panic!("{input} declined"));
            assert_eq!(Some(fast), full(input), "{input}");
        }
    }

    #[test]
    fn anything_the_parser_would_rewrite_is_declined() {
        for input in [
            "HTTP://example.com/",
            "http://Example.com/",
            "http://example.com",
            "http://example.com:80/",
            "https://example.com:443/",
            "http://example.com:/",
            "http://example.com:080/",
            "http://example.com:65536/",
            "http://user:pass@example.com/",
            "http://127.1/",
            "http://127.0.0.01/",
            "http://0x7f.0.0.1/",
            "http://256.0.0.1/",
            "http://1.2.3.4.5/",
            "http://example.123/",
            "http://[::1]/",
            "http://xn--nxasmq6b.com/",
            "http://exa_mple.com/",
            "http://example.com./",
            "http://a..b/",
            "http://-a.com/",
            "http://ex ample.com/",
            "http://example.com/a/../b",
            "http://example.com/a/./b",
            "http://example.com/%2e%2E/b",
            "http://example.com/a\\b",
            "http://example.com/a b",
            "http://example.com/\"q\"",
            "http://example.com/a^b",
            "http://example.com/é",
            "http://example.com/?a=<b>",
            "http://example.com/#a b",
            " http://example.com/",
            "http://example.com/\t",
            "ftp://example.com/",
            "http:/example.com/",
        ] {
            assert_eq!(components(input), None, "{input} was accepted");
        }
    }

    /// Whatever the fast path accepts, the full parser reads the same way: checked on every
    /// combination of a set of hosts, ports, paths, queries and fragments, tricky ones included.
    #[test]
    fn it_agrees_with_the_full_parser_wherever_it_answers() {
        let hosts = [
            "a",
            "example.com",
            "a-b.c",
            "0.0.0.0",
            "255.255.255.255",
            "1.2.3",
            "x.y1",
            "a.b-",
            "A.b",
            "1a.b",
            "b.1a",
            "xn--a.b",
            "ab--cd.e",
        ];
        let ports = ["", ":1", ":80", ":443", ":8080", ":65535", ":0", ":+1"];
        let paths = [
            "/", "//", "/a/b/", "/a;b=c", "/%41", "/%zz", "/..a", "/.a", "/a.", "/a/..", "/@:",
            "/'", "/[x]", "/|", "/a?b",
        ];
        let queries = ["", "?", "?a=b&c", "??", "?%", "?'", "?a b", "?/?#"];
        let hashes = ["", "#", "#x", "##", "#a?b", "#`"];
        let mut accepted = 0;
        for scheme in ["http://", "https://"] {
            for host in hosts {
                for port in ports {
                    for path in paths {
                        for query in queries {
                            for hash in hashes {
                                let input = format!("{scheme}{host}{port}{path}{query}{hash}");
                                if let Some(fast) = components(&input) {
                                    accepted += 1;
                                    assert_eq!(Some(fast), full(&input), "{input}");
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(
            accepted > 10_000,
            "only {accepted} inputs took the fast path"
        );
    }
}
