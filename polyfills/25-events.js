// Event, EventTarget, CustomEvent, ErrorEvent, PromiseRejectionEvent, AbortController and
// AbortSignal.
// There is no tree of targets: an event is dispatched at its target only (capturing listeners
// first, then the others), which is all a worker has. A listener that throws does not stop the
// others: its error is reported (reportError) and dispatch goes on, as in browsers.
(function () {
  const internal = globalThis.__wisp;
  const { define } = internal;

  // State under symbol keys: as hidden as private fields and cheaper in QuickJS.
  const EV = Symbol('event'), LISTENERS = Symbol('listeners'), HANDLERS = Symbol('handlers');

  function now() { return typeof performance === 'object' ? performance.now() : 0; }

  class Event {
    constructor(type, init) {
      if (arguments.length === 0) throw new TypeError("Event: 1 argument required, but only 0 present");
      this[EV] = {
        type: String(type), bubbles: !!(init && init.bubbles), cancelable: !!(init && init.cancelable),
        composed: !!(init && init.composed), target: null, currentTarget: null, phase: 0,
        stop: false, stopNow: false, canceled: false, passive: false, dispatching: false, timeStamp: now(),
      };
    }
    get type() { return this[EV].type; }
    get target() { return this[EV].target; }
    get srcElement() { return this[EV].target; }
    get currentTarget() { return this[EV].currentTarget; }
    get eventPhase() { return this[EV].phase; }
    get bubbles() { return this[EV].bubbles; }
    get cancelable() { return this[EV].cancelable; }
    get composed() { return this[EV].composed; }
    get defaultPrevented() { return this[EV].canceled; }
    get returnValue() { return !this[EV].canceled; }
    set returnValue(v) { if (!v) this.preventDefault(); }
    get cancelBubble() { return this[EV].stop; }
    set cancelBubble(v) { if (v) this[EV].stop = true; }
    get isTrusted() { return false; }
    get timeStamp() { return this[EV].timeStamp; }
    composedPath() { const t = this[EV].currentTarget; return t ? [t] : []; }
    preventDefault() { const s = this[EV]; if (s.cancelable && !s.passive) s.canceled = true; }
    stopPropagation() { this[EV].stop = true; }
    stopImmediatePropagation() { const s = this[EV]; s.stop = true; s.stopNow = true; }
    get [Symbol.toStringTag]() { return 'Event'; }
  }
  for (const [name, value] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
    Object.defineProperty(Event, name, { value, enumerable: true });
    Object.defineProperty(Event.prototype, name, { value, enumerable: true });
  }

  class CustomEvent extends Event {
    #detail;
    constructor(type, init) {
      super(type, init);
      this.#detail = init && init.detail !== undefined ? init.detail : null;
    }
    get detail() { return this.#detail; }
    get [Symbol.toStringTag]() { return 'CustomEvent'; }
  }

  // What reportError dispatches at the global scope.
  class ErrorEvent extends Event {
    #init;
    constructor(type, init) { super(type, init); this.#init = init || {}; }
    get message() { return this.#init.message === undefined ? '' : String(this.#init.message); }
    get filename() { return this.#init.filename === undefined ? '' : String(this.#init.filename); }
    get lineno() { return this.#init.lineno >>> 0; }
    get colno() { return this.#init.colno >>> 0; }
    get error() { return this.#init.error; }
    get [Symbol.toStringTag]() { return 'ErrorEvent'; }
  }

  // The class exists for code that constructs or checks it; the engine logs unhandled
  // rejections (runtime/engine/src/rejections.rs) rather than dispatching this event.
  class PromiseRejectionEvent extends Event {
    #promise; #reason;
    constructor(type, init) {
      if (init === null || typeof init !== 'object' || !('promise' in init)) throw new TypeError("PromiseRejectionEvent: init.promise is required");
      super(type, init);
      this.#promise = init.promise;
      this.#reason = init.reason;
    }
    get promise() { return this.#promise; }
    get reason() { return this.#reason; }
    get [Symbol.toStringTag]() { return 'PromiseRejectionEvent'; }
  }

  function flatten(options) {
    if (typeof options === 'boolean') return { capture: options, once: false, passive: false, signal: null };
    if (options === null || typeof options !== 'object') return { capture: false, once: false, passive: false, signal: null };
    const signal = options.signal === undefined ? null : options.signal;
    if (signal !== null && !(signal instanceof AbortSignal)) throw new TypeError("addEventListener: 'signal' must be an AbortSignal");
    return { capture: !!options.capture, once: !!options.once, passive: !!options.passive, signal };
  }

  function reportListenerError(e) {
    if (typeof globalThis.reportError === 'function') globalThis.reportError(e);
    else console.error('Uncaught', e);
  }

  class EventTarget {
    // The listener lists are made on first use: most targets (signals) never get one.
    addEventListener(type, callback, options) {
      const o = flatten(options);
      if (callback === null || callback === undefined) return;
      if (typeof callback !== 'function' && typeof callback !== 'object') {
        throw new TypeError('addEventListener: the listener must be a function or an object with handleEvent');
      }
      if (o.signal !== null && o.signal.aborted) return;
      type = String(type);
      const map = this[LISTENERS] || (this[LISTENERS] = new Map());
      let list = map.get(type);
      if (list === undefined) map.set(type, list = []);
      for (const l of list) if (l.callback === callback && l.capture === o.capture) return;
      const entry = { callback, capture: o.capture, once: o.once, passive: o.passive, removed: false };
      list.push(entry);
      if (o.signal !== null) {
        o.signal.addEventListener('abort', () => removeEntry(this, type, entry));
      }
    }
    removeEventListener(type, callback, options) {
      const map = this[LISTENERS];
      if (!map) return;
      const capture = typeof options === 'boolean' ? options : !!(options && typeof options === 'object' && options.capture);
      const list = map.get(String(type));
      if (!list) return;
      for (const l of list) if (l.callback === callback && l.capture === capture) { removeEntry(this, String(type), l); return; }
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError('dispatchEvent: the argument must be an Event');
      const s = event[EV];
      if (s.dispatching) throw new DOMException('dispatchEvent: the event is already being dispatched', 'InvalidStateError');
      s.dispatching = true;
      s.target = this;
      s.currentTarget = this;
      s.phase = 2;
      const map = this[LISTENERS];
      const list = map && map.get(s.type);
      if (list && list.length) {
        const copy = list.slice();
        // At the target, capturing listeners run before the others.
        for (let pass = 0; pass < 2 && !s.stopNow; pass++) {
          for (const l of copy) {
            if (s.stopNow) break;
            if (l.removed || l.capture !== (pass === 0)) continue;
            if (l.once) removeEntry(this, s.type, l);
            s.passive = l.passive;
            try {
              if (typeof l.callback === 'function') l.callback.call(this, event);
              else if (typeof l.callback.handleEvent === 'function') l.callback.handleEvent(event);
              else throw new TypeError('the event listener object has no handleEvent method');
            } catch (e) { reportListenerError(e); }
            s.passive = false;
          }
        }
      }
      s.dispatching = false;
      s.currentTarget = null;
      s.phase = 0;
      s.stop = false;
      s.stopNow = false;
      return !s.canceled;
    }
    get [Symbol.toStringTag]() { return 'EventTarget'; }
  }

  function removeEntry(target, type, entry) {
    entry.removed = true;
    const list = target[LISTENERS] && target[LISTENERS].get(type);
    if (!list) return;
    const i = list.indexOf(entry);
    if (i >= 0) list.splice(i, 1);
  }

  // `onabort`-style attributes: one hidden listener per type, added on first set, that calls
  // whatever handler the attribute holds at the time.
  function eventHandler(proto, type) {
    Object.defineProperty(proto, 'on' + type, {
      configurable: true, enumerable: true,
      get() { const h = this[HANDLERS]; return h && h[type] !== undefined ? h[type] : null; },
      set(fn) {
        const h = this[HANDLERS] || (this[HANDLERS] = {});
        const first = !(type in h);
        h[type] = typeof fn === 'function' ? fn : null;
        if (first) {
          this.addEventListener(type, function (ev) {
            const f = h[type];
            if (f) { const r = f.call(this, ev); if (r === false) ev.preventDefault(); }
          });
        }
      },
    });
  }

  const SIG = Symbol('signal');
  function newSignal() {
    const s = Object.create(AbortSignal.prototype);
    s[SIG] = { aborted: false, reason: undefined, algorithms: null };
    return s;
  }
  // Aborts a signal: runs the internal algorithms (streams' pipeTo, AbortSignal.any), then the
  // `abort` event.
  function signalAbort(signal, reason) {
    const s = signal[SIG];
    if (s.aborted) return;
    s.aborted = true;
    s.reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    const algos = s.algorithms;
    s.algorithms = null;
    if (algos) for (const a of algos) a(s.reason);
    signal.dispatchEvent(new Event('abort'));
  }
  function onAbort(signal, fn) {
    const s = signal[SIG];
    (s.algorithms || (s.algorithms = [])).push(fn);
  }

  class AbortSignal extends EventTarget {
    constructor() { super(); throw new TypeError('AbortSignal: illegal constructor (use AbortController or AbortSignal.abort())'); }
    get aborted() { return this[SIG].aborted; }
    get reason() { return this[SIG].reason; }
    throwIfAborted() { const s = this[SIG]; if (s.aborted) throw s.reason; }
    static abort(reason) { const s = newSignal(); signalAbort(s, reason); return s; }
    static timeout(ms) {
      ms = Number(ms);
      if (!(ms >= 0) || ms > Number.MAX_SAFE_INTEGER) throw new TypeError(`AbortSignal.timeout: ${ms} is not a valid number of milliseconds`);
      const s = newSignal();
      setTimeout(() => signalAbort(s, new DOMException('The operation timed out', 'TimeoutError')), ms);
      return s;
    }
    static any(signals) {
      const list = [...signals];
      const out = newSignal();
      for (const sig of list) {
        if (!(sig instanceof AbortSignal)) throw new TypeError('AbortSignal.any: every item must be an AbortSignal');
        if (sig.aborted) { signalAbort(out, sig.reason); return out; }
      }
      for (const sig of list) onAbort(sig, (reason) => signalAbort(out, reason));
      return out;
    }
    get [Symbol.toStringTag]() { return 'AbortSignal'; }
  }
  eventHandler(AbortSignal.prototype, 'abort');

  class AbortController {
    #signal = newSignal();
    get signal() { return this.#signal; }
    abort(reason) { signalAbort(this.#signal, reason); }
    get [Symbol.toStringTag]() { return 'AbortController'; }
  }

  define(globalThis, 'Event', Event);
  define(globalThis, 'EventTarget', EventTarget);
  define(globalThis, 'CustomEvent', CustomEvent);
  define(globalThis, 'ErrorEvent', ErrorEvent);
  define(globalThis, 'PromiseRejectionEvent', PromiseRejectionEvent);
  define(globalThis, 'AbortSignal', AbortSignal);
  define(globalThis, 'AbortController', AbortController);
  // Makes instances of `cls` Events without running Event's constructor: the event state is
  // created on first use, so a class made per request (FetchEvent) pays nothing unless an Event
  // member is used.
  function lazyEvent(cls, type) {
    Object.setPrototypeOf(cls.prototype, Event.prototype);
    Object.setPrototypeOf(cls, Event);
    Object.defineProperty(cls.prototype, EV, {
      configurable: true,
      get() {
        const s = { type, bubbles: false, cancelable: false, composed: false, target: null, currentTarget: null, phase: 0,
          stop: false, stopNow: false, canceled: false, passive: false, dispatching: false, timeStamp: now() };
        Object.defineProperty(this, EV, { value: s, writable: true, configurable: true });
        return s;
      },
    });
  }

  // For streams (pipeTo's signal) and other polyfills: abort hooks that run before the event.
  internal.events = { onAbort, eventHandler, signalAbort, lazyEvent };
})();
