// URL and URLSearchParams. Parsing and the setters follow the WHATWG URL standard through the
// Rust `url` crate (a native); this file keeps the JS object model.
(function () {
  const { native, define, standIn } = globalThis.__wisp;
  // Indices into a URL's components (runtime/url: wisp_url::Components) that this file reads.
  const HREF = 0, SEARCH = 8;
  // A parsed URL reaches JS packed into one string (wisp_url::pack): a header of HEADER code
  // units, the start and end of each component, then the href they are sliced from. So
  // `new URL(…)` makes one string, and each getter slices only the component it reads. A URL
  // too long for the header to address comes as the array of its ten components instead.
  const HEADER = native.urlHeader;
  function part(c, i) {
    if (typeof c !== 'string') return c[i];
    return c.slice(HEADER + c.charCodeAt(2 * i), HEADER + c.charCodeAt(2 * i + 1));
  }
  // The packed components, or null when the input does not parse. (The native takes no
  // `undefined` for an absent base.)
  const urlParse = (url, base) => (base === undefined ? native.urlParse(url) : native.urlParse(url, base));

  function formEncode(s) {
    // A lone surrogate is U+FFFD, as in UTF-8 encoding (encodeURIComponent would throw).
    return encodeURIComponent(s.isWellFormed() ? s : s.toWellFormed())
      .replace(/%20/g, '+')
      .replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  }
  function formDecode(s) {
    s = s.replace(/\+/g, ' ');
    try { return decodeURIComponent(s); } catch { return native.percentDecodeLossy(s); }
  }
  function parseQuery(q) {
    const list = [];
    if (q.startsWith('?')) q = q.slice(1);
    for (const part of q.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq < 0) list.push([formDecode(part), '']);
      else list.push([formDecode(part.slice(0, eq)), formDecode(part.slice(eq + 1))]);
    }
    return list;
  }

  // Internal state under symbol keys (cheaper than private fields in QuickJS).
  const LIST = Symbol('list'), OWNER = Symbol('owner'), C = Symbol('components'), PARAMS = Symbol('params'),
    ORIGIN = Symbol('origin');

  class URLSearchParams {
    constructor(init = '') {
      this[LIST] = [];
      this[OWNER] = null; // the URL this object belongs to, updated on every change
      if (init instanceof URLSearchParams) this[LIST] = init[LIST].map(([k, v]) => [k, v]);
      else if (init !== null && typeof init === 'object') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const p = [...pair];
            if (p.length !== 2) throw new TypeError('URLSearchParams: each pair must have exactly two items');
            this[LIST].push([String(p[0]), String(p[1])]);
          }
        } else {
          for (const k of Object.keys(init)) this[LIST].push([k, String(init[k])]);
        }
      } else this[LIST] = parseQuery(String(init));
    }
    static _attach(params, url) { params[OWNER] = url; }
    static _reset(params, query) { params[LIST] = parseQuery(query); }
    get size() { return this[LIST].length; }
    append(name, value) { this[LIST].push([String(name), String(value)]); update(this); }
    delete(name, value) {
      name = String(name);
      this[LIST] = this[LIST].filter(([k, v]) => !(k === name && (value === undefined || v === String(value))));
      update(this);
    }
    get(name) { name = String(name); const e = this[LIST].find(([k]) => k === name); return e ? e[1] : null; }
    getAll(name) { name = String(name); return this[LIST].filter(([k]) => k === name).map(([, v]) => v); }
    has(name, value) { name = String(name); return this[LIST].some(([k, v]) => k === name && (value === undefined || v === String(value))); }
    set(name, value) {
      name = String(name); value = String(value);
      const i = this[LIST].findIndex(([k]) => k === name);
      if (i < 0) this[LIST].push([name, value]);
      else {
        this[LIST][i][1] = value;
        this[LIST] = this[LIST].filter(([k], j) => j <= i || k !== name);
      }
      update(this);
    }
    sort() {
      // Stable sort by UTF-16 code units, as the standard asks.
      this[LIST] = this[LIST].map((e, i) => [e, i]).sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map(([e]) => e);
      update(this);
    }
    forEach(cb, thisArg) { for (const [k, v] of this[LIST]) cb.call(thisArg, v, k, this); }
    keys() { return this[LIST].map(([k]) => k)[Symbol.iterator](); }
    values() { return this[LIST].map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this[LIST].map(([k, v]) => [k, v])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this[LIST].map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join('&'); }
    get [Symbol.toStringTag]() { return 'URLSearchParams'; }
  }

  function update(params) {
    const url = params[OWNER];
    if (url) setQuery(url, params.toString());
  }
  function setQuery(url, query) {
    const c = native.urlSet(part(url[C], HREF), 'search', query);
    if (c != null) changed(url, c);
  }
  function changed(url, c) {
    url[C] = c;
    if (url[ORIGIN] !== undefined) url[ORIGIN] = undefined;
  }
  function set(url, which, value) {
    const c = native.urlSet(part(url[C], HREF), which, String(value));
    if (c != null) changed(url, c);
    if (which === 'search' && url[PARAMS]) URLSearchParams._reset(url[PARAMS], part(url[C], SEARCH));
  }

  class URL {
    constructor(url, base) {
      // Not `arguments.length`: QuickJS would build an arguments object for every URL made.
      if (url === undefined && base === undefined) throw new TypeError("URL: 1 argument required, but only 0 present");
      // A string without a base, the usual call, goes straight to the native.
      const c = typeof url === 'string' && base === undefined ? native.urlParse(url) : urlParse(String(url), base === undefined ? undefined : String(base));
      if (c == null) throw new TypeError(`Invalid URL: ${String(url)}${base === undefined ? '' : ` (base: ${String(base)})`}`);
      this[C] = c;
    }
    static canParse(url, base) {
      return urlParse(String(url), base === undefined ? undefined : String(base)) != null;
    }
    static parse(url, base) {
      try { return base === undefined ? new URL(url) : new URL(url, base); } catch { return null; }
    }
    set href(v) {
      const c = urlParse(String(v));
      if (c == null) throw new TypeError(`Invalid URL: ${String(v)}`);
      changed(this, c);
      if (this[PARAMS]) URLSearchParams._reset(this[PARAMS], part(c, SEARCH));
    }
    get origin() {
      // Computed on first use (few handlers read it), and forgotten when the URL changes.
      if (this[ORIGIN] === undefined) this[ORIGIN] = native.urlOrigin(part(this[C], HREF));
      return this[ORIGIN];
    }
    set protocol(v) { set(this, 'protocol', v); }
    set username(v) { set(this, 'username', v); }
    set password(v) { set(this, 'password', v); }
    set host(v) { set(this, 'host', v); }
    set hostname(v) { set(this, 'hostname', v); }
    set port(v) { set(this, 'port', v); }
    set pathname(v) { set(this, 'pathname', v); }
    set search(v) { set(this, 'search', v); }
    set hash(v) { set(this, 'hash', v); }
    get searchParams() {
      if (this[PARAMS] == null) {
        this[PARAMS] = new URLSearchParams(part(this[C], SEARCH));
        URLSearchParams._attach(this[PARAMS], this);
      }
      return this[PARAMS];
    }
    toString() { return part(this[C], HREF); }
    toJSON() { return part(this[C], HREF); }
    get [Symbol.toStringTag]() { return 'URL'; }
  }

  // The components' getters are C functions that slice the packed text in place
  // (runtime/engine/src/natives.rs, urlGetters): written in JS, a getter made three calls to
  // read a packed URL, about 5,000 Wasm instructions for a `pathname` every router reads.
  const getters = native.urlGetters(C);
  for (const name of Object.keys(getters)) {
    const { set, enumerable, configurable } = Object.getOwnPropertyDescriptor(URL.prototype, name);
    Object.defineProperty(URL.prototype, name, { get: getters[name], set, enumerable, configurable });
  }

  // The global `URL` is a C constructor in front of the class (natives.rs, NewUrl): it makes
  // `new URL(string)`, the call nearly every handler makes, itself, about half of its cost as
  // a class; the class makes every other (a base, conversions, errors, no `new`) and keeps the
  // prototype, whose `constructor` is the global.
  define(globalThis, 'URL', standIn(native.urlConstructor(URL), URL));
  define(globalThis, 'URLSearchParams', URLSearchParams);
})();
