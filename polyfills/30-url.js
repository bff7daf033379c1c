// URL and URLSearchParams. Parsing and the setters follow the WHATWG URL standard through the
// Rust `url` crate (a native); this file keeps the JS object model.
(function () {
  const { native, define } = globalThis.__wisp;
  // Indices into the component array returned by native.urlParse / native.urlSet.
  const HREF = 0, PROTOCOL = 1, USERNAME = 2, PASSWORD = 3, HOST = 4, HOSTNAME = 5, PORT = 6,
    PATHNAME = 7, SEARCH = 8, HASH = 9, ORIGIN = 10;

  function formEncode(s) {
    return encodeURIComponent(s)
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

  class URLSearchParams {
    #list = [];
    #url = null; // the URL this object belongs to, updated on every change
    constructor(init = '') {
      if (init instanceof URLSearchParams) this.#list = init.#list.map(([k, v]) => [k, v]);
      else if (init !== null && typeof init === 'object') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const p = [...pair];
            if (p.length !== 2) throw new TypeError('URLSearchParams: each pair must have exactly two items');
            this.#list.push([String(p[0]), String(p[1])]);
          }
        } else {
          for (const k of Object.keys(init)) this.#list.push([k, String(init[k])]);
        }
      } else this.#list = parseQuery(String(init));
    }
    static _attach(params, url) { params.#url = url; }
    static _reset(params, query) { params.#list = parseQuery(query); }
    #update() { if (this.#url) this.#url._setQueryFromParams(this.toString()); }
    get size() { return this.#list.length; }
    append(name, value) { this.#list.push([String(name), String(value)]); this.#update(); }
    delete(name, value) {
      name = String(name);
      this.#list = this.#list.filter(([k, v]) => !(k === name && (value === undefined || v === String(value))));
      this.#update();
    }
    get(name) { name = String(name); const e = this.#list.find(([k]) => k === name); return e ? e[1] : null; }
    getAll(name) { name = String(name); return this.#list.filter(([k]) => k === name).map(([, v]) => v); }
    has(name, value) { name = String(name); return this.#list.some(([k, v]) => k === name && (value === undefined || v === String(value))); }
    set(name, value) {
      name = String(name); value = String(value);
      const i = this.#list.findIndex(([k]) => k === name);
      if (i < 0) this.#list.push([name, value]);
      else {
        this.#list[i][1] = value;
        this.#list = this.#list.filter(([k], j) => j <= i || k !== name);
      }
      this.#update();
    }
    sort() {
      // Stable sort by UTF-16 code units, as the standard asks.
      this.#list = this.#list.map((e, i) => [e, i]).sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map(([e]) => e);
      this.#update();
    }
    forEach(cb, thisArg) { for (const [k, v] of this.#list) cb.call(thisArg, v, k, this); }
    keys() { return this.#list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this.#list.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this.#list.map(([k, v]) => [k, v])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.#list.map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join('&'); }
    get [Symbol.toStringTag]() { return 'URLSearchParams'; }
  }

  class URL {
    #c; #params = null;
    constructor(url, base) {
      if (arguments.length === 0) throw new TypeError("URL: 1 argument required, but only 0 present");
      const c = base === undefined ? native.urlParse(String(url)) : native.urlParse(String(url), String(base));
      if (c == null) throw new TypeError(`Invalid URL: ${String(url)}${base === undefined ? '' : ` (base: ${String(base)})`}`);
      this.#c = c;
    }
    static canParse(url, base) {
      return (base === undefined ? native.urlParse(String(url)) : native.urlParse(String(url), String(base))) != null;
    }
    static parse(url, base) {
      try { return base === undefined ? new URL(url) : new URL(url, base); } catch { return null; }
    }
    #set(which, value) {
      const c = native.urlSet(this.#c[HREF], which, String(value));
      if (c != null) this.#c = c;
      if (which === 'search' && this.#params) URLSearchParams._reset(this.#params, this.#c[SEARCH]);
    }
    _setQueryFromParams(query) {
      const c = native.urlSet(this.#c[HREF], 'search', query);
      if (c != null) this.#c = c;
    }
    get href() { return this.#c[HREF]; }
    set href(v) {
      const c = native.urlParse(String(v));
      if (c == null) throw new TypeError(`Invalid URL: ${String(v)}`);
      this.#c = c;
      if (this.#params) URLSearchParams._reset(this.#params, c[SEARCH]);
    }
    get origin() { return this.#c[ORIGIN]; }
    get protocol() { return this.#c[PROTOCOL]; }
    set protocol(v) { this.#set('protocol', v); }
    get username() { return this.#c[USERNAME]; }
    set username(v) { this.#set('username', v); }
    get password() { return this.#c[PASSWORD]; }
    set password(v) { this.#set('password', v); }
    get host() { return this.#c[HOST]; }
    set host(v) { this.#set('host', v); }
    get hostname() { return this.#c[HOSTNAME]; }
    set hostname(v) { this.#set('hostname', v); }
    get port() { return this.#c[PORT]; }
    set port(v) { this.#set('port', v); }
    get pathname() { return this.#c[PATHNAME]; }
    set pathname(v) { this.#set('pathname', v); }
    get search() { return this.#c[SEARCH]; }
    set search(v) { this.#set('search', v); }
    get hash() { return this.#c[HASH]; }
    set hash(v) { this.#set('hash', v); }
    get searchParams() {
      if (this.#params == null) {
        this.#params = new URLSearchParams(this.#c[SEARCH]);
        URLSearchParams._attach(this.#params, this);
      }
      return this.#params;
    }
    toString() { return this.#c[HREF]; }
    toJSON() { return this.#c[HREF]; }
    get [Symbol.toStringTag]() { return 'URL'; }
  }

  define(globalThis, 'URL', URL);
  define(globalThis, 'URLSearchParams', URLSearchParams);
})();
