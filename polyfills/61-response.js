// Response, and EdgeResponse: the WasmEdge article's `new EdgeResponse({ status, headers, body })`.
(function () {
  const internal = globalThis.__wisp;
  const { define, brand, Body, extractBody, mixinBody } = internal;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);
  const REDIRECT = new Set([301, 302, 303, 307, 308]);
  const REASON = /^[\t !-~\x80-\xff]*$/;

  function init(r, body, opts, label) {
    if (opts === undefined || opts === null) opts = {};
    else if (typeof opts !== 'object') throw new TypeError(`${label}: init must be an object`);
    const status = opts.status === undefined ? 200 : Number(opts.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`${label}: status must be an integer from 200 to 599, got ${opts.status}`);
    }
    const statusText = opts.statusText === undefined ? '' : String(opts.statusText);
    if (statusText !== '' && !REASON.test(statusText)) throw new TypeError(`${label}: invalid statusText`);
    const headers = opts.headers === undefined ? new Headers() : new Headers(opts.headers);
    let source = null;
    if (body !== null && body !== undefined) {
      if (NULL_BODY.has(status)) throw new TypeError(`${label}: a response with status ${status} cannot have a body`);
      const x = extractBody(body);
      source = x.source;
      if (x.type !== null && !headers.has('content-type')) headers.set('content-type', x.type);
    }
    r[brand] = { status, statusText, headers, body: new Body(source), type: 'default', url: '', redirected: false, webSocket: opts.webSocket || null };
  }

  class Response {
    constructor(body = null, opts = undefined) { init(this, body, opts, 'Response'); }
    static json(data, opts = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Response.json: the value cannot be serialised to JSON');
      const r = new Response(text, opts);
      r[brand].headers.set('content-type', 'application/json');
      return r;
    }
    static redirect(url, status = 302) {
      const href = new URL(String(url), internal.baseUrl).href;
      if (!REDIRECT.has(status)) throw new RangeError(`Response.redirect: ${status} is not a redirect status`);
      const r = new Response(null, { status });
      r[brand].headers.set('location', href);
      Headers._freeze(r[brand].headers);
      return r;
    }
    static error() {
      const r = new Response(null, { status: 200 });
      Object.assign(r[brand], { status: 0, type: 'error' });
      Headers._freeze(r[brand].headers);
      return r;
    }
    get status() { return this[brand].status; }
    get statusText() { return this[brand].statusText; }
    get ok() { const s = this[brand].status; return s >= 200 && s <= 299; }
    get headers() { return this[brand].headers; }
    get type() { return this[brand].type; }
    get url() { return this[brand].url; }
    get redirected() { return this[brand].redirected; }
    get webSocket() { return this[brand].webSocket; }
    clone() {
      const s = this[brand];
      const r = Object.create(Object.getPrototypeOf(this));
      r[brand] = { ...s, headers: new Headers(s.headers), body: s.body.tee() };
      return r;
    }
    get [Symbol.toStringTag]() { return 'Response'; }
  }
  mixinBody(Response, 'Response');

  // `new EdgeResponse({ status, headers, body })`, and also `new EdgeResponse(body, init)`.
  class EdgeResponse extends Response {
    constructor(spec = {}, opts = undefined) {
      const isSpec = spec !== null && typeof spec === 'object' && opts === undefined &&
        Object.getPrototypeOf(spec) === Object.prototype && ('status' in spec || 'body' in spec || 'headers' in spec);
      if (isSpec) super(spec.body === undefined ? null : spec.body, { status: spec.status, statusText: spec.statusText, headers: spec.headers });
      else super(spec, opts);
    }
  }

  define(globalThis, 'Response', Response);
  define(globalThis, 'EdgeResponse', EdgeResponse);
})();
