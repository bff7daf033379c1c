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

  // Objects made with the snapshot for the one request an instance serves, filled in when it
  // needs them (cheaper than making them, and as new to it): each file registers how to make
  // its spares, and 90-dispatch.js makes them all once every polyfill is loaded.
  // A spare handed out stays referenced (each file's `spent…`) until the instance goes: freeing
  // an object made with the snapshot writes its neighbours in QuickJS's list of objects, pages
  // of the snapshot's heap the request would otherwise not write, each copied back at the slot's
  // reset (runtime/host/src/slot_runs.rs). The Response spare is the engine's (response_ctor.rs).
  const spareMakers = [];
  internal.spares = (make) => { spareMakers.push(make); };
  internal.makeSpares = () => { for (const make of spareMakers) make(); };

  // Makes `native`, one of the engine's C constructors, stand in for the JS constructor `js`
  // (the global `URL`, `Response`…): it takes `js`'s statics and its prototype, whose
  // `constructor` it becomes. `js` keeps making what the C constructor hands it.
  internal.standIn = (native, js) => {
    for (const key of Reflect.ownKeys(js)) {
      if (key !== 'length' && key !== 'name' && key !== 'prototype') Object.defineProperty(native, key, Object.getOwnPropertyDescriptor(js, key));
    }
    Object.defineProperty(native, 'prototype', { value: js.prototype, writable: false, enumerable: false, configurable: false });
    Object.defineProperty(js.prototype, 'constructor', { value: native, writable: true, enumerable: false, configurable: true });
    return native;
  };

  // Replaces `klass`'s getters of `names` by C getters that read `this[stateKey][name]` (or
  // `this[stateKey]`, with `field: false`): a JS getter is a JS call, more than the two reads
  // it makes (runtime/engine/src/field_getters.rs). The class's own getter declares the
  // property (its attributes are kept) and reads the same as the C one.
  internal.fieldGetters = (klass, stateKey, names, field = true) => {
    for (const name of names) {
      const d = Object.getOwnPropertyDescriptor(klass.prototype, name);
      d.get = native.fieldGetter(stateKey, field ? name : undefined, name);
      Object.defineProperty(klass.prototype, name, d);
    }
  };

  // QuickJS gives each object a shape (its hidden class) and finds the next one, when a property
  // is added, in a table of the shapes alive. A shape dies with the last object that has it. So
  // an object built property by property (`this.a = …; this.b = …`, or a literal `{ a, b }`)
  // goes through shapes that no object keeps once it is built: on a fresh instance each request
  // would create every one of them again (a clone, a table insert, a free: about 2,500 Wasm
  // instructions each). `keepShapes(exemplar, …)`, called while the snapshot is made, keeps one
  // object at each step of the way to each exemplar's shape, and to those of the objects it
  // holds, so that requests find them all in the snapshot.
  const kept = [];
  internal.keepShapes = (...exemplars) => {
    const seen = new Set();
    const keep = (obj, depth) => {
      if (obj === null || typeof obj !== 'object' || seen.has(obj) || depth > 2) return;
      seen.add(obj);
      if (Array.isArray(obj) || ArrayBuffer.isView(obj)) return;
      const proto = Object.getPrototypeOf(obj);
      const keys = Reflect.ownKeys(obj);
      const descriptors = keys.map((k) => Object.getOwnPropertyDescriptor(obj, k));
      // Step i has the first i properties, with the exemplar's attributes (they are part of
      // the shape); the values are not.
      for (let i = 0; i <= keys.length; i++) {
        const step = Object.create(proto);
        for (let j = 0; j < i; j++) {
          const d = descriptors[j];
          Object.defineProperty(step, keys[j], 'value' in d ? { ...d, value: undefined } : d);
        }
        kept.push(step);
      }
      for (const d of descriptors) if ('value' in d) keep(d.value, depth + 1);
    };
    for (const e of exemplars) keep(e, 0);
  };
})();
