// A module worker in the Cloudflare style: `export default { fetch(request, env, ctx) }`.
// Try: curl localhost:8080/greet/ada?lang=fr ; curl -X POST -d '{"a":1}' localhost:8080/echo

const greetings = { en: 'Hello', fr: 'Bonjour', es: 'Hola', zh: '你好' };

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const [, route, arg] = url.pathname.split('/');

    if (request.method === 'GET' && route === 'greet' && arg) {
      const lang = url.searchParams.get('lang') || 'en';
      const word = greetings[lang];
      if (!word) return Response.json({ error: `unknown language ${lang}` }, { status: 400 });
      return Response.json({ greeting: `${word}, ${decodeURIComponent(arg)}!`, region: env.EDGE_REGION || 'unknown' });
    }

    if (request.method === 'POST' && route === 'echo') {
      const body = await request.json();
      return new Response(JSON.stringify({ received: body, length: JSON.stringify(body).length }), {
        headers: { 'content-type': 'application/json', 'x-echo': 'yes' },
      });
    }

    if (route === 'old') return Response.redirect(new URL('/greet/world', url), 301);

    return new Response('not found\n', { status: 404 });
  },
};
