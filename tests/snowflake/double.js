// A local double of the parts of Snowflake's session protocol pgwarehouse uses, for tests only.
// It follows the public documentation and the open-source drivers' behaviour:
//   POST /session/v1/login-request   key-pair (SNOWFLAKE_JWT) or password sign-in -> session token
//   POST /queries/v1/query-request   run sqlText (sync, or asyncExec with a result URL)
//   GET  /queries/<id>/result        the result of an async query
//   POST /session?delete=true        sign out
// SQL runs on an embedded DuckDB after a small rewrite of Snowflake syntax (see rewrite()).
// Usage: node double.js --port N --db FILE --account A --user U [--pubkey PEM] [--password PW]
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { DuckDBInstance } = require('@duckdb/node-api');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const ACCOUNT = (args.account || '').toUpperCase();
const USER = (args.user || '').toUpperCase();
const pubkey = args.pubkey ? crypto.createPublicKey(fs.readFileSync(args.pubkey)) : null;
const fingerprint = pubkey
  ? 'SHA256:' + crypto.createHash('sha256').update(pubkey.export({ type: 'spki', format: 'der' })).digest('base64')
  : null;
const sessions = new Map(); // token -> { database, schema }
const asyncResults = new Map(); // queryId -> response body
let conn;

function fail(res, code, message, httpStatus = 200, data = null) {
  reply(res, { success: false, code, message, data }, httpStatus);
}
function reply(res, body, httpStatus = 200) {
  const text = JSON.stringify(body);
  res.writeHead(httpStatus, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
function b64url(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

// Checks a key-pair JWT the way Snowflake documents it: RS256, signed by the registered key,
// iss = ACCOUNT.USER.SHA256:<fingerprint of that key>, sub = ACCOUNT.USER, a lifetime of at most an hour.
function checkJwt(token) {
  if (!pubkey) return 'no public key is registered for the user';
  const parts = (token || '').split('.');
  if (parts.length !== 3) return 'JWT token is invalid.';
  const header = JSON.parse(b64url(parts[0]).toString());
  if (header.alg !== 'RS256') return 'JWT token is invalid.';
  const ok = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), pubkey, b64url(parts[2]));
  if (!ok) return 'JWT token is invalid.';
  const c = JSON.parse(b64url(parts[1]).toString());
  const now = Math.floor(Date.now() / 1000);
  if (c.iss !== `${ACCOUNT}.${USER}.${fingerprint}`) return 'JWT token is invalid. (issuer or fingerprint)';
  if (c.sub !== `${ACCOUNT}.${USER}`) return 'JWT token is invalid. (subject)';
  if (!(c.exp > now) || c.iat > now + 60 || c.exp - c.iat > 3600) return 'JWT token is invalid. (lifetime)';
  return null;
}

function login(req, res, body, url) {
  const d = (body && body.data) || {};
  if ((d.ACCOUNT_NAME || '').toUpperCase() !== ACCOUNT || (d.LOGIN_NAME || '').toUpperCase() !== USER)
    return fail(res, '390100', 'Incorrect username or password was specified.');
  if (d.AUTHENTICATOR === 'SNOWFLAKE_JWT') {
    const why = checkJwt(d.TOKEN);
    if (why) return fail(res, '390144', why);
  } else if (!args.password || d.PASSWORD !== args.password) {
    return fail(res, '390100', 'Incorrect username or password was specified.');
  }
  const token = crypto.randomBytes(24).toString('hex');
  sessions.set(token, { database: url.searchParams.get('databaseName'), schema: url.searchParams.get('schemaName') });
  reply(res, {
    success: true, code: null, message: null,
    data: { token, masterToken: crypto.randomBytes(24).toString('hex'), validityInSeconds: 3600,
            masterValidityInSeconds: 14400, sessionId: Date.now(), parameters: [],
            sessionInfo: { databaseName: url.searchParams.get('databaseName'), schemaName: url.searchParams.get('schemaName'),
                           warehouseName: url.searchParams.get('warehouse'), roleName: url.searchParams.get('roleName') } },
  });
}

function sessionOf(req) {
  const m = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization || '');
  return m ? sessions.get(m[1]) : undefined;
}

