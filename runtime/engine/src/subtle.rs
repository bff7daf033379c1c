//! The natives behind `crypto.subtle` (`polyfills/81-subtle.js`): hashing, HMAC, AES-GCM,
//! ECDSA P-256 and Ed25519 verification, done in Rust inside the engine (RustCrypto and
//! `ed25519-dalek`), never in JavaScript. The JS side owns `CryptoKey`, algorithm
//! normalisation, key formats and promises; these functions take and return bytes.
//!
//! A failure that the Web Crypto API reports as `OperationError` (a wrong tag, a bad key) is
//! thrown as an `Error` whose message starts with `OperationError:`; the polyfill turns it into
//! a `DOMException` of that name.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use rquickjs::{Ctx, Exception, Function, Object, Result, TypedArray};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("digest", Function::new(ctx.clone(), digest)?)?;
    native.set("hmacSign", Function::new(ctx.clone(), hmac_sign)?)?;
    native.set("hmacVerify", Function::new(ctx.clone(), hmac_verify)?)?;
    native.set("aesGcm", Function::new(ctx.clone(), aes_gcm)?)?;
    native.set("ecP256Check", Function::new(ctx.clone(), ec_p256_check)?)?;
    native.set(
        "ecdsaP256Verify",
        Function::new(ctx.clone(), ecdsa_p256_verify)?,
    )?;
    native.set("ed25519Verify", Function::new(ctx.clone(), ed25519_verify)?)?;
    native.set(
        "spkiPublicKey",
        Function::new(ctx.clone(), spki_public_key)?,
    )?;
    Ok(())
}

fn bytes<'a>(view: &'a TypedArray<'_, u8>) -> &'a [u8] {
    // SAFETY: the slice borrows the typed array, which keeps its buffer alive; no JS runs (which
    // could detach or resize the buffer) while it is in use.
    unsafe { view.as_bytes() }.unwrap_or(&[])
}

fn operation_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_message(ctx, &format!("OperationError: {message}"))
}

fn not_supported(ctx: &Ctx<'_>, what: &str) -> rquickjs::Error {
    Exception::throw_message(ctx, &format!("NotSupportedError: {what}"))
}

fn hash(ctx: &Ctx<'_>, alg: &str, data: &[u8]) -> Result<Vec<u8>> {
    Ok(match alg {
        "SHA-1" => Sha1::digest(data).to_vec(),
        "SHA-256" => Sha256::digest(data).to_vec(),
        "SHA-384" => Sha384::digest(data).to_vec(),
        "SHA-512" => Sha512::digest(data).to_vec(),
        other => return Err(not_supported(ctx, &format!("the hash {other}"))),
    })
}

fn digest<'js>(
    ctx: Ctx<'js>,
    alg: String,
    data: TypedArray<'js, u8>,
) -> Result<TypedArray<'js, u8>> {
    let out = hash(&ctx, &alg, bytes(&data))?;
    TypedArray::new(ctx, out)
}

/// Runs `f` on an HMAC keyed with `key` for the hash `alg`.
fn with_hmac<R>(
    ctx: &Ctx<'_>,
    alg: &str,
    key: &[u8],
    f: impl FnOnce(&mut dyn DynMac) -> R,
) -> Result<R> {
    macro_rules! run {
        ($h:ty) => {{
            let mut mac = <Hmac<$h> as Mac>::new_from_slice(key)
                .map_err(|_| operation_error(ctx, "invalid HMAC key"))?;
            Ok(f(&mut mac))
        }};
    }
    match alg {
        "SHA-1" => run!(Sha1),
        "SHA-256" => run!(Sha256),
        "SHA-384" => run!(Sha384),
        "SHA-512" => run!(Sha512),
        other => Err(not_supported(ctx, &format!("HMAC with {other}"))),
    }
}

/// The two things HMAC is used for, over any hash.
trait DynMac {
    fn feed(&mut self, data: &[u8]);
    fn tag(&mut self) -> Vec<u8>;
    /// Constant-time comparison with `tag`.
    fn check(&mut self, tag: &[u8]) -> bool;
}

impl<M: Mac + Clone> DynMac for M {
    fn feed(&mut self, data: &[u8]) {
        self.update(data);
    }
    fn tag(&mut self) -> Vec<u8> {
        self.clone().finalize().into_bytes().to_vec()
    }
    fn check(&mut self, tag: &[u8]) -> bool {
        self.clone().verify_slice(tag).is_ok()
    }
}

fn hmac_sign<'js>(
    ctx: Ctx<'js>,
    alg: String,
    key: TypedArray<'js, u8>,
    data: TypedArray<'js, u8>,
) -> Result<TypedArray<'js, u8>> {
    let tag = with_hmac(&ctx, &alg, bytes(&key), |mac| {
        mac.feed(bytes(&data));
        mac.tag()
    })?;
    TypedArray::new(ctx, tag)
}

fn hmac_verify<'js>(
    ctx: Ctx<'js>,
    alg: String,
    key: TypedArray<'js, u8>,
    signature: TypedArray<'js, u8>,
    data: TypedArray<'js, u8>,
) -> Result<bool> {
    with_hmac(&ctx, &alg, bytes(&key), |mac| {
        mac.feed(bytes(&data));
        mac.check(bytes(&signature))
    })
}

