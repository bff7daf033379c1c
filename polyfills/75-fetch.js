// fetch(): outbound HTTP, performed by the host (runtime/host/src/outbound.rs) through the
// natives in runtime/engine/src/fetch.rs. The host checks the function's allowlist
// ([net] allow / --allow-net), follows redirects per the Fetch standard, and enforces the
// timeout, the response size cap and the per-request subrequest budget; any refusal or network
// failure rejects with a TypeError whose message says why.
//
// A fetch runs in the host's background while JS goes on: several run at once
// (`Promise.all([fetch(a), fetch(b)])` takes as long as the slower one). The event loop collects
// them when it has nothing else to do (`timers.collect`, called by event_loop.rs `drive`). An
// AbortSignal that fires meanwhile rejects the fetch at once and drops its connection. Bodies
// are buffered both ways.
(function () {
  const internal = globalThis.__wisp;
  const { native, define, brand } = internal;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);
  // id -> { resolve, reject, method, onAbort, signal }
  const running = new Map();

  function settle(id, ok, payload) {
    const f = running.get(id);
    if (f === undefined) return; // aborted meanwhile
    running.delete(id);
    if (f.signal) f.signal.removeEventListener('abort', f.onAbort);
    if (!ok) { f.reject(new TypeError(payload)); return; }
    const [status, statusText, url, redirected, headers, bytes] = payload;
    const pairs = [];
    for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
    const nullBody = NULL_BODY.has(status) || f.method === 'HEAD';
    let response;
    try {
      response = new Response(nullBody ? null : bytes, { status, statusText, headers: pairs });
    } catch (e) { f.reject(e); return; }
    const s = response[brand];
    s.url = url;
    s.redirected = redirected;
    s.type = 'basic';
    f.resolve(response);
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
