//! The URL standard's parser for `file:` URLs (the file, file slash, file host, path, query
//! and fragment states of <https://url.spec.whatwg.org/#concept-basic-url-parser>).
//!
//! The `url` crate follows an older version of these rules: it drops a host in front of a
//! Windows drive letter (`file://host/C:/` becomes `file:///C:/`) and collapses empty path
//! segments at the start of a path (`file:////foo` becomes `file:///foo`). Both changed in the
//! standard, and web-platform-tests checks the current rules, so `file:` URLs are parsed here.
//! A `file:` URL has no credentials, no port and an opaque-free path, which keeps this small;
//! hosts are still parsed by the `url` crate (IDNA, IPv4, IPv6).

/// A parsed `file:` URL.
#[derive(Clone, Debug, PartialEq)]
pub struct FileUrl {
    /// The serialized host; empty for none (or `localhost`).
    pub host: String,
    pub path: Vec<String>,
    pub query: Option<String>,
    pub fragment: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    File,
    FileSlash,
    FileHost,
    PathStart,
    Path,
    Query,
    Fragment,
}

/// Which code points a component percent-encodes, besides C0 controls and non-ASCII.
#[derive(Clone, Copy)]
pub(crate) enum EncodeSet {
    Path,
    SpecialQuery,
    Fragment,
}

impl EncodeSet {
    fn contains(self, c: char) -> bool {
        if (c as u32) < 0x20 || (c as u32) > 0x7e {
            return true;
        }
        match self {
            EncodeSet::Fragment => matches!(c, ' ' | '"' | '<' | '>' | '`'),
            EncodeSet::SpecialQuery => matches!(c, ' ' | '"' | '#' | '<' | '>' | '\''),
            EncodeSet::Path => {
                matches!(c, ' ' | '"' | '#' | '<' | '>' | '?' | '`' | '{' | '}')
            }
        }
    }
}

pub(crate) fn encode_into(out: &mut String, c: char, set: EncodeSet) {
    if set.contains(c) {
        let mut bytes = [0; 4];
        for b in c.encode_utf8(&mut bytes).bytes() {
            out.push_str(&format!("%{b:02X}"));
        }
    } else {
        out.push(c);
    }
}

fn is_slash(c: Option<char>) -> bool {
    matches!(c, Some('/' | '\\'))
}

/// Two code points: an ASCII letter and `:` or `|`.
fn is_drive_letter(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && matches!(b[1], b':' | b'|')
}

fn is_normalized_drive_letter(s: &str) -> bool {
    is_drive_letter(s) && s.as_bytes()[1] == b':'
}

/// Whether the code points from here on start with a drive letter followed by nothing or by a
/// path, query or fragment delimiter.
fn starts_with_drive_letter(rest: &[char]) -> bool {
    rest.len() >= 2
        && rest[0].is_ascii_alphabetic()
        && matches!(rest[1], ':' | '|')
        && (rest.len() == 2 || matches!(rest[2], '/' | '\\' | '?' | '#'))
}

pub(crate) fn is_single_dot(s: &str) -> bool {
    s == "." || s.eq_ignore_ascii_case("%2e")
}

pub(crate) fn is_double_dot(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        ".." | ".%2e" | "%2e." | "%2e%2e"
    )
}

/// The standard's host parser for a special URL, with `localhost` meaning no host.
fn parse_host(s: &str) -> Option<String> {
    let host = url::Host::parse(s).ok()?.to_string();
    Some(if host == "localhost" {
        String::new()
    } else {
        host
    })
}

