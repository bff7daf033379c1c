// fetch(): outbound HTTP, performed by the host (runtime/host/src/outbound.rs) through the
// native in runtime/engine/src/fetch.rs. The host checks the function's allowlist
// ([net] allow / --allow-net), follows redirects per the Fetch standard, and enforces the
// timeout, the response size cap and the per-request subrequest budget; any refusal or network
// failure rejects with a TypeError whose message says why.
//
// The JS engine waits while the host performs the request (no other JS of this request runs
// meanwhile; no host thread is held). Bodies are buffered both ways.
(function () {
  const internal = globalThis.__wisp;
  const { native, define, brand } = internal;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);

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
    const [status, statusText, url, redirected, headers, bytes] =
      native.fetch(request.method, request.url, flat, body, request.redirect);
    if (signal && signal.aborted) throw signal.reason;
    const pairs = [];
    for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
    const nullBody = NULL_BODY.has(status) || request.method === 'HEAD';
    const response = new Response(nullBody ? null : bytes, { status, statusText, headers: pairs });
    const s = response[brand];
    s.url = url;
    s.redirected = redirected;
    s.type = 'basic';
    return response;
  }

  define(globalThis, 'fetch', fetch);
})();
