// The global scope's own members: reportError, navigator, and events dispatched at globalThis
// (90-dispatch.js routes `addEventListener` for types other than fetch/scheduled here, so
// `addEventListener('error', …)` sees what reportError reports).
(function () {
  const internal = globalThis.__wisp;
  const { define } = internal;
  const { addEventListener, removeEventListener, dispatchEvent } = EventTarget.prototype;

  internal.globalEvents = {
    add: (type, listener, options) => addEventListener.call(globalThis, type, listener, options),
    remove: (type, listener, options) => removeEventListener.call(globalThis, type, listener, options),
  };
  define(globalThis, 'dispatchEvent', (event) => dispatchEvent.call(globalThis, event));

  // Logs an error as an uncaught one would be, after offering it to `error` listeners (a
  // listener that calls preventDefault() marks it handled). An error thrown while reporting is
  // only logged, so a failing `error` listener cannot recurse.
  let reporting = false;
  function reportError(error) {
    if (arguments.length === 0) throw new TypeError('reportError: 1 argument required, but only 0 present');
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (!reporting) {
      reporting = true;
      let handled = false;
      try {
        handled = !dispatchEvent.call(globalThis, new ErrorEvent('error', { error, message, cancelable: true }));
      } finally { reporting = false; }
      if (handled) return;
    }
    console.error('Uncaught', error);
  }
  define(globalThis, 'reportError', reportError);

  const navigator = {};
  Object.defineProperty(navigator, 'userAgent', { value: 'Wisp/0.1', enumerable: true });
  Object.defineProperty(navigator, Symbol.toStringTag, { value: 'Navigator' });
  define(globalThis, 'navigator', navigator);
})();
