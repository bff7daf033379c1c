// structuredClone for the values ordinary code passes: primitives, plain objects and arrays,
// Date, RegExp, Map, Set, ArrayBuffer, typed arrays, DataView, Error, Blob, File; cycles and shared
// references preserved. Functions, symbols and class instances with private state throw
// DataCloneError, as the standard says.
(function () {
  const { define } = globalThis.__wisp;
  const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

  function fail(what) { throw new DOMException(`structuredClone: ${what} could not be cloned`, 'DataCloneError'); }

  function clone(value, memo) {
    const t = typeof value;
    if (t === 'function') fail(`function ${value.name || '(anonymous)'}`);
    if (t === 'symbol') fail(value.toString());
    if (t !== 'object' || value === null) return value;
    if (memo.has(value)) return memo.get(value);
    let out;
    if (Array.isArray(value)) {
      out = new Array(value.length);
      memo.set(value, out);
      for (const k of Object.keys(value)) out[k] = clone(value[k], memo);
      return out;
    }
    if (value instanceof Date) out = new Date(value.getTime());
    else if (value instanceof RegExp) out = new RegExp(value.source, value.flags);
    else if (value instanceof Boolean || value instanceof Number || value instanceof String) out = Object(value.valueOf());
    else if (value instanceof ArrayBuffer) out = value.slice(0);
    // Blobs are immutable: the copy may share the bytes.
    else if (value instanceof File) out = new File([value], value.name, { type: value.type, lastModified: value.lastModified });
    else if (value instanceof Blob) out = value.slice(0, value.size, value.type);
    else if (value instanceof DataView) out = new DataView(clone(value.buffer, memo), value.byteOffset, value.byteLength);
    else if (ArrayBuffer.isView(value)) out = new value.constructor(clone(value.buffer, memo), value.byteOffset, value.length);
    else if (value instanceof Map) {
      out = new Map();
      memo.set(value, out);
      for (const [k, v] of value) out.set(clone(k, memo), clone(v, memo));
      return out;
    } else if (value instanceof Set) {
      out = new Set();
      memo.set(value, out);
      for (const v of value) out.add(clone(v, memo));
      return out;
    } else if (value instanceof Error) {
      const C = ERRORS[value.name] || Error;
      out = new C(value.message);
      memo.set(value, out);
      if (value.stack !== undefined) out.stack = String(value.stack);
      if ('cause' in value) out.cause = clone(value.cause, memo);
      return out;
    } else if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
      fail(Object.prototype.toString.call(value));
    } else {
      // An instance of a user's class is cloned as a plain object of its own properties (the
      // HTML standard's ordinary objects); the platform's objects cannot be cloned.
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null && isPlatformObject(value)) fail(`an instance of ${value.constructor ? value.constructor.name : 'a class'}`);
      out = {};
      memo.set(value, out);
      for (const k of Object.keys(value)) out[k] = clone(value[k], memo);
      return out;
    }
    memo.set(value, out);
    return out;
  }

  // The platform's classes whose instances are not serializable (looked up when first needed:
  // some are defined by later polyfills).
  const PLATFORM = ['Request', 'Response', 'Headers', 'URL', 'URLSearchParams', 'FormData', 'Blob',
    'ReadableStream', 'WritableStream', 'TransformStream', 'AbortController', 'AbortSignal',
    'TextEncoder', 'TextDecoder', 'EventTarget', 'Event', 'CompressionStream', 'DecompressionStream',
    'CryptoKey'];
  let platform = null;
  function isPlatformObject(value) {
    if (platform === null) platform = PLATFORM.map((n) => globalThis[n]).filter((c) => typeof c === 'function');
    return platform.some((c) => value instanceof c);
  }

  define(globalThis, 'structuredClone', function structuredClone(value, options) {
    if (arguments.length === 0) throw new TypeError('structuredClone: 1 argument required, but only 0 present');
    if (options && options.transfer && options.transfer.length) fail('a transfer list');
    return clone(value, new Map());
  });
})();
