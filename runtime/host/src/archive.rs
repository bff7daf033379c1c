//! Unpacking an uploaded project (`.tar.gz` or `.zip`) into a folder, refusing anything that
//! could write outside it or exhaust the disk: absolute paths, `..`, links whose target leaves
//! the folder, writes through links, devices, duplicate entries, and more entries or bytes than
//! the limits (sizes are counted as the data is written, not as the headers claim: zip bombs).

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// What an upload is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TarGz,
    Zip,
    /// A WebAssembly module or component (`\0asm`).
    Wasm,
    /// Anything else: one JavaScript or TypeScript file.
    File,
}

pub fn detect(bytes: &[u8]) -> Kind {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Kind::TarGz
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Kind::Zip
    } else if bytes.starts_with(b"\0asm") {
        Kind::Wasm
    } else {
        Kind::File
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of all files together, once unpacked.
    pub max_bytes: u64,
    pub max_entries: u64,
}

/// `name` as a path below the folder: relative, only normal components (`.` is dropped).
pub fn safe_path(name: &str) -> Result<PathBuf> {
    if name.contains('\0') {
        bail!("archive entry {name:?}: NUL in the name");
    }
    let mut out = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => bail!("archive entry {name:?}: `..` is not allowed"),
            Component::RootDir | Component::Prefix(_) => {
                bail!("archive entry {name:?}: absolute paths are not allowed")
            }
        }
    }
    if out.as_os_str().is_empty() {
        bail!("archive entry {name:?}: empty path");
    }
    Ok(out)
}

/// Whether the link at `link` (relative to the folder) pointing to `target` stays inside,
/// reading the path as written (the physical check is [`check_links`]).
pub fn link_stays_inside(link: &Path, target: &str) -> bool {
    if target.is_empty() || Path::new(target).is_absolute() {
        return false;
    }
    let mut depth: Vec<&std::ffi::OsStr> = Vec::new();
    let parent = link.parent().unwrap_or(Path::new(""));
    for c in parent.components().chain(Path::new(target).components()) {
        match c {
            Component::Normal(p) => depth.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

struct Writer<'a> {
    root: &'a Path,
    limits: Limits,
    bytes: u64,
    entries: u64,
    links: Vec<PathBuf>,
}

impl<'a> Writer<'a> {
    fn new(root: &'a Path, limits: Limits) -> Self {
        Writer {
            root,
            limits,
            bytes: 0,
            entries: 0,
            links: Vec::new(),
        }
    }

    fn count(&mut self, name: &str) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            bail!(
                "the archive has more than {} entries (at {name:?})",
                self.limits.max_entries
            );
        }
        Ok(())
    }

    /// Makes the parent folders of `rel`, refusing to go through a link.
    fn prepare(&self, rel: &Path) -> Result<PathBuf> {
        let mut at = self.root.to_path_buf();
        let parts: Vec<_> = rel.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            at.push(c);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    bail!("archive entry {}: goes through a link", rel.display())
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => bail!("archive entry {}: a parent is a file", rel.display()),
                Err(_) => std::fs::create_dir(&at)
                    .with_context(|| format!("creating {}", at.display()))?,
            }
        }
        let path = self.root.join(rel);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
            bail!("archive entry {}: appears twice", rel.display());
        }
        Ok(path)
    }

    fn dir(&mut self, name: &str) -> Result<()> {
        self.count(name)?;
        // `tar -C dir .` writes the folder itself as `./`.
        if Path::new(name).components().all(|c| c == Component::CurDir) {
            return Ok(());
        }
        let rel = safe_path(name)?;
        let path = self.prepare(&rel)?;
        if !path.is_dir() {
            std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        }
        Ok(())
    }

    fn file(&mut self, name: &str, data: &mut dyn Read) -> Result<()> {
        self.count(name)?;
        let rel = safe_path(name)?;
        let path = self.prepare(&rel)?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let room = self.limits.max_bytes - self.bytes;
        // One byte more than the room tells "too large" from "exactly full".
        let written = std::io::copy(&mut data.take(room + 1), &mut out)
            .with_context(|| format!("unpacking {name:?}"))?;
        if written > room {
            bail!(
                "the archive unpacks to more than {} bytes (at {name:?})",
                self.limits.max_bytes
            );
        }
        self.bytes += written;
        out.flush()?;
        Ok(())
    }

    fn symlink(&mut self, name: &str, target: &str) -> Result<()> {
        self.count(name)?;
        let rel = safe_path(name)?;
        if !link_stays_inside(&rel, target) {
            bail!("archive entry {name:?}: a link to {target:?} leaves the project folder");
        }
        let path = self.prepare(&rel)?;
        std::os::unix::fs::symlink(target, &path)
            .with_context(|| format!("creating the link {}", path.display()))?;
        self.links.push(path);
        Ok(())
    }

    /// A hard link becomes a copy of a file already unpacked.
    fn hardlink(&mut self, name: &str, target: &str) -> Result<()> {
        let source = safe_path(target)
            .with_context(|| format!("archive entry {name:?}: hard link target"))?;
        let source = self.root.join(source);
        match std::fs::symlink_metadata(&source) {
            Ok(m) if m.is_file() => {}
            _ => bail!(
                "archive entry {name:?}: hard link to {target:?}, which is not a file unpacked before it"
            ),
        }
        let mut f = std::fs::File::open(&source)?;
        self.file(name, &mut f)
    }

    /// Resolves every link physically: a chain of links can leave the folder even when each
    /// one, read as written, stays inside.
    fn check_links(&self) -> Result<()> {
        let root = self.root.canonicalize()?;
        for link in &self.links {
            match link.canonicalize() {
                Ok(real) if real.starts_with(&root) => {}
                _ => {
                    let rel = link.strip_prefix(self.root).unwrap_or(link);
                    bail!(
                        "archive entry {}: a link that leaves the project folder or points nowhere",
                        rel.display()
                    );
                }
            }
        }
        Ok(())
    }
}

