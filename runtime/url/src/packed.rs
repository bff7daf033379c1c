//! A URL's components as one JavaScript string, so that `new URL(…)` makes one string rather
//! than ten.
//!
//! Every component of a serialised URL is a slice of its href: the protocol starts it, the
//! hash ends it, the host sits just before the path. [`pack`] finds each component there and
//! writes its start and end as code units of a [`HEADER`] in front of the href; the `URL`
//! class (`polyfills/30-url.js`) slices a component out only when a getter asks for it, and a
//! handler that reads one component (the path, typically) pays for one string. A component
//! that is not where the layout says (none should be) is appended after the href, so the
//! packing is right whatever the parser gave.

use crate::Components;

/// Code units in front of the payload: the start and end of each of the ten components, in
/// the order of [`Components`], as offsets into the payload.
pub const HEADER: usize = 20;

/// The longest payload the header can address: a code unit at or past U+D800 would be half a
/// surrogate pair, which a Rust string cannot hold.
const MAX_PAYLOAD: usize = 0xD800;

/// Where each component lies in the href: start and end, in bytes (which are its UTF-16 code
/// units: a serialised URL is ASCII).
pub type Spans = [(usize, usize); 10];

/// What the `URL` class stores.
#[derive(Debug, PartialEq)]
pub enum Packed {
    /// The header, then the href, then any component found nowhere in it.
    Text(String),
    /// The components themselves: for a URL too long for the header to address (boxed: rare,
    /// and ten times the size of the usual answer).
    Parts(Box<Components>),
}

/// Packs `c` (see the module's doc).
pub fn pack(c: Components) -> Packed {
    let href = &c[0];
    // A serialised URL is ASCII, so its bytes are its UTF-16 code units; anything else keeps
    // the plain form rather than counting code units.
    if !c.iter().all(|part| part.is_ascii()) {
        return Packed::Parts(Box::new(c));
    }
    let found = spans(&c);
    let mut payload = href.clone();
    let mut offsets = [(0usize, 0usize); 10];
    for (i, part) in c.iter().enumerate() {
        offsets[i] = match found[i] {
            _ if part.is_empty() => (0, 0),
            Some((start, end)) if href.get(start..end) == Some(part.as_str()) => (start, end),
            _ => {
                let start = payload.len();
                payload.push_str(part);
                (start, payload.len())
            }
        };
    }
    pack_spans(&payload, &offsets).unwrap_or_else(|| Packed::Parts(Box::new(c)))
}

/// Packs a payload whose components lie at `spans`; `None` when it is too long to address or
/// not ASCII.
pub fn pack_spans(payload: &str, spans: &Spans) -> Option<Packed> {
    if payload.len() >= MAX_PAYLOAD || !payload.is_ascii() {
        return None;
    }
    let mut text = String::with_capacity(HEADER * 2 + payload.len());
    for &(start, end) in spans {
        for offset in [start, end] {
            // Below U+D800, checked above: never a surrogate.
            text.push(char::from_u32(offset as u32)?);
        }
    }
    text.push_str(payload);
    Some(Packed::Text(text))
}

/// Where each component should lie in the href, from the serialisation's layout:
/// `protocol "//" [username [":" password] "@"] host pathname ["?" query] ["#" fragment]`.
/// Only a guess, checked by [`pack`]; empty components need no place.
fn spans(c: &Components) -> [Option<(usize, usize)>; 10] {
    let [
        href,
        protocol,
        username,
        password,
        host,
        hostname,
        port,
        pathname,
        search,
        hash,
    ] = c;
    let mut end = href.len();
    // The hash and search getters read "" for a lone "#" or "?", which the href still has.
    let mut tail = |part: &str, mark: char| {
        if !part.is_empty() {
            let start = end.checked_sub(part.len())?;
            end = start;
            Some((start, start + part.len()))
        } else {
            if href[..end].ends_with(mark) {
                end -= 1;
            }
            None
        }
    };
    let hash_at = tail(hash, '#');
    let search_at = tail(search, '?');
    let path_start = end.checked_sub(pathname.len());
    let host_start = path_start.and_then(|p| p.checked_sub(host.len()));
    let user_start = protocol.len() + 2;
    let password_start = user_start + username.len() + 1;
    let at = |start: Option<usize>, part: &str| start.map(|s| (s, s + part.len()));
    [
        Some((0, href.len())),
        Some((0, protocol.len())),
        Some((user_start, user_start + username.len())),
        Some((password_start, password_start + password.len())),
        at(host_start, host),
        at(host_start, hostname),
        host_start.map(|s| ((s + host.len()).saturating_sub(port.len()), s + host.len())),
        at(path_start, pathname),
        search_at,
        hash_at,
    ]
}

