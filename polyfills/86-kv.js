// KV: the WasmEdge-style module `wasmedge-kv` (`kv.get/set/delete`, `kvGet/kvSet/kvDelete`) and
// the Workers-style `env.KV` binding (get with a type, getWithMetadata, put with expirationTtl /
// expiration / metadata, delete, list). Both reach the same namespace through the host (the
// `kv*` natives); every call is asynchronous to JS, and the host counts it against the request's
// time limit.
(function () {
  const internal = globalThis.__wisp;
  const { native, define } = internal;

  async function toBytes(value, what) {
    if (typeof value === 'string') return native.utf8Encode(value);
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof ReadableStream || (typeof Blob === 'function' && value instanceof Blob)) return new Uint8Array(await new Response(value).arrayBuffer());
    if (typeof value === 'number' || typeof value === 'boolean') return native.utf8Encode(String(value));
    throw new TypeError(`${what}: the value must be a string, an ArrayBuffer, a typed array or a stream`);
  }

  function checkKey(key, what) {
    if (typeof key !== 'string') key = String(key);
    if (key === '') throw new TypeError(`${what}: the key must not be empty`);
    return key;
  }

  function decode(bytes, type, what) {
    switch (type) {
      case 'text': return native.utf8Decode(bytes, false, true);
      case 'json': return JSON.parse(native.utf8Decode(bytes, false, true));
      case 'arrayBuffer': return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      case 'stream': return new Response(bytes).body;
      default: throw new TypeError(`${what}: unknown type ${JSON.stringify(type)} (text, json, arrayBuffer or stream)`);
    }
  }

  function readType(options) {
    if (options === undefined || options === null) return 'text';
    if (typeof options === 'string') return options;
    return options.type === undefined ? 'text' : options.type;
  }

  // Unix milliseconds at which a put expires, or 0.
  function expiry(options, what) {
    if (!options) return 0;
    if (options.expiration !== undefined) {
      const at = Number(options.expiration);
      if (!(at > 0)) throw new TypeError(`${what}: expiration must be a Unix time in seconds`);
      return at * 1000;
    }
    if (options.expirationTtl !== undefined) {
      const ttl = Number(options.expirationTtl);
      if (!(ttl > 0)) throw new TypeError(`${what}: expirationTtl must be a positive number of seconds`);
      return Date.now() + ttl * 1000;
    }
    return 0;
  }

  // The Workers KV namespace API.
  class KVNamespace {
    async get(key, options) {
      key = checkKey(key, 'KV.get');
      const found = native.kvGet(key);
      return found === null ? null : decode(found[0], readType(options), 'KV.get');
    }
    async getWithMetadata(key, options) {
      key = checkKey(key, 'KV.getWithMetadata');
      const found = native.kvGet(key);
      if (found === null) return { value: null, metadata: null };
      return {
        value: decode(found[0], readType(options), 'KV.getWithMetadata'),
        metadata: found[1] == null ? null : JSON.parse(found[1]),
      };
    }
    async put(key, value, options) {
      key = checkKey(key, 'KV.put');
      const bytes = await toBytes(value, 'KV.put');
      const meta = options && options.metadata !== undefined ? JSON.stringify(options.metadata) : null;
      native.kvPut(key, bytes, expiry(options, 'KV.put'), meta);
    }
    async delete(key) {
      native.kvDelete(checkKey(key, 'KV.delete'));
    }
    async list(options) {
      const o = options || {};
      const limit = o.limit === undefined ? 1000 : Math.max(1, Math.min(1000, Number(o.limit) | 0));
      const [keys, cursor] = native.kvList(o.prefix == null ? '' : String(o.prefix), limit, o.cursor == null ? '' : String(o.cursor));
      const out = keys.map(([name, exp, meta]) => {
        const k = { name };
        if (exp) k.expiration = Math.floor(exp / 1000);
        if (meta != null) k.metadata = JSON.parse(meta);
        return k;
      });
      return cursor === '' ? { keys: out, list_complete: true, cacheStatus: null }
        : { keys: out, list_complete: false, cursor, cacheStatus: null };
    }
  }

  const namespace = new KVNamespace();

  // The WasmEdge article's API: values come back as text; the TTL is in seconds.
  const kv = {
    async get(key) { return namespace.get(key, 'text'); },
    async set(key, value, ttlSeconds) {
      return namespace.put(key, value, ttlSeconds === undefined || ttlSeconds === null ? undefined : { expirationTtl: ttlSeconds });
    },
    async delete(key) { return namespace.delete(key); },
    async list(options) { return namespace.list(options); },
  };
  const kvModule = { kv, kvGet: kv.get, kvSet: kv.set, kvDelete: kv.delete, KVNamespace };

  internal.modules.kv = kvModule;
  internal.kvBinding = () => namespace;
  define(globalThis, 'KVNamespace', KVNamespace);
})();
