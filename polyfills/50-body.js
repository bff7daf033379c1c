// Bodies shared by Request and Response: extraction from the accepted body types, the
// consuming methods, and a minimal ReadableStream. A body Wisp already holds in full is a
// BufferedBodyStream: a real ReadableStream (getReader, async iteration) whose string form is
// its text, so that the WasmEdge article's `JSON.parse(request.body)` works as written.
(function () {
  const internal = globalThis.__wisp;
  const { define, utf8 } = internal;

  class ReadableStreamDefaultReader {
    #stream;
    constructor(stream) {
      if (stream._locked) throw new TypeError('ReadableStream: the stream is already locked to a reader');
      stream._locked = true;
      this.#stream = stream;
    }
    read() {
      const s = this.#stream;
      if (!s) return Promise.reject(new TypeError('ReadableStreamDefaultReader: the reader is released'));
      return s._pull();
    }
    releaseLock() { if (this.#stream) { this.#stream._locked = false; this.#stream = null; } }
    cancel(reason) { if (this.#stream) this.#stream._cancel(reason); return Promise.resolve(); }
    get closed() { return this.#stream ? this.#stream._closedPromise : Promise.resolve(); }
  }

  // The subset of the Streams standard that bodies need: a queue of chunks filled by an
  // underlying source (start/pull), read by one reader at a time.
  class ReadableStream {
    constructor(source = {}) {
      this._queue = [];
      this._done = false;
      this._error = undefined;
      this._locked = false;
      this._waiters = [];
      this._source = source;
      let resolveClosed;
      this._closedPromise = new Promise((r) => { resolveClosed = r; });
      this._resolveClosed = resolveClosed;
      const stream = this;
      this._controller = {
        enqueue(chunk) { if (stream._done) throw new TypeError('ReadableStream: enqueue after close'); stream._push({ value: chunk, done: false }); },
        close() { stream._done = true; stream._flush(); },
        error(e) { stream._error = e === undefined ? new TypeError('ReadableStream errored') : e; stream._done = true; stream._flush(); },
        get desiredSize() { return stream._done ? 0 : 1 - stream._queue.length; },
      };
      if (typeof source.start === 'function') {
        const r = source.start(this._controller);
        if (r && typeof r.then === 'function') r.then(null, (e) => this._controller.error(e));
      }
    }
    _push(item) {
      const w = this._waiters.shift();
      if (w) w.resolve(item); else this._queue.push(item);
    }
    _flush() {
      while (this._waiters.length && this._queue.length === 0) {
        const w = this._waiters.shift();
        if (this._error !== undefined) w.reject(this._error); else w.resolve({ value: undefined, done: true });
      }
      if (this._error !== undefined || this._queue.length === 0) this._resolveClosed();
    }
    _pull() {
      if (this._queue.length) return Promise.resolve(this._queue.shift());
      if (this._error !== undefined) return Promise.reject(this._error);
      if (this._done) { this._resolveClosed(); return Promise.resolve({ value: undefined, done: true }); }
      const p = new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
      if (typeof this._source.pull === 'function') {
        try {
          const r = this._source.pull(this._controller);
          if (r && typeof r.then === 'function') r.then(null, (e) => this._controller.error(e));
        } catch (e) { this._controller.error(e); }
      }
      return p;
    }
    _cancel(reason) {
      this._queue = [];
      this._done = true;
      if (typeof this._source.cancel === 'function') this._source.cancel(reason);
      this._flush();
    }
    get locked() { return this._locked; }
    getReader(options) {
      if (options && options.mode === 'byob') throw new TypeError('ReadableStream: BYOB readers are not supported');
      return new ReadableStreamDefaultReader(this);
    }
    cancel(reason) {
      if (this._locked) return Promise.reject(new TypeError('ReadableStream: cannot cancel a locked stream'));
      this._cancel(reason);
      return Promise.resolve();
    }
    async *[Symbol.asyncIterator]() {
      const reader = this.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          yield value;
        }
      } finally { reader.releaseLock(); }
    }
    values() { return this[Symbol.asyncIterator](); }
    get [Symbol.toStringTag]() { return 'ReadableStream'; }
  }

  // A stream over bytes Wisp already holds: one chunk, and a string form equal to its text.
  class BufferedBodyStream extends ReadableStream {
    #bytes;
    constructor(bytes) {
      super({ start(c) { if (bytes.length) c.enqueue(bytes); c.close(); } });
      this.#bytes = bytes;
    }
    toString() { return utf8.decode(this.#bytes); }
    toJSON() { return this.toString(); }
    [Symbol.toPrimitive]() { return this.toString(); }
    get [Symbol.toStringTag]() { return 'ReadableStream'; }
  }

  function copyBytes(view) {
    return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  }

  // Turns a BodyInit into { source, type }: source is null, a string, a Uint8Array, or a
  // ReadableStream that is read to the end when the body is consumed.
  function extractBody(init) {
    if (init === null || init === undefined) return { source: null, type: null };
    if (typeof init === 'string') return { source: init, type: 'text/plain;charset=UTF-8' };
    if (init instanceof Uint8Array) return { source: copyBytes(init), type: null };
    if (init instanceof ArrayBuffer) return { source: new Uint8Array(init.slice(0)), type: null };
    if (ArrayBuffer.isView(init)) return { source: copyBytes(init), type: null };
    if (init instanceof URLSearchParams) return { source: init.toString(), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    if (init instanceof BufferedBodyStream || init instanceof ReadableStream) return { source: init, type: null };
    if (typeof init === 'object' && typeof init.getReader === 'function') return { source: init, type: null };
    return { source: String(init), type: 'text/plain;charset=UTF-8' };
  }

  async function readAll(stream) {
    const reader = stream.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const chunk = typeof value === 'string' ? utf8.encode(value) : value instanceof ArrayBuffer ? new Uint8Array(value) : ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : null;
      if (chunk === null) throw new TypeError('ReadableStream: body chunks must be Uint8Array, ArrayBuffer or string');
      chunks.push(chunk);
      total += chunk.length;
    }
    reader.releaseLock();
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  }

  // The state behind a Request's or Response's body.
  class Body {
    constructor(source) { this.source = source; this.used = false; this.stream = null; }
    // The body as a stream (the `body` property); null when there is no body.
    getStream() {
      if (this.source === null) return null;
      if (this.stream === null) {
        const s = this.source;
        this.stream = typeof s === 'string' ? new BufferedBodyStream(utf8.encode(s))
          : s instanceof Uint8Array ? new BufferedBodyStream(s) : s;
      }
      return this.stream;
    }
    get disturbed() { return this.used || (this.stream !== null && this.stream._locked); }
    #take(what) {
      if (this.disturbed) return Promise.reject(new TypeError(`${what}: body has already been used`));
      this.used = true;
      return null;
    }
    // Resolves to a string when the body was given as one (no needless UTF-8 round trip).
    async consume(what) {
      const err = this.#take(what);
      if (err) return err;
      const s = this.source;
      if (s === null) return new Uint8Array(0);
      if (typeof s === 'string' || s instanceof Uint8Array) return s;
      return readAll(s);
    }
    async bytes(what) {
      const v = await this.consume(what);
      return typeof v === 'string' ? utf8.encode(v) : v;
    }
    async text(what) {
      const v = await this.consume(what);
      return typeof v === 'string' ? v : utf8.decode(v);
    }
    // A second, independent body with the same content (for clone()).
    tee() {
      if (this.disturbed) throw new TypeError('clone: body has already been used');
      const s = this.source;
      if (s === null || typeof s === 'string' || s instanceof Uint8Array) return new Body(s);
      // A streamed body: buffer it once, then both sides read the same bytes.
      const shared = readAll(s);
      const mk = () => new ReadableStream({ async start(c) { try { const b = await shared; if (b.length) c.enqueue(b); c.close(); } catch (e) { c.error(e); } } });
      this.source = mk();
      this.stream = null;
      return new Body(mk());
    }
  }

  // Adds the body methods to a class whose instances hold a Body in `this[brand].body`.
  function mixinBody(cls, label) {
    const brand = internal.brand;
    Object.defineProperties(cls.prototype, {
      body: { get() { return this[brand].body.getStream(); }, configurable: true },
      bodyUsed: { get() { return this[brand].body.disturbed; }, configurable: true },
    });
    const methods = {
      text() { return this[brand].body.text(`${label}.text`); },
      async json() { return JSON.parse(await this[brand].body.text(`${label}.json`)); },
      async arrayBuffer() {
        const b = await this[brand].body.bytes(`${label}.arrayBuffer`);
        return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      },
      bytes() { return this[brand].body.bytes(`${label}.bytes`); },
      async formData() {
        const type = this.headers.get('content-type') || '';
        if (type.startsWith('application/x-www-form-urlencoded')) {
          const params = new URLSearchParams(await this.text());
          const fd = new FormData();
          for (const [k, v] of params) fd.append(k, v);
          return fd;
        }
        throw new TypeError(`${label}.formData: only application/x-www-form-urlencoded bodies are supported so far`);
      },
    };
    for (const [name, fn] of Object.entries(methods)) define(cls.prototype, name, fn);
  }

  // The small FormData that formData() above needs; multipart is a later addition.
  class FormData {
    #list = [];
    append(name, value) { this.#list.push([String(name), String(value)]); }
    delete(name) { name = String(name); this.#list = this.#list.filter(([k]) => k !== name); }
    get(name) { name = String(name); const e = this.#list.find(([k]) => k === name); return e ? e[1] : null; }
    getAll(name) { name = String(name); return this.#list.filter(([k]) => k === name).map(([, v]) => v); }
    has(name) { name = String(name); return this.#list.some(([k]) => k === name); }
    set(name, value) { this.delete(name); this.append(name, value); }
    forEach(cb, thisArg) { for (const [k, v] of this.#list) cb.call(thisArg, v, k, this); }
    entries() { return this.#list.map(([k, v]) => [k, v])[Symbol.iterator](); }
    keys() { return this.#list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this.#list.map(([, v]) => v)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
  }

  define(globalThis, 'ReadableStream', ReadableStream);
  define(globalThis, 'ReadableStreamDefaultReader', ReadableStreamDefaultReader);
  define(globalThis, 'FormData', FormData);
  Object.assign(internal, { Body, BufferedBodyStream, extractBody, mixinBody, readAll });
})();
