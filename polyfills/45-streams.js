// The Streams standard: ReadableStream (default readers, tee, pipeTo/pipeThrough, from, async
// iteration), WritableStream, TransformStream, the two queuing strategies, and
// TextEncoderStream/TextDecoderStream. The algorithms follow the standard's names so they can be
// checked against it. Byte streams are minimal: `type: 'bytes'` is accepted and behaves as a
// default stream of the chunks enqueued (no BYOB readers, `byobRequest` is always null).
(function () {
  const internal = globalThis.__wisp;
  const { define } = internal;

  // State under symbol keys: as hidden as private fields and cheaper in QuickJS.
  const S = Symbol('stream');
  const RESOLVED = Promise.resolve();
  const noop = () => {};
  const handled = (p) => { p.then(undefined, noop); return p; };
  function deferred() {
    const d = { promise: null, resolve: null, reject: null, settled: false };
    d.promise = new Promise((res, rej) => {
      d.resolve = (v) => { d.settled = true; res(v); };
      d.reject = (e) => { d.settled = true; rej(e); };
    });
    return d;
  }
  function rejectedDeferred(e) { const d = deferred(); handled(d.promise); d.reject(e); return d; }
  function resolvedDeferred(v) { const d = deferred(); d.resolve(v); return d; }
  // Calls a method of an underlying source/sink/transformer and always returns a promise.
  function promiseCall(fn, self, arg) {
    if (fn === undefined) return RESOLVED;
    try { return Promise.resolve(fn.call(self, arg)); } catch (e) { return Promise.reject(e); }
  }
  function method(obj, name) {
    if (obj === undefined || obj === null) return undefined;
    const fn = obj[name];
    if (fn === undefined || fn === null) return undefined;
    if (typeof fn !== 'function') throw new TypeError(`${name} must be a function`);
    return fn;
  }
  function strategyOf(strategy, defaultHwm) {
    let hwm = defaultHwm, size;
    if (strategy !== undefined && strategy !== null) {
      if (strategy.highWaterMark !== undefined) {
        hwm = Number(strategy.highWaterMark);
        if (Number.isNaN(hwm) || hwm < 0) throw new RangeError('highWaterMark must be a non-negative number');
      }
      if (strategy.size !== undefined) {
        if (typeof strategy.size !== 'function') throw new TypeError('size must be a function');
        size = strategy.size;
      }
    }
    return { hwm, size };
  }
  function enqueueWithSize(c, value, size) {
    size = Number(size);
    if (!(size >= 0) || size === Infinity) throw new RangeError('the size of a chunk must be a finite, non-negative number');
    c.queue.push(value, size);
    c.queueTotalSize += size;
  }
  // The queue is a flat [value, size, value, size, …] array, read from `head`.
  function dequeue(c) {
    const value = c.queue[c.head], size = c.queue[c.head + 1];
    c.queue[c.head] = undefined;
    c.head += 2;
    if (c.head === c.queue.length) { c.queue.length = 0; c.head = 0; } else if (c.head > 64 && c.head * 2 > c.queue.length) { c.queue.splice(0, c.head); c.head = 0; }
    c.queueTotalSize -= size;
    if (c.queueTotalSize < 0) c.queueTotalSize = 0;
    return value;
  }
  const queueEmpty = (c) => c.head === c.queue.length;
  function resetQueue(c) { c.queue = []; c.head = 0; c.queueTotalSize = 0; }

  // ---------------------------------------------------------------- ReadableStream

  function initRS(stream) {
    stream[S] = { state: 'readable', reader: undefined, storedError: undefined, disturbed: false, controller: undefined };
  }
  function setupRSController(stream, startAlgo, pullAlgo, cancelAlgo, hwm, size, bytes = false) {
    const controller = Object.create(ReadableStreamDefaultController.prototype);
    const c = {
      stream, queue: [], head: 0, queueTotalSize: 0, started: false, closeRequested: false, pullAgain: false,
      pulling: false, hwm, size, pullAlgo, cancelAlgo, bytes,
    };
    controller[S] = c;
    stream[S].controller = c;
    c.self = controller;
    const startResult = startAlgo(controller);
    Promise.resolve(startResult).then(() => { c.started = true; rcCallPullIfNeeded(c); }, (e) => rcError(c, e));
    return c;
  }
  // An internal ReadableStream made from algorithms (tee's branches, TransformStream, from()).
  function createRS(startAlgo, pullAlgo, cancelAlgo, hwm = 1, size = undefined) {
    const stream = Object.create(ReadableStream.prototype);
    initRS(stream);
    setupRSController(stream, startAlgo, pullAlgo, cancelAlgo, hwm, size);
    return stream;
  }
  // A stream over bytes already in memory: one chunk, already closed. No promise is made, so
  // reading `request.body` costs little.
  function createBufferedRS(stream, bytes) {
    initRS(stream);
    const c = { stream, queue: [], head: 0, queueTotalSize: 0, started: true, closeRequested: true, pullAgain: false, pulling: false, hwm: 1, size: undefined, pullAlgo: () => RESOLVED, cancelAlgo: () => RESOLVED };
    c.self = Object.create(ReadableStreamDefaultController.prototype);
    c.self[S] = c;
    stream[S].controller = c;
    if (bytes.length) { c.queue.push(bytes, 1); c.queueTotalSize = 1; } else stream[S].state = 'closed';
    return stream;
  }

  // Makes instances of `proto` (a ReadableStream subclass) streams over bytes in memory whose
  // internals are only built when something uses them as a stream: `request.body` is often only
  // turned into a string (`JSON.parse(request.body)`), and the internals are several objects.
  // `bytesOf(instance)` gives the bytes, or undefined for an object that is not such a stream.
  function lazyBufferedRS(proto, bytesOf) {
    Object.defineProperty(proto, S, {
      configurable: true,
      get() {
        const bytes = bytesOf(this);
        if (bytes === undefined) return undefined;
        Object.defineProperty(this, S, { value: undefined, writable: true, configurable: true });
        createBufferedRS(this, bytes);
        return this[S];
      },
    });
  }

  const isLocked = (stream) => stream[S].reader !== undefined;
  const canCloseOrEnqueue = (c) => !c.closeRequested && c.stream[S].state === 'readable';
  function rcDesiredSize(c) {
    const st = c.stream[S].state;
    return st === 'errored' ? null : st === 'closed' ? 0 : c.hwm - c.queueTotalSize;
  }
  function rcShouldCallPull(c) {
    if (!canCloseOrEnqueue(c) || !c.started) return false;
    const r = c.stream[S].reader;
    if (r !== undefined && r[S].readRequests.length > 0) return true;
    return rcDesiredSize(c) > 0;
  }
  function rcCallPullIfNeeded(c) {
    if (!rcShouldCallPull(c)) return;
    if (c.pulling) { c.pullAgain = true; return; }
    c.pulling = true;
    c.pullAlgo(c.self).then(() => {
      c.pulling = false;
      if (c.pullAgain) { c.pullAgain = false; rcCallPullIfNeeded(c); }
    }, (e) => rcError(c, e));
  }
  function rcClearAlgorithms(c) { c.pullAlgo = undefined; c.cancelAlgo = undefined; c.size = undefined; }
  function rcClose(c) {
    if (!canCloseOrEnqueue(c)) return;
    c.closeRequested = true;
    if (queueEmpty(c)) { rcClearAlgorithms(c); rsClose(c.stream); }
  }
  function rcEnqueue(c, chunk) {
    if (!canCloseOrEnqueue(c)) return;
    const stream = c.stream;
    const reader = stream[S].reader;
    if (reader !== undefined && reader[S].readRequests.length > 0) {
      reader[S].readRequests.shift().chunk(chunk);
    } else {
      let size = 1;
      if (c.size !== undefined) {
        try { size = c.size(chunk); } catch (e) { rcError(c, e); throw e; }
      }
      try { enqueueWithSize(c, chunk, size); } catch (e) { rcError(c, e); throw e; }
    }
    rcCallPullIfNeeded(c);
  }
  function rcError(c, e) {
    if (c.stream[S].state !== 'readable') return;
    resetQueue(c);
    rcClearAlgorithms(c);
    rsError(c.stream, e);
  }
  function rsClose(stream) {
    const s = stream[S];
    s.state = 'closed';
    const reader = s.reader;
    if (reader === undefined) return;
    const r = reader[S];
    r.closed.resolve(undefined);
    const reqs = r.readRequests;
    r.readRequests = [];
    for (const req of reqs) req.close();
  }
  function rsError(stream, e) {
    const s = stream[S];
    s.state = 'errored';
    s.storedError = e;
    const reader = s.reader;
    if (reader === undefined) return;
    const r = reader[S];
    handled(r.closed.promise);
    r.closed.reject(e);
    const reqs = r.readRequests;
    r.readRequests = [];
    for (const req of reqs) req.error(e);
  }
  function rsCancel(stream, reason) {
    const s = stream[S];
    s.disturbed = true;
    if (s.state === 'closed') return RESOLVED;
    if (s.state === 'errored') return Promise.reject(s.storedError);
    rsClose(stream);
    const c = s.controller;
    resetQueue(c);
    const algo = c.cancelAlgo;
    rcClearAlgorithms(c);
    return algo(reason).then(noop);
  }
  // A read with callbacks (no promise unless the caller wants one).
  function rsRead(stream, req) {
    const s = stream[S];
    s.disturbed = true;
    if (s.state === 'closed') req.close();
    else if (s.state === 'errored') req.error(s.storedError);
    else {
      const c = s.controller;
      if (!queueEmpty(c)) {
        const chunk = dequeue(c);
        if (c.closeRequested && queueEmpty(c)) { rcClearAlgorithms(c); rsClose(stream); } else rcCallPullIfNeeded(c);
        req.chunk(chunk);
      } else {
        s.reader[S].readRequests.push(req);
        rcCallPullIfNeeded(c);
      }
    }
  }
  function readPromise(reader) {
    const stream = reader[S].stream;
    if (stream === undefined) return Promise.reject(new TypeError('ReadableStreamDefaultReader: the reader has been released'));
    return new Promise((resolve, reject) => rsRead(stream, {
      chunk: (value) => resolve({ value, done: false }),
      close: () => resolve({ value: undefined, done: true }),
      error: reject,
    }));
  }

  function acquireReader(stream) {
    if (isLocked(stream)) throw new TypeError('ReadableStream: the stream is already locked to a reader');
    const reader = Object.create(ReadableStreamDefaultReader.prototype);
    const s = stream[S];
    const closed = s.state === 'readable' ? deferred() : s.state === 'closed' ? resolvedDeferred(undefined) : rejectedDeferred(s.storedError);
    reader[S] = { stream, readRequests: [], closed };
    s.reader = reader;
    return reader;
  }
  function releaseReader(reader) {
    const r = reader[S];
    const stream = r.stream;
    if (stream === undefined) return;
    const e = new TypeError('ReadableStreamDefaultReader: the reader was released');
    if (stream[S].state === 'readable' && !r.closed.settled) { handled(r.closed.promise); r.closed.reject(e); } else r.closed = rejectedDeferred(e);
    const reqs = r.readRequests;
    r.readRequests = [];
    for (const req of reqs) req.error(e);
    stream[S].reader = undefined;
    r.stream = undefined;
  }

  class ReadableStreamDefaultReader {
    constructor(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError('ReadableStreamDefaultReader: the argument must be a ReadableStream');
      const r = acquireReader(stream);
      this[S] = r[S];
      stream[S].reader = this;
    }
    read() { return readPromise(this); }
    releaseLock() { releaseReader(this); }
    cancel(reason) {
      const stream = this[S].stream;
      if (stream === undefined) return Promise.reject(new TypeError('ReadableStreamDefaultReader: the reader has been released'));
      return rsCancel(stream, reason);
    }
    get closed() { return this[S].closed.promise; }
    get [Symbol.toStringTag]() { return 'ReadableStreamDefaultReader'; }
  }

  class ReadableStreamDefaultController {
    constructor() { throw new TypeError('ReadableStreamDefaultController: illegal constructor'); }
    get desiredSize() { return rcDesiredSize(this[S]); }
    enqueue(chunk) {
      const c = this[S];
      if (c.bytes && !ArrayBuffer.isView(chunk)) throw new TypeError("ReadableStream: a 'bytes' stream only takes ArrayBufferView chunks");
      if (!canCloseOrEnqueue(c)) throw new TypeError('ReadableStream: cannot enqueue into a stream that is closed or closing');
      rcEnqueue(c, chunk);
    }
    close() {
      const c = this[S];
      if (!canCloseOrEnqueue(c)) throw new TypeError('ReadableStream: the stream is already closed or closing');
      rcClose(c);
    }
    error(e) { rcError(this[S], e); }
    // Byte streams are served as default streams: there is never a BYOB request.
    get byobRequest() { return null; }
    get [Symbol.toStringTag]() { return 'ReadableStreamDefaultController'; }
  }

  const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);

  class ReadableStream {
    constructor(source, strategy) {
      if (source === undefined || source === null) source = undefined;
      else if (typeof source !== 'object' && typeof source !== 'function') throw new TypeError('ReadableStream: the underlying source must be an object');
      initRS(this);
      const type = source === undefined ? undefined : source.type;
      let dflt = 1;
      if (type !== undefined) {
        if (String(type) !== 'bytes') throw new TypeError(`ReadableStream: invalid type '${type}'`);
        dflt = 0;
      }
      const { hwm, size } = strategyOf(strategy, dflt);
      const start = method(source, 'start'), pull = method(source, 'pull'), cancel = method(source, 'cancel');
      setupRSController(this,
        (c) => (start === undefined ? undefined : start.call(source, c)),
        pull === undefined ? () => RESOLVED : (c) => promiseCall(pull, source, c),
        cancel === undefined ? () => RESOLVED : (r) => promiseCall(cancel, source, r),
        hwm, size, type !== undefined);
    }
    get locked() { return isLocked(this); }
    cancel(reason) {
      if (isLocked(this)) return Promise.reject(new TypeError('ReadableStream: cannot cancel a locked stream'));
      return rsCancel(this, reason);
    }
    getReader(options) {
      if (options !== undefined && options !== null && options.mode !== undefined) {
        if (String(options.mode) === 'byob') throw new TypeError('ReadableStream: BYOB readers are not supported by Wisp');
        throw new TypeError(`ReadableStream: invalid reader mode '${options.mode}'`);
      }
      return acquireReader(this);
    }
    tee() { return teeStream(this); }
    pipeTo(dest, options) {
      if (!(dest instanceof WritableStream)) return Promise.reject(new TypeError('ReadableStream.pipeTo: the destination must be a WritableStream'));
      if (isLocked(this)) return Promise.reject(new TypeError('ReadableStream.pipeTo: the source stream is locked'));
      if (dest[S].writer !== undefined) return Promise.reject(new TypeError('ReadableStream.pipeTo: the destination stream is locked'));
      let o;
      try { o = pipeOptions(options); } catch (e) { return Promise.reject(e); }
      return pipe(this, dest, o);
    }
    pipeThrough(transform, options) {
      if (transform === null || typeof transform !== 'object' || !(transform.readable instanceof ReadableStream) || !(transform.writable instanceof WritableStream)) {
        throw new TypeError('ReadableStream.pipeThrough: expected { readable, writable }');
      }
      if (isLocked(this)) throw new TypeError('ReadableStream.pipeThrough: the source stream is locked');
      if (transform.writable[S].writer !== undefined) throw new TypeError('ReadableStream.pipeThrough: the writable side is locked');
      handled(pipe(this, transform.writable, pipeOptions(options)));
      return transform.readable;
    }
    values(options) {
      const reader = acquireReader(this);
      const preventCancel = !!(options && options.preventCancel);
      let finished = false, ongoing = null;
      const it = Object.create(AsyncIteratorPrototype);
      const step = () => {
        if (finished) return Promise.resolve({ value: undefined, done: true });
        return readPromise(reader).then((r) => {
          if (r.done) { finished = true; releaseReader(reader); }
          return r;
        }, (e) => { finished = true; releaseReader(reader); throw e; });
      };
      const ret = (value) => {
        if (finished) return Promise.resolve({ value, done: true });
        finished = true;
        if (!preventCancel) {
          const p = reader[S].stream === undefined ? RESOLVED : rsCancel(reader[S].stream, value);
          releaseReader(reader);
          return p.then(() => ({ value, done: true }));
        }
        releaseReader(reader);
        return Promise.resolve({ value, done: true });
      };
      define(it, 'next', () => (ongoing = ongoing ? ongoing.then(step, step) : step()));
      define(it, 'return', (value) => (ongoing = ongoing ? ongoing.then(() => ret(value), () => ret(value)) : ret(value)));
      return it;
    }
    static from(asyncIterable) {
      if (asyncIterable instanceof ReadableStream) return asyncIterable;
      let iterator, isSync = false;
      const ai = asyncIterable !== null && asyncIterable !== undefined ? asyncIterable[Symbol.asyncIterator] : undefined;
      if (typeof ai === 'function') iterator = ai.call(asyncIterable);
      else {
        const si = asyncIterable !== null && asyncIterable !== undefined ? asyncIterable[Symbol.iterator] : undefined;
        if (typeof si !== 'function') throw new TypeError('ReadableStream.from: the argument must be iterable or async iterable');
        iterator = si.call(asyncIterable);
        isSync = true;
      }
      if (iterator === null || typeof iterator !== 'object') throw new TypeError('ReadableStream.from: the iterator is not an object');
      const next = iterator.next;
      return createRS(noop, async (controller) => {
        const r = await next.call(iterator);
        if (r === null || typeof r !== 'object') throw new TypeError('ReadableStream.from: the iterator result is not an object');
        if (r.done) { controller.close(); return; }
        controller.enqueue(isSync ? await r.value : r.value);
      }, async (reason) => {
        const ret = iterator.return;
        if (typeof ret !== 'function') return;
        const r = await ret.call(iterator, reason);
        if (r === null || typeof r !== 'object') throw new TypeError('ReadableStream.from: the iterator result is not an object');
      }, 0);
    }
    get [Symbol.toStringTag]() { return 'ReadableStream'; }
  }

  // The standard makes them the same function.
  Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, { value: ReadableStream.prototype.values, writable: true, configurable: true });

  function teeStream(stream) {
    const reader = acquireReader(stream);
    let reading = false, readAgain = false, canceled1 = false, canceled2 = false, reason1, reason2;
    let c1, c2;
    const cancelPromise = deferred();
    function pullAlgo() {
      if (reading) { readAgain = true; return RESOLVED; }
      reading = true;
      rsRead(stream, {
        chunk(value) {
          // As the standard does, deliver after a microtask so that a read error settles first.
          queueMicrotask(() => {
            readAgain = false;
            if (!canceled1) rcEnqueue(c1, value);
            if (!canceled2) rcEnqueue(c2, value);
            reading = false;
            if (readAgain) pullAlgo();
          });
        },
        close() {
          reading = false;
          if (!canceled1) rcClose(c1);
          if (!canceled2) rcClose(c2);
          if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
        },
        error() { reading = false; },
      });
      return RESOLVED;
    }
    const cancel = (which) => (reason) => {
      if (which === 1) { canceled1 = true; reason1 = reason; } else { canceled2 = true; reason2 = reason; }
      if (canceled1 && canceled2) cancelPromise.resolve(rsCancel(stream, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const b1 = createRS(noop, pullAlgo, cancel(1));
    const b2 = createRS(noop, pullAlgo, cancel(2));
    c1 = b1[S].controller; c2 = b2[S].controller;
    reader[S].closed.promise.then(undefined, (e) => {
      rcError(c1, e); rcError(c2, e);
      if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
    });
    return [b1, b2];
  }

  function pipeOptions(options) {
    if (options === undefined || options === null) return { preventClose: false, preventAbort: false, preventCancel: false, signal: undefined };
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError("pipeTo: 'signal' must be an AbortSignal");
    return { preventClose: !!options.preventClose, preventAbort: !!options.preventAbort, preventCancel: !!options.preventCancel, signal };
  }

  function pipe(source, dest, { preventClose, preventAbort, preventCancel, signal }) {
    const reader = acquireReader(source);
    const writer = acquireWriter(dest);
    source[S].disturbed = true;
    const done = deferred();
    let shuttingDown = false;
    let currentWrite = RESOLVED;
    const ws = dest[S];

    function finalize(isError, error) {
      releaseWriter(writer);
      releaseReader(reader);
      if (isError) done.reject(error); else done.resolve(undefined);
    }
    function shutdown(action, isError, error) {
      if (shuttingDown) return;
      shuttingDown = true;
      const go = () => {
        if (!action) { finalize(isError, error); return; }
        action().then(() => finalize(isError, error), (e) => finalize(true, e));
      };
      if (ws.state === 'writable' && !closeQueuedOrInFlight(dest)) currentWrite.then(go, go); else go();
    }

    if (signal !== undefined) {
      const abortAlgo = () => {
        const error = signal.reason;
        const actions = [];
        if (!preventAbort) actions.push(() => (ws.state === 'writable' ? wsAbort(dest, error) : RESOLVED));
        if (!preventCancel) actions.push(() => (source[S].state === 'readable' ? rsCancel(source, error) : RESOLVED));
        shutdown(() => Promise.all(actions.map((a) => a())), true, error);
      };
      if (signal.aborted) { abortAlgo(); return done.promise; }
      internal.events.onAbort(signal, abortAlgo);
    }

    function onSourceErrored(e) {
      if (!preventAbort) shutdown(() => wsAbort(dest, e), true, e); else shutdown(null, true, e);
    }
    function onDestErrored(e) {
      if (!preventCancel) shutdown(() => rsCancel(source, e), true, e); else shutdown(null, true, e);
    }
    function onSourceClosed() {
      if (!preventClose) shutdown(() => writerCloseWithErrorPropagation(writer), false); else shutdown(null, false);
    }
    function onDestClosed() {
      const e = new TypeError('pipeTo: the destination stream closed');
      if (!preventCancel) shutdown(() => rsCancel(source, e), true, e); else shutdown(null, true, e);
    }

    // The conditions that hold already, in the order the standard checks them.
    if (source[S].state === 'errored') onSourceErrored(source[S].storedError);
    else if (ws.state === 'errored' || ws.state === 'erroring') onDestErrored(ws.storedError);
    else if (source[S].state === 'closed') onSourceClosed();
    else if (closeQueuedOrInFlight(dest) || ws.state === 'closed') onDestClosed();
    if (shuttingDown) return done.promise;

    reader[S].closed.promise.then(() => { if (!shuttingDown) onSourceClosed(); }, (e) => { if (!shuttingDown) onSourceErrored(e); });
    writer[S].closed.promise.then(undefined, (e) => { if (!shuttingDown) onDestErrored(e); });

    (async () => {
      while (!shuttingDown) {
        await writer[S].ready.promise;
        if (shuttingDown) break;
        let ended = false;
        // The chunk is written at once, inside the read: reading a closing stream's last chunk
        // closes it first, and the shutdown that follows must find this write to wait for
        // (as the standard's read request chunk steps do), not drop the chunk.
        await new Promise((resolve) => rsRead(source, {
          chunk(v) { currentWrite = handled(writerWrite(writer, v)); resolve(); },
          close() { ended = true; resolve(); },
          error() { ended = true; resolve(); },
        }));
        if (ended || shuttingDown) break;
      }
    })().then(undefined, noop);
    return done.promise;
  }

  // ---------------------------------------------------------------- WritableStream

  const CLOSE = Symbol('close');

  function initWS(stream) {
    stream[S] = {
      state: 'writable', storedError: undefined, writer: undefined, controller: undefined, writeRequests: [],
      inFlightWrite: undefined, closeRequest: undefined, inFlightClose: undefined, pendingAbort: undefined, backpressure: false,
    };
  }
  function setupWSController(stream, startAlgo, writeAlgo, closeAlgo, abortAlgo, hwm, size) {
    const controller = Object.create(WritableStreamDefaultController.prototype);
    const c = { stream, queue: [], head: 0, queueTotalSize: 0, started: false, hwm, size, writeAlgo, closeAlgo, abortAlgo, abortController: new AbortController() };
    controller[S] = c;
    c.self = controller;
    stream[S].controller = c;
    updateBackpressure(stream, wcDesiredSize(c) <= 0);
    const startResult = startAlgo(controller);
    Promise.resolve(startResult).then(() => { c.started = true; wcAdvanceQueueIfNeeded(c); },
      (r) => { c.started = true; dealWithRejection(stream, r); });
    return c;
  }
  function createWS(startAlgo, writeAlgo, closeAlgo, abortAlgo, hwm = 1, size = undefined) {
    const stream = Object.create(WritableStream.prototype);
    initWS(stream);
    setupWSController(stream, startAlgo, writeAlgo, closeAlgo, abortAlgo, hwm, size);
    return stream;
  }
  const closeQueuedOrInFlight = (stream) => stream[S].closeRequest !== undefined || stream[S].inFlightClose !== undefined;
  const hasOperationInFlight = (stream) => stream[S].inFlightWrite !== undefined || stream[S].inFlightClose !== undefined;

  function wsAbort(stream, reason) {
    const s = stream[S];
    if (s.state === 'closed' || s.state === 'errored') return RESOLVED;
    s.controller.abortController.abort(reason);
    if (s.state === 'closed' || s.state === 'errored') return RESOLVED;
    if (s.pendingAbort !== undefined) return s.pendingAbort.d.promise;
    const wasAlreadyErroring = s.state === 'erroring';
    if (wasAlreadyErroring) reason = undefined;
    const d = deferred();
    s.pendingAbort = { d, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) startErroring(stream, reason);
    return d.promise;
  }
  function wsClose(stream) {
    const s = stream[S];
    if (s.state === 'closed' || s.state === 'errored') return Promise.reject(new TypeError('WritableStream: the stream is already closed or errored'));
    const d = deferred();
    s.closeRequest = d;
    if (s.writer !== undefined && s.backpressure && s.state === 'writable') s.writer[S].ready.resolve(undefined);
    const c = s.controller;
    c.queue.push(CLOSE, 0);
    wcAdvanceQueueIfNeeded(c);
    return d.promise;
  }
  function dealWithRejection(stream, error) {
    if (stream[S].state === 'writable') startErroring(stream, error); else finishErroring(stream);
  }
  function startErroring(stream, reason) {
    const s = stream[S];
    s.state = 'erroring';
    s.storedError = reason;
    if (s.writer !== undefined) writerEnsureReadyRejected(s.writer, reason);
    if (!hasOperationInFlight(stream) && s.controller.started) finishErroring(stream);
  }
  function finishErroring(stream) {
    const s = stream[S];
    s.state = 'errored';
    resetQueue(s.controller);
    const err = s.storedError;
    const reqs = s.writeRequests;
    s.writeRequests = [];
    for (const r of reqs) r.reject(err);
    const abort = s.pendingAbort;
    if (abort === undefined) { rejectCloseAndClosed(stream); return; }
    s.pendingAbort = undefined;
    if (abort.wasAlreadyErroring) { abort.d.reject(err); rejectCloseAndClosed(stream); return; }
    const algo = s.controller.abortAlgo;
    wcClearAlgorithms(s.controller);
    algo(abort.reason).then(() => { abort.d.resolve(undefined); rejectCloseAndClosed(stream); },
      (r) => { abort.d.reject(r); rejectCloseAndClosed(stream); });
  }
  function rejectCloseAndClosed(stream) {
    const s = stream[S];
    if (s.closeRequest !== undefined) { s.closeRequest.reject(s.storedError); s.closeRequest = undefined; }
    if (s.writer !== undefined) { const w = s.writer[S]; handled(w.closed.promise); w.closed.reject(s.storedError); }
  }
  function updateBackpressure(stream, bp) {
    const s = stream[S];
    if (s.writer !== undefined && bp !== s.backpressure) {
      const w = s.writer[S];
      if (bp) w.ready = deferred(); else w.ready.resolve(undefined);
    }
    s.backpressure = bp;
  }

  function wcDesiredSize(c) { return c.hwm - c.queueTotalSize; }
  function wcClearAlgorithms(c) { c.writeAlgo = undefined; c.closeAlgo = undefined; c.abortAlgo = undefined; c.size = undefined; }
  function wcErrorIfNeeded(c, e) { if (c.stream[S].state === 'writable') wcError(c, e); }
  function wcError(c, e) { wcClearAlgorithms(c); startErroring(c.stream, e); }
  function wcAdvanceQueueIfNeeded(c) {
    const stream = c.stream, s = stream[S];
    if (!c.started || s.inFlightWrite !== undefined) return;
    if (s.state === 'erroring') { finishErroring(stream); return; }
    if (queueEmpty(c)) return;
    const value = c.queue[c.head];
    if (value === CLOSE) {
      s.inFlightClose = s.closeRequest;
      s.closeRequest = undefined;
      dequeue(c);
      const algo = c.closeAlgo;
      wcClearAlgorithms(c);
      algo().then(() => {
        s.inFlightClose.resolve(undefined);
        s.inFlightClose = undefined;
        if (s.state === 'erroring') {
          s.storedError = undefined;
          if (s.pendingAbort !== undefined) { s.pendingAbort.d.resolve(undefined); s.pendingAbort = undefined; }
        }
        s.state = 'closed';
        if (s.writer !== undefined) s.writer[S].closed.resolve(undefined);
      }, (e) => {
        s.inFlightClose.reject(e);
        s.inFlightClose = undefined;
        if (s.pendingAbort !== undefined) { s.pendingAbort.d.reject(e); s.pendingAbort = undefined; }
        dealWithRejection(stream, e);
      });
    } else {
      s.inFlightWrite = s.writeRequests.shift();
      c.writeAlgo(value).then(() => {
        s.inFlightWrite.resolve(undefined);
        s.inFlightWrite = undefined;
        dequeue(c);
        if (!closeQueuedOrInFlight(stream) && s.state === 'writable') updateBackpressure(stream, wcDesiredSize(c) <= 0);
        wcAdvanceQueueIfNeeded(c);
      }, (e) => {
        if (s.state === 'writable') wcClearAlgorithms(c);
        s.inFlightWrite.reject(e);
        s.inFlightWrite = undefined;
        dealWithRejection(stream, e);
      });
    }
  }

  function acquireWriter(stream) {
    const s = stream[S];
    if (s.writer !== undefined) throw new TypeError('WritableStream: the stream is already locked to a writer');
    const writer = Object.create(WritableStreamDefaultWriter.prototype);
    let ready, closed;
    if (s.state === 'writable') {
      ready = !closeQueuedOrInFlight(stream) && s.backpressure ? deferred() : resolvedDeferred(undefined);
      closed = deferred();
    } else if (s.state === 'erroring') {
      ready = rejectedDeferred(s.storedError);
      closed = deferred();
    } else if (s.state === 'closed') {
      ready = resolvedDeferred(undefined);
      closed = resolvedDeferred(undefined);
    } else {
      ready = rejectedDeferred(s.storedError);
      closed = rejectedDeferred(s.storedError);
    }
    writer[S] = { stream, ready, closed };
    s.writer = writer;
    return writer;
  }
  function writerEnsureReadyRejected(writer, e) {
    const w = writer[S];
    if (!w.ready.settled) { handled(w.ready.promise); w.ready.reject(e); } else w.ready = rejectedDeferred(e);
  }
  function releaseWriter(writer) {
    const w = writer[S];
    const stream = w.stream;
    if (stream === undefined) return;
    const e = new TypeError('WritableStreamDefaultWriter: the writer was released');
    writerEnsureReadyRejected(writer, e);
    if (!w.closed.settled) { handled(w.closed.promise); w.closed.reject(e); } else w.closed = rejectedDeferred(e);
    stream[S].writer = undefined;
    w.stream = undefined;
  }
  function writerWrite(writer, chunk) {
    const stream = writer[S].stream;
    if (stream === undefined) return Promise.reject(new TypeError('WritableStreamDefaultWriter: the writer has been released'));
    const s = stream[S], c = s.controller;
    let size = 1;
    if (c.size !== undefined) {
      try { size = c.size(chunk); } catch (e) { wcErrorIfNeeded(c, e); size = 1; }
    }
    if (s.state === 'errored' || s.state === 'erroring') return Promise.reject(s.storedError);
    if (closeQueuedOrInFlight(stream) || s.state === 'closed') return Promise.reject(new TypeError('WritableStream: cannot write to a stream that is closed or closing'));
    const d = deferred();
    s.writeRequests.push(d);
    try { enqueueWithSize(c, chunk, size); } catch (e) { wcErrorIfNeeded(c, e); return d.promise; }
    if (!closeQueuedOrInFlight(stream) && s.state === 'writable') updateBackpressure(stream, wcDesiredSize(c) <= 0);
    wcAdvanceQueueIfNeeded(c);
    return d.promise;
  }
  function writerCloseWithErrorPropagation(writer) {
    const stream = writer[S].stream;
    const s = stream[S];
    if (closeQueuedOrInFlight(stream) || s.state === 'closed') return RESOLVED;
    if (s.state === 'errored') return Promise.reject(s.storedError);
    return wsClose(stream);
  }

  class WritableStreamDefaultWriter {
    constructor(stream) {
      if (!(stream instanceof WritableStream)) throw new TypeError('WritableStreamDefaultWriter: the argument must be a WritableStream');
      const w = acquireWriter(stream);
      this[S] = w[S];
      stream[S].writer = this;
    }
    get closed() { return this[S].closed.promise; }
    get ready() { return this[S].ready.promise; }
    get desiredSize() {
      const stream = this[S].stream;
      if (stream === undefined) throw new TypeError('WritableStreamDefaultWriter: the writer has been released');
      const st = stream[S].state;
      return st === 'errored' || st === 'erroring' ? null : st === 'closed' ? 0 : wcDesiredSize(stream[S].controller);
    }
    abort(reason) {
      const stream = this[S].stream;
      if (stream === undefined) return Promise.reject(new TypeError('WritableStreamDefaultWriter: the writer has been released'));
      return wsAbort(stream, reason);
    }
    close() {
      const stream = this[S].stream;
      if (stream === undefined) return Promise.reject(new TypeError('WritableStreamDefaultWriter: the writer has been released'));
      if (closeQueuedOrInFlight(stream)) return Promise.reject(new TypeError('WritableStream: the stream is already closing'));
      return wsClose(stream);
    }
    releaseLock() { releaseWriter(this); }
    write(chunk) { return writerWrite(this, chunk); }
    get [Symbol.toStringTag]() { return 'WritableStreamDefaultWriter'; }
  }

  class WritableStreamDefaultController {
    constructor() { throw new TypeError('WritableStreamDefaultController: illegal constructor'); }
    get signal() { return this[S].abortController.signal; }
    error(e) { const c = this[S]; if (c.stream[S].state === 'writable') wcError(c, e); }
    get [Symbol.toStringTag]() { return 'WritableStreamDefaultController'; }
  }

  class WritableStream {
    constructor(sink, strategy) {
      if (sink === undefined || sink === null) sink = undefined;
      else if (typeof sink !== 'object' && typeof sink !== 'function') throw new TypeError('WritableStream: the underlying sink must be an object');
      if (sink !== undefined && sink.type !== undefined) throw new RangeError('WritableStream: invalid type');
      initWS(this);
      const { hwm, size } = strategyOf(strategy, 1);
      const start = method(sink, 'start'), write = method(sink, 'write'), close = method(sink, 'close'), abort = method(sink, 'abort');
      setupWSController(this,
        (c) => (start === undefined ? undefined : start.call(sink, c)),
        write === undefined ? () => RESOLVED : (chunk) => { try { return Promise.resolve(write.call(sink, chunk, this[S].controller.self)); } catch (e) { return Promise.reject(e); } },
        close === undefined ? () => RESOLVED : () => promiseCall(close, sink),
        abort === undefined ? () => RESOLVED : (r) => promiseCall(abort, sink, r),
        hwm, size);
    }
    get locked() { return this[S].writer !== undefined; }
    abort(reason) {
      if (this[S].writer !== undefined) return Promise.reject(new TypeError('WritableStream: cannot abort a locked stream'));
      return wsAbort(this, reason);
    }
    close() {
      if (this[S].writer !== undefined) return Promise.reject(new TypeError('WritableStream: cannot close a locked stream'));
      if (closeQueuedOrInFlight(this)) return Promise.reject(new TypeError('WritableStream: the stream is already closing'));
      return wsClose(this);
    }
    getWriter() { return acquireWriter(this); }
    get [Symbol.toStringTag]() { return 'WritableStream'; }
  }

  // ---------------------------------------------------------------- TransformStream

  function tsSetBackpressure(t, bp) {
    if (t.backpressureChange !== undefined) t.backpressureChange.resolve(undefined);
    t.backpressureChange = deferred();
    t.backpressure = bp;
  }
  function tsErrorWritableAndUnblockWrite(t, e) {
    t.transformAlgo = undefined; t.flushAlgo = undefined; t.cancelAlgo = undefined;
    wcErrorIfNeeded(t.writable[S].controller, e);
    if (t.backpressure) tsSetBackpressure(t, false);
  }
  function tsError(t, e) {
    rcError(t.readable[S].controller, e);
    tsErrorWritableAndUnblockWrite(t, e);
  }
  function tsEnqueue(t, chunk) {
    const rc = t.readable[S].controller;
    if (!canCloseOrEnqueue(rc)) throw new TypeError('TransformStream: the readable side is closed or errored');
    try { rcEnqueue(rc, chunk); } catch (e) { tsErrorWritableAndUnblockWrite(t, e); throw t.readable[S].storedError; }
    const bp = !rcShouldCallPull(rc);
    if (bp !== t.backpressure) tsSetBackpressure(t, true);
  }

  class TransformStreamDefaultController {
    constructor() { throw new TypeError('TransformStreamDefaultController: illegal constructor'); }
    get desiredSize() { return rcDesiredSize(this[S].readable[S].controller); }
    enqueue(chunk) { tsEnqueue(this[S], chunk); }
    error(e) { tsError(this[S], e); }
    terminate() {
      const t = this[S];
      rcClose(t.readable[S].controller);
      tsErrorWritableAndUnblockWrite(t, new TypeError('TransformStream: terminated'));
    }
    get [Symbol.toStringTag]() { return 'TransformStreamDefaultController'; }
  }

  class TransformStream {
    constructor(transformer, writableStrategy, readableStrategy) {
      if (transformer === undefined || transformer === null) transformer = undefined;
      if (transformer !== undefined && (transformer.readableType !== undefined || transformer.writableType !== undefined)) {
        throw new RangeError('TransformStream: readableType and writableType are not supported');
      }
      const w = strategyOf(writableStrategy, 1), r = strategyOf(readableStrategy, 0);
      const start = method(transformer, 'start'), transform = method(transformer, 'transform'),
        flush = method(transformer, 'flush'), cancel = method(transformer, 'cancel');
      const controller = Object.create(TransformStreamDefaultController.prototype);
      const t = { readable: undefined, writable: undefined, backpressure: undefined, backpressureChange: undefined, controller,
        transformAlgo: undefined, flushAlgo: undefined, cancelAlgo: undefined };
      controller[S] = t;
      this[S] = t;
      const startPromise = deferred();
      t.transformAlgo = transform === undefined
        ? (chunk) => { try { tsEnqueue(t, chunk); return RESOLVED; } catch (e) { return Promise.reject(e); } }
        : (chunk) => { try { return Promise.resolve(transform.call(transformer, chunk, controller)); } catch (e) { return Promise.reject(e); } };
      t.flushAlgo = flush === undefined ? () => RESOLVED : () => promiseCall(flush, transformer, controller);
      t.cancelAlgo = cancel === undefined ? () => RESOLVED : (reason) => promiseCall(cancel, transformer, reason);
      const performTransform = (chunk) => t.transformAlgo(chunk).then(undefined, (e) => { tsError(t, e); throw e; });
      t.writable = createWS(() => startPromise.promise,
        (chunk) => {
          if (t.backpressure) {
            return t.backpressureChange.promise.then(() => {
              const ws = t.writable[S];
              if (ws.state === 'erroring') throw ws.storedError;
              return performTransform(chunk);
            });
          }
          return performTransform(chunk);
        },
        () => {
          const flushAlgo = t.flushAlgo || (() => RESOLVED);
          t.transformAlgo = undefined; t.flushAlgo = undefined;
          return flushAlgo().then(() => {
            const rs = t.readable[S];
            if (rs.state === 'errored') throw rs.storedError;
            rcClose(rs.controller);
          }, (e) => { tsError(t, e); throw t.readable[S].storedError; });
        },
        (reason) => {
          const cancelAlgo = t.cancelAlgo || (() => RESOLVED);
          t.transformAlgo = undefined; t.flushAlgo = undefined; t.cancelAlgo = undefined;
          return cancelAlgo(reason).then(() => {
            const rs = t.readable[S];
            if (rs.state === 'errored') throw rs.storedError;
            rcError(rs.controller, reason);
          }, (e) => { rcError(t.readable[S].controller, e); throw e; });
        },
        w.hwm, w.size);
      t.readable = createRS(() => startPromise.promise,
        () => { tsSetBackpressure(t, false); return t.backpressureChange.promise; },
        (reason) => {
          const cancelAlgo = t.cancelAlgo || (() => RESOLVED);
          t.transformAlgo = undefined; t.flushAlgo = undefined; t.cancelAlgo = undefined;
          return cancelAlgo(reason).then(() => {
            tsErrorWritableAndUnblockWrite(t, reason);
          }, (e) => { tsErrorWritableAndUnblockWrite(t, e); throw e; });
        },
        r.hwm, r.size);
      tsSetBackpressure(t, true);
      try { startPromise.resolve(start === undefined ? undefined : start.call(transformer, controller)); } catch (e) { startPromise.reject(e); throw e; }
    }
    get readable() { return this[S].readable; }
    get writable() { return this[S].writable; }
    get [Symbol.toStringTag]() { return 'TransformStream'; }
  }

  // ---------------------------------------------------------------- strategies, text streams

  const HWM = Symbol('hwm');
  function strategyInit(init, label) {
    if (init === null || typeof init !== 'object' || init.highWaterMark === undefined) throw new TypeError(`${label}: highWaterMark is required`);
    return Number(init.highWaterMark);
  }
  const countSize = function size() { return 1; };
  const byteSize = function size(chunk) { return chunk.byteLength; };
  class CountQueuingStrategy {
    constructor(init) { this[HWM] = strategyInit(init, 'CountQueuingStrategy'); }
    get highWaterMark() { return this[HWM]; }
    get size() { return countSize; }
    get [Symbol.toStringTag]() { return 'CountQueuingStrategy'; }
  }
  class ByteLengthQueuingStrategy {
    constructor(init) { this[HWM] = strategyInit(init, 'ByteLengthQueuingStrategy'); }
    get highWaterMark() { return this[HWM]; }
    get size() { return byteSize; }
    get [Symbol.toStringTag]() { return 'ByteLengthQueuingStrategy'; }
  }

  const TS = Symbol('transform');
  class TextEncoderStream {
    constructor() {
      const encoder = new TextEncoder();
      let pending = '';
      this[TS] = new TransformStream({
        transform(chunk, c) {
          let s = pending + String(chunk);
          pending = '';
          // A high surrogate at the end may be completed by the next chunk.
          const last = s.charCodeAt(s.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) { pending = s[s.length - 1]; s = s.slice(0, -1); }
          if (s.length) c.enqueue(encoder.encode(s));
        },
        flush(c) { if (pending) c.enqueue(new Uint8Array([0xef, 0xbf, 0xbd])); },
      });
    }
    get encoding() { return 'utf-8'; }
    get readable() { return this[TS].readable; }
    get writable() { return this[TS].writable; }
    get [Symbol.toStringTag]() { return 'TextEncoderStream'; }
  }
  class TextDecoderStream {
    constructor(label = 'utf-8', options = {}) {
      const decoder = new TextDecoder(label, options);
      this[HWM] = decoder;
      this[TS] = new TransformStream({
        transform(chunk, c) {
          if (!(chunk instanceof ArrayBuffer) && !ArrayBuffer.isView(chunk)) throw new TypeError('TextDecoderStream: chunks must be ArrayBuffer or ArrayBufferView');
          const s = decoder.decode(chunk, { stream: true });
          if (s.length) c.enqueue(s);
        },
        flush(c) { const s = decoder.decode(); if (s.length) c.enqueue(s); },
      });
    }
    get encoding() { return this[HWM].encoding; }
    get fatal() { return this[HWM].fatal; }
    get ignoreBOM() { return this[HWM].ignoreBOM; }
    get readable() { return this[TS].readable; }
    get writable() { return this[TS].writable; }
    get [Symbol.toStringTag]() { return 'TextDecoderStream'; }
  }

  for (const [name, value] of Object.entries({
    ReadableStream, ReadableStreamDefaultReader, ReadableStreamDefaultController, WritableStream,
    WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
    CountQueuingStrategy, ByteLengthQueuingStrategy, TextEncoderStream, TextDecoderStream,
  })) define(globalThis, name, value);

  // For the bodies (50-body.js): a stream over bytes in memory, the stream's state, and
  // callback-style reads without a promise per chunk.
  internal.streams = {
    createBufferedRS,
    lazyBufferedRS,
    createRS,
    isLocked,
    isDisturbed: (stream) => stream[S].disturbed,
    acquireReader,
    releaseReader,
    read: rsRead,
    cancel: rsCancel,
  };
})();
