// Blob, File and FormData, and the multipart/form-data format both ways (a FormData body is
// serialised with a random boundary; `formData()` parses multipart and urlencoded bodies).
// A Blob holds its bytes in one Uint8Array that is never written to, so slices and copies
// can share it.
(function () {
  const internal = globalThis.__wisp;
  const { define, native, utf8 } = internal;
  const B = Symbol('blob');

  function partBytes(part) {
    if (typeof part === 'string') return utf8.encode(part);
    if (part instanceof Blob) return part[B].bytes;
    if (part instanceof ArrayBuffer) return new Uint8Array(part.slice(0));
    if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
    return utf8.encode(String(part));
  }
  function concat(chunks, total) {
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  }
  // A type is kept only if it is printable ASCII, and lower-cased (the File API standard).
  function normType(type) {
    if (type === undefined) return '';
    type = String(type);
    for (let i = 0; i < type.length; i++) { const c = type.charCodeAt(i); if (c < 0x20 || c > 0x7e) return ''; }
    return type.toLowerCase();
  }
  function blobFrom(bytes, type) {
    const b = Object.create(Blob.prototype);
    b[B] = { bytes, type };
    return b;
  }

  class Blob {
    constructor(parts, options) {
      let bytes;
      if (parts === undefined) bytes = new Uint8Array(0);
      else {
        if (parts === null || typeof parts !== 'object' || typeof parts[Symbol.iterator] !== 'function') {
          throw new TypeError('Blob: the parts must be an iterable (an array of strings, buffers or Blobs)');
        }
        const chunks = [];
        let total = 0;
        const nl = options && options.endings === 'native';
        for (const p of parts) {
          const c = partBytes(nl && typeof p === 'string' ? p.replace(/\r\n|\r/g, '\n') : p);
          chunks.push(c);
          total += c.length;
        }
        bytes = chunks.length === 0 ? new Uint8Array(0) : concat(chunks, total);
      }
      this[B] = { bytes, type: normType(options && options.type) };
    }
    get size() { return this[B].bytes.length; }
    get type() { return this[B].type; }
    slice(start, end, contentType) {
      const n = this[B].bytes.length;
      const rel = (v, d) => { if (v === undefined) return d; v = Math.trunc(Number(v)) || 0; return v < 0 ? Math.max(n + v, 0) : Math.min(v, n); };
      const from = rel(start, 0), to = rel(end, n);
      return blobFrom(this[B].bytes.subarray(from, Math.max(from, to)), normType(contentType));
    }
    text() { return Promise.resolve(utf8.decode(this[B].bytes)); }
    arrayBuffer() { const b = this[B].bytes; return Promise.resolve(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); }
    bytes() { return Promise.resolve(this[B].bytes.slice()); }
    stream() {
      const bytes = this[B].bytes;
      // Chunks of 64 KiB, so that a large Blob is streamed rather than handed over whole.
      let at = 0;
      return new ReadableStream({
        type: 'bytes',
        pull(c) {
          if (at >= bytes.length) { c.close(); return; }
          const end = Math.min(at + 65536, bytes.length);
          c.enqueue(bytes.slice(at, end));
          at = end;
          if (at >= bytes.length) c.close();
        },
      });
    }
    get [Symbol.toStringTag]() { return 'Blob'; }
  }

  class File extends Blob {
    #name; #lastModified;
    constructor(parts, name, options) {
      if (arguments.length < 2) throw new TypeError('File: 2 arguments required (parts, name)');
      super(parts, options);
      this.#name = String(name);
      const lm = options && options.lastModified !== undefined ? Number(options.lastModified) : Date.now();
      this.#lastModified = Number.isFinite(lm) ? Math.trunc(lm) : 0;
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
    get webkitRelativePath() { return ''; }
    get [Symbol.toStringTag]() { return 'File'; }
  }

  // ---------------------------------------------------------------- FormData

  const LIST = Symbol('list');
  // A FormData entry's value: a string, or a File (a Blob becomes a File named "blob").
  function entryValue(value, filename, label) {
    if (value instanceof Blob) {
      if (!(value instanceof File) || filename !== undefined) {
        return new File([value], filename === undefined ? (value instanceof File ? value.name : 'blob') : String(filename),
          { type: value.type, lastModified: value instanceof File ? value.lastModified : undefined });
      }
      return value;
    }
    if (filename !== undefined) throw new TypeError(`${label}: a filename is only allowed with a Blob value`);
    return String(value);
  }

  class FormData {
    constructor(form) {
      if (form !== undefined) throw new TypeError('FormData: there are no HTML forms in Wisp; construct it empty');
      this[LIST] = [];
    }
    append(name, value, filename) {
      if (arguments.length < 2) throw new TypeError('FormData.append: 2 arguments required');
      this[LIST].push([String(name), entryValue(value, filename, 'FormData.append')]);
    }
    set(name, value, filename) {
      if (arguments.length < 2) throw new TypeError('FormData.set: 2 arguments required');
      name = String(name);
      const entry = [name, entryValue(value, filename, 'FormData.set')];
      const list = this[LIST];
      const i = list.findIndex(([k]) => k === name);
      if (i < 0) { list.push(entry); return; }
      list[i] = entry;
      this[LIST] = list.filter(([k], j) => j <= i || k !== name);
    }
    delete(name) { name = String(name); this[LIST] = this[LIST].filter(([k]) => k !== name); }
    get(name) { name = String(name); const e = this[LIST].find(([k]) => k === name); return e ? e[1] : null; }
    getAll(name) { name = String(name); return this[LIST].filter(([k]) => k === name).map(([, v]) => v); }
    has(name) { name = String(name); return this[LIST].some(([k]) => k === name); }
    forEach(cb, thisArg) { for (const [k, v] of this[LIST].slice()) cb.call(thisArg, v, k, this); }
    entries() { return this[LIST].map(([k, v]) => [k, v])[Symbol.iterator](); }
    keys() { return this[LIST].map(([k]) => k)[Symbol.iterator](); }
    values() { return this[LIST].map(([, v]) => v)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return 'FormData'; }
  }

  // multipart/form-data as browsers write it (the HTML standard's escaping of names).
  const escapeName = (s) => s.replace(/\r\n|\r|\n/g, '\r\n').replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  const escapeFilename = (s) => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  function serializeMultipart(fd) {
    const hex = Array.from(native.randomBytes(12), (b) => b.toString(16).padStart(2, '0')).join('');
    const boundary = `----WispFormBoundary${hex}`;
    const chunks = [];
    let total = 0;
    const push = (b) => { chunks.push(b); total += b.length; };
    for (const [name, value] of fd[LIST]) {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"`;
      if (typeof value === 'string') {
        push(utf8.encode(`${head}\r\n\r\n${value.replace(/\r\n|\r|\n/g, '\r\n')}\r\n`));
      } else {
        head += `; filename="${escapeFilename(value.name)}"\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`;
        push(utf8.encode(head));
        push(value[B].bytes);
        push(utf8.encode('\r\n'));
      }
    }
    push(utf8.encode(`--${boundary}--\r\n`));
    return { bytes: concat(chunks, total), type: `multipart/form-data; boundary=${boundary}` };
  }

  // A parameter of a header value (`boundary=…`, `name="…"`), quoted or not.
  function headerParam(value, param) {
    const re = new RegExp(`(?:^|;)\\s*${param}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i');
    const m = re.exec(value);
    if (!m) return null;
    return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
  }
  function indexOf(hay, needle, from) {
    const first = needle[0], last = hay.length - needle.length;
    outer: for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
      for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
  const unescapeName = (s) => s.replace(/%0A/gi, '\n').replace(/%0D/gi, '\r').replace(/%22/g, '"');

  function parseMultipart(bytes, contentType, label) {
    const boundary = headerParam(contentType, 'boundary');
    if (!boundary) throw new TypeError(`${label}: the multipart/form-data content type has no boundary`);
    const delim = utf8.encode(`--${boundary}`);
    const fd = new FormData();
    let at = indexOf(bytes, delim, 0);
    if (at < 0) throw new TypeError(`${label}: the multipart body does not contain its boundary`);
    for (;;) {
      at += delim.length;
      if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) return fd; // the closing delimiter
      if (bytes[at] === 0x0d && bytes[at + 1] === 0x0a) at += 2;
      else throw new TypeError(`${label}: malformed multipart body (no line break after the boundary)`);
      const headEnd = indexOf(bytes, [0x0d, 0x0a, 0x0d, 0x0a], at);
      if (headEnd < 0) throw new TypeError(`${label}: malformed multipart body (part headers do not end)`);
      const head = utf8.decode(bytes.subarray(at, headEnd));
      const next = indexOf(bytes, delim, headEnd + 4);
      if (next < 0) throw new TypeError(`${label}: malformed multipart body (no closing boundary)`);
      // The part's content ends with the CRLF that precedes the next delimiter.
      const content = bytes.subarray(headEnd + 4, next >= 2 && bytes[next - 2] === 0x0d ? next - 2 : next);
      let disposition = null, type = '';
      for (const line of head.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const key = line.slice(0, colon).trim().toLowerCase(), value = line.slice(colon + 1).trim();
        if (key === 'content-disposition') disposition = value;
        else if (key === 'content-type') type = value;
      }
      if (disposition === null || !/^form-data\b/i.test(disposition)) throw new TypeError(`${label}: a multipart part has no Content-Disposition: form-data`);
      const name = headerParam(disposition, 'name');
      if (name === null) throw new TypeError(`${label}: a multipart part has no name`);
      const filename = headerParam(disposition, 'filename');
      if (filename !== null) fd.append(unescapeName(name), new File([content.slice()], unescapeName(filename), { type: type || 'application/octet-stream' }));
      else fd.append(unescapeName(name), utf8.decode(content));
      at = next;
    }
  }

  define(globalThis, 'Blob', Blob);
  define(globalThis, 'File', File);
  define(globalThis, 'FormData', FormData);
  internal.blob = {
    bytesOf: (blob) => blob[B].bytes,
    from: blobFrom,
    normType,
    serializeMultipart,
    parseMultipart,
  };
})();
