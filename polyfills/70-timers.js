// setTimeout/setInterval and friends, performance.now, queueMicrotask. Timers live inside one
// request: the engine's event loop (runtime/engine/src/event_loop.rs) asks for the next due
// time, sleeps in the host (a WASI poll that holds no host thread) and fires what is due.
(function () {
  const internal = globalThis.__wisp;
  const { native, define } = internal;
  const timers = new Map();
  let nextId = 1;

  function add(fn, ms, args, repeat) {
    if (typeof fn !== 'function') throw new TypeError('setTimeout/setInterval: the callback must be a function (code strings are not evaluated)');
    ms = Number(ms);
    if (!(ms >= 0)) ms = 0;
    const id = nextId++;
    timers.set(id, { at: native.monotonicMs() + ms, ms, fn, args, repeat });
    return id;
  }
  const clear = (id) => { timers.delete(Number(id)); };

  define(globalThis, 'setTimeout', (fn, ms, ...args) => add(fn, ms, args, false));
  define(globalThis, 'setInterval', (fn, ms, ...args) => add(fn, ms, args, true));
  define(globalThis, 'clearTimeout', clear);
  define(globalThis, 'clearInterval', clear);

  internal.timers = {
    // Milliseconds of the monotonic clock at which the next timer is due, or -1 if none.
    next() {
      let best = -1;
      for (const t of timers.values()) if (best < 0 || t.at < best) best = t.at;
      return best;
    },
    // Runs the timer due first (by due time, then creation), if one is due. One per call: the
    // engine runs the promise jobs its callback queued before the next one, as the HTML event
    // loop does between two tasks.
    fire() {
      const now = native.monotonicMs();
      let id = -1, first = null;
      // A Map iterates in creation order: `<` keeps the earlier of two timers due together.
      for (const [i, t] of timers) if (t.at <= now && (first === null || t.at < first.at)) { id = i; first = t; }
      if (first === null) return;
      if (first.repeat) first.at = now + Math.max(first.ms, 1); else timers.delete(id);
      first.fn.apply(globalThis, first.args);
    },
    // Drops every timer (those set by top-level code cannot outlive the snapshot).
    clear() { const n = timers.size; timers.clear(); return n; },
  };

  if (typeof globalThis.queueMicrotask !== 'function') {
    define(globalThis, 'queueMicrotask', (fn) => {
      if (typeof fn !== 'function') throw new TypeError('queueMicrotask: the callback must be a function');
      Promise.resolve().then(fn);
    });
  }

  // The request's clock is kept by the engine (runtime/engine/src/host.rs), which starts it
  // before calling the dispatcher: nothing to do here per request.
  const performance = {
    now() { return native.msSinceStart(); },
    get timeOrigin() { return native.timeOrigin(); },
    toJSON() { return { timeOrigin: native.timeOrigin() }; },
  };
  define(globalThis, 'performance', performance);
})();