/// Unpacks a gzip-compressed tar into `dest` (an empty folder).
pub fn unpack_tar_gz(bytes: &[u8], dest: &Path, limits: Limits) -> Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut w = Writer::new(dest, limits);
    for entry in archive.entries().context("reading the tar archive")? {
        let mut entry = entry.context("reading the tar archive")?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let kind = entry.header().entry_type();
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous => w.file(&name, &mut entry)?,
            T::Directory => w.dir(&name)?,
            T::Symlink | T::Link => {
                let target = entry
                    .link_name()?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if kind == T::Symlink {
                    w.symlink(&name, &target)?
                } else {
                    w.hardlink(&name, &target)?
                }
            }
            // Metadata the tar crate has already applied to the entries after them.
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            other => bail!("archive entry {name:?}: unsupported entry type {other:?}"),
        }
    }
    w.check_links()
}

/// Unpacks a zip into `dest` (an empty folder).
pub fn unpack_zip(bytes: &[u8], dest: &Path, limits: Limits) -> Result<()> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("reading the zip archive")?;
    if archive.len() as u64 > limits.max_entries {
        bail!("the archive has more than {} entries", limits.max_entries);
    }
    let mut w = Writer::new(dest, limits);
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).context("reading the zip archive")?;
        let name = file.name().to_owned();
        if file.is_symlink() {
            let mut target = String::new();
            (&mut file)
                .take(4096)
                .read_to_string(&mut target)
                .with_context(|| format!("archive entry {name:?}: reading the link"))?;
            w.symlink(&name, &target)?;
        } else if file.is_dir() {
            w.dir(&name)?;
        } else {
            w.file(&name, &mut file)?;
        }
    }
    w.check_links()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };

    #[test]
    fn paths_must_stay_below_the_folder() {
        assert_eq!(safe_path("a/./b.js").unwrap(), PathBuf::from("a/b.js"));
        assert_eq!(safe_path("./index.js").unwrap(), PathBuf::from("index.js"));
        for bad in ["../x", "a/../../x", "/etc/passwd", "", ".", "a/\0b"] {
            assert!(safe_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(link_stays_inside(Path::new("a/b"), "../c"));
        assert!(link_stays_inside(
            Path::new("node_modules/.bin/x"),
            "../pkg/x.js"
        ));
        assert!(!link_stays_inside(Path::new("a/b"), "../../c"));
        assert!(!link_stays_inside(Path::new("b"), "/etc"));
        assert!(!link_stays_inside(Path::new("b"), ""));
    }

    #[test]
    fn detects_kinds_by_magic_bytes() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Kind::TarGz);
        assert_eq!(detect(b"PK\x03\x04rest"), Kind::Zip);
        assert_eq!(detect(b"\0asm\x0d\0\x01\0"), Kind::Wasm);
        assert_eq!(detect(b"export default {}"), Kind::File);
    }

    fn tar_gz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let raw = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap()
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h
    }

    /// Writes a raw name into the header, bypassing the builder's own checks (an attacker's
    /// archive is not made with them).
    fn raw(
        b: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        name: &str,
        link: &str,
        data: &[u8],
    ) {
        let mut h = header(kind, data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn unpacks_a_project() {
        let bytes = tar_gz(|b| {
            raw(b, tar::EntryType::Directory, "./", "", b"");
            raw(b, tar::EntryType::Directory, "src/", "", b"");
            raw(b, tar::EntryType::Regular, "src/index.js", "", b"hi");
            raw(b, tar::EntryType::Symlink, "main.js", "src/index.js", b"");
            raw(b, tar::EntryType::Link, "copy.js", "src/index.js", b"");
        });
        let dir = tempfile::tempdir().unwrap();
        unpack_tar_gz(&bytes, dir.path(), LIMITS).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("src/index.js")).unwrap(),
            b"hi"
        );
        assert_eq!(std::fs::read(dir.path().join("main.js")).unwrap(), b"hi");
        assert_eq!(std::fs::read(dir.path().join("copy.js")).unwrap(), b"hi");
    }

    #[test]
    fn refuses_escapes_and_bombs() {
        let outside = tempfile::tempdir().unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "`..`",
                tar_gz(|b| raw(b, tar::EntryType::Regular, "../evil.js", "", b"x")),
            ),
            (
                "absolute",
                tar_gz(|b| raw(b, tar::EntryType::Regular, "/tmp/evil.js", "", b"x")),
            ),
            (
                "leaves",
                tar_gz(|b| raw(b, tar::EntryType::Symlink, "l", "../../etc", b"")),
            ),
            (
                "absolute link",
                tar_gz(|b| raw(b, tar::EntryType::Symlink, "l", "/etc", b"")),
            ),
            (
                "through a link",
                tar_gz(|b| {
                    raw(b, tar::EntryType::Symlink, "d", ".", b"");
                    raw(b, tar::EntryType::Regular, "d/x.js", "", b"x");
                }),
            ),
            (
                "chain",
                tar_gz(|b| {
                    raw(b, tar::EntryType::Directory, "sub/", "", b"");
                    raw(b, tar::EntryType::Symlink, "x", ".", b"");
                    raw(b, tar::EntryType::Symlink, "sub/l", "../x/../z", b"");
                }),
            ),
            (
                "hard link out",
                tar_gz(|b| raw(b, tar::EntryType::Link, "h", "../../etc/passwd", b"")),
            ),
            (
                "device",
                tar_gz(|b| raw(b, tar::EntryType::Char, "dev", "", b"")),
            ),
            (
                "too large",
                tar_gz(|b| {
                    raw(
                        b,
                        tar::EntryType::Regular,
                        "big",
                        "",
                        &vec![0u8; (1 << 20) + 1],
                    )
                }),
            ),
            (
                "too many",
                tar_gz(|b| {
                    for i in 0..101 {
                        raw(b, tar::EntryType::Regular, &format!("f{i}"), "", b"");
                    }
                }),
            ),
            (
                "twice",
                tar_gz(|b| {
                    raw(b, tar::EntryType::Regular, "a", "", b"1");
                    raw(b, tar::EntryType::Regular, "a", "", b"2");
                }),
            ),
        ];
        for (what, bytes) in cases {
            let dir = tempfile::tempdir_in(outside.path()).unwrap();
            assert!(
                unpack_tar_gz(&bytes, dir.path(), LIMITS).is_err(),
                "{what}: accepted"
            );
        }
        let left: Vec<_> = std::fs::read_dir(outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "written outside: {left:?}");
    }

    #[test]
    fn zip_entries_are_checked_too() {
        let zip_of = |name: &str, data: &[u8], symlink: bool| {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let o = zip::write::SimpleFileOptions::default();
            if symlink {
                w.add_symlink(name, std::str::from_utf8(data).unwrap(), o)
                    .unwrap();
            } else {
                w.start_file(name, o).unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap().into_inner()
        };
        let dir = tempfile::tempdir().unwrap();
        unpack_zip(&zip_of("a/index.js", b"ok", false), dir.path(), LIMITS).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a/index.js")).unwrap(), b"ok");
        for (name, data, link) in [
            ("../x.js", &b"x"[..], false),
            ("/abs.js", b"x", false),
            ("l", b"../../etc", true),
        ] {
            let d = tempfile::tempdir().unwrap();
            assert!(
                unpack_zip(&zip_of(name, data, link), d.path(), LIMITS).is_err(),
                "{name}"
            );
        }
        // A bomb: a small archive of one large, very compressible file.
        let bomb = zip_of("zeros", &vec![0u8; 2 << 20], false);
        assert!(bomb.len() < 20_000);
        let d = tempfile::tempdir().unwrap();
        let e = unpack_zip(&bomb, d.path(), LIMITS).unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
    }
}
