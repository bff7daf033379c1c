// The hidden namespace shared by the polyfills: the Rust natives and small helpers.
// It is removed from the global object at the end of 90-dispatch.js.
(function () {
  const native = globalThis.__wisp_native;
  delete globalThis.__wisp_native;
  const define = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });
  // `modules`: the exports of the built-in modules (`wasmedge-kv`, …), filled by 86–88.
  const internal = { native, define, modules: {} };
  // Internal slots shared between the classes of different files (Request reads a Headers' list, …).
  internal.brand = Symbol('wisp.internal');
  define(globalThis, '__wisp', internal);
})();
