// JSON.stringify(value), the common call without a replacer or indentation, is serialised in
// Rust (runtime/engine/src/json.rs): a few times faster than QuickJS's generic serialiser. What
// the native leaves (it answers null) goes to QuickJS's own, as does every call with a replacer
// or a space argument.
(function () {
  const { native, define } = globalThis.__wisp;
  const quickjs = JSON.stringify;
  const fast = native.jsonStringify;
  const methods = {
    stringify(value, replacer, space) {
      if (replacer === undefined && space === undefined) {
        const text = fast(value);
        if (text !== null) return text;
      }
      return quickjs.call(JSON, value, replacer, space);
    },
  };
  define(JSON, 'stringify', methods.stringify);
})();
