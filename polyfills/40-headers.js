// Headers: case-insensitive names, values combined with ", ", iteration sorted by name,
// Set-Cookie kept as separate values (getSetCookie).
(function () {
  const { define } = globalThis.__wisp;
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const BAD_VALUE = /[\0\r\n]/;

  function normName(name) {
    name = String(name);
    if (!TOKEN.test(name)) throw new TypeError(`Headers: invalid header name '${name}'`);
    return name.toLowerCase();
  }
  function normValue(value) {
    value = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (BAD_VALUE.test(value)) throw new TypeError(`Headers: invalid header value '${value}'`);
    return value;
  }

  class Headers {
    #map = new Map();
    #cookies = [];
    #guard = 'none';
    constructor(init) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        for (const [k, v] of init.#map) this.#map.set(k, v);
        this.#cookies = init.#cookies.slice();
      } else if (typeof init === 'object') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const p = typeof pair === 'string' ? [pair] : [...pair];
            if (p.length !== 2) throw new TypeError('Headers: each header pair must have exactly two items');
            this.append(p[0], p[1]);
          }
        } else {
          for (const k of Object.keys(init)) this.append(k, init[k]);
        }
      } else throw new TypeError('Headers: init must be an object, an iterable of pairs, or a Headers');
    }
    // Fast path for the engine: names already lower-case and valid, values from the wire.
    static _fromWire(flat) {
      const h = new Headers();
      for (let i = 0; i < flat.length; i += 2) {
        const k = flat[i], v = flat[i + 1];
        if (k === 'set-cookie') h.#cookies.push(v);
        else {
          const cur = h.#map.get(k);
          h.#map.set(k, cur === undefined ? v : cur + ', ' + v);
        }
      }
      return h;
    }
    static _toWire(h) {
      const flat = [];
      for (const [k, v] of h.#map) flat.push(k, v);
      for (const c of h.#cookies) flat.push('set-cookie', c);
      return flat;
    }
    static _freeze(h) { h.#guard = 'immutable'; return h; }
    #check() { if (this.#guard === 'immutable') throw new TypeError('Headers: these headers are immutable'); }
    append(name, value) {
      this.#check();
      name = normName(name); value = normValue(value);
      if (name === 'set-cookie') { this.#cookies.push(value); return; }
      const cur = this.#map.get(name);
      this.#map.set(name, cur === undefined ? value : cur + ', ' + value);
    }
    set(name, value) {
      this.#check();
      name = normName(name); value = normValue(value);
      if (name === 'set-cookie') { this.#cookies = [value]; return; }
      this.#map.set(name, value);
    }
    delete(name) {
      this.#check();
      name = normName(name);
      if (name === 'set-cookie') this.#cookies = [];
      else this.#map.delete(name);
    }
    get(name) {
      name = normName(name);
      if (name === 'set-cookie') return this.#cookies.length ? this.#cookies.join(', ') : null;
      const v = this.#map.get(name);
      return v === undefined ? null : v;
    }
    has(name) {
      name = normName(name);
      return name === 'set-cookie' ? this.#cookies.length > 0 : this.#map.has(name);
    }
    getSetCookie() { return this.#cookies.slice(); }
    #sorted() {
      const out = [];
      for (const [k, v] of this.#map) out.push([k, v]);
      for (const c of this.#cookies) out.push(['set-cookie', c]);
      // Array.prototype.sort is stable: several set-cookie entries keep their order.
      return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    }
    forEach(cb, thisArg) { for (const [k, v] of this.#sorted()) cb.call(thisArg, v, k, this); }
    keys() { return this.#sorted().map(([k]) => k)[Symbol.iterator](); }
    values() { return this.#sorted().map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this.#sorted()[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return 'Headers'; }
  }

  define(globalThis, 'Headers', Headers);
})();
