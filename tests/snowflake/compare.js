// pgwarehouse's requests compared with those of Snowflake's official Node.js driver, point by point,
// from the double's request traces (double.js --trace): sign-in, statements, PUT and the stage
// upload, result polling, retries, sign-out. Where the two differ by design the difference is
// named here and in docs/snowflake.md. Prints "ok <point>" or "FAIL <point>: <why>"; exits 1 on
// any failure.
// Usage: node compare.js DRIVER_TRACE PGWAREHOUSE_TRACE
'use strict';
const fs = require('node:fs');

const load = (f) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const driver = load(process.argv[2]);
const pgw = load(process.argv[3]);
let failed = 0;

function point(what, fn) {
  let why = null;
  try {
    why = fn();
  } catch (e) {
    why = String(e.message || e);
  }
  console.log(why ? `FAIL ${what}: ${why}` : `ok ${what}`);
  if (why) failed++;
}
const keys = (o) => Object.keys(o || {}).sort();
const missing = (want, have) => want.filter((k) => !have.includes(k));
const extra = (have, allowed) => have.filter((k) => !allowed.includes(k));
const logins = (t) => t.filter((r) => r.path === '/session/v1/login-request');
const queries = (t) => t.filter((r) => r.path === '/queries/v1/query-request');
const uploads = (t) => t.filter((r) => r.endpoint === 's3' && r.method === 'PUT');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

point('sign-in: the URL parameters are the driver\'s (requestId, request_guid, database, schema, warehouse)', () => {
  const d = logins(driver)[0], p = logins(pgw)[0];
  if (!d || !p) return 'no login-request in a trace';
  // roleName: sent by every driver when a role is configured; the driver's run had none
  const bad = extra(keys(p.query), [...keys(d.query), 'roleName']);
  if (bad.length) return `pgwarehouse sends ${bad} that the driver does not`;
  const lack = missing(['requestId', 'request_guid'], keys(p.query));
  if (lack.length) return `pgwarehouse lacks ${lack}`;
  if (!UUID.test(p.query.requestId) || !UUID.test(p.query.request_guid)) return 'requestId/request_guid are not UUIDs';
  return null;
});

point('sign-in: the body\'s fields are the driver\'s, key-pair JWT included', () => {
  const d = logins(driver)[0].body.data, p = logins(pgw)[0].body.data;
  const bad = extra(keys(p), keys(d));
  if (bad.length) return `pgwarehouse sends ${bad} that the driver does not`;
  const need = ['ACCOUNT_NAME', 'LOGIN_NAME', 'AUTHENTICATOR', 'TOKEN', 'CLIENT_APP_ID', 'CLIENT_APP_VERSION', 'CLIENT_ENVIRONMENT'];
  const lack = missing(need, keys(p));
  if (lack.length) return `pgwarehouse lacks ${lack}`;
  if (p.AUTHENTICATOR !== d.AUTHENTICATOR) return `AUTHENTICATOR ${p.AUTHENTICATOR} vs ${d.AUTHENTICATOR}`;
  if (p.ACCOUNT_NAME.toUpperCase() !== d.ACCOUNT_NAME.toUpperCase()) return `ACCOUNT_NAME ${p.ACCOUNT_NAME} vs ${d.ACCOUNT_NAME}`;
  if (p.LOGIN_NAME.toUpperCase() !== d.LOGIN_NAME.toUpperCase()) return 'LOGIN_NAME differs';
  const envBad = missing(['APPLICATION', 'OS', 'OS_VERSION'], keys(p.CLIENT_ENVIRONMENT));
  return envBad.length ? `CLIENT_ENVIRONMENT lacks ${envBad}` : null;
});

// The fields Snowflake's drivers put in a query-request body: Node's (seen in its trace) and those
// the Python connector and JDBC send (sequenceId, querySubmissionTime, asyncExec, isInternal,
// describeOnly, parameters, bindings).
const QUERY_FIELDS = ['sqlText', 'asyncExec', 'sequenceId', 'querySubmissionTime', 'isInternal', 'describeOnly',
                      'parameters', 'bindings', 'queryContextDTO', 'disableOfflineChunks'];

point('statements: query-request with requestId and request_guid, the drivers\' body fields, session token header', () => {
  const d = queries(driver), p = queries(pgw);
  if (!d.length || !p.length) return 'no query-request in a trace';
  for (const r of p) {
    const lack = missing(['requestId', 'request_guid'], keys(r.query));
    if (lack.length) return `a statement lacks ${lack}`;
    const bad = extra(keys(r.body), [...new Set([...QUERY_FIELDS, ...d.flatMap((x) => keys(x.body))])]);
    if (bad.length) return `pgwarehouse sends ${bad}`;
    if (typeof r.body.sqlText !== 'string') return 'no sqlText';
    if (r.headers.authorization !== d[0].headers.authorization) return `Authorization ${r.headers.authorization} vs ${d[0].headers.authorization}`;
    if (r.headers['content-type'] !== 'application/json') return 'Content-Type is not application/json';
    if (r.headers.accept !== d[0].headers.accept) return `Accept ${r.headers.accept} vs ${d[0].headers.accept}`;
  }
  return null;
});

point('PUT is sent synchronously, as the driver sends it', () => {
  const isPut = (r) => /^\s*PUT\s/i.test(r.body.sqlText || '');
  const d = queries(driver).filter(isPut), p = queries(pgw).filter(isPut);
  if (!d.length || !p.length) return 'no PUT in a trace';
  if (d.some((r) => r.body.asyncExec) || p.some((r) => r.body.asyncExec)) return 'a PUT was sent with asyncExec';
  return null;
});

