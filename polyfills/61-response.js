// Response, and EdgeResponse: the WasmEdge article's `new EdgeResponse({ status, headers, body })`.
(function () {
  const internal = globalThis.__wisp;
  const { define, brand, bodyOf, extractBody, mixinBody } = internal;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);
  const REDIRECT = new Set([301, 302, 303, 307, 308]);
  const REASON = /^[\t !-~\x80-\xff]*$/;

  // What an absent init reads as (one shared object: no allocation per Response).
  const NO_INIT = Object.freeze({});
  const TEXT = 'text/plain;charset=UTF-8';

  function init(r, body, opts, label) {
    // `new Response(text)`, the commonest of all, without the checks that cannot fail for it.
    // Same properties in the same order as the state made below: one shape for both.
    if (opts === undefined && typeof body === 'string') {
      r[brand] = { status: 200, statusText: '', headers: null, wire: ['content-type', TEXT], body: null, src: body, type: 'default', url: '', redirected: false, webSocket: null };
      return;
    }
    if (opts === undefined || opts === null) opts = NO_INIT;
    else if (typeof opts !== 'object') throw new TypeError(`${label}: init must be an object`);
    const status = opts.status === undefined ? 200 : Number(opts.status);
    if (status !== 200 && (!Number.isInteger(status) || status < 200 || status > 599)) {
      throw new RangeError(`${label}: status must be an integer from 200 to 599, got ${opts.status}`);
    }
    const statusText = opts.statusText === undefined ? '' : String(opts.statusText);
    if (statusText !== '' && !REASON.test(statusText)) throw new TypeError(`${label}: invalid statusText`);
    // Headers stay as validated wire pairs until someone reads `response.headers`: most
    // responses are built, returned and serialised without that.
    const hi = opts.headers;
    let headers = null;
    // `wire` stays undefined while there are no headers at all (the pairs are made once).
    // A plain object (never a Headers or an array: `_wireFromRecord` checks) becomes wire
    // pairs in one native call.
    let wire = hi === undefined || hi === null ? undefined : typeof hi === 'object' ? Headers._wireFromRecord(hi) : null;
    if (wire === null) headers = new Headers(hi);
    let source = null;
    if (body !== null && body !== undefined) {
      if (status !== 200 && NULL_BODY.has(status)) throw new TypeError(`${label}: a response with status ${status} cannot have a body`);
      // A string body, the usual case, without extractBody's result object.
      let type;
      if (typeof body === 'string') { source = body; type = TEXT; } else { const x = extractBody(body); source = x.source; type = x.type; }
      if (type !== null) {
        if (wire === undefined) wire = ['content-type', type];
        else if (wire !== null) { if (wireIndex(wire, 'content-type') < 0) wire.push('content-type', type); }
        else if (!headers.has('content-type')) headers.set('content-type', type);
      }
    }
    if (wire === undefined) wire = [];
    r[brand] = { status, statusText, headers, wire, body: null, src: source, type: 'default', url: '', redirected: false, webSocket: opts.webSocket || null };
  }

  // Where `name` is in the wire pairs, or -1. Array.prototype.indexOf runs in C; a value equal
  // to the name (odd index) is skipped.
  function wireIndex(wire, name) {
    let i = wire.indexOf(name);
    while (i % 2 === 1) i = wire.indexOf(name, i + 1);
    return i;
  }
  // The response's Headers object, built from the wire pairs on first use.
  function headersOf(s) {
    if (s.headers === null) { s.headers = Headers._fromWire(s.wire); s.wire = null; }
    return s.headers;
  }
  // Sets one header, on whichever form the response holds.
  function setHeader(s, name, value) {
    if (s.wire !== null) {
      const i = wireIndex(s.wire, name);
      if (i < 0) s.wire.push(name, value); else s.wire[i + 1] = value;
    } else s.headers.set(name, value);
  }
  // The headers as the engine reads them: one "name\nvalue\n…" string (no name or value can
  // hold a newline).
  internal.responseWire = (s) => (s.wire !== null ? s.wire : Headers._toWire(s.headers)).join('\n');

  class Response {
    constructor(body = null, opts = undefined) { init(this, body, opts, 'Response'); }
    static json(data, opts = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Response.json: the value cannot be serialised to JSON');
      const r = new Response(text, opts);
      setHeader(r[brand], 'content-type', 'application/json');
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
      Object.assign(r[brand], { status: 0, type: 'error' });
      Headers._freeze(headersOf(r[brand]));
      return r;
    }
    get status() { return this[brand].status; }
    get statusText() { return this[brand].statusText; }
    get ok() { const s = this[brand].status; return s >= 200 && s <= 299; }
    get headers() { return headersOf(this[brand]); }
    get type() { return this[brand].type; }
    get url() { return this[brand].url; }
    get redirected() { return this[brand].redirected; }
    get webSocket() { return this[brand].webSocket; }
    clone() {
      const s = this[brand];
      const r = Object.create(Object.getPrototypeOf(this));
      r[brand] = { ...s, headers: new Headers(headersOf(s)), wire: null, body: bodyOf(s).tee() };
      return r;
    }
    get [Symbol.toStringTag]() { return 'Response'; }
  }
  mixinBody(Response, 'Response');

  // `new EdgeResponse({ status, headers, body })`, and also `new EdgeResponse(body, init)`. A
  // function rather than a subclass: it fills the object itself, so neither a `super()` call
  // nor a second init object is made for every response (the spec object is the init).
  function EdgeResponse(spec = {}, opts = undefined) {
    if (new.target === undefined) throw new TypeError("Class constructor EdgeResponse cannot be invoked without 'new'");
    const r = Object.create(new.target.prototype);
    const isSpec = spec !== null && typeof spec === 'object' && opts === undefined &&
      Object.getPrototypeOf(spec) === Object.prototype && ('status' in spec || 'body' in spec || 'headers' in spec);
    if (isSpec) init(r, spec.body === undefined ? null : spec.body, spec, 'Response');
    else init(r, spec, opts, 'Response');
    return r;
  }
  Object.setPrototypeOf(EdgeResponse, Response);
  EdgeResponse.prototype = Object.create(Response.prototype, {
    constructor: { value: EdgeResponse, writable: true, configurable: true },
  });
  Object.defineProperty(EdgeResponse, 'prototype', { writable: false });

  define(globalThis, 'Response', Response);
  define(globalThis, 'EdgeResponse', EdgeResponse);
})();
