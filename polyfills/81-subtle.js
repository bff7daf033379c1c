// crypto.subtle: the Web Crypto API for what edge functions do with it — hashing, HMAC
// (sign/verify, webhook signatures), AES-GCM (encrypt/decrypt), and verifying JWTs signed
// with ECDSA P-256 or Ed25519. The cryptography runs in Rust inside the engine
// (runtime/engine/src/subtle.rs); this file owns CryptoKey, algorithm names, key formats
// (raw, jwk, spki) and the promise-returning API. Not supported (NotSupportedError): RSA,
// ECDSA/Ed25519 signing and private keys, key derivation (PBKDF2/HKDF/ECDH), wrapKey, AES-CBC/CTR.
(function () {
  const internal = globalThis.__wisp;
  const { native, define } = internal;
  const slot = Symbol('CryptoKey');
  const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
  const HASH_BYTES = { 'SHA-1': 64, 'SHA-256': 64, 'SHA-384': 128, 'SHA-512': 128 };
  const NAMES = ['HMAC', 'AES-GCM', 'ECDSA', 'Ed25519', ...HASHES];

  const fail = (name, message) => { throw new DOMException(message, name); };

  // Natives throw "OperationError: …"-style messages; surface them as DOMExceptions.
  function call(fn, ...args) {
    try { return fn(...args); } catch (e) {
      const m = /^(OperationError|NotSupportedError|DataError): (.*)$/s.exec(e && e.message);
      if (m) throw new DOMException(m[2], m[1]);
      throw e;
    }
  }

  function toBytes(data, what) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    throw new TypeError(`crypto.subtle: ${what} must be an ArrayBuffer or a view of one`);
  }
  const buffer = (u8) => u8.buffer.byteLength === u8.byteLength ? u8.buffer : u8.slice().buffer;

  function normalize(alg) {
    const a = typeof alg === 'string' ? { name: alg } : alg;
    if (a === null || typeof a !== 'object' || typeof a.name !== 'string') throw new TypeError('crypto.subtle: an algorithm is a name or an object with a name');
    const name = NAMES.find((n) => n.toUpperCase() === a.name.toUpperCase());
    if (name === undefined) fail('NotSupportedError', `crypto.subtle: the algorithm ${a.name} is not supported`);
    const out = { ...a, name };
    if (a.hash !== undefined) out.hash = { name: normalize(a.hash).name };
    return out;
  }

  const b64url = {
    encode(u8) { return btoa(String.fromCharCode(...u8)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''); },
    decode(s, what) {
      if (typeof s !== 'string') fail('DataError', `crypto.subtle: the JWK member ${what} is missing`);
      const b = s.replace(/-/g, '+').replace(/_/g, '/');
      try { return Uint8Array.from(atob(b + '==='.slice((b.length + 3) % 4)), (c) => c.charCodeAt(0)); } catch {
        return fail('DataError', `crypto.subtle: the JWK member ${what} is not base64url`);
      }
    },
  };

  class CryptoKey {
    constructor() { throw new TypeError('Illegal constructor'); }
    get type() { return this[slot].type; }
    get extractable() { return this[slot].extractable; }
    get algorithm() { return this[slot].algorithm; }
    get usages() { return this[slot].usages.slice(); }
    get [Symbol.toStringTag]() { return 'CryptoKey'; }
  }
  function makeKey(type, extractable, algorithm, usages, data) {
    const k = Object.create(CryptoKey.prototype);
    k[slot] = { type, extractable: Boolean(extractable), algorithm, usages: [...usages], data };
    return k;
  }
  function keyOf(key, alg, usage) {
    if (!(key instanceof CryptoKey)) throw new TypeError('crypto.subtle: key must be a CryptoKey');
    const s = key[slot];
    if (s.algorithm.name !== alg.name) fail('InvalidAccessError', `crypto.subtle: the key is for ${s.algorithm.name}, not ${alg.name}`);
    if (!s.usages.includes(usage)) fail('InvalidAccessError', `crypto.subtle: the key's usages do not include '${usage}'`);
    return s;
  }
  function checkUsages(usages, allowed, name) {
    for (const u of usages) if (!allowed.includes(u)) fail('SyntaxError', `crypto.subtle: '${u}' is not a usage of a ${name} key`);
  }

  function importSecret(format, keyData, alg, extractable, usages) {
    let bytes;
    if (format === 'raw') bytes = toBytes(keyData, 'keyData');
    else if (format === 'jwk') {
      if (keyData === null || typeof keyData !== 'object' || keyData.kty !== 'oct') fail('DataError', 'crypto.subtle: a secret JWK has kty "oct"');
      bytes = b64url.decode(keyData.k, 'k');
    } else fail('NotSupportedError', `crypto.subtle: ${alg.name} keys import from 'raw' or 'jwk', not '${format}'`);
    if (alg.name === 'HMAC') {
      if (!alg.hash) throw new TypeError('crypto.subtle: HMAC needs a hash');
      checkUsages(usages, ['sign', 'verify'], 'HMAC');
      if (bytes.length === 0) fail('DataError', 'crypto.subtle: an HMAC key cannot be empty');
      return makeKey('secret', extractable, { name: 'HMAC', hash: alg.hash, length: bytes.length * 8 }, usages, bytes);
    }
    checkUsages(usages, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], 'AES-GCM');
    if (![16, 24, 32].includes(bytes.length)) fail('DataError', `crypto.subtle: an AES key is 16, 24 or 32 bytes, not ${bytes.length}`);
    return makeKey('secret', extractable, { name: 'AES-GCM', length: bytes.length * 8 }, usages, bytes);
  }

  function importPublic(format, keyData, alg, extractable, usages) {
    checkUsages(usages, ['verify'], alg.name);
    const curve = alg.name === 'ECDSA' ? 'P-256' : 'Ed25519';
    if (alg.name === 'ECDSA' && alg.namedCurve !== 'P-256') fail('NotSupportedError', `crypto.subtle: ECDSA on ${alg.namedCurve} is not supported (P-256 is)`);
    let point;
    if (format === 'raw') point = toBytes(keyData, 'keyData');
    else if (format === 'spki') {
      const [kind, raw] = call(native.spkiPublicKey, toBytes(keyData, 'keyData'));
      if (kind !== curve) fail('DataError', `crypto.subtle: the SPKI holds a ${kind} key, not ${curve}`);
      point = raw;
    } else if (format === 'jwk') {
      if (keyData === null || typeof keyData !== 'object') throw new TypeError('crypto.subtle: a JWK is an object');
      if (keyData.d !== undefined) fail('NotSupportedError', 'crypto.subtle: private keys are not supported; import the public key');
      if (curve === 'P-256') {
        if (keyData.kty !== 'EC' || keyData.crv !== 'P-256') fail('DataError', 'crypto.subtle: an ECDSA P-256 JWK has kty "EC" and crv "P-256"');
        const x = b64url.decode(keyData.x, 'x'), y = b64url.decode(keyData.y, 'y');
        point = new Uint8Array(65); point[0] = 4; point.set(x, 1); point.set(y, 33);
      } else {
        if (keyData.kty !== 'OKP' || keyData.crv !== 'Ed25519') fail('DataError', 'crypto.subtle: an Ed25519 JWK has kty "OKP" and crv "Ed25519"');
        point = b64url.decode(keyData.x, 'x');
      }
    } else if (format === 'pkcs8') fail('NotSupportedError', 'crypto.subtle: private keys are not supported; import the public key');
    else fail('NotSupportedError', `crypto.subtle: unknown key format '${format}'`);
    if (curve === 'P-256') {
      point = call(native.ecP256Check, point);
      return makeKey('public', true, { name: 'ECDSA', namedCurve: 'P-256' }, usages, point);
    }
    if (point.length !== 32) fail('DataError', 'crypto.subtle: an Ed25519 public key is 32 bytes');
    return makeKey('public', true, { name: 'Ed25519' }, usages, point);
  }

  const subtle = {
    async digest(alg, data) {
      const { name } = normalize(alg);
      if (!HASHES.includes(name)) fail('NotSupportedError', `crypto.subtle.digest: ${name} is not a hash`);
      return buffer(call(native.digest, name, toBytes(data, 'data')));
    },
    async importKey(format, keyData, alg, extractable, usages) {
      alg = normalize(alg);
      if (!Array.isArray(usages)) throw new TypeError('crypto.subtle.importKey: usages must be an array');
      switch (alg.name) {
        case 'HMAC': case 'AES-GCM': return importSecret(format, keyData, alg, extractable, usages);
        case 'ECDSA': case 'Ed25519': return importPublic(format, keyData, alg, extractable, usages);
        default: return fail('NotSupportedError', `crypto.subtle.importKey: ${alg.name} keys are not supported`);
      }
    },
    async exportKey(format, key) {
      if (!(key instanceof CryptoKey)) throw new TypeError('crypto.subtle.exportKey: key must be a CryptoKey');
      const s = key[slot];
      if (!s.extractable) fail('InvalidAccessError', 'crypto.subtle.exportKey: the key is not extractable');
      const name = s.algorithm.name;
      if (format === 'raw') return buffer(s.data.slice());
      if (format !== 'jwk') fail('NotSupportedError', `crypto.subtle.exportKey: the format '${format}' is not supported (raw, jwk)`);
      const jwk = { key_ops: s.usages.slice(), ext: true };
      if (s.type === 'secret') {
        jwk.kty = 'oct'; jwk.k = b64url.encode(s.data);
        jwk.alg = name === 'HMAC' ? 'HS' + s.algorithm.hash.name.slice(4) : `A${s.data.length * 8}GCM`;
        if (s.algorithm.hash && s.algorithm.hash.name === 'SHA-1') jwk.alg = 'HS1';
      } else if (name === 'ECDSA') {
        Object.assign(jwk, { kty: 'EC', crv: 'P-256', x: b64url.encode(s.data.subarray(1, 33)), y: b64url.encode(s.data.subarray(33, 65)) });
      } else Object.assign(jwk, { kty: 'OKP', crv: 'Ed25519', x: b64url.encode(s.data) });
      return jwk;
    },
    async generateKey(alg, extractable, usages) {
      alg = normalize(alg);
      if (alg.name === 'HMAC') {
        if (!alg.hash) throw new TypeError('crypto.subtle.generateKey: HMAC needs a hash');
        const bytes = alg.length ? Math.ceil(alg.length / 8) : HASH_BYTES[alg.hash.name];
        return importSecret('raw', native.randomBytes(bytes), alg, extractable, usages);
      }
      if (alg.name === 'AES-GCM') {
        if (![128, 192, 256].includes(alg.length)) fail('OperationError', 'crypto.subtle.generateKey: AES length is 128, 192 or 256');
        return importSecret('raw', native.randomBytes(alg.length / 8), alg, extractable, usages);
      }
      return fail('NotSupportedError', `crypto.subtle.generateKey: ${alg.name} is not supported (HMAC, AES-GCM are)`);
    },
    async sign(alg, key, data) {
      alg = normalize(alg);
      if (alg.name !== 'HMAC') fail('NotSupportedError', `crypto.subtle.sign: ${alg.name} signing is not supported (HMAC is)`);
      const s = keyOf(key, alg, 'sign');
      return buffer(call(native.hmacSign, s.algorithm.hash.name, s.data, toBytes(data, 'data')));
    },
    async verify(alg, key, signature, data) {
      alg = normalize(alg);
      const s = keyOf(key, alg, 'verify');
      const sig = toBytes(signature, 'signature'), bytes = toBytes(data, 'data');
      switch (alg.name) {
        case 'HMAC': return call(native.hmacVerify, s.algorithm.hash.name, s.data, sig, bytes);
        case 'ECDSA':
          if (!alg.hash) throw new TypeError('crypto.subtle.verify: ECDSA needs a hash');
          return call(native.ecdsaP256Verify, alg.hash.name, s.data, sig, bytes);
        case 'Ed25519': return call(native.ed25519Verify, s.data, sig, bytes);
        default: return fail('NotSupportedError', `crypto.subtle.verify: ${alg.name} is not supported`);
      }
    },
    async encrypt(alg, key, data) { return aesGcm(true, alg, key, data); },
    async decrypt(alg, key, data) { return aesGcm(false, alg, key, data); },
  };

  function aesGcm(encrypt, alg, key, data) {
    alg = normalize(alg);
    if (alg.name !== 'AES-GCM') fail('NotSupportedError', `crypto.subtle: ${alg.name} encryption is not supported (AES-GCM is)`);
    const s = keyOf(key, alg, encrypt ? 'encrypt' : 'decrypt');
    if (alg.tagLength !== undefined && alg.tagLength !== 128) fail('NotSupportedError', 'crypto.subtle: AES-GCM tagLength other than 128 is not supported');
    if (alg.iv === undefined) throw new TypeError('crypto.subtle: AES-GCM needs an iv');
    const aad = alg.additionalData === undefined ? new Uint8Array(0) : toBytes(alg.additionalData, 'additionalData');
    return buffer(call(native.aesGcm, encrypt, s.data, toBytes(alg.iv, 'iv'), toBytes(data, 'data'), aad));
  }

  for (const name of Object.keys(subtle)) define(subtle, name, subtle[name]);
  class SubtleCrypto { constructor() { throw new TypeError('Illegal constructor'); } }
  Object.setPrototypeOf(subtle, SubtleCrypto.prototype);
  define(globalThis.crypto, 'subtle', subtle);
  define(globalThis, 'CryptoKey', CryptoKey);
  define(globalThis, 'SubtleCrypto', SubtleCrypto);
})();
