// TextEncoder, TextDecoder, atob, btoa. The byte work is done by Rust natives.
(function () {
  const { native, define } = globalThis.__wisp;

  // A string as UTF-8: a lone surrogate (half of a code point, e.g. text cut inside an emoji)
  // becomes U+FFFD, as the Encoding standard says.
  const utf8Encode = (s) => native.utf8Encode(s.isWellFormed() ? s : s.toWellFormed());

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') { return utf8Encode(String(input)); }
    encodeInto(source, destination) {
      const bytes = utf8Encode(String(source));
      // Only whole code points may be written: back off to a UTF-8 boundary.
      let n = Math.min(bytes.length, destination.length);
      while (n > 0 && n < bytes.length && (bytes[n] & 0xc0) === 0x80) n--;
      destination.set(bytes.subarray(0, n));
      const read = native.utf8Decode(bytes.subarray(0, n), false, true).length;
      return { read, written: n };
    }
  }

  const LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8']);
  class TextDecoder {
    // `#bomSeen`: this stream's first bytes are decoded (a BOM is only dropped at its start).
    #fatal; #ignoreBOM; #pending = null; #bomSeen = false;
    constructor(label = 'utf-8', options = {}) {
      const l = String(label).trim().toLowerCase();
      if (!LABELS.has(l)) throw new RangeError(`TextDecoder: the encoding '${label}' is not supported (only utf-8)`);
      this.#fatal = !!options.fatal;
      this.#ignoreBOM = !!options.ignoreBOM;
    }
    get encoding() { return 'utf-8'; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input, options = {}) {
      let bytes;
      if (input === undefined) bytes = new Uint8Array(0);
      else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
      else if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      else throw new TypeError('TextDecoder.decode: input must be an ArrayBuffer or ArrayBufferView');
      if (this.#pending) {
        const joined = new Uint8Array(this.#pending.length + bytes.length);
        joined.set(this.#pending);
        joined.set(bytes, this.#pending.length);
        bytes = joined;
        this.#pending = null;
      }
      if (options.stream) {
        // Keep an incomplete trailing sequence for the next call.
        let cut = bytes.length;
        for (let back = 1; back <= 3 && back <= bytes.length; back++) {
          const b = bytes[bytes.length - back];
          if ((b & 0xc0) === 0x80) continue;
          // Only a byte that can start a sequence may wait for the rest (0xC0, 0xC1 and 0xF5
          // and above never can: they are errors now, for `fatal` too).
          const need = b >= 0xc2 && b <= 0xf4 ? (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) : 1;
          if (need > back) cut = bytes.length - back;
          break;
        }
        if (cut < bytes.length) {
          this.#pending = bytes.slice(cut);
          bytes = bytes.subarray(0, cut);
        }
      }
      const keepBOM = this.#ignoreBOM || this.#bomSeen;
      // A call without `stream` ends the stream: the next call starts another.
      this.#bomSeen = !!options.stream && (this.#bomSeen || bytes.length > 0);
      const text = native.utf8Decode(bytes, this.#fatal, keepBOM);
      if (text == null) throw new TypeError('TextDecoder.decode: the input is not valid UTF-8');
      return text;
    }
  }

  function btoa(data) {
    if (arguments.length === 0) throw new TypeError("btoa: 1 argument required, but only 0 present");
    const s = String(data);
    const out = native.base64EncodeLatin1(s);
    if (out == null) throw new DOMExceptionClass('btoa: the string contains characters outside of the Latin1 range', 'InvalidCharacterError');
    return out;
  }
  function atob(data) {
    if (arguments.length === 0) throw new TypeError("atob: 1 argument required, but only 0 present");
    const out = native.base64DecodeLatin1(String(data));
    if (out == null) throw new DOMExceptionClass('atob: the string to be decoded is not correctly encoded', 'InvalidCharacterError');
    return out;
  }

  class DOMException extends Error {
    #name;
    constructor(message = '', name = 'Error') {
      super(message);
      this.#name = String(name);
    }
    get name() { return this.#name; }
    get code() { return DOMException.CODES[this.#name] || 0; }
  }
  // The legacy codes, and their constants (DOMException.ABORT_ERR, …), as in the WebIDL standard.
  DOMException.CODES = {};
  for (const [name, code, constant] of [['IndexSizeError', 1, 'INDEX_SIZE_ERR'], ['HierarchyRequestError', 3, 'HIERARCHY_REQUEST_ERR'],
    ['WrongDocumentError', 4, 'WRONG_DOCUMENT_ERR'], ['InvalidCharacterError', 5, 'INVALID_CHARACTER_ERR'],
    ['NoModificationAllowedError', 7, 'NO_MODIFICATION_ALLOWED_ERR'], ['NotFoundError', 8, 'NOT_FOUND_ERR'],
    ['NotSupportedError', 9, 'NOT_SUPPORTED_ERR'], ['InUseAttributeError', 10, 'INUSE_ATTRIBUTE_ERR'],
    ['InvalidStateError', 11, 'INVALID_STATE_ERR'], ['SyntaxError', 12, 'SYNTAX_ERR'],
    ['InvalidModificationError', 13, 'INVALID_MODIFICATION_ERR'], ['NamespaceError', 14, 'NAMESPACE_ERR'],
    ['InvalidAccessError', 15, 'INVALID_ACCESS_ERR'], ['TypeMismatchError', 17, 'TYPE_MISMATCH_ERR'],
    ['SecurityError', 18, 'SECURITY_ERR'], ['NetworkError', 19, 'NETWORK_ERR'], ['AbortError', 20, 'ABORT_ERR'],
    ['URLMismatchError', 21, 'URL_MISMATCH_ERR'], ['QuotaExceededError', 22, 'QUOTA_EXCEEDED_ERR'],
    ['TimeoutError', 23, 'TIMEOUT_ERR'], ['InvalidNodeTypeError', 24, 'INVALID_NODE_TYPE_ERR'], ['DataCloneError', 25, 'DATA_CLONE_ERR']]) {
    DOMException.CODES[name] = code;
    Object.defineProperty(DOMException, constant, { value: code, enumerable: true });
    Object.defineProperty(DOMException.prototype, constant, { value: code, enumerable: true });
  }

  define(globalThis, 'TextEncoder', TextEncoder);
  define(globalThis, 'TextDecoder', TextDecoder);
  define(globalThis, 'btoa', btoa);
  define(globalThis, 'atob', atob);
  if (typeof globalThis.DOMException !== 'function') define(globalThis, 'DOMException', DOMException);
  // The global one, which `instanceof DOMException` in user code checks against.
  const DOMExceptionClass = globalThis.DOMException;
  globalThis.__wisp.utf8 = { encode: utf8Encode, decode: (b) => native.utf8Decode(b, false, false) };
})();
