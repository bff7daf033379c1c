// Request, and EdgeRequest (the name the WasmEdge article imports from 'wasmedge-quickjs').
(function () {
  const internal = globalThis.__wisp;
  const { define, brand, Body, bodyOf, extractBody, mixinBody } = internal;
  const METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH']);
  const FORBIDDEN = new Set(['CONNECT', 'TRACE', 'TRACK']);
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

  function normMethod(m) {
    m = String(m);
    if (!TOKEN.test(m)) throw new TypeError(`Request: '${m}' is not a valid HTTP method`);
    const up = m.toUpperCase();
    if (FORBIDDEN.has(up)) throw new TypeError(`Request: the method '${m}' is forbidden`);
    return METHODS.has(up) ? up : m;
  }

  // What an incoming request's few rarely read fields hold, shared by every request: each field
  // of the state costs QuickJS an allocation per request. Never changed in place.
  const INCOMING = Object.freeze({ redirect: 'manual', signal: null, cf: undefined });
  let spare = null, spent = null;
  function incoming(method, url, flatHeaders, bytes, clientAddr) {
    const r = Object.create(Request.prototype);
    r[brand] = { url, method, headers: null, wireHeaders: flatHeaders, body: null, src: bytes, clientAddr, x: INCOMING };
    return r;
  }

  class Request {
    constructor(input, init = {}) {
      if (init === null || typeof init !== 'object') init = {};
      let url, method = 'GET', headers, body = null, redirect = 'follow', signal = null, cf;
      if (input instanceof Request) {
        const s = input[brand];
        url = s.url; method = s.method; headers = new Headers(input.headers); redirect = s.x.redirect; signal = s.x.signal;
        const held = bodyOf(s);
        if (init.body === undefined && held.source !== null) {
          if (held.disturbed) throw new TypeError('Request: the input request body has already been used');
          body = held.take();
        }
      } else {
        url = new URL(String(input), internal.baseUrl).href;
      }
      if (init.method !== undefined) method = normMethod(init.method);
      if (init.headers !== undefined) headers = new Headers(init.headers);
      else if (headers === undefined) headers = new Headers();
      if (init.redirect !== undefined) redirect = String(init.redirect);
      if (init.signal !== undefined && init.signal !== null) {
        if (!(init.signal instanceof AbortSignal)) throw new TypeError("Request: 'signal' must be an AbortSignal");
        signal = init.signal;
      }
      if (init.cf !== undefined) cf = init.cf;
      if (init.body !== undefined && init.body !== null) {
        if (method === 'GET' || method === 'HEAD') throw new TypeError('Request: a GET or HEAD request cannot have a body');
        const { source, type } = extractBody(init.body);
        body = new Body(source);
        if (type !== null && !headers.has('content-type')) headers.set('content-type', type);
      }
      this[brand] = { url, method, headers, body: body || new Body(null), clientAddr: null, x: { redirect, signal, cf } };
    }
    // The engine's fast path for incoming requests: parts already validated by the host.
    // `wireHeaders` is "name\nvalue\n…" (see runtime/engine/src/event_loop.rs); the Headers
    // object is only built if the handler looks at it.
    static _fromWire(method, url, flatHeaders, bytes, clientAddr) {
      const r = spare;
      if (r === null) return incoming(method, url, flatHeaders, bytes, clientAddr);
      spent = r; spare = null;
      const s = r[brand];
      s.url = url; s.method = method; s.wireHeaders = flatHeaders; s.src = bytes; s.clientAddr = clientAddr;
      return r;
    }
    get method() { return this[brand].method; }
    get url() { return this[brand].url; }
    get headers() {
      const s = this[brand];
      if (s.headers === null) {
        s.headers = Headers._fromWire(s.wireHeaders);
        s.wireHeaders = null;
      }
      return s.headers;
    }
    get redirect() { return this[brand].x.redirect; }
    // A signal that never aborts unless one was given (workerd's behaviour); made on first use.
    get signal() {
      const s = this[brand];
      if (s.x.signal === null) s.x = { ...s.x, signal: new AbortController().signal };
      return s.x.signal;
    }
    get cf() { return this[brand].x.cf; }
    get keepalive() { return false; }
    get mode() { return 'cors'; }
    get credentials() { return 'same-origin'; }
    get cache() { return 'default'; }
    get integrity() { return ''; }
    get destination() { return ''; }
    get referrer() { return 'about:client'; }
    clone() {
      const s = this[brand];
      const r = Object.create(Request.prototype);
      r[brand] = { ...s, headers: new Headers(this.headers), wireHeaders: null, body: bodyOf(s).tee() };
      return r;
    }
    get [Symbol.toStringTag]() { return 'Request'; }
  }
  mixinBody(Request, 'Request');
  // The incoming request fills in a spare (00-internal.js `spares`).
  internal.spares(() => { spare = incoming('GET', 'http://localhost/', '', null, ''); });
  internal.fieldGetters(Request, brand, ['method', 'url']);

  define(globalThis, 'Request', Request);
  // WasmEdge's name for the same thing.
  define(globalThis, 'EdgeRequest', Request);
})();
