// The same routes as js-examples/hello, written with the standard Response (workerd has no
// EdgeResponse and no process.env): the peer that benches/load.sh measures when WORKERD is set.
async function handleRequest(request) {
    const url = new URL(request.url);
    const method = request.method;

    if (method === 'GET' && url.pathname === '/api/hello') {
        return new Response(
            JSON.stringify({
                message: 'Hello from WasmEdge QuickJS!',
                timestamp: Date.now(),
                region: EDGE_REGION || 'unknown',
            }),
            {
                status: 200,
                headers: {
                    'content-type': 'application/json',
                    'cache-control': 'max-age=60',
                    'x-edge-runtime': 'wasmedge-quickjs',
                },
            },
        );
    }

    if (method === 'POST' && url.pathname === '/api/transform') {
        const data = JSON.parse(await request.text());
        const transformed = {
            original: data,
            processed: true,
            uppercase_name: data.name?.toUpperCase(),
            timestamp: new Date().toISOString(),
        };
        return new Response(JSON.stringify(transformed), {
            status: 200,
            headers: { 'content-type': 'application/json' },
        });
    }

    if (method === 'GET' && url.pathname === '/api/health') {
        return new Response(JSON.stringify({ status: 'ok', runtime: 'workerd' }), {
            status: 200,
            headers: { 'content-type': 'application/json' },
        });
    }

    return new Response(JSON.stringify({ error: 'not found' }), {
        status: 404,
        headers: { 'content-type': 'application/json' },
    });
}

addEventListener('fetch', (event) => {
    event.respondWith(handleRequest(event.request));
});
