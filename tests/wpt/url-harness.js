// Runs web-platform-tests' URL data through Wisp's URL inside the real engine, the way WPT's
// url-constructor.any.js, url-statics-canparse.any.js and url-setters.any.js do. tests/wpt.rs
// prepends `const URL_TESTS = …, SETTER_TESTS = …;` and serves one request to get the results.
const FIELDS = ['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

function tally() {
  return { pass: 0, fail: 0, failures: [] };
}

function record(t, name, problem) {
  if (problem === null) {
    t.pass++;
  } else {
    t.fail++;
    t.failures.push(`${name}: ${problem}`);
  }
}

function parsingProblem(c) {
  const base = c.base === null ? undefined : c.base;
  let url;
  try {
    url = new URL(c.input, base);
  } catch (e) {
    if (c.failure) return e instanceof TypeError ? null : `threw ${e && e.name}, not TypeError`;
    return `threw ${e && e.message}`;
  }
  if (c.failure) return `parsed to ${url.href} instead of failing`;
  for (const f of FIELDS) {
    if (url[f] !== c[f]) return `${f} is ${JSON.stringify(url[f])}, expected ${JSON.stringify(c[f])}`;
  }
  if ('origin' in c && url.origin !== c.origin) return `origin is ${JSON.stringify(url.origin)}, expected ${JSON.stringify(c.origin)}`;
  if ('searchParams' in c && url.searchParams.toString() !== c.searchParams) return `searchParams is ${url.searchParams}`;
  return null;
}

function run() {
  const parsing = tally();
  const canParse = tally();
  for (const c of URL_TESTS) {
    if (typeof c === 'string') continue;
    const name = `${JSON.stringify(c.input)} against ${JSON.stringify(c.base)}`;
    record(parsing, name, parsingProblem(c));
    const got = URL.canParse(c.input, c.base === null ? undefined : c.base);
    record(canParse, name, got === !c.failure ? null : `canParse gave ${got}`);
  }
  const setters = tally();
  for (const [property, cases] of Object.entries(SETTER_TESTS)) {
    if (property === 'comment') continue;
    for (const c of cases) {
      const name = `${property} = ${JSON.stringify(c.new_value)} on ${c.href}`;
      let problem = null;
      try {
        const url = new URL(c.href);
        url[property] = c.new_value;
        for (const [attribute, value] of Object.entries(c.expected)) {
          if (url[attribute] !== value) {
            problem = `${attribute} is ${JSON.stringify(url[attribute])}, expected ${JSON.stringify(value)}`;
            break;
          }
        }
      } catch (e) {
        problem = `threw ${e && e.message}`;
      }
      record(setters, name, problem);
    }
  }
  return { 'urltestdata.json (parsing)': parsing, 'urltestdata.json (URL.canParse)': canParse, 'setters_tests.json': setters };
}

addEventListener('fetch', (event) => event.respondWith(Response.json(run())));
