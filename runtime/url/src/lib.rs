//! WHATWG URL parsing and setters for Wisp's `URL` class (`polyfills/30-url.js`, through the
//! engine's natives). A URL already in canonical form (a request's own URL, typically) is split
//! where it stands (`canonical`); most others go to the `url` crate; `file:` URLs to [`file`],
//! which follows the current standard where that crate does not. A URL reaches JavaScript as its
//! [`Components`], computed once per parse or setter call and [`pack`]ed into one string; its
//! origin, which few handlers read and which costs a serialisation of its own, only when asked
//! for ([`origin`]).
//!
//! No QuickJS here, so the rules are unit-tested on the host; the web-platform-tests suite
//! (`tests/wpt.rs`) checks them again inside the real engine.

mod canonical;
pub mod file;
mod non_special;
mod packed;

pub use packed::{HEADER, Packed, component, pack};

use file::FileUrl;

/// What the `URL` class reads, in the order `polyfills/30-url.js` indexes them: href, protocol,
/// username, password, host, hostname, port, pathname, search, hash.
pub type Components = [String; 10];

/// A URL parsed by whichever parser its scheme needs.
enum Parsed {
    File(FileUrl),
    Other(url::Url),
}

/// The scheme of an ordinary input, read without copying it: `None` when it has none or when
/// a tab, newline or leading control character makes the full preprocessing necessary.
fn plain_scheme(input: &str) -> Option<&str> {
    let input = input.trim_start_matches(' ');
    let end = input.find(':')?;
    let scheme = &input[..end];
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(scheme)
}

impl Parsed {
    fn parse(input: &str, base: Option<&Parsed>) -> Option<Parsed> {
        // The common case (`https://…`, whatever the base) needs no copy of the input.
        if let Some(scheme) = plain_scheme(input)
            && !scheme.eq_ignore_ascii_case("file")
        {
            return Parsed::with_url_crate(input, base);
        }
        let chars = file::preprocess(input, true);
        let file_base = match base {
            Some(Parsed::File(f)) => Some(f),
            _ => None,
        };
        let text: String = chars.iter().collect();
        match plain_scheme(&text) {
            // A scheme is ASCII: its length in bytes is its length in code points.
            Some(scheme) if scheme.eq_ignore_ascii_case("file") => {
                FileUrl::parse(&chars, scheme.len() + 1, file_base).map(Parsed::File)
            }
            None if file_base.is_some() => FileUrl::parse(&chars, 0, file_base).map(Parsed::File),
            // A `file:` base only matters to scheme-less and `file:` inputs, handled above.
            _ => Parsed::with_url_crate(input, base),
        }
    }

    fn with_url_crate(input: &str, base: Option<&Parsed>) -> Option<Parsed> {
        let base = match base {
            Some(Parsed::Other(u)) => Some(u),
            _ => None,
        };
        url::Url::options()
            .base_url(base)
            .parse(input)
            .ok()
            .map(Parsed::Other)
    }

    fn components(&self) -> Components {
        match self {
            Parsed::File(f) => [
                f.href(),
                "file:".into(),
                String::new(),
                String::new(),
                f.host.clone(),
                f.host.clone(),
                String::new(),
                f.pathname(),
                f.search(),
                f.hash(),
            ],
            Parsed::Other(url) => {
                use url::quirks as q;
                [
                    q::href(url).to_owned(),
                    q::protocol(url).to_owned(),
                    q::username(url).to_owned(),
                    q::password(url).to_owned(),
                    q::host(url).to_owned(),
                    q::hostname(url).to_owned(),
                    q::port(url).to_owned(),
                    q::pathname(url).to_owned(),
                    q::search(url).to_owned(),
                    q::hash(url).to_owned(),
                ]
            }
        }
    }
}

/// The serialised origin of `href` (a URL's own serialisation, as [`parse`] gave it); `None` if
/// it does not parse. A `file:` URL's origin is opaque: "null".
pub fn origin(href: &str) -> Option<String> {
    Some(match Parsed::parse(href, None)? {
        Parsed::File(_) => "null".into(),
        Parsed::Other(url) => origin_of(&url),
    })
}

/// The URL standard's origin. The `url` crate gives a `blob:` URL its inner URL's origin for any
/// scheme; the standard only for `http:` and `https:` (anything else is opaque, "null").
fn origin_of(url: &url::Url) -> String {
    if url.scheme() == "blob" {
        return match url::Url::parse(url.path()) {
            Ok(inner) if matches!(inner.scheme(), "http" | "https") => url::quirks::origin(&inner),
            _ => "null".into(),
        };
    }
    url::quirks::origin(url)
}

