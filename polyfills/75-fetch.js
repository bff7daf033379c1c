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
// or the request's AbortSignal firing, closes the upstream connection. Request bodies are
// buffered before they are sent.
(function () {
  const internal = globalThis.__wisp;
  const { native, define, brand } = internal;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);
  const RESPONSE = 0, FAILED = 1, PIECE = 2;
  // id -> { resolve, reject, method, onAbort, signal }: fetches waiting for their response.
  const running = new Map();
  // id -> (kind, payload) => void: streamed bodies waiting for their next piece.
  const reading = new Map();

  function settle(id, kind, payload) {
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
      if (more) native.fetchCancel(id);
      if (f.signal) f.signal.removeEventListener('abort', f.onAbort);
    }
    let response;
    try {
      response = new Response(body, { status, statusText, headers: pairs });
    } catch (e) { f.reject(e); return; }
    const s = response[brand];
    s.url = url;
    s.redirected = redirected;
    s.type = 'basic';
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
      native.fetchCancel(id);
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
        native.fetchCancel(id);
      },
    }, { highWaterMark: 0 });
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
    let body = null;
    if (request.body !== null && request.method !== 'GET' && request.method !== 'HEAD') {
      body = new Uint8Array(await request.arrayBuffer());
    }
    if (signal && signal.aborted) throw signal.reason;
    const id = native.fetchStart(request.method, request.url, flat, body, request.redirect);
    return new Promise((resolve, reject) => {
      const f = { resolve, reject, method: request.method, signal, onAbort: null };
      if (signal) {
        f.onAbort = () => {
          if (!running.delete(id)) return;
          native.fetchCancel(id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', f.onAbort);
      }
      running.set(id, f);
    });
  }

  define(globalThis, 'fetch', fetch);
})();
