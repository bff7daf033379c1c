// A Hono app for Wisp, in TypeScript: routes with params, a JSON body, middleware (Hono's own
// `hono/cors` and a custom header), a JSON 404 and an error handler.
// Run it: `npm ci && wisp run js-examples/hono`.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { poweredBy } from './middleware';
import { greet, type Greeting } from './greet';
import info from './info.json';

type Bindings = { EDGE_REGION?: string };

const app = new Hono<{ Bindings: Bindings }>();

app.use('*', poweredBy('wisp-hono'));
app.use('/api/*', cors({ origin: '*' }));

app.get('/', (c) => c.text(`${info.name} ${info.version}`));

app.get('/hello/:name', (c) => {
  const body: Greeting = greet(c.req.param('name'), c.req.query('lang'));
  return c.json(body);
});

app.post('/api/echo', async (c) => {
  const body = await c.req.json<Record<string, unknown>>();
  return c.json({ received: body, keys: Object.keys(body).length }, 201);
});

app.get('/api/region', (c) => c.json({ region: c.env?.EDGE_REGION ?? 'unknown' }));

app.get('/boom', () => {
  throw new Error('the boom route always fails');
});

app.notFound((c) => c.json({ error: 'not found', path: c.req.path }, 404));

app.onError((err, c) => c.json({ error: err.message, handled: true }, 500));

export default app;