/// Component `i` (in [`Components`]'s order) of a packed URL's text: what the `URL` class's
/// getters read. `None` if `packed` is not a packed URL or `i` is past the last component.
///
/// The header's code units count UTF-16 code units of the payload; a URL's serialisation is
/// ASCII, so they are byte offsets too (a payload that is not is walked by characters).
pub fn component(packed: &str, i: usize) -> Option<&str> {
    if i >= HEADER / 2 {
        return None;
    }
    let bytes = packed.as_bytes();
    let (units, payload) = if bytes.len() >= HEADER && bytes[..HEADER].is_ascii() {
        // Every position below 128: one byte each, the common case.
        let unit = |k: usize| usize::from(bytes[k]);
        ((unit(2 * i), unit(2 * i + 1)), &packed[HEADER..])
    } else {
        let mut chars = packed.char_indices();
        let mut header = [0usize; HEADER];
        for unit in &mut header {
            *unit = u32::from(chars.next()?.1) as usize;
        }
        let start = chars.next().map_or(packed.len(), |(at, _)| at);
        ((header[2 * i], header[2 * i + 1]), &packed[start..])
    };
    let (start, end) = units;
    if payload.is_ascii() {
        return payload.get(start..end);
    }
    let at = |n: usize| {
        payload
            .char_indices()
            .map(|(b, _)| b)
            .chain([payload.len()])
            .nth(n)
    };
    payload.get(at(start)?..at(end)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `URL` class's getters read from a packed URL.
    fn unpack(p: &Packed) -> Components {
        match p {
            Packed::Parts(c) => (**c).clone(),
            Packed::Text(text) => {
                std::array::from_fn(|i| component(text, i).expect("a component").to_owned())
            }
        }
    }

    fn payload_len(p: &Packed) -> usize {
        match p {
            Packed::Text(t) => t.chars().count() - HEADER,
            Packed::Parts(_) => usize::MAX,
        }
    }

    #[test]
    fn every_component_reads_back_as_parsed() {
        for (input, base) in [
            ("http://127.0.0.1:8080/api/hello", None),
            ("https://user:pw@example.com:8443/a/b?x=1&y=2#frag", None),
            ("https://user@example.com/", None),
            ("https://:pw@example.com/", None),
            ("http://h/p?#", None),
            ("http://h/p?", None),
            ("http://h/p#", None),
            ("http://[::1]:81/", None),
            ("mailto:someone@example.com?subject=hi", None),
            ("data:text/plain,hello#x", None),
            ("blob:https://example.com/uuid", None),
            ("javascript:alert(1)", None),
            ("sc://h/p?q#f", None),
            ("sc:", None),
            ("file:///C:/x/y?q#f", None),
            ("file://host/share/a", None),
            ("../c?d", Some("https://h/a/b/")),
            ("HTTP://EXAMPLE.com:80/%7Efoo/./bar/../baz", None),
            ("https://münchen.example/ä?ö#ü", None),
            // Past 127 characters: header code units that are not ASCII.
            (
                &*format!(
                    "https://h.example/{}?q={}#f",
                    "p/".repeat(90),
                    "v".repeat(200)
                ),
                None,
            ),
        ] {
            let c = crate::parse(input, base).unwrap_or_else(|| panic!("{input} parses"));
            let packed = pack(c.clone());
            assert_eq!(unpack(&packed), c, "{input}");
            // Every component is found in the href: nothing is appended.
            assert_eq!(payload_len(&packed), c[0].len(), "{input}");
        }
    }

    #[test]
    fn component_refuses_what_is_not_a_packed_url() {
        let Packed::Text(text) = pack(crate::parse("http://h/p", None).unwrap()) else {
            panic!("a short URL packs into text");
        };
        assert_eq!(component(&text, 7), Some("/p"));
        assert_eq!(component(&text, 10), None);
        assert_eq!(component("short", 0), None);
    }

    #[test]
    fn the_canonical_fast_path_packs_the_same_components() {
        for input in [
            "http://127.0.0.1:8080/api/hello",
            "https://api.example.com:8443/v1/items?id=42&sort=asc#top",
            "http://h/p?",
            "http://h/p?#",
            "https://h/",
        ] {
            assert!(
                crate::canonical::spans(input).is_some(),
                "{input} takes the fast path"
            );
            let fast = crate::parse_packed(input, None).unwrap();
            assert_eq!(unpack(&fast), crate::parse(input, None).unwrap(), "{input}");
        }
    }

    #[test]
    fn a_component_out_of_place_is_appended() {
        let mut c = crate::parse("https://example.com/a?b#c", None).unwrap();
        c[2] = "ghost".into();
        let packed = pack(c.clone());
        assert_eq!(unpack(&packed), c);
        assert_eq!(payload_len(&packed), c[0].len() + "ghost".len());
    }

    #[test]
    fn a_url_too_long_to_address_keeps_its_parts() {
        let long = format!("data:text/plain,{}", "a".repeat(MAX_PAYLOAD));
        let c = crate::parse(&long, None).unwrap();
        assert_eq!(pack(c.clone()), Packed::Parts(Box::new(c)));
        let fits = format!("data:text/plain,{}", "a".repeat(50_000));
        let c = crate::parse(&fits, None).unwrap();
        assert!(matches!(pack(c.clone()), Packed::Text(_)));
    }
}
