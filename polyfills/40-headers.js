// Headers: case-insensitive names, values combined with ", ", iteration sorted by name,
// Set-Cookie kept as separate values (getSetCookie).
(function () {
  const { define, native } = globalThis.__wisp;
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

  // Names seen before, already validated and lower-cased: most code uses a handful of names,
  // and a Map lookup is much cheaper than a regular expression in QuickJS.
  const knownNames = new Map();
  for (const n of ['accept', 'accept-encoding', 'accept-language', 'authorization', 'cache-control',
    'connection', 'content-encoding', 'content-length', 'content-type', 'cookie', 'etag', 'host',
    'if-none-match', 'last-modified', 'location', 'origin', 'referer', 'server', 'set-cookie',
    'user-agent', 'vary', 'x-forwarded-for', 'x-request-id', 'Content-Type', 'Cache-Control',
    'Content-Length', 'Location', 'Set-Cookie', 'Authorization', 'Accept']) knownNames.set(n, n.toLowerCase());
  function normName(name) {
    if (typeof name !== 'string') name = String(name);
    const known = knownNames.get(name);
    if (known !== undefined) return known;
    if (!TOKEN.test(name)) throw new TypeError(`Headers: invalid header name '${name}'`);
    const lower = name.toLowerCase();
    if (knownNames.size < 512) knownNames.set(name, lower);
    return lower;
  }
  const isHttpWhitespace = (c) => c === 32 || c === 9 || c === 10 || c === 13;
  function normValue(value) {
    if (typeof value !== 'string') value = String(value);
    const n = value.length;
    if (n > 0 && (isHttpWhitespace(value.charCodeAt(0)) || isHttpWhitespace(value.charCodeAt(n - 1)))) {
      value = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    }
    if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0 || value.indexOf('\0') >= 0) {
      throw new TypeError(`Headers: invalid header value '${value}'`);
    }
    return value;
  }

  // State lives under symbol keys: as hidden as private fields, and much cheaper in QuickJS.
  // A request's or a response's headers stay the engine's wire string (`WIRE`: "name\nvalue\n…",
  // names lower-case and valid) until something needs the map: `get` and `has` read the wire
  // in one native call. Building the map (a Map, an array, a split, two Map calls per header)
  // costs QuickJS about 40,000 Wasm instructions for three headers; most handlers only `get`.
  const MAP = Symbol('map'), COOKIES = Symbol('cookies'), GUARD = Symbol('guard'), WIRE = Symbol('wire');
  const wireGet = native.wireGet;
  let spare = null, spent = null;
  function immutable() { throw new TypeError('Headers: these headers are immutable'); }
  // The map, built from the wire first if the headers are still in that form.
  function mapOf(h) {
    const wire = h[WIRE];
    if (wire === null) return h[MAP];
    if (typeof wire === 'string') return expand(h);
    throw new TypeError('Illegal invocation: not a Headers object');
  }
  function expand(h) {
    const wire = h[WIRE];
    const map = new Map(), cookies = [];
    if (wire !== '') {
      const flat = wire.split('\n');
      for (let i = 0; i < flat.length; i += 2) {
        const k = flat[i], v = flat[i + 1];
        if (k === 'set-cookie') cookies.push(v);
        else {
          const cur = map.get(k);
          map.set(k, cur === undefined ? v : cur + ', ' + v);
        }
      }
    }
    h[MAP] = map; h[COOKIES] = cookies; h[WIRE] = null;
    return map;
  }
  // Entries sorted by name; Array.prototype.sort is stable, so set-cookie values keep their order.
  function sorted(h) {
    const out = [];
    for (const [k, v] of mapOf(h)) out.push([k, v]);
    for (const c of h[COOKIES]) out.push(['set-cookie', c]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  class Headers {
    constructor(init) {
      this[MAP] = new Map();
      this[COOKIES] = [];
      this[GUARD] = false;
      this[WIRE] = null;
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        for (const [k, v] of mapOf(init)) this[MAP].set(k, v);
        this[COOKIES] = init[COOKIES].slice();
      } else if (typeof init === 'object') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const p = typeof pair === 'string' ? [pair] : [...pair];
            if (p.length !== 2) throw new TypeError('Headers: each header pair must have exactly two items');
            this.append(p[0], p[1]);
          }
        } else {
          const flat = Headers._wireFromRecord(init);
          if (flat !== null) {
            for (let i = 0; i < flat.length; i += 2) this[MAP].set(flat[i], flat[i + 1]);
          } else {
            for (const k of Object.keys(init)) this.append(k, init[k]);
          }
        }
      } else throw new TypeError('Headers: init must be an object, an iterable of pairs, or a Headers');
    }
    // Headers over a wire string (names already lower-case and valid, as the engine and the
    // response's native checks make them), the map built only when needed. The same properties
    // in the same order as the constructor's: one shape for both.
    static _fromWire(wire) {
      let h = spare;
      if (h !== null) { spent = h; spare = null; h[WIRE] = wire; return h; }
      h = Object.create(Headers.prototype);
      h[MAP] = null; h[COOKIES] = null; h[GUARD] = false; h[WIRE] = wire;
      return h;
    }
    // A plain-object init as validated wire pairs, without going through `append` (the common
    // `new Headers({ … })`); null for any other object, or when the general path is needed. The
    // checks run in Rust (runtime/engine/src/headers.rs): in the interpreter they cost
    // microseconds per header.
    static _wireFromRecord(init) { return native.headerRecord(init); }
    // The headers as a wire string.
    static _toWire(h) {
      if (h[WIRE] !== null) return h[WIRE];
      const flat = [];
      for (const [k, v] of h[MAP]) flat.push(k, v);
      for (const c of h[COOKIES]) flat.push('set-cookie', c);
      return flat.join('\n');
    }
    static _freeze(h) { h[GUARD] = true; return h; }
    append(name, value) {
      if (this[GUARD]) immutable();
      name = normName(name); value = normValue(value);
      const map = mapOf(this);
      if (name === 'set-cookie') { this[COOKIES].push(value); return; }
      const cur = map.get(name);
      map.set(name, cur === undefined ? value : cur + ', ' + value);
    }
    set(name, value) {
      if (this[GUARD]) immutable();
      name = normName(name); value = normValue(value);
      const map = mapOf(this);
      if (name === 'set-cookie') { this[COOKIES] = [value]; return; }
      map.set(name, value);
    }
    delete(name) {
      if (this[GUARD]) immutable();
      name = normName(name);
      const map = mapOf(this);
      if (name === 'set-cookie') this[COOKIES] = [];
      else map.delete(name);
    }
    get(name) {
      name = normName(name);
      const wire = this[WIRE];
      if (typeof wire === 'string') {
        const v = wireGet(wire, name);
        if (v !== undefined) return v;
      }
      const map = mapOf(this);
      if (name === 'set-cookie') return this[COOKIES].length ? this[COOKIES].join(', ') : null;
      const v = map.get(name);
      return v === undefined ? null : v;
    }
    has(name) {
      name = normName(name);
      const wire = this[WIRE];
      if (typeof wire === 'string') {
        const v = wireGet(wire, name);
        if (v !== undefined) return v !== null;
      }
      const map = mapOf(this);
      return name === 'set-cookie' ? this[COOKIES].length > 0 : map.has(name);
    }
    getSetCookie() { mapOf(this); return this[COOKIES].slice(); }
    forEach(cb, thisArg) { for (const [k, v] of sorted(this)) cb.call(thisArg, v, k, this); }
    keys() { return sorted(this).map(([k]) => k)[Symbol.iterator](); }
    values() { return sorted(this).map(([, v]) => v)[Symbol.iterator](); }
    entries() { return sorted(this)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return 'Headers'; }
  }

  // The first wire-backed Headers a request needs (its own, usually) is a spare
  // (00-internal.js).
  globalThis.__wisp.spares(() => { spare = Headers._fromWire(''); });
  define(globalThis, 'Headers', Headers);
})();
