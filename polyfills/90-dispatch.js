// The fetch event, `process`, and the entry point the engine calls for every request. Three
// handler styles are found, in this order: `addEventListener('fetch', …)`, a default export
// with a `fetch` method (`export default { fetch }` or an app object such as Hono's), and an
// exported or global `handleRequest(request)`.
(function () {
  const internal = globalThis.__wisp;
  const { define, brand } = internal;
  // Failure kinds understood by the engine (wisp_abi::FailureKind).
  const BAD_RESPONSE = 2, NO_HANDLER = 3;
  const listeners = { fetch: [], scheduled: [] };
  let moduleNs = null;
  let envBinding = {};

  function failure(kind, message) {
    const e = new TypeError(message);
    e.wispFailure = kind;
    return e;
  }

  // The event being dispatched and what its listeners answered live here, not on the event: an
  // event is made for every request, and each property set on it costs QuickJS an allocation.
  const REQUEST = Symbol('request');
  let current = null, responded = false, response;
  class FetchEvent {
    // `new FetchEvent(type, { request })`, as the Service Worker standard has it. Its `type` is
    // always 'fetch': the only kind Wisp dispatches (`lazyEvent` below).
    constructor(type, init) {
      if (init === null || typeof init !== 'object' || !('request' in init)) throw new TypeError("FetchEvent: the init's 'request' member is required");
      this[REQUEST] = init.request;
    }
    get type() { return 'fetch'; }
    get request() { return this[REQUEST]; }
    respondWith(r) {
      if (this !== current) throw new DOMException('FetchEvent.respondWith: the event has already been dispatched', 'InvalidStateError');
      if (responded) throw new DOMException('FetchEvent.respondWith: already called', 'InvalidStateError');
      responded = true;
      response = r;
    }
    waitUntil(promise) { waitUntil(promise); }
    passThroughOnException() {}
    get [Symbol.toStringTag]() { return 'FetchEvent'; }
  }
  // A FetchEvent is an Event (`instanceof Event`, `stopImmediatePropagation`, …) at no cost per
  // request: the Event state is only made if one of those members is used.
  internal.fieldGetters(FetchEvent, REQUEST, ['request'], false);
  internal.events.lazyEvent(FetchEvent, 'fetch');

  // `fetch` and `scheduled` listeners are the handlers, kept here; every other type is an
  // ordinary event at the global scope (72-global-scope.js), e.g. reportError's `error`.
  function addEventListener(type, listener, options) {
    if (type !== 'fetch' && type !== 'scheduled') { internal.globalEvents.add(type, listener, options); return; }
    if (typeof listener !== 'function' && !(listener && typeof listener.handleEvent === 'function')) {
      throw new TypeError('addEventListener: the listener must be a function');
    }
    if (options && typeof options === 'object' && options.signal && options.signal.aborted) return;
    if (listeners[type].includes(listener)) return;
    listeners[type].push(listener);
    if (options && typeof options === 'object' && options.signal) {
      options.signal.addEventListener('abort', () => removeEventListener(type, listener));
    }
  }
  function removeEventListener(type, listener, options) {
    if (type !== 'fetch' && type !== 'scheduled') { internal.globalEvents.remove(type, listener, options); return; }
    listeners[type] = listeners[type].filter((x) => x !== listener);
  }
  define(globalThis, 'addEventListener', addEventListener);
  define(globalThis, 'removeEventListener', removeEventListener);
  define(globalThis, 'FetchEvent', FetchEvent);
  // Where the built-in modules (`wasmedge-kv`, …) find their exports once `__wisp` is gone.
  define(globalThis, Symbol.for('wisp.modules'), internal.modules);

  const process = { env: {}, argv: [], platform: 'wisp', version: 'v0.1.0', versions: { wisp: '0.1.0' } };
  define(process, 'nextTick', (fn, ...args) => queueMicrotask(() => fn(...args)));
  define(globalThis, 'process', process);

  function describe(v) {
    if (v === undefined) return 'undefined';
    if (v === null) return 'null';
    if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v)})`;
    return `a ${typeof v}`;
  }

  // The request's `waitUntil` work: the engine sends the response first, then runs the loop
  // until all of it has settled (event_loop.rs), within the request's time limit.
  let waits = [];
  function waitUntil(p) {
    // The engine only looks for this work once told there is some (event_loop.rs).
    if (waits.length === 0) internal.native.noteWaitUntil();
    waits.push(Promise.resolve(p).catch((e) => console.error('waitUntil:', e)));
  }
  function allWork() {
    const now = waits;
    waits = [];
    return Promise.all(now).then(() => (waits.length ? allWork() : undefined));
  }
  const ctx = { waitUntil, passThroughOnException() {} };

  // The body of a response once sent: used, and empty to anyone who still holds the response.
  const SENT = new internal.Body(null);
  SENT.used = true;
  internal.native.knowResponses(brand, SENT, Response);

  function finish(result) {
    if (!(result instanceof Response)) {
      // A thenable that is not a promise is adopted as a promise adopts it, then finished. Only
      // a synchronous handler's answer can be one: a promise never settles to a thenable.
      const type = typeof result;
      if (result !== null && (type === 'object' || type === 'function') && typeof result.then === 'function') {
        return Promise.resolve(result).then(finish);
      }
      throw failure(BAD_RESPONSE, `the fetch handler resolved to ${describe(result)} instead of a Response`);
    }
    const s = result[brand];
    if (s.status === 0) throw failure(BAD_RESPONSE, 'the fetch handler returned Response.error()');
    // Bytes or text are sent as they are, the common case, whether or not a Body was made for
    // them (most responses never make one: see 50-body.js, bodyOf).
    const held = s.body;
    const src = held === null ? s.src : held.source;
    if ((held === null || !held.disturbed) && (src === null || typeof src === 'string' || src instanceof Uint8Array)) {
      if (held === null) s.body = SENT; else held.used = true;
      return [s.status, internal.responseWire(s), src === null ? '' : src];
    }
    const b = held === null ? internal.bodyOf(s) : held;
    // A stream goes to the client chunk by chunk, as the engine pulls it (event_loop.rs).
    if (!b.disturbed && src instanceof ReadableStream) {
      if (b.locked) throw new TypeError('Response: the body stream is locked to a reader');
      b.used = true;
      const reader = internal.bodyReader(src);
      const next = reader.next;
      next.cancel = reader.cancel;
      return [s.status, internal.responseWire(s), next];
    }
    return b.consume('Response').then((payload) => [s.status, internal.responseWire(s), payload]);
  }

  // An instance serves one request: the event it dispatches is made with the snapshot (see
  // 00-internal.js `spares`) and filled in, which costs less than making one.
  let spareEvent = new FetchEvent('fetch', { request: null }), spentEvent = null;
  // The handler style, found once: after pre-initialisation nothing a request does can change
  // it for a later request (each runs on a fresh copy of the snapshot).
  let style = null;
  function findHandler() {
    if (listeners.fetch.length) return 'listener';
    if (moduleNs) {
      const d = moduleNs.default;
      if (d && typeof d.fetch === 'function') return 'default';
      if (typeof moduleNs.handleRequest === 'function') return 'export';
    }
    if (typeof globalThis.handleRequest === 'function') return 'global';
    return null;
  }

  Object.assign(internal, {
    // `pairs`: [name, value, …]; `bindings`: [kind, name, database, …] for env.KV / env.DB.
    setEnv(pairs, bindings) {
      const env = {};
      for (let i = 0; i < pairs.length; i += 2) env[pairs[i]] = pairs[i + 1];
      process.env = env;
      envBinding = { ...env };
      for (let i = 0; i < bindings.length; i += 3) {
        const [kind, name, database] = [bindings[i], bindings[i + 1], bindings[i + 2]];
        envBinding[name] = kind === 'kv' ? internal.kvBinding() : internal.sqliteBinding(database);
      }
    },
    registerModule(ns) { moduleNs = ns; },
    // null, or a promise that settles once every `waitUntil` promise has (work added while
    // waiting included). The engine calls it only after `noteWaitUntil`.
    pendingWork() { return waits.length ? allWork() : null; },
    // What the handler answered (when the engine does not read it itself), checked and
    // taken apart: [status, headers, body] (headers as one "name\nvalue\n…" string, like the
    // request's: a header cannot hold a newline; body a string, a Uint8Array, or for a stream a
    // function giving its next chunk), or a promise of them.
    finishResponse: finish,
    handlerStyle() { return (style = findHandler()); },
    // Returns what the handler answered, as it is: a Response, a promise of one, or anything
    // else (which `finish` adopts or refuses). No promise is made here, nor any check in JS.
    // `restId` >= 0: the body had not all arrived, and the rest streams from the host under
    // that id (75-fetch.js reads it like a fetch response's body).
    dispatch(method, url, flatHeaders, body, clientAddr, restId) {
      internal.baseUrl = url;
      if (restId >= 0) body = internal.streamedBody(restId, body);
      const request = Request._fromWire(method, url, flatHeaders, body, clientAddr);
      let result;
      switch (style === null ? (style = findHandler()) : style) {
        case 'listener': {
          let ev = spareEvent;
          if (ev !== null) { spentEvent = ev; spareEvent = null; ev[REQUEST] = request; } else ev = new FetchEvent('fetch', { request });
          current = ev;
          responded = false;
          // An index loop: for…of would make an iterator object on every request.
          const ls = listeners.fetch;
          for (let i = 0; i < ls.length; i++) {
            const l = ls[i];
            if (typeof l === 'function') l.call(globalThis, ev); else l.handleEvent(ev);
            if (responded) break;
          }
          current = null;
          if (!responded) throw failure(NO_HANDLER, 'no fetch listener called event.respondWith()');
          result = response;
          response = undefined;
          break;
        }
        case 'default': result = moduleNs.default.fetch(request, envBinding, ctx); break;
        case 'export': result = moduleNs.handleRequest(request, envBinding, ctx); break;
        case 'global': result = globalThis.handleRequest(request, envBinding, ctx); break;
        default: throw failure(NO_HANDLER, "no fetch handler: use addEventListener('fetch', …), export default { fetch }, or export function handleRequest");
      }
      // As it is: the engine settles a promise, reads a plain response's state itself, and
      // calls finishResponse for anything else (event_loop.rs, runtime/engine/src/response.rs
      // `plain_parts`).
      return result;
    },
  });

  // The objects every request makes, built once here so that their shapes, and those on the
  // way to them, are in the snapshot (00-internal.js, keepShapes).
  internal.keepShapes(
    Request._fromWire('GET', 'http://localhost/', '', null, ''),
    new FetchEvent('fetch', { request: null }),
    new Response('ok'),
    new Response(null, { status: 204 }),
    new EdgeResponse({ status: 200, body: 'ok' }),
    new Headers(),
    new URL('http://localhost/'),
    // Objects with the same properties in the same order share a shape: extractBody's result
    // (50-body.js).
    { source: null, type: null },
  );
  internal.makeSpares();
})();

// QuickJS creates many built-in functions lazily, on first access. Touch them all now, while the
// snapshot is being made, so that no request pays for creating `JSON.stringify` or
// `Array.prototype.map` again on its fresh instance.
(function () {
  const seen = new Set();
  function touch(obj, depth) {
    if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function') || seen.has(obj) || depth > 3) return;
    seen.add(obj);
    for (const key of Reflect.ownKeys(obj)) {
      const d = Object.getOwnPropertyDescriptor(obj, key);
      if (d && 'value' in d) touch(d.value, depth + 1);
    }
    touch(Object.getPrototypeOf(obj), depth + 1);
  }
  touch(globalThis, 0);
})();
