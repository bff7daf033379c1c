// Streaming at the edge: Server-Sent Events and a streamed transform, plus work that runs after
// the response (`ctx.waitUntil`). Each event reaches the client as it is produced, while this
// request's instance keeps running; everything stays within the function's time limit.
//
//   wisp run js-examples/streaming/index.js --listen 127.0.0.1:8080
//   curl -N http://127.0.0.1:8080/events?n=5
//   curl -N -X POST --data-binary @some-file.txt http://127.0.0.1:8080/upper
const encoder = new TextEncoder();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// `n` events, `every` ms apart, as text/event-stream.
function events(n, every) {
  let sent = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sent === n) { controller.close(); return; }
      if (sent > 0) await sleep(every);
      sent += 1;
      const data = JSON.stringify({ n: sent, at: new Date().toISOString() });
      controller.enqueue(encoder.encode(`id: ${sent}\nevent: tick\ndata: ${data}\n\n`));
    },
  });
}

// The request body upper-cased, line by line, as a stream through a TransformStream.
function upperCased(body) {
  return body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new TransformStream({ transform(text, c) { c.enqueue(text.toUpperCase()); } }))
    .pipeThrough(new TextEncoderStream());
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/events') {
      const n = Math.min(Number(url.searchParams.get('n') ?? 5) || 5, 100);
      const every = Math.min(Number(url.searchParams.get('every') ?? 200) || 200, 1000);
      // Runs after the response has gone: logging, analytics, cache fills.
      ctx.waitUntil(sleep(10).then(() => console.log(`streamed ${n} events`)));
      return new Response(events(n, every), {
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' },
      });
    }
    if (request.method === 'POST' && url.pathname === '/upper' && request.body) {
      return new Response(upperCased(request.body), { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    return Response.json({ error: 'not found', try: ['GET /events?n=5', 'POST /upper'] }, { status: 404 });
  },
};
