// console: every line goes to the host log, tagged there with the function and the request id.
(function () {
  const { native, define } = globalThis.__wisp;
  const LEVEL = { debug: 0, info: 1, warn: 2, error: 3 };

  function inspect(value, depth, seen) {
    switch (typeof value) {
      case 'string': return depth === 0 ? value : JSON.stringify(value);
      case 'function': return `[Function: ${value.name || '(anonymous)'}]`;
      case 'symbol': return value.toString();
      case 'bigint': return `${value}n`;
      case 'undefined': return 'undefined';
      case 'object': break;
      default: return String(value);
    }
    if (value === null) return 'null';
    if (value instanceof Error) return value.stack ? `${value.name}: ${value.message}\n${value.stack}` : `${value.name}: ${value.message}`;
    if (seen.includes(value)) return '[Circular]';
    if (depth > 3) return Array.isArray(value) ? '[Array]' : '[Object]';
    seen = seen.concat([value]);
    if (Array.isArray(value)) return `[ ${value.map((v) => inspect(v, depth + 1, seen)).join(', ')} ]`;
    if (value instanceof Date) return value.toISOString();
    if (value instanceof RegExp) return String(value);
    if (value instanceof Map) return `Map(${value.size}) { ${[...value].map(([k, v]) => `${inspect(k, depth + 1, seen)} => ${inspect(v, depth + 1, seen)}`).join(', ')} }`;
    if (value instanceof Set) return `Set(${value.size}) { ${[...value].map((v) => inspect(v, depth + 1, seen)).join(', ')} }`;
    if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${value.length}) [ ${Array.prototype.slice.call(value, 0, 32).join(', ')}${value.length > 32 ? ', …' : ''} ]`;
    const keys = Object.keys(value);
    const name = value.constructor && value.constructor !== Object ? `${value.constructor.name} ` : '';
    if (keys.length === 0) return `${name}{}`;
    return `${name}{ ${keys.map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${inspect(value[k], depth + 1, seen)}`).join(', ')} }`;
  }

  function format(args) {
    let out = '';
    let rest = args;
    if (typeof args[0] === 'string' && args[0].includes('%') && args.length > 1) {
      let i = 1;
      out = args[0].replace(/%([sdifjoOc%])/g, (m, f) => {
        if (f === '%') return '%';
        if (i >= args.length) return m;
        const a = args[i++];
        switch (f) {
          case 's': return typeof a === 'string' ? a : inspect(a, 1, []);
          case 'd': case 'i': return String(parseInt(a, 10));
          case 'f': return String(parseFloat(a));
          case 'j': try { return JSON.stringify(a); } catch { return '[Circular]'; }
          case 'c': return '';
          default: return inspect(a, 1, []);
        }
      });
      rest = args.slice(i);
      for (const a of rest) out += ' ' + inspect(a, 0, []);
      return out;
    }
    return rest.map((a) => inspect(a, 0, [])).join(' ');
  }

  const counts = new Map();
  const timers = new Map();
  const console = {};
  const emit = (level) => function (...args) { native.log(level, format(args)); };
  define(console, 'log', emit(LEVEL.info));
  define(console, 'info', emit(LEVEL.info));
  define(console, 'debug', emit(LEVEL.debug));
  define(console, 'warn', emit(LEVEL.warn));
  define(console, 'error', emit(LEVEL.error));
  define(console, 'trace', function (...args) {
    const stack = (new Error().stack || '').split('\n').slice(1).join('\n');
    native.log(LEVEL.debug, `Trace: ${format(args)}\n${stack}`);
  });
  define(console, 'assert', function (cond, ...args) {
    if (!cond) native.log(LEVEL.error, `Assertion failed${args.length ? ': ' + format(args) : ''}`);
  });
  define(console, 'count', function (label = 'default') {
    const n = (counts.get(label) || 0) + 1;
    counts.set(label, n);
    native.log(LEVEL.info, `${label}: ${n}`);
  });
  define(console, 'time', function (label = 'default') { timers.set(label, performance.now()); });
  define(console, 'timeEnd', function (label = 'default') {
    const t = timers.get(label);
    timers.delete(label);
    if (t !== undefined) native.log(LEVEL.info, `${label}: ${(performance.now() - t).toFixed(3)}ms`);
  });
  define(console, 'dir', function (v) { native.log(LEVEL.info, inspect(v, 1, [])); });
  define(globalThis, 'console', console);
  globalThis.__wisp.inspect = inspect;
})();