point('stage upload: path-style PUT to the stage location, SigV4 with the temporary credentials', () => {
  const d = uploads(driver)[0], p = uploads(pgw)[0];
  if (!d || !p) return 'no S3 PUT in a trace';
  if (!/^\/sfc-double-stage\/stages\/[0-9a-f-]+\/[^/]+$/.test(p.path)) return `path ${p.path}`;
  const shape = (a) => a.replace(/SignedHeaders=[^,]+/, '');
  if (shape(p.headers.authorization) !== shape(d.headers.authorization)) return `Authorization ${p.headers.authorization} vs ${d.headers.authorization}`;
  for (const h of ['x-amz-security-token', 'x-amz-date', 'x-amz-content-sha256'])
    if (!p.headers[h]) return `no ${h}`;
  // the payload hash: the driver's AWS SDK streams aws-chunked with a CRC32 trailer; pgwarehouse
  // signs the whole body's SHA-256 (both are SigV4 as S3 documents it)
  if (!/^[0-9a-f]{64}$/.test(p.headers['x-amz-content-sha256'])) return 'pgwarehouse does not sign the payload hash';
  return null;
});

point('stage upload: the encryption envelope is the driver\'s user metadata (x-amz-meta-x-amz-key/-iv/-matdesc)', () => {
  const d = uploads(driver)[0], p = uploads(pgw)[0];
  const env = ['x-amz-meta-x-amz-key', 'x-amz-meta-x-amz-iv', 'x-amz-meta-x-amz-matdesc'];
  const lack = missing(env, keys(p.headers));
  if (lack.length) return `pgwarehouse lacks ${lack}`;
  const md = (r) => JSON.parse(r.headers['x-amz-meta-x-amz-matdesc']);
  if (keys(md(p)).join() !== keys(md(d)).join()) return `matdesc fields ${keys(md(p))} vs ${keys(md(d))}`;
  for (const k of keys(md(d))) if (typeof md(p)[k] !== typeof md(d)[k]) return `matdesc ${k} is a ${typeof md(p)[k]}`;
  if (Buffer.from(p.headers['x-amz-meta-x-amz-iv'], 'base64').length !== 16) return 'the IV is not 16 bytes';
  if (Buffer.from(p.headers['x-amz-meta-x-amz-key'], 'base64').length !== Buffer.from(d.headers['x-amz-meta-x-amz-key'], 'base64').length)
    return 'the wrapped key length differs';
  // the digest: JDBC and Python name it sfc-digest, as pgwarehouse does; Node 3.3.0 sends sfc_digest
  return p.headers['x-amz-meta-sfc-digest'] ? null : 'no x-amz-meta-sfc-digest';
});

point('results of async statements are polled at the driver\'s result URL', () => {
  const form = /^\/queries\/[0-9a-f-]+\/result$/;
  const d = driver.filter((r) => r.method === 'GET' && form.test(r.path));
  const p = pgw.filter((r) => r.method === 'GET' && form.test(r.path));
  if (!d.length || !p.length) return 'no result GET in a trace';
  return p.every((r) => r.query.request_guid) ? null : 'a result GET lacks request_guid';
});

// a statement sent again (after a 503, or after its answer was lost) keeps its requestId and text
function resent(t) {
  const byId = new Map();
  for (const r of queries(t)) byId.set(r.query.requestId, [...(byId.get(r.query.requestId) || []), r]);
  return [...byId.values()].filter((rs) => rs.length > 1);
}

point('a statement answered 503 is resent with its requestId, naming the retry (retryCount, clientStartTime)', () => {
  for (const [who, t] of [['driver', driver], ['pgwarehouse', pgw]]) {
    const r = queries(t).find((x) => x.query.retryCount === '1');
    if (!r) return `${who} sent no retry with retryCount=1`;
    if (!/^\d{13}$/.test(r.query.clientStartTime || '')) return `${who}: no clientStartTime in milliseconds`;
  }
  return null;
});

point('a statement whose answer was lost is resent with the same requestId and text', () => {
  for (const [who, t] of [['driver', driver], ['pgwarehouse', pgw]]) {
    const groups = resent(t);
    if (groups.length < 2) return `${who} resent ${groups.length} statements (want the 503 one and the lost one)`;
    if (groups.some((g) => g.some((r) => r.body.sqlText !== g[0].body.sqlText))) return `${who} reused a requestId for another statement`;
  }
  // libcurl resends a request whose reused connection died before any answer by itself, with the
  // same URL: pgwarehouse's resend of the lost answer may lack retryCount; the requestId is what
  // makes it safe
  return null;
});

point('session renewal: token-request with the master token and the driver\'s body', () => {
  const tr = (t) => t.find((r) => r.path === '/session/token-request');
  const d = tr(driver), p = tr(pgw);
  if (!d || !p) return `token-requests seen: driver ${!!d}, pgwarehouse ${!!p}`;
  if (keys(p.body).join() !== keys(d.body).join()) return `body ${keys(p.body)} vs ${keys(d.body)}`;
  if (p.body.requestType !== 'RENEW') return `requestType ${p.body.requestType}`;
  if (p.headers.authorization !== d.headers.authorization) return `Authorization ${p.headers.authorization}`;
  // the Node driver sends request_guid only; Python adds a requestId, as pgwarehouse does
  const bad = extra(keys(p.query), [...keys(d.query), 'requestId']);
  return bad.length ? `pgwarehouse sends ${bad}` : null;
});

point('sign-out: POST /session?delete=true with a requestId', () => {
  const out = (t) => t.find((r) => r.path === '/session' && r.query.delete === 'true');
  const d = out(driver), p = out(pgw);
  if (!d || !p) return 'no sign-out in a trace';
  const lack = missing(keys(d.query), keys(p.query));
  return lack.length ? `pgwarehouse lacks ${lack}` : null;
});

process.exit(failed ? 1 : 0);
