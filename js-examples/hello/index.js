// The WasmEdge article's QuickJS handler (section 3.2), as written there.
import { EdgeRequest, EdgeResponse } from 'wasmedge-quickjs';

function handleRequest(request) {
    const url = new URL(request.url);
    const method = request.method;

    if (method === 'GET' && url.pathname === '/api/hello') {
        return new EdgeResponse({
            status: 200,
            headers: {
                'content-type': 'application/json',
                'cache-control': 'max-age=60',
                'x-edge-runtime': 'wasmedge-quickjs',
            },
            body: JSON.stringify({
                message: 'Hello from WasmEdge QuickJS!',
                timestamp: Date.now(),
                region: process.env.EDGE_REGION || 'unknown',
            }),
        });
    }

    if (method === 'POST' && url.pathname === '/api/transform') {
        const input = request.body;
        const data = JSON.parse(input);
        const transformed = {
            original: data,
            processed: true,
            uppercase_name: data.name?.toUpperCase(),
            timestamp: new Date().toISOString(),
        };
        return new EdgeResponse({
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(transformed),
        });
    }

    if (method === 'GET' && url.pathname === '/api/health') {
        return new EdgeResponse({
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ status: 'ok', runtime: 'quickjs' }),
        });
    }

    return new EdgeResponse({
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: 'not found' }),
    });
}

addEventListener('fetch', (event) => {
    event.respondWith(handleRequest(event.request));
});
