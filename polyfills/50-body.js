// Bodies shared by Request and Response: extraction from the accepted body types (45-streams.js
// and 47-blob.js provide the streams, Blob and FormData), and the consuming methods. A body
// Wisp already holds in full is a BufferedBodyStream: a real ReadableStream (getReader, async iteration) whose string form is
// its text, so that the WasmEdge article's `JSON.parse(request.body)` works as written.
(function () {
  const internal = globalThis.__wisp;
  const { define, utf8 } = internal;

  const streams = internal.streams;
  const blobs = internal.blob;
  const BYTES = Symbol('bytes');

  // A stream over bytes Wisp already holds: one chunk, and a string form equal to its text.
  class BufferedBodyStream extends ReadableStream {
    constructor(bytes) {
      // Not super(): the stream's internals are built, already filled and closed, when first
      // used as a stream (45-streams.js, lazyBufferedRS).
      const self = Object.create(new.target.prototype);
      self[BYTES] = bytes;
      return self;
    }
    toString() { return utf8.decode(this[BYTES]); }
    toJSON() { return utf8.decode(this[BYTES]); }
    // What `JSON.parse(request.body)` reads: the text, with no call to toString between.
    [Symbol.toPrimitive]() { return utf8.decode(this[BYTES]); }
    get [Symbol.toStringTag]() { return 'ReadableStream'; }
  }

  // The first Body and the first buffered stream a request needs (a POST's `request.body`,
  // say) are spares (00-internal.js `spares`).
  let spareBody = null, spareStream = null, spentBody = null, spentStream = null;

  // A BufferedBodyStream over `bytes`, as its constructor makes it, without a constructor call.
  const BUFFERED = BufferedBodyStream.prototype;
  function buffered(bytes) {
    let self = spareStream;
    if (self === null) self = Object.create(BUFFERED);
    else { spentStream = self; spareStream = null; }
    self[BYTES] = bytes;
    return self;
  }

  streams.lazyBufferedRS(BufferedBodyStream.prototype, (s) => (Object.prototype.hasOwnProperty.call(s, BYTES) ? s[BYTES] : undefined));

  function copyBytes(view) {
    return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  }

  // Turns a BodyInit into { source, type }: source is null, a string, a Uint8Array (owned by
  // the body), or a ReadableStream that is read when the body is consumed.
  function extractBody(init) {
    if (init === null || init === undefined) return { source: null, type: null };
    if (typeof init === 'string') return { source: init, type: 'text/plain;charset=UTF-8' };
    if (init instanceof Uint8Array) return { source: copyBytes(init), type: null };
    if (init instanceof ArrayBuffer) return { source: new Uint8Array(init.slice(0)), type: null };
    if (ArrayBuffer.isView(init)) return { source: copyBytes(init), type: null };
    // `new Response(request.body)`: bytes in memory stay bytes (the synchronous path), and the
    // request's stream counts as used.
    if (init instanceof BufferedBodyStream && !streams.isLocked(init) && !streams.isDisturbed(init)) {
      streams.cancel(init);
      return { source: init[BYTES], type: null };
    }
    if (init instanceof ReadableStream) {
      if (streams.isLocked(init) || streams.isDisturbed(init)) throw new TypeError('the body stream is locked or has already been read');
      return { source: init, type: null };
    }
    if (init instanceof Blob) return { source: blobs.bytesOf(init).slice(), type: init.type === '' ? null : init.type };
    if (init instanceof FormData) { const m = blobs.serializeMultipart(init); return { source: m.bytes, type: m.type }; }
    if (init instanceof URLSearchParams) return { source: init.toString(), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    return { source: String(init), type: 'text/plain;charset=UTF-8' };
  }

  function chunkBytes(value) {
    if (value instanceof Uint8Array) return value;
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (typeof value === 'string') return utf8.encode(value);
    throw new TypeError('ReadableStream: body chunks must be Uint8Array, ArrayBuffer or string');
  }

  // Reads a stream to the end into one Uint8Array.
  function readAll(stream) {
    const reader = streams.acquireReader(stream);
    const chunks = [];
    let total = 0;
    return new Promise((resolve, reject) => {
      const req = {
        chunk(value) {
          let c;
          try { c = chunkBytes(value); } catch (e) { streams.cancel(stream, e); streams.releaseReader(reader); reject(e); return; }
          chunks.push(c);
          total += c.length;
          streams.read(stream, req);
        },
        close() {
          streams.releaseReader(reader);
          if (chunks.length === 1) { resolve(chunks[0]); return; }
          const out = new Uint8Array(total);
          let at = 0;
          for (const c of chunks) { out.set(c, at); at += c.length; }
          resolve(out);
        },
        error(e) { streams.releaseReader(reader); reject(e); },
      };
      streams.read(stream, req);
    });
  }

  // The state behind a Request's or Response's body.
  class Body {
    // `shared`: the bytes in memory are also another body's (a clone's): each read copies them.
    constructor(source) { this.source = source; this.used = false; this.stream = null; this.shared = false; }
    // The body as a stream (the `body` property); null when there is no body.
    getStream() {
      if (this.source === null) return null;
      if (this.stream === null) {
        const s = this.source;
        this.stream = typeof s === 'string' ? buffered(utf8.encode(s))
          : s instanceof Uint8Array ? buffered(s) : s;
      }
      return this.stream;
    }
    get disturbed() { return this.used || (this.stream !== null && streams.isDisturbed(this.stream)); }
    get locked() { return this.stream !== null && streams.isLocked(this.stream); }
    // Resolves to a string when the body was given as one (no needless UTF-8 round trip).
    consume(what) {
      if (this.disturbed) return Promise.reject(new TypeError(`${what}: body has already been used`));
      if (this.locked) return Promise.reject(new TypeError(`${what}: the body stream is locked to a reader`));
      const s = this.source;
      // A null body is never used up: every read gives nothing again (the Fetch standard's
      // bodyUsed is false for it).
      if (s === null) return Promise.resolve(new Uint8Array(0));
      this.used = true;
      // Bytes in memory are handed over as they are, even if `body` made a stream over them.
      if (typeof s === 'string' || s instanceof Uint8Array) return Promise.resolve(s);
      return readAll(s);
    }
    async bytes(what) {
      const v = await this.consume(what);
      return typeof v === 'string' ? utf8.encode(v) : this.shared ? v.slice() : v;
    }
    async text(what) {
      const v = await this.consume(what);
      return typeof v === 'string' ? v : utf8.decode(v);
    }
    // The body for a new Request made from one that has it (`new Request(url, request)`,
    // `fetch(request)`): bytes in memory are shared; a stream moves, and this body counts as
    // used, as the Fetch standard says (a tee would hold every chunk for a branch nobody reads).
    take() {
      const s = this.source;
      if (s === null || typeof s === 'string' || s instanceof Uint8Array) return this.sharedCopy();
      if (this.locked) throw new TypeError('Request: the input request body is locked to a reader');
      this.used = true;
      return new Body(s);
    }
    // A body over the same bytes: neither reader may see what the other does to its copy.
    sharedCopy() {
      const b = new Body(this.source);
      if (this.source instanceof Uint8Array) this.shared = b.shared = true;
      return b;
    }
    // A second, independent body with the same content (for clone()): a streamed body is teed.
    tee() {
      if (this.disturbed || this.locked) throw new TypeError('clone: body has already been used');
      const s = this.source;
      if (s === null || typeof s === 'string' || s instanceof Uint8Array) return this.sharedCopy();
      const [a, b] = s.tee();
      this.source = a;
      this.stream = null;
      return new Body(b);
    }
  }

  // The Body of a Request's or Response's state. Most responses are built, returned and sent
  // without anyone touching their body, and most requests' bodies are never read: the state
  // holds the source (`src`) and `body: null` until the Body is first needed.
  const bodyOf = (s) => {
    const b = s.body;
    return b !== null ? b : (s.body = newBody(s.src));
  };
  function newBody(source) {
    const b = spareBody;
    if (b === null) return new Body(source);
    spentBody = b; spareBody = null;
    b.source = source;
    return b;
  }
  internal.spares(() => {
    spareBody = new Body(null);
    spareStream = Object.create(BUFFERED);
    spareStream[BYTES] = null;
  });

  // Adds the body methods to a class whose instances hold a Body (see bodyOf) in `this[brand]`.
  function mixinBody(cls, label) {
    const brand = internal.brand;
    Object.defineProperties(cls.prototype, {
      // bodyOf and getStream written out for the stream already made: `request.body` is read
      // on every POST the WasmEdge article handles, and a JS call costs about 700 instructions.
      body: {
        get() {
          const s = this[brand], b = s.body;
          return b !== null && b.stream !== null ? b.stream : bodyOf(s).getStream();
        },
        configurable: true,
      },
      bodyUsed: { get() { return bodyOf(this[brand]).disturbed; }, configurable: true },
    });
    const methods = {
      text() { return bodyOf(this[brand]).text(`${label}.text`); },
      async json() { return JSON.parse(await bodyOf(this[brand]).text(`${label}.json`)); },
      async arrayBuffer() {
        const b = await bodyOf(this[brand]).bytes(`${label}.arrayBuffer`);
        return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      },
      bytes() { return bodyOf(this[brand]).bytes(`${label}.bytes`); },
      async blob() {
        const b = await bodyOf(this[brand]).bytes(`${label}.blob`);
        return blobs.from(b, blobs.normType(this.headers.get('content-type') || ''));
      },
      async formData() {
        const type = this.headers.get('content-type') || '';
        const essence = type.split(';')[0].trim().toLowerCase();
        if (essence === 'multipart/form-data') {
          return blobs.parseMultipart(await bodyOf(this[brand]).bytes(`${label}.formData`), type, `${label}.formData`);
        }
        if (essence === 'application/x-www-form-urlencoded') {
          const params = new URLSearchParams(await bodyOf(this[brand]).text(`${label}.formData`));
          const fd = new FormData();
          for (const [k, v] of params) fd.append(k, v);
          return fd;
        }
        throw new TypeError(`${label}.formData: the content type '${type}' is neither multipart/form-data nor application/x-www-form-urlencoded`);
      },
    };
    for (const [name, fn] of Object.entries(methods)) define(cls.prototype, name, fn);
  }

  // For the dispatcher's streamed responses (the caller marks the body used): reads its stream
  // chunk by chunk. `next()` resolves to a Uint8Array, or null at the end; it rejects with the stream's
  // error, or with a TypeError for a chunk that is not bytes (the stream is then cancelled).
  // `cancel(reason)` (the client went away) cancels the stream, reaching the source's cancel().
  internal.bodyReader = (stream) => {
    const reader = streams.acquireReader(stream);
    let done = false;
    const finish = () => { if (!done) { done = true; streams.releaseReader(reader); } };
    return {
      next: () => new Promise((resolve, reject) => {
        if (done) { resolve(null); return; }
        streams.read(stream, {
          chunk(v) {
            let bytes;
            try { bytes = chunkBytes(v); } catch (e) { streams.cancel(stream, e); finish(); reject(e); return; }
            resolve(bytes);
          },
          close() { finish(); resolve(null); },
          error(e) { finish(); reject(e); },
        });
      }),
      cancel(reason) { if (done) return Promise.resolve(); const p = streams.cancel(stream, reason); finish(); return p; },
    };
  };
  Object.assign(internal, { Body, bodyOf, BufferedBodyStream, extractBody, mixinBody, readAll });
})();