// Snowflake SQL -> DuckDB SQL, for the statements pgwarehouse sends.
function rewrite(sql) {
  return sql
    .replace(/\bCURRENT_VERSION\(\)/gi, "'9.0.0-double'")
    .replace(/\bNUMBER\(/gi, 'DECIMAL(')
    .replace(/\bTIMESTAMP_NTZ\b/gi, 'TIMESTAMP')
    .replace(/\bTIMESTAMP_TZ\b/gi, 'TIMESTAMPTZ')
    .replace(/\bVARIANT\b/gi, 'JSON')
    .replace(/\bBINARY\b/gi, 'BLOB')
    .replace(/\bTEXT\b/gi, 'VARCHAR');
}

function typeOf(t) {
  const s = String(t);
  if (/DECIMAL|INT/.test(s)) return 'fixed';
  if (/DOUBLE|FLOAT|REAL/.test(s)) return 'real';
  if (/BOOL/.test(s)) return 'boolean';
  if (/TIMESTAMP WITH/.test(s)) return 'timestamp_tz';
  if (/TIMESTAMP/.test(s)) return 'timestamp_ntz';
  if (/DATE/.test(s)) return 'date';
  if (/TIME/.test(s)) return 'time';
  if (/BLOB/.test(s)) return 'binary';
  return 'text';
}

async function execute(sqlText) {
  const reader = await conn.runAndReadAll(rewrite(sqlText));
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const rows = reader.getRows().map((r) => r.map((v) => (v === null ? null : String(v))));
  return {
    rowtype: names.map((n, i) => ({ name: n, type: typeOf(types[i]), nullable: true })),
    rowset: rows, total: rows.length, returned: rows.length, queryResultFormat: 'json', parameters: [],
  };
}

async function query(req, res, body) {
  if (!sessionOf(req)) return fail(res, '390112', 'Your session has expired. Please login again.', 401);
  const queryId = crypto.randomUUID();
  const run = execute(body.sqlText || '').then(
    (data) => ({ success: true, code: null, message: null, data: { ...data, queryId } }),
    (e) => ({ success: false, code: '002003', message: 'SQL compilation error:\n' + String(e.message || e),
              data: { queryId, sqlState: '42000' } }));
  if (body.asyncExec) {
    asyncResults.set(queryId, run);
    return reply(res, { success: true, code: '333334', message: 'Asynchronous execution in progress.',
                        data: { queryId, getResultUrl: `/queries/${queryId}/result` } });
  }
  reply(res, await run);
}

async function result(req, res, id) {
  if (!sessionOf(req)) return fail(res, '390112', 'Your session has expired. Please login again.', 401);
  const r = asyncResults.get(id);
  if (!r) return fail(res, '000709', `Statement ${id} not found`);
  reply(res, await r);
}

async function main() {
  const db = await DuckDBInstance.create(args.db || ':memory:');
  conn = await db.connect();
  await conn.run("SET TimeZone = 'UTC'");
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://double');
      let body = {};
      try {
        const raw = Buffer.concat(chunks);
        const text = req.headers['content-encoding'] === 'gzip' ? require('node:zlib').gunzipSync(raw) : raw;
        if (text.length) body = JSON.parse(text.toString());
      } catch (e) {
        return fail(res, '390400', 'malformed request body', 400);
      }
      const p = url.pathname;
      if (req.method === 'POST' && p === '/session/v1/login-request') return login(req, res, body, url);
      if (req.method === 'POST' && p === '/queries/v1/query-request') return query(req, res, body);
      const m = /^\/queries\/([^/]+)\/result$/.exec(p);
      if (req.method === 'GET' && m) return result(req, res, m[1]);
      if (req.method === 'POST' && p === '/session') return reply(res, { success: true, code: null, message: null, data: null });
      fail(res, '390404', `no such endpoint ${req.method} ${p}`, 404);
    });
  });
  server.listen(Number(args.port), '127.0.0.1', () => console.log(`listening ${args.port}`));
}
main();
