// Response, and EdgeResponse: the WasmEdge article's `new EdgeResponse({ status, headers, body })`.
(function () {
  const internal = globalThis.__wisp;
  const { define, brand, bodyOf, extractBody, mixinBody } = internal;
  // A plain-object headers init as the wire string, a string body's content type added when the
  // record names none; null for any other object (runtime/engine/src/headers.rs).
  const { headerWire, responseInit, edgeInit, swapResponseSpare } = internal.native;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);
  const REDIRECT = new Set([301, 302, 303, 307, 308]);
  const REASON = /^[\t !-~\x80-\xff]*$/;

  // What an absent init reads as (one shared object: no allocation per Response).
  const NO_INIT = Object.freeze({});
  const TEXT = 'text/plain;charset=UTF-8', JSON_TYPE = 'application/json';
  // A response's headers stay in the form the engine sends (`wire`: "name\nvalue\n…"; no
  // name or value can hold a newline) until someone reads `response.headers`: most responses
  // are built, returned and sent without that.
  const TEXT_WIRE = 'content-type\n' + TEXT;
  const wireOf = (type) => (type === TEXT ? TEXT_WIRE : 'content-type\n' + type);
  // What few responses differ in, shared by all the others: every field of a response's state
  // costs QuickJS an allocation on every request. Never changed in place: a response that
  // differs gets its own.
  const PLAIN = Object.freeze({ statusText: '', type: 'default', url: '', redirected: false, webSocket: null });
  // Most requests make one response: the first one's state is a spare (00-internal.js
  // `spares`), made as a fresh `new Response(text)`'s; setting a field costs a fraction of
  // making an object with six. The engine holds it, since its constructors (below) hand it out
  // most often; `swapResponseSpare(x)` holds x (null: none) and answers the one it held.
  internal.spares(() => {
    swapResponseSpare({ status: 200, headers: null, wire: TEXT_WIRE, body: null, src: null, x: PLAIN });
  });

  // `bodyType`: the content type a string body gets when the headers name none.
  function init(r, body, opts, label, bodyType) {
    // `new Response(text)`, the commonest of all, without the checks that cannot fail for it.
    // Same properties in the same order as the state made below: one shape for both.
    if (opts === undefined && typeof body === 'string') {
      const s = swapResponseSpare(null);
      if (s === null) r[brand] = { status: 200, headers: null, wire: wireOf(bodyType), body: null, src: body, x: PLAIN };
      else { s.wire = wireOf(bodyType); s.src = body; r[brand] = s; }
      return;
    }
    if (opts === undefined || opts === null) opts = NO_INIT;
    else if (typeof opts !== 'object') throw new TypeError(`${label}: init must be an object`);
    // One native call reads the init's members (each once) and, in the common case, makes the
    // state itself (runtime/engine/src/response.rs); otherwise it hands back what it read.
    // The spare state is the native's to fill; given back if it took the general path (and
    // dropped if it threw, so that no state is ever handed out twice), as the engine's
    // constructors do.
    const offered = swapResponseSpare(null);
    const read = responseInit(r, body, opts, bodyType, brand, PLAIN, offered);
    if (read === null) return;
    swapResponseSpare(offered);
    general(r, body, read, label, bodyType);
  }

  // The cases the native leaves, with the init's members it read: `read` is `[status,
  // statusText, headers, webSocket, walked]`.
  function general(r, body, read, label, bodyType) {
    let status = read[0];
    if (status === undefined) status = 200;
    else if (typeof status !== 'number') status = Number(status);
    if (status !== 200 && (!Number.isInteger(status) || status < 200 || status > 599)) {
      throw new RangeError(`${label}: status must be an integer from 200 to 599, got ${read[0]}`);
    }
    let statusText = read[1];
    if (statusText === undefined) statusText = '';
    else if (typeof statusText !== 'string') statusText = String(statusText);
    if (statusText !== '' && !REASON.test(statusText)) throw new TypeError(`${label}: invalid statusText`);
    const text = typeof body === 'string';
    const hi = read[2];
    let headers = null, wire;
    if (hi === undefined || hi === null) wire = text ? wireOf(bodyType) : '';
    else {
      // A plain object becomes the wire string in one native call; null when Headers must
      // decide (and when responseInit already asked: read[4]).
      wire = typeof hi === 'object' && read[4] !== true ? headerWire(hi, text ? bodyType : null) : null;
      if (wire === null) {
        headers = new Headers(hi);
        if (text && !headers.has('content-type')) headers.set('content-type', bodyType);
      }
    }
    let source = null;
    if (body !== null && body !== undefined) {
      if (status !== 200 && NULL_BODY.has(status)) throw new TypeError(`${label}: a response with status ${status} cannot have a body`);
      if (text) source = body;
      else {
        const x = extractBody(body);
        source = x.source;
        if (x.type !== null) {
          if (headers !== null) { if (!headers.has('content-type')) headers.set('content-type', x.type); }
          else wire = withType(wire, x.type);
        }
      }
    }
    const ws = read[3];
    const x = statusText === '' && (ws === undefined || ws === null) ? PLAIN
      : { statusText, type: 'default', url: '', redirected: false, webSocket: ws || null };
    r[brand] = { status, headers, wire, body: null, src: source, x };
  }

  // `wire` with `content-type: type` added, unless it names a content type already.
  function withType(wire, type) {
    if (wire === '') return wireOf(type);
    const flat = wire.split('\n');
    for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'content-type') return wire;
    return wire + '\ncontent-type\n' + type;
  }
  // The response's Headers object, built from the wire string on first use.
  function headersOf(s) {
    if (s.headers === null) {
      s.headers = Headers._fromWire(s.wire);
      s.wire = null;
    }
    return s.headers;
  }
  // The headers as the engine reads them.
  internal.responseWire = (s) => (s.headers === null ? s.wire : Headers._toWire(s.headers));
  // A response's state with some of the rarely differing fields changed.
  internal.setResponseExtras = (s, changes) => { s.x = { ...s.x, ...changes }; };

  // The global `Response` is the engine's C constructor (response_ctor.rs), which makes
  // `new Response(text)` and `new Response(body, { status, headers })` itself and calls
  // `init` or `general` with the object for the rest; this class is what the polyfills' own
  // `new Response(…)` calls, and what owns the prototype.
  class Response {
    constructor(body = null, opts = undefined) {
      init(this, body, opts, 'Response', TEXT);
    }
    static json(data, opts = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Response.json: the value cannot be serialised to JSON');
      // The Fetch standard's "initialize a response" with the body's type: application/json
      // unless the init's headers name a content type.
      const r = Object.create(Response.prototype);
      init(r, text, opts, 'Response.json', JSON_TYPE);
      return r;
    }
    static redirect(url, status = 302) {
      const href = new URL(String(url), internal.baseUrl).href;
      if (!REDIRECT.has(status)) throw new RangeError(`Response.redirect: ${status} is not a redirect status`);
      const r = new Response(null, { status });
      // Mutable headers, as in workerd (the Fetch standard makes them immutable).
      headersOf(r[brand]).set('location', href);
      return r;
    }
    static error() {
      const r = new Response(null, { status: 200 });
      const s = r[brand];
      // Status 0 is how the dispatcher tells an error response (no other can have it).
      s.status = 0;
      internal.setResponseExtras(s, { type: 'error' });
      Headers._freeze(headersOf(s));
      return r;
    }
    get status() { return this[brand].status; }
    get statusText() { return this[brand].x.statusText; }
    get ok() { const s = this[brand].status; return s >= 200 && s <= 299; }
    get headers() { return headersOf(this[brand]); }
    get type() { return this[brand].x.type; }
    get url() { return this[brand].x.url; }
    get redirected() { return this[brand].x.redirected; }
    get webSocket() { return this[brand].x.webSocket; }
    clone() {
      const s = this[brand];
      const r = Object.create(Object.getPrototypeOf(this));
      r[brand] = { ...s, headers: new Headers(headersOf(s)), wire: null, body: bodyOf(s).tee() };
      return r;
    }
    get [Symbol.toStringTag]() { return 'Response'; }
  }
  mixinBody(Response, 'Response');
  internal.fieldGetters(Response, brand, ['status']);

  // `new EdgeResponse({ status, headers, body })`, and also `new EdgeResponse(body, init)`. A
  // function rather than a subclass: it fills `this` itself, so neither a `super()` call nor a
  // second init object is made for every response (the spec object is the init).
  function EdgeResponse(spec = {}, opts = undefined) {
    if (new.target === undefined) throw new TypeError("Class constructor EdgeResponse cannot be invoked without 'new'");
    // The spec form (a plain object naming `status`, `body` or `headers`), told apart, read and
    // made into the state in one native call; `false` when `spec` is not that form but a body.
    if (opts === undefined) {
      const offered = swapResponseSpare(null);
      const read = edgeInit(this, spec, TEXT, brand, PLAIN, offered);
      if (read === null) return;
      swapResponseSpare(offered);
      if (read !== false) { general(this, read[5], read, 'Response', TEXT); return; }
    }
    init(this, spec, opts, 'Response', TEXT);
  }
  Object.setPrototypeOf(EdgeResponse, Response);
  EdgeResponse.prototype = Object.create(Response.prototype, {
    constructor: { value: EdgeResponse, writable: true, configurable: true },
  });
  Object.defineProperty(EdgeResponse, 'prototype', { writable: false });

  // The globals are the engine's C constructors (runtime/engine/src/response_ctor.rs), in
  // front of the class and the function above: `new Response(text)` cost about 7,000 Wasm
  // instructions as a class. Each stands in for its JS counterpart (`internal.standIn`).
  const [NativeResponse, NativeEdgeResponse] = internal.native.responseConstructors(
    Response, EdgeResponse, init, general, TEXT, brand, PLAIN, 'Response');
  internal.standIn(NativeResponse, Response);
  internal.standIn(NativeEdgeResponse, EdgeResponse);
  // EdgeResponse inherits Response's statics (`EdgeResponse.json`), as the function did.
  Object.setPrototypeOf(NativeEdgeResponse, NativeResponse);
  define(globalThis, 'Response', NativeResponse);
  define(globalThis, 'EdgeResponse', NativeEdgeResponse);
})();