/// `new URL(input, base)`: the components, or `None` when either does not parse.
pub fn parse(input: &str, base: Option<&str>) -> Option<Components> {
    if base.is_none()
        && let Some(c) = canonical::components(input)
    {
        return Some(c);
    }
    let base = match base {
        Some(b) => Some(Parsed::parse(b, None)?),
        None => None,
    };
    Parsed::parse(input, base.as_ref()).map(|p| p.components())
}

/// [`parse`], [`pack`]ed: a canonical URL (see `canonical`) is packed from where its
/// components stand, without copying them out first.
pub fn parse_packed(input: &str, base: Option<&str>) -> Option<Packed> {
    if base.is_none()
        && let Some(spans) = canonical::spans(input)
        && let Some(packed) = packed::pack_spans(input, &spans)
    {
        return Some(packed);
    }
    parse(input, base).map(pack)
}

/// Applies one WHATWG setter (`which` is the property name) to the URL `href`; `None` when
/// `href` does not parse or the property is unknown. A setter that rejects its value leaves the
/// URL unchanged, as the standard says.
pub fn set(href: &str, which: &str, value: &str) -> Option<Components> {
    match Parsed::parse(href, None)? {
        Parsed::File(mut f) => {
            match which {
                "pathname" => f.set_pathname(value),
                "search" => f.set_search(value),
                "hash" => f.set_hash(value),
                "host" | "hostname" => f.set_host(value),
                // A `file:` URL cannot have credentials or a port.
                "username" | "password" | "port" => {}
                // Changing the scheme is the `url` crate's (it knows which changes are allowed).
                "protocol" => return set_with_url_crate(&f.href(), which, value),
                _ => return None,
            }
            Some(Parsed::File(f).components())
        }
        Parsed::Other(_) => set_with_url_crate(href, which, value),
    }
}

fn set_with_url_crate(href: &str, which: &str, value: &str) -> Option<Components> {
    use url::quirks as q;
    let mut url = url::Url::parse(href).ok()?;
    if non_special::applies(&url, which) {
        return Some(Parsed::Other(non_special::set(url, which, value)).components());
    }
    let _ = match which {
        "protocol" => q::set_protocol(&mut url, value),
        "username" => q::set_username(&mut url, value),
        "password" => q::set_password(&mut url, value),
        "host" => q::set_host(&mut url, value),
        "hostname" => q::set_hostname(&mut url, value),
        "port" => q::set_port(&mut url, value),
        "pathname" => {
            q::set_pathname(&mut url, value);
            Ok(())
        }
        "search" => {
            q::set_search(&mut url, value);
            Ok(())
        }
        "hash" => {
            q::set_hash(&mut url, value);
            Ok(())
        }
        _ => return None,
    };
    Some(Parsed::Other(url).components())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_go_through_the_url_crate() {
        let c = parse("HTTP://Example.com:80/a/../b?x#y", None).unwrap();
        assert_eq!(c[0], "http://example.com/b?x#y");
        assert_eq!(origin(&c[0]).unwrap(), "http://example.com");
        let rel = parse("../c", Some("https://h/a/b/")).unwrap();
        assert_eq!(rel[0], "https://h/a/c");
    }

    #[test]
    fn file_urls_follow_the_current_standard() {
        let c = parse("/C:/x", Some("file://host/")).unwrap();
        assert_eq!(c[0], "file://host/C:/x");
        assert_eq!(c[4], "host");
        assert_eq!(c[7], "/C:/x");
        assert_eq!(origin(&c[0]).unwrap(), "null");
        assert_eq!(parse("FILE:////a", None).unwrap()[0], "file:////a");
    }

    #[test]
    fn schemes_are_found_with_and_without_preprocessing() {
        assert_eq!(plain_scheme("  HTTPS://h/"), Some("HTTPS"));
        assert_eq!(plain_scheme("/path:x"), None);
        assert_eq!(plain_scheme("a b:c"), None);
        // A tab inside the scheme is removed by the standard's preprocessing: the slow path.
        assert_eq!(plain_scheme("ht\ttp://h/"), None);
        assert_eq!(parse("ht\ttp://h/", None).unwrap()[0], "http://h/");
        assert_eq!(parse(" \tfile:////x", None).unwrap()[0], "file:////x");
    }

    #[test]
    fn a_file_base_is_ignored_by_other_schemes() {
        assert_eq!(
            parse("https://h/p", Some("file:///x")).unwrap()[0],
            "https://h/p"
        );
        assert!(parse("x", Some("not a url")).is_none());
    }

    #[test]
    fn setters_on_both_kinds() {
        assert_eq!(
            set("file://monkey/", "pathname", "\\\\").unwrap()[0],
            "file://monkey//"
        );
        assert_eq!(
            set("file:///a", "port", "8080").unwrap()[0],
            "file:///a",
            "a file: URL has no port"
        );
        assert_eq!(
            set("http://h/a", "port", "8080").unwrap()[0],
            "http://h:8080/a"
        );
        assert!(set("http://h/a", "nonsense", "x").is_none());
    }
}