/// AES-GCM with a 96-bit IV and a 128-bit tag (what Web Crypto users pass in practice).
fn aes_gcm<'js>(
    ctx: Ctx<'js>,
    encrypt: bool,
    key: TypedArray<'js, u8>,
    iv: TypedArray<'js, u8>,
    data: TypedArray<'js, u8>,
    aad: TypedArray<'js, u8>,
) -> Result<TypedArray<'js, u8>> {
    let (key, iv) = (bytes(&key), bytes(&iv));
    if iv.len() != 12 {
        return Err(not_supported(
            &ctx,
            &format!(
                "AES-GCM with a {}-byte IV (12 bytes are supported)",
                iv.len()
            ),
        ));
    }
    let payload = Payload {
        msg: bytes(&data),
        aad: bytes(&aad),
    };
    let nonce = aes_gcm::Nonce::from_slice(iv);
    macro_rules! run {
        ($cipher:ty) => {{
            let cipher = <$cipher>::new_from_slice(key)
                .map_err(|_| operation_error(&ctx, "invalid AES key"))?;
            if encrypt {
                cipher.encrypt(nonce, payload)
            } else {
                cipher.decrypt(nonce, payload)
            }
        }};
    }
    let out = match key.len() {
        16 => run!(aes_gcm::Aes128Gcm),
        32 => run!(aes_gcm::Aes256Gcm),
        n => return Err(not_supported(&ctx, &format!("AES-GCM with a {n}-byte key"))),
    };
    let out = out.map_err(|_| {
        operation_error(
            &ctx,
            if encrypt {
                "AES-GCM encryption failed"
            } else {
                "AES-GCM decryption failed: the data or the tag is not authentic"
            },
        )
    })?;
    TypedArray::new(ctx, out)
}

/// Checks a SEC1-encoded P-256 public point; returns it uncompressed (65 bytes).
fn ec_p256_check<'js>(ctx: Ctx<'js>, point: TypedArray<'js, u8>) -> Result<TypedArray<'js, u8>> {
    let key = p256::PublicKey::from_sec1_bytes(bytes(&point))
        .map_err(|_| Exception::throw_message(&ctx, "DataError: not a valid P-256 public key"))?;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    TypedArray::new(ctx, key.to_encoded_point(false).as_bytes().to_vec())
}

/// ECDSA over P-256: `signature` is IEEE P1363 (`r || s`, 64 bytes), as Web Crypto uses.
fn ecdsa_p256_verify<'js>(
    ctx: Ctx<'js>,
    hash_alg: String,
    point: TypedArray<'js, u8>,
    signature: TypedArray<'js, u8>,
    data: TypedArray<'js, u8>,
) -> Result<bool> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes(&point)) else {
        return Err(operation_error(&ctx, "not a valid P-256 public key"));
    };
    let Ok(sig) = p256::ecdsa::Signature::from_slice(bytes(&signature)) else {
        return Ok(false);
    };
    let prehash = hash(&ctx, &hash_alg, bytes(&data))?;
    Ok(key.verify_prehash(&prehash, &sig).is_ok())
}

fn ed25519_verify<'js>(
    ctx: Ctx<'js>,
    key: TypedArray<'js, u8>,
    signature: TypedArray<'js, u8>,
    data: TypedArray<'js, u8>,
) -> Result<bool> {
    let Ok(key) = <[u8; 32]>::try_from(bytes(&key)) else {
        return Err(operation_error(&ctx, "an Ed25519 public key is 32 bytes"));
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
        return Err(operation_error(&ctx, "not a valid Ed25519 public key"));
    };
    let Ok(sig) = <[u8; 64]>::try_from(bytes(&signature)) else {
        return Ok(false);
    };
    let sig = ed25519_dalek::Signature::from_bytes(&sig);
    Ok(key.verify_strict(bytes(&data), &sig).is_ok())
}

/// A SubjectPublicKeyInfo (DER) → `["P-256", uncompressed point]` or `["Ed25519", 32 bytes]`.
fn spki_public_key<'js>(ctx: Ctx<'js>, der: TypedArray<'js, u8>) -> Result<rquickjs::Array<'js>> {
    // Ed25519's SPKI is a fixed 12-byte header (RFC 8410) and the key.
    const ED25519_SPKI: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let der = bytes(&der);
    let out = rquickjs::Array::new(ctx.clone())?;
    if der.len() == 44 && der.starts_with(&ED25519_SPKI) {
        out.set(0, "Ed25519")?;
        out.set(1, TypedArray::new(ctx.clone(), der[12..].to_vec())?)?;
        return Ok(out);
    }
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::DecodePublicKey;
    match p256::PublicKey::from_public_key_der(der) {
        Ok(key) => {
            out.set(0, "P-256")?;
            out.set(
                1,
                TypedArray::new(ctx.clone(), key.to_encoded_point(false).as_bytes().to_vec())?,
            )?;
            Ok(out)
        }
        Err(_) => Err(Exception::throw_message(
            &ctx,
            "DataError: the SPKI is neither a P-256 nor an Ed25519 public key",
        )),
    }
}