/// The input as the parser sees it: no tab or newline anywhere, and when `trim` (a whole URL,
/// not a setter's value) no C0 control or space at either end.
pub fn preprocess(input: &str, trim: bool) -> Vec<char> {
    let trimmed = if trim {
        input.trim_matches(|c: char| c <= ' ')
    } else {
        input
    };
    trimmed
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

impl FileUrl {
    fn empty() -> FileUrl {
        FileUrl {
            host: String::new(),
            path: Vec::new(),
            query: None,
            fragment: None,
        }
    }

    /// Parses `input` (preprocessed) from `start`, which is just after `file:`, or 0 for a
    /// scheme-less input against a `file:` base.
    pub fn parse(input: &[char], start: usize, base: Option<&FileUrl>) -> Option<FileUrl> {
        let mut url = FileUrl::empty();
        url.run(input, start, State::File, base, false)?;
        Some(url)
    }

    /// Removes the last path segment, except a lone drive letter.
    fn shorten_path(&mut self) {
        if self.path.len() == 1 && is_normalized_drive_letter(&self.path[0]) {
            return;
        }
        self.path.pop();
    }

    /// The basic URL parser's state machine from `state`. With `state_override` (a setter),
    /// it stops where that component ends instead of going on to the next one. `None` means
    /// failure.
    fn run(
        &mut self,
        input: &[char],
        start: usize,
        mut state: State,
        base: Option<&FileUrl>,
        state_override: bool,
    ) -> Option<()> {
        let mut buffer = String::new();
        let mut i = start;
        loop {
            let c = input.get(i).copied();
            // `continue` without advancing is the standard's "decrease pointer by 1".
            match state {
                State::File => {
                    if is_slash(c) {
                        state = State::FileSlash;
                    } else if let Some(base) = base {
                        self.host = base.host.clone();
                        self.path = base.path.clone();
                        self.query = base.query.clone();
                        match c {
                            Some('?') => {
                                self.query = Some(String::new());
                                state = State::Query;
                            }
                            Some('#') => {
                                self.fragment = Some(String::new());
                                state = State::Fragment;
                            }
                            Some(_) => {
                                self.query = None;
                                if starts_with_drive_letter(&input[i..]) {
                                    self.path.clear();
                                } else {
                                    self.shorten_path();
                                }
                                state = State::Path;
                                continue;
                            }
                            None => {}
                        }
                    } else {
                        state = State::Path;
                        continue;
                    }
                }
                State::FileSlash => {
                    if is_slash(c) {
                        state = State::FileHost;
                    } else {
                        if let Some(base) = base {
                            self.host = base.host.clone();
                            if !starts_with_drive_letter(&input[i..])
                                && base
                                    .path
                                    .first()
                                    .is_some_and(|s| is_normalized_drive_letter(s))
                            {
                                self.path.push(base.path[0].clone());
                            }
                        }
                        state = State::Path;
                        continue;
                    }
                }
                State::FileHost => match c {
                    None | Some('/' | '\\' | '?' | '#') => {
                        if !state_override && is_drive_letter(&buffer) {
                            // The drive letter quirk: the buffer becomes the first segment.
                            state = State::Path;
                            continue;
                        }
                        self.host = if buffer.is_empty() {
                            String::new()
                        } else {
                            parse_host(&buffer)?
                        };
                        if state_override {
                            return Some(());
                        }
                        buffer.clear();
                        state = State::PathStart;
                        continue;
                    }
                    Some(c) => buffer.push(c),
                },
                State::PathStart => {
                    state = State::Path;
                    if !is_slash(c) {
                        continue;
                    }
                }
                State::Path => {
                    let ends_component = !state_override && matches!(c, Some('?' | '#'));
                    if c.is_none() || is_slash(c) || ends_component {
                        if is_double_dot(&buffer) {
                            self.shorten_path();
                            if !is_slash(c) {
                                self.path.push(String::new());
                            }
                        } else if is_single_dot(&buffer) {
                            if !is_slash(c) {
                                self.path.push(String::new());
                            }
                        } else {
                            if self.path.is_empty() && is_drive_letter(&buffer) {
                                buffer.replace_range(1..2, ":");
                            }
                            self.path.push(std::mem::take(&mut buffer));
                        }
                        buffer.clear();
                        match c {
                            Some('?') if ends_component => {
                                self.query = Some(String::new());
                                state = State::Query;
                            }
                            Some('#') if ends_component => {
                                self.fragment = Some(String::new());
                                state = State::Fragment;
                            }
                            _ => {}
                        }
                    } else if let Some(c) = c {
                        encode_into(&mut buffer, c, EncodeSet::Path);
                    }
                }
                State::Query => match c {
                    Some('#') if !state_override => {
                        self.fragment = Some(String::new());
                        state = State::Fragment;
                    }
                    Some(c) => encode_into(
                        self.query.get_or_insert_default(),
                        c,
                        EncodeSet::SpecialQuery,
                    ),
                    None => {}
                },
                State::Fragment => {
                    if let Some(c) = c {
                        encode_into(
                            self.fragment.get_or_insert_default(),
                            c,
                            EncodeSet::Fragment,
                        );
                    }
                }
            }
            if c.is_none() {
                return Some(());
            }
            i += 1;
        }
    }

    pub fn pathname(&self) -> String {
        self.path.iter().map(|s| format!("/{s}")).collect()
    }

    pub fn search(&self) -> String {
        match &self.query {
            Some(q) if !q.is_empty() => format!("?{q}"),
            _ => String::new(),
        }
    }

    pub fn hash(&self) -> String {
        match &self.fragment {
            Some(f) if !f.is_empty() => format!("#{f}"),
            _ => String::new(),
        }
    }

    pub fn href(&self) -> String {
        let mut out = format!("file://{}{}", self.host, self.pathname());
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        if let Some(f) = &self.fragment {
            out.push('#');
            out.push_str(f);
        }
        out
    }

    /// The `pathname` setter.
    pub fn set_pathname(&mut self, value: &str) {
        self.path.clear();
        let input = preprocess(value, false);
        let _ = self.run(&input, 0, State::PathStart, None, true);
    }

    /// The `search` setter.
    pub fn set_search(&mut self, value: &str) {
        if value.is_empty() {
            self.query = None;
            return;
        }
        let value = value.strip_prefix('?').unwrap_or(value);
        self.query = Some(String::new());
        let input = preprocess(value, false);
        let _ = self.run(&input, 0, State::Query, None, true);
    }

    /// The `hash` setter.
    pub fn set_hash(&mut self, value: &str) {
        if value.is_empty() {
            self.fragment = None;
            return;
        }
        let value = value.strip_prefix('#').unwrap_or(value);
        self.fragment = Some(String::new());
        let input = preprocess(value, false);
        let _ = self.run(&input, 0, State::Fragment, None, true);
    }

    /// The `host` and `hostname` setters (a `file:` URL has no port). A value that is not a
    /// valid host leaves the URL unchanged.
    pub fn set_host(&mut self, value: &str) {
        let input = preprocess(value, false);
        let mut changed = self.clone();
        if changed
            .run(&input, 0, State::FileHost, None, true)
            .is_some()
        {
            *self = changed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str, base: Option<&str>) -> Option<String> {
        let base = base.map(|b| {
            let chars = preprocess(b, true);
            FileUrl::parse(&chars, 5, None).expect("base parses")
        });
        let chars = preprocess(input, true);
        let start = if input.to_ascii_lowercase().starts_with("file:") {
            5
        } else {
            0
        };
        FileUrl::parse(&chars, start, base.as_ref()).map(|u| u.href())
    }

    #[test]
    fn keeps_the_host_before_a_drive_letter() {
        assert_eq!(
            parse("file://example.net/C:/", None).as_deref(),
            Some("file://example.net/C:/")
        );
        assert_eq!(
            parse("C|", Some("file://host/dir/file")).as_deref(),
            Some("file://host/C:")
        );
        assert_eq!(
            parse("file://[1::8]/C:/", None).as_deref(),
            Some("file://[1::8]/C:/")
        );
    }

    #[test]
    fn keeps_empty_segments_at_the_start_of_a_path() {
        assert_eq!(parse("file:////foo", None).as_deref(), Some("file:////foo"));
        assert_eq!(
            parse("file://localhost//a//../..//foo", None).as_deref(),
            Some("file://///foo")
        );
        assert_eq!(parse("file:.//p", None).as_deref(), Some("file:////p"));
    }

    #[test]
    fn resolves_against_a_file_base() {
        assert_eq!(
            parse("../x?q#f", Some("file:///a/b/c")).as_deref(),
            Some("file:///a/x?q#f")
        );
        assert_eq!(
            parse("", Some("file:///a?q")).as_deref(),
            Some("file:///a?q")
        );
        assert_eq!(
            parse("..", Some("file:///C:/")).as_deref(),
            Some("file:///C:/"),
            "a drive letter is never popped"
        );
    }

    #[test]
    fn localhost_is_no_host_and_bad_hosts_fail() {
        assert_eq!(
            parse("file://LOCALHOST/x", None).as_deref(),
            Some("file:///x")
        );
        assert_eq!(parse("file://a b/x", None), None);
        assert_eq!(parse("file://host:80/", None), None);
    }

    #[test]
    fn percent_encodes_each_component_with_its_set() {
        assert_eq!(
            parse("file:///a b?c d'#e`f", None).as_deref(),
            Some("file:///a%20b?c%20d%27#e%60f")
        );
        assert_eq!(parse("file:///é", None).as_deref(), Some("file:///%C3%A9"));
    }

    #[test]
    fn setters() {
        let chars = preprocess("file://monkey/", true);
        let mut url = FileUrl::parse(&chars, 5, None).unwrap();
        url.set_pathname("\\\\");
        assert_eq!(url.href(), "file://monkey//");
        url.set_search("a#b");
        assert_eq!(url.href(), "file://monkey//?a%23b");
        url.set_hash("#x y");
        assert_eq!(url.href(), "file://monkey//?a%23b#x%20y");
        url.set_host("not a host");
        assert_eq!(url.host, "monkey", "an invalid host changes nothing");
        url.set_host("other/ignored");
        assert_eq!(url.href(), "file://other//?a%23b#x%20y");
    }
}
