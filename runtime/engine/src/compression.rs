//! The natives behind `CompressionStream` / `DecompressionStream` (`polyfills/46-compression.js`):
//! gzip, deflate (zlib) and deflate-raw, incremental, with `flate2`'s pure-Rust backend. A JS
//! stream holds a numeric handle to a coder kept here; each chunk goes in and whatever output
//! is ready comes back, so a large body is never held whole.

use flate2::Compression;
use flate2::write::{
    DeflateDecoder, DeflateEncoder, GzDecoder, GzEncoder, ZlibDecoder, ZlibEncoder,
};
use rquickjs::{Ctx, Exception, Function, Object, Result, TypedArray};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;

enum Coder {
    GzipEncode(GzEncoder<Vec<u8>>),
    ZlibEncode(ZlibEncoder<Vec<u8>>),
    RawEncode(DeflateEncoder<Vec<u8>>),
    GzipDecode(GzDecoder<Vec<u8>>),
    ZlibDecode(ZlibDecoder<Vec<u8>>),
    RawDecode(DeflateDecoder<Vec<u8>>),
}

thread_local! {
    // The engine is single-threaded; handles live for one stream within one request.
    static CODERS: RefCell<(u32, HashMap<u32, Coder>)> = RefCell::new((0, HashMap::new()));
}

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("zNew", Function::new(ctx.clone(), z_new)?)?;
    native.set("zPush", Function::new(ctx.clone(), z_push)?)?;
    native.set("zFinish", Function::new(ctx.clone(), z_finish)?)?;
    Ok(())
}

/// A new coder for `format` (`gzip`, `deflate`, `deflate-raw`); `None` for an unknown format.
fn z_new(format: String, decompress: bool) -> Option<u32> {
    let level = Compression::default();
    let coder = match (format.as_str(), decompress) {
        ("gzip", false) => Coder::GzipEncode(GzEncoder::new(Vec::new(), level)),
        ("deflate", false) => Coder::ZlibEncode(ZlibEncoder::new(Vec::new(), level)),
        ("deflate-raw", false) => Coder::RawEncode(DeflateEncoder::new(Vec::new(), level)),
        ("gzip", true) => Coder::GzipDecode(GzDecoder::new(Vec::new())),
        ("deflate", true) => Coder::ZlibDecode(ZlibDecoder::new(Vec::new())),
        ("deflate-raw", true) => Coder::RawDecode(DeflateDecoder::new(Vec::new())),
        _ => return None,
    };
    CODERS.with(|c| {
        let (next, map) = &mut *c.borrow_mut();
        *next = next.wrapping_add(1);
        map.insert(*next, coder);
        Some(*next)
    })
}

/// The output buffer of a coder, taken.
fn take(coder: &mut Coder) -> Vec<u8> {
    match coder {
        Coder::GzipEncode(e) => std::mem::take(e.get_mut()),
        Coder::ZlibEncode(e) => std::mem::take(e.get_mut()),
        Coder::RawEncode(e) => std::mem::take(e.get_mut()),
        Coder::GzipDecode(d) => std::mem::take(d.get_mut()),
        Coder::ZlibDecode(d) => std::mem::take(d.get_mut()),
        Coder::RawDecode(d) => std::mem::take(d.get_mut()),
    }
}

fn write(coder: &mut Coder, data: &[u8]) -> std::io::Result<()> {
    match coder {
        Coder::GzipEncode(e) => e.write_all(data),
        Coder::ZlibEncode(e) => e.write_all(data),
        Coder::RawEncode(e) => e.write_all(data),
        Coder::GzipDecode(d) => d.write_all(data),
        Coder::ZlibDecode(d) => d.write_all(data),
        Coder::RawDecode(d) => d.write_all(data),
    }
}

fn finish(coder: Coder) -> std::io::Result<Vec<u8>> {
    match coder {
        Coder::GzipEncode(e) => e.finish(),
        Coder::ZlibEncode(e) => e.finish(),
        Coder::RawEncode(e) => e.finish(),
        Coder::GzipDecode(d) => d.finish(),
        Coder::ZlibDecode(d) => d.finish(),
        Coder::RawDecode(d) => d.finish(),
    }
}

fn invalid(ctx: &Ctx<'_>, e: std::io::Error) -> rquickjs::Error {
    Exception::throw_type(ctx, &format!("the compressed data is invalid: {e}"))
}

/// Feeds `chunk` to coder `id`; returns the output ready so far (possibly empty).
fn z_push<'js>(ctx: Ctx<'js>, id: u32, chunk: TypedArray<'js, u8>) -> Result<TypedArray<'js, u8>> {
    // SAFETY: the slice borrows the typed array, which keeps its buffer alive; no JS runs while
    // it is in use.
    let data = unsafe { chunk.as_bytes() }.unwrap_or(&[]);
    let out = CODERS.with(|c| {
        let (_, map) = &mut *c.borrow_mut();
        let coder = map.get_mut(&id).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "the stream is closed")
        })?;
        write(coder, data)?;
        Ok(take(coder))
    });
    match out {
        Ok(out) => TypedArray::new(ctx, out),
        Err(e) => {
            CODERS.with(|c| c.borrow_mut().1.remove(&id));
            Err(invalid(&ctx, e))
        }
    }
}

/// Ends coder `id` and returns the rest of its output; the handle is released.
fn z_finish<'js>(ctx: Ctx<'js>, id: u32) -> Result<TypedArray<'js, u8>> {
    let Some(coder) = CODERS.with(|c| c.borrow_mut().1.remove(&id)) else {
        return TypedArray::new(ctx, Vec::new());
    };
    match finish(coder) {
        Ok(out) => TypedArray::new(ctx, out),
        Err(e) => Err(invalid(&ctx, e)),
    }
}
