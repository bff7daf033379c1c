// node:events for Wisp: EventEmitter (on/once/off/emit/prepend/listeners), enough for the
// libraries that only need an emitter. Bundled only when imported.
'use strict';
class EventEmitter {
  constructor() { this._events = Object.create(null); this._max = 10; }
  _list(name) { return this._events[name] || (this._events[name] = []); }
  on(name, fn) { this.emit('newListener', name, fn); this._list(name).push(fn); return this; }
  prependListener(name, fn) { this._list(name).unshift(fn); return this; }
  once(name, fn) {
    const wrapped = (...args) => { this.off(name, wrapped); fn.apply(this, args); };
    wrapped.listener = fn;
    return this.on(name, wrapped);
  }
  off(name, fn) {
    const list = this._events[name];
    if (!list) return this;
    const i = list.findIndex((l) => l === fn || l.listener === fn);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) delete this._events[name];
    return this;
  }
  removeAllListeners(name) {
    if (name === undefined) this._events = Object.create(null); else delete this._events[name];
    return this;
  }
  emit(name, ...args) {
    const list = this._events[name];
    if (!list || !list.length) {
      if (name === 'error') throw args[0] instanceof Error ? args[0] : new Error('Unhandled error: ' + args[0]);
      return false;
    }
    for (const fn of list.slice()) fn.apply(this, args);
    return true;
  }
  listeners(name) { return (this._events[name] || []).map((l) => l.listener || l); }
  listenerCount(name) { return (this._events[name] || []).length; }
  eventNames() { return Object.keys(this._events); }
  setMaxListeners(n) { this._max = n; return this; }
  getMaxListeners() { return this._max; }
}
EventEmitter.prototype.addListener = EventEmitter.prototype.on;
EventEmitter.prototype.removeListener = EventEmitter.prototype.off;
EventEmitter.EventEmitter = EventEmitter;
EventEmitter.default = EventEmitter;
EventEmitter.once = (emitter, name) =>
  new Promise((resolve) => emitter.once(name, (...args) => resolve(args)));
module.exports = EventEmitter;
