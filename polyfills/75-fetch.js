// fetch(): outbound HTTP, performed by the host (runtime/host/src/outbound.rs) through the
// natives in runtime/engine/src/fetch.rs. The host checks the function's allowlist
// ([net] allow / --allow-net), follows redirects per the Fetch standard, and enforces the
// timeout, the response size cap and the per-request subrequest budget; any refusal or network
// failure rejects with a TypeError whose message says why.
//
// A fetch runs in the host's background while JS goes on: several run at once
// (`Promise.all([fetch(a), fetch(b)])` takes as long as the slower one). The event loop collects
// them when it has nothing else to do (`timers.collect`, called by event_loop.rs `drive`). An
// AbortSignal that fires meanwhile rejects the fetch at once and drops its connection.
//
// The response body streams: what arrived with the head comes with it (all of it for a small
// body), and the rest is a ReadableStream that asks the host for each next piece only when it
// is read (`fetchRead`; the piece comes back through the same `collect`), so a function can pass
// a large or endless upstream body to its client without holding it. Cancelling that stream,
// or the request's AbortSignal firing, closes the upstream connection. The incoming request's
// body, when it had not all arrived before the handler ran, is the same kind of stream
// (`internal.streamedBody`, used by 90-dispatch.js).
//
// A request body given as a ReadableStream (the incoming request's, say) is sent as it is
// produced: each chunk goes to the host with `fetchSend`, and the next is read only once the
// host says (through the same `collect`) that the upstream took it, so a slow upstream slows
// the reading of the source without holding up the rest of the function. Any other body is
// sent in one piece.
(function () {
  const internal = globalThis.__wisp;
  const { native, define, brand } = internal;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);
  const RESPONSE = 0, FAILED = 1, PIECE = 2, SENT = 3;
  // id -> { resolve, reject, method, onAbort, signal }: fetches waiting for their response.
  const running = new Map();
  // id -> (kind, payload) => void: streamed bodies waiting for their next piece.
  const reading = new Map();
  // id -> (error message | null) => void: request bodies waiting for a piece to go upstream.
  const sending = new Map();

  // Drops fetch `id` in the host, and fails what waits on it: a request body's pending send,
  // and a response body's pending read (with `reason`, a message).
  function cancel(id, reason = 'fetch: cancelled') {
    native.fetchCancel(id);
    const sender = sending.get(id);
    if (sender !== undefined) { sending.delete(id); sender(reason); }
    const reader = reading.get(id);
    if (reader !== undefined) { reading.delete(id); reader(FAILED, reason); }
  }

  function settle(id, kind, payload) {
    if (kind === SENT) {
      const sender = sending.get(id);
      if (sender !== undefined) { sending.delete(id); sender(payload); }
      return;
    }
    const reader = reading.get(id);
    if (reader !== undefined) {
      reading.delete(id);
      reader(kind, payload);
      return;
    }
    const f = running.get(id);
    if (f === undefined) return; // aborted meanwhile
    running.delete(id);
    if (kind === FAILED) {
      if (f.signal) f.signal.removeEventListener('abort', f.onAbort);
      f.reject(new TypeError(payload));
      return;
    }
    const [status, statusText, url, redirected, headers, bytes, more] = payload;
    const pairs = [];
    for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
    const nullBody = NULL_BODY.has(status) || f.method === 'HEAD';
    let body = nullBody ? null : bytes;
    if (more && !nullBody) {
      body = streamedBody(id, bytes, f.signal, f.onAbort);
    } else {
      if (more) cancel(id);
      if (f.signal) f.signal.removeEventListener('abort', f.onAbort);
    }
    let response;
    try {
      response = new Response(body, { status, statusText, headers: pairs });
    } catch (e) { f.reject(e); return; }
    internal.setResponseExtras(response[brand], { type: 'basic', url, redirected });
    f.resolve(response);
  }

  // The rest of a body, pulled from the host piece by piece as it is read (highWaterMark 0:
  // nothing is asked for before someone reads).
  function streamedBody(id, first, signal, onFetchAbort) {
    let controller = null;
    let done = false;
    let held = first.length > 0 ? first : null;
    const finish = () => {
      done = true;
      reading.delete(id);
      if (signal) {
        signal.removeEventListener('abort', onFetchAbort);
        signal.removeEventListener('abort', onAbort);
      }
    };
    // After the response, an abort errors the body (as the Fetch standard says) and drops
    // the connection.
    const onAbort = () => {
      if (done) return;
      const pending = reading.get(id);
      finish();
      cancel(id);
      controller.error(signal.reason);
      if (pending) pending(FAILED, null);
    };
    if (signal) {
      signal.removeEventListener('abort', onFetchAbort);
      signal.addEventListener('abort', onAbort);
    }
    return new ReadableStream({
      start(c) { controller = c; },
      pull(c) {
        if (held !== null) { c.enqueue(held); held = null; return; }
        if (done) return;
        return new Promise((resolve, reject) => {
          reading.set(id, (kind, payload) => {
            if (done) { resolve(); return; } // aborted: the stream is errored already
            if (kind === FAILED) { finish(); reject(new TypeError(payload)); return; }
            if (payload === null) { finish(); c.close(); } else c.enqueue(payload);
            resolve();
          });
          try { native.fetchRead(id); } catch (e) { reading.delete(id); finish(); reject(e); }
        });
      },
      cancel() {
        if (done) return;
        finish();
        cancel(id);
      },
    }, { highWaterMark: 0 });
  }

  internal.streamedBody = (id, first) => streamedBody(id, first, null, null);

  // Sends a ReadableStream request body to fetch `id` chunk by chunk, each once the host has
  // queued the previous one for the upstream. If the stream fails, the fetch fails with its
  // error (before the response: the promise rejects; after: the response body errors), and
  // the upstream sees the body cut off; if the fetch stops taking the body (it failed, was
  // aborted or redirected without it, or the upstream answered and stopped reading), the
  // stream is cancelled. The fetch's AbortSignal stops the upload even after the response.
  async function sendBody(id, reader, signal) {
    const onAbort = () => cancel(id, 'fetch: aborted');
    if (signal) signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.next();
        } catch (e) {
          const f = running.get(id);
          cancel(id, `fetch: the request body failed: ${e && e.message}`);
          if (f !== undefined) {
            running.delete(id);
            if (f.signal) f.signal.removeEventListener('abort', f.onAbort);
            f.reject(e);
          }
          return;
        }
        const failed = await new Promise((resolve) => {
          sending.set(id, resolve);
          try { native.fetchSend(id, chunk); } catch (e) { sending.delete(id); resolve(e.message); }
        });
        if (failed !== null) { reader.cancel().catch(() => {}); return; }
        if (chunk === null) return;
      }
    } finally {
      if (signal) signal.removeEventListener('abort', onAbort);
    }
  }

  internal.timers.collect = (timeoutMs) => {
    const done = native.fetchWait(timeoutMs);
    if (done === null) return false;
    settle(done[0], done[1], done[2]);
    return true;
  };

  async function fetch(input, init = undefined) {
    const request = new Request(input, init);
    const signal = request.signal;
    if (signal && signal.aborted) throw signal.reason;
    const flat = [];
    for (const [name, value] of request.headers) flat.push(name, value);
    let body = null, reader = null;
    const held = internal.bodyOf(request[brand]);
    if (held.source !== null && request.method !== 'GET' && request.method !== 'HEAD') {
      if (held.source instanceof ReadableStream) {
        if (held.disturbed || held.locked) throw new TypeError('fetch: the request body has already been used');
        held.used = true;
        reader = internal.bodyReader(held.source);
      } else {
        body = new Uint8Array(await request.arrayBuffer());
      }
    }
    if (signal && signal.aborted) throw signal.reason;
    let id;
    try {
      id = native.fetchStart(request.method, request.url, flat, body, request.redirect, reader !== null);
    } catch (e) {
      if (reader !== null) reader.cancel(e).catch(() => {});
      throw e;
    }
    if (reader !== null) sendBody(id, reader, signal);
    return new Promise((resolve, reject) => {
      const f = { resolve, reject, method: request.method, signal, onAbort: null };
      if (signal) {
        f.onAbort = () => {
          if (!running.delete(id)) return;
          cancel(id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', f.onAbort);
      }
      running.set(id, f);
    });
  }

  define(globalThis, 'fetch', fetch);
})();
