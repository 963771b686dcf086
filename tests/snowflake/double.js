// A local double of the parts of Snowflake's session protocol pgwarehouse uses, for tests only.
// It follows the public documentation and the open-source drivers' behaviour:
//   POST /session/v1/login-request   key-pair (SNOWFLAKE_JWT) or password sign-in -> session token
//   POST /queries/v1/query-request   run sqlText (sync, or asyncExec with a result URL)
//   GET  /queries/<id>/result        the result of an async query
//   POST /session?delete=true        sign out
//   POST /session/token-request      renew a session token with the master token
//   POST /queries/v1/abort-request   cancel a statement by its requestId (logged)
//   GET  /monitoring/queries/<id>    a statement's status, as the drivers check it before fetching by id
//   POST /telemetry/send             accepted and ignored
//   POST /__test/sql                  (tests only) {sql, params, exec}: the tests' reads of what the
//                                    double holds, on a connection of its own (tests/tools/duckq.c)
//   POST /__test/pause, /__test/resume  (tests only) close the DuckDB file and hold statements while a
//                                    program reads the file itself (the bench); then go on
//   PUT <table stage> answered with an S3 stageInfo and encryptionMaterial; the files then arrive at
//   a local S3-compatible endpoint (--s3port) that checks the SigV4 signature with the temporary
//   credentials it handed out and decrypts each file with the material of that PUT.
// SQL runs on an embedded DuckDB after a small rewrite of Snowflake syntax (see rewrite()), each
// statement in autocommit, or in the session's transaction between BEGIN and COMMIT/ROLLBACK (see
// transactionStep()).
// Usage: node double.js [--port N] [--s3port M] --db FILE --account A --user U [--pubkey PEM] [--password PW]
//        [--token PAT_OR_OAUTH] [--token-max-uses N] [--validity SECONDS] [--tls-cert PEM --tls-key PEM [--tls-service true]]
//        [--running-polls N] [--drop-after REGEX] [--busy-once REGEX] [--trace FILE] [--master-validity SECONDS]
//        [--detached-abort-after SECONDS]
// Results come in Snowflake's JSON result encoding (see encode()), with the session parameters the
// drivers read to decode them. With --tls-cert the stage's S3 endpoint is served over HTTPS (and
// with --tls-service true the service endpoint too).
// (ports default to free ones; the first output line is "listening <port> <s3port>")
'use strict';
const http = require('node:http');
const https = require('node:https');
const zlib = require('node:zlib');
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
const sessions = new Map(); // token -> { database, schema, uses, expires }
const masters = new Map(); // master token -> { expires, session token }
const MASTER_VALIDITY = Number(args['master-validity'] || 14400); // --master-validity SECONDS
const requests = new Map(); // requestId -> { sqlText, queryId, run }: a resent request is not run again
const byQueryId = new Map(); // queryId -> the requests entry, for /monitoring/queries/<id>
const polls = new Map(); // queryId -> "still running" answers given so far (--running-polls N)
let busied = 0; // statements answered 503 (--busy-once REGEX, first match only)
let dropped = 0; // statements whose answer was cut off (--drop-after REGEX, first match only)
const objects = new Map(); // S3 key -> { meta, length } of the files uploaded
const uploads = new Map(); // S3 key prefix -> { masterKey, queryId, smkId, dir }
const S3 = { keyId: 'AKIADOUBLE' + crypto.randomBytes(5).toString('hex').toUpperCase(),
             secret: crypto.randomBytes(20).toString('base64'), token: crypto.randomBytes(16).toString('hex'),
             bucket: 'sfc-double-stage', region: 'us-west-2' };
const stageRoot = (args.db || '/tmp/double') + '.stages';
let queue = Promise.resolve(); // statements run one at a time

// One DuckDB instance for the double's lifetime: creating one per statement (its whole function
// catalog each time) was most of the test suite's Snowflake time. A test that reads the file
// itself first asks POST /__test/pause: the double closes the file and holds every statement
// until POST /__test/resume (or 30 s pass); opening again waits while the test holds the lock.
let store = null;
let held = null; // resolves a pause
async function openStore() {
  for (let i = 0; ; i++) {
    try {
      // one DuckDB thread: the double's statements are small and come one at a time, and a second
      // thread only added CPU (the Snowflake runs of the suite: 150 -> 135 s)
      return await DuckDBInstance.create(args.db || ':memory:', { threads: '1' });
    } catch (e) {
      if (i >= 100 || !/lock/i.test(String(e.message || e))) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
// one statement at a time, in arrival order
function enqueue(fn) {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
}
async function connect() {
  if (!store) store = await openStore();
  const conn = await store.connect();
  await conn.run("SET TimeZone = 'UTC'");
  return conn;
}
// fn(conn) on a connection of its own (autocommit), or on the session's open transaction's
async function withConnection(fn, session) {
  return enqueue(async () => {
    if (session && session.txn) {
      session.txnUsed = Date.now();
      return fn(session.txn);
    }
    const conn = await connect();
    try {
      return await fn(conn);
    } finally {
      conn.closeSync();
    }
  });
}
// A session's open transaction ends without a commit (sign-out, a pause, a lost session), as
// Snowflake rolls back the transaction of a session that ends.
// (closing its connection rolls it back: in the statement queue, or at once where the caller runs
// in it)
function dropTransaction(session, why, inQueue = false) {
  if (!session || !session.txn) return;
  const conn = session.txn;
  if (inQueue) conn.closeSync();
  else enqueue(() => conn.closeSync());
  session.txn = null;
  console.log(`rolled back (${why})`);
}
// A test reading the file waits as a writer would: closing the file would end open transactions
async function pause() {
  if (held) return;
  await waitForLocks('UPDATE', null, 'a test reading the file');
  return new Promise((paused) => {
    enqueue(() => new Promise((resume) => {
      for (const sess of sessions.values()) dropTransaction(sess, 'pause', true);
      if (store) store.closeSync();
      store = null;
      const timer = setTimeout(() => resumeStatements(), 30000);
      held = () => { clearTimeout(timer); resume(); };
      paused();
    }));
  });
}
function resumeStatements() {
  const r = held;
  held = null;
  if (r) r();
}

// POST /__test/sql: a test's query, run as any statement is (in turn, committed data only), its
// cells as text (the SQL casts them), each "<byte length>\n<bytes>" or "-\n" for NULL after a
// first line "<columns>\n"; an error is a 400 with DuckDB's message. Reading through the double
// keeps its file open: a pause closes it, checkpointing what changed, and the next statement
// opens it again, which was most of the double's time when every test read paused it.
async function testSql(res, body) {
  try {
    const parts = await withConnection(async (conn) => {
      if (body.exec) { await conn.run(body.sql); return ['0\n']; }
      const reader = await conn.runAndReadAll(body.sql, body.params || []);
      const out = [`${reader.columnCount}\n`];
      for (const row of reader.getRows())
        for (const v of row) out.push(v === null ? '-\n' : `${Buffer.byteLength(String(v))}\n${v}`);
      return out;
    });
    replyText(res, 200, parts.join(''));
  } catch (e) {
    replyText(res, 400, String(e.message || e));
  }
}
function replyText(res, httpStatus, text) {
  res.writeHead(httpStatus, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

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
  // the Node driver sends iat/exp in milliseconds and the service accepts it: read large values as ms
  for (const k of ['iat', 'exp']) if (c[k] > 1e11) c[k] = Math.floor(c[k] / 1000);
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
  } else if (d.AUTHENTICATOR === 'PROGRAMMATIC_ACCESS_TOKEN' || d.AUTHENTICATOR === 'OAUTH') {
    if (!args.token || d.TOKEN !== args.token) return fail(res, '390303', 'Invalid OAuth access token.');
  } else if (!args.password || d.PASSWORD !== args.password) {
    return fail(res, '390100', 'Incorrect username or password was specified.');
  }
  const token = newSession({ database: url.searchParams.get('databaseName'), schema: url.searchParams.get('schemaName') });
  const masterToken = crypto.randomBytes(24).toString('hex');
  masters.set(masterToken, { expires: Date.now() + 1000 * MASTER_VALIDITY, session: token });
  console.log(`login ${d.AUTHENTICATOR || 'PASSWORD'}`);
  reply(res, {
    success: true, code: null, message: null,
    data: { token, masterToken, validityInSeconds: Number(args.validity || 3600),
            masterValidityInSeconds: MASTER_VALIDITY, sessionId: Date.now(), parameters: PARAMETERS,
            sessionInfo: { databaseName: url.searchParams.get('databaseName'), schemaName: url.searchParams.get('schemaName'),
                           warehouseName: url.searchParams.get('warehouse'), roleName: url.searchParams.get('roleName') } },
  });
}

function newSession(s) {
  const token = crypto.randomBytes(24).toString('hex');
  sessions.set(token, { ...s, uses: 0, expires: Date.now() + 1000 * Number(args.validity || 3600) });
  return token;
}

// POST /session/token-request {oldSessionToken, requestType: RENEW}, authorized by the master token:
// a new session token, as the drivers renew an expired session. An unknown or expired master token
// answers 390114 (the client must sign in again).
function tokenRequest(req, res, body) {
  const m = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization || '');
  const master = m && masters.get(m[1]);
  if (!master || Date.now() > master.expires || body.requestType !== 'RENEW' || body.oldSessionToken !== master.session)
    return fail(res, '390114', 'Authentication token has expired.  The user must authenticate again.');
  const old = sessions.get(master.session) || {};
  sessions.delete(master.session);
  master.session = newSession({ database: old.database, schema: old.schema, txn: old.txn || null });
  console.log('renewed');
  reply(res, { success: true, code: null, message: null,
               data: { sessionToken: master.session, validityInSecondsST: Number(args.validity || 3600),
                       masterToken: m[1], validityInSecondsMT: Math.max(0, Math.floor((master.expires - Date.now()) / 1000)) } });
}

// --token-max-uses N: a session expires after N statements, as a long run's session would
// (statement: a query-request, which is what --token-max-uses counts)
function sessionOf(req, statement = false) {
  const m = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization || '');
  const s = m ? sessions.get(m[1]) : undefined;
  if (!s || s.expired) return undefined;
  const used = statement && args['token-max-uses'] && ++s.uses > Number(args['token-max-uses']);
  if (used || Date.now() > s.expires) {
    // the token is no longer accepted; the session (and a transaction open in it) goes on under
    // the token its master token renews it with
    s.expired = true;
    console.log('expired');
    return undefined;
  }
  return s;
}

// Replaces each call name(args) (balanced parentheses) with fn(args).
function replaceCall(sql, name, fn) {
  const re = new RegExp('\\b' + name + '\\(', 'gi');
  let out = '', pos = 0, m;
  while ((m = re.exec(sql))) {
    let depth = 1, i = re.lastIndex;
    for (; i < sql.length && depth; i++) depth += sql[i] === '(' ? 1 : sql[i] === ')' ? -1 : 0;
    out += sql.slice(pos, m.index) + fn(replaceCall(sql.slice(re.lastIndex, i - 1), name, fn));
    pos = re.lastIndex = i;
  }
  return out + sql.slice(pos);
}

// The arguments of a call, split at its top-level commas (outside parentheses and quotes)
function splitArgs(a) {
  const out = [];
  let depth = 0, quote = null, start = 0;
  for (let i = 0; i < a.length; i++) {
    const c = a[i];
    if (quote) { if (c === quote) quote = null; continue; }
    if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && !depth) { out.push(a.slice(start, i).trim()); start = i + 1; }
  }
  out.push(a.slice(start).trim());
  return out;
}

// Snowflake's string constants take backslash escapes besides '' (\\ \' \" \b \f \n \r \t \0,
// \ooo octal, \xhh hex, \uhhhh; a backslash before any other character is dropped); DuckDB's take
// none. Each '...' constant is rewritten as the characters it means, its quotes doubled;
// double-quoted identifiers and $$ constants are left as they are.
const ESCAPES = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', 0: '\0' };
function literals(sql) {
  let out = '', i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '"' || (c === '$' && sql[i + 1] === '$')) {
      const close = c === '"' ? '"' : '$$';
      let j = sql.indexOf(close, i + close.length);
      while (c === '"' && j >= 0 && sql[j + 1] === '"') j = sql.indexOf('"', j + 2);
      const end = j < 0 ? sql.length : j + close.length;
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (c !== "'") { out += c; i++; continue; }
    let v = '';
    for (i++; i < sql.length; ) {
      const d = sql[i];
      if (d === "'" && sql[i + 1] === "'") { v += "'"; i += 2; continue; }
      if (d === "'") { i++; break; }
      if (d !== '\\' || i + 1 >= sql.length) { v += d; i++; continue; }
      const e = sql[i + 1];
      let m;
      if ((m = /^[0-7]{3}/.exec(sql.slice(i + 1)))) { v += String.fromCharCode(parseInt(m[0], 8)); i += 4; }
      else if (e === 'x' && (m = /^[0-9a-fA-F]{2}/.exec(sql.slice(i + 2)))) { v += String.fromCharCode(parseInt(m[0], 16)); i += 4; }
      else if (e === 'u' && (m = /^[0-9a-fA-F]{4}/.exec(sql.slice(i + 2)))) { v += String.fromCharCode(parseInt(m[0], 16)); i += 6; }
      else { v += ESCAPES[e] !== undefined ? ESCAPES[e] : e; i += 2; }
    }
    out += "'" + v.replace(/'/g, "''") + "'";
  }
  return out;
}

// TO_VARCHAR(expr, format) for the formats pgwarehouse sends: date/time formats (YYYY MM DD HH24 MI
// SS FF6 TZH:TZM; the double keeps every TIMESTAMP_TZ in UTC). A format without a year formats a
// TIME.
function toVarchar(a) {
  const [x, fmt] = splitArgs(a);
  if (fmt === undefined) return `CAST(${x} AS VARCHAR)`;
  const f = fmt.replace(/^'|'$/g, '');
  const codes = { YYYY: '%Y', MM: '%m', DD: '%d', HH24: '%H', MI: '%M', SS: '%S', FF6: '%f', 'TZH:TZM': '+00:00' };
  const d = f.replace(/YYYY|HH24|MI|SS|FF6|TZH:TZM|MM|DD/g, (t) => codes[t]);
  const v = /YYYY/.test(f) ? x : `(DATE '1970-01-01' + ${x})`;
  return `strftime(${v}, '${d}')`;
}

// Snowflake SQL -> DuckDB SQL, for the statements pgwarehouse sends.
function rewrite(sql) {
  sql = literals(sql);
  sql = replaceCall(sql, 'TO_VARCHAR', toVarchar);
  // MD5_NUMBER_LOWER64(s): the low 64 bits of the MD5 as an unsigned number
  sql = replaceCall(sql, 'MD5_NUMBER_LOWER64', (a) => `CAST('0x' || substr(md5(${a}), 17, 16) AS UBIGINT)`);
  // FLATTEN(INPUT => array): a row per element, the element as VALUE (the other output columns
  // of Snowflake's FLATTEN are not made)
  sql = replaceCall(sql, 'FLATTEN', (a) => {
    const m = /^\s*INPUT\s*=>\s*([\s\S]*)$/i.exec(a);
    if (!m) throw new Error('FLATTEN is only made with INPUT =>');
    return `(SELECT unnest(${m[1]}) AS "VALUE")`;
  });
  // ARRAY_GENERATE_RANGE(start, stop): start, start + 1, ... below stop (integer NUMBERs, which
  // are DECIMALs here)
  sql = replaceCall(sql, 'ARRAY_GENERATE_RANGE', (a) =>
    `range(${splitArgs(a).map((x) => `CAST(${x} AS BIGINT)`).join(', ')})`);
  // DuckDB renames within the schema: drop the qualifier of the new name
  sql = sql.replace(/(RENAME\s+TO\s+)(?:"(?:[^"]|"")*"\.)("(?:[^"]|"")*")/i, '$1$2');
  return sql
    .replace(/\bCURRENT_VERSION\(\)/gi, "'9.0.0-double'")
    .replace(/\bSYSDATE\(\)/gi, 'CAST(now() AS TIMESTAMP)') // the current UTC time, TIMESTAMP_NTZ
    .replace(/\bNUMBER\(/gi, 'DECIMAL(')
    .replace(/\bTIMESTAMP_NTZ\b/gi, 'TIMESTAMP')
    .replace(/\bTIMESTAMP_TZ\b/gi, 'TIMESTAMPTZ')
    // an instant, shown in the session's zone (UTC here): kept as a UTC wall time in nanoseconds,
    // a DuckDB type of its own so results can say timestamp_ltz
    .replace(/\bTIMESTAMP_LTZ\b/gi, 'TIMESTAMP_NS')
    .replace(/\bFLOAT\b/gi, 'DOUBLE') // Snowflake's FLOAT is 64-bit
    .replace(/\bVARIANT\b/gi, 'JSON')
    .replace(/\bARRAY\b(?!\s*\()/gi, 'JSON')
    .replace(/\bBINARY\b/gi, 'BLOB')
    .replace(/\bTEXT\b/gi, 'VARCHAR')
    .replace(/\bSTARTSWITH\(/gi, 'starts_with(')
    .replace(/\bDATEDIFF\(\s*(\w+)\s*,/gi, "date_diff('$1',")
    .replace(/\bDATE_PART\(\s*epoch_microsecond\s*,/gi, 'epoch_us(')
    .replace(/\bHEX_ENCODE\(/gi, 'hex(')
    .replace(/\bARRAY_SIZE\(/gi, 'json_array_length(') // ARRAYs are JSON here
    .replace(/\bHEX_DECODE_BINARY\(/gi, 'unhex(')
    .replace(/\bPARSE_JSON\(/gi, 'json(')
    .replace(/\bINFORMATION_SCHEMA\.TABLES\b/gi,
      '(SELECT schema_name AS TABLE_SCHEMA, table_name AS TABLE_NAME, comment AS COMMENT, estimated_size AS ROW_COUNT FROM duckdb_tables())')
    .replace(/\bCURRENT_SCHEMA\(\)/gi, "'main'");
}

// DuckDB's type -> Snowflake's rowtype entry
function columnOf(name, t) {
  const s = String(t);
  const col = { name, nullable: true, database: 'PGW', schema: 'PUBLIC', table: '', collation: null,
                length: null, byteLength: null, precision: null, scale: null };
  let m;
  if (t.alias === 'JSON' || /\]$|^STRUCT|^MAP/.test(s)) return { ...col, type: 'variant' };
  if ((m = /^DECIMAL\((\d+),(\d+)\)/.exec(s))) return { ...col, type: 'fixed', precision: +m[1], scale: +m[2] };
  if (/^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(s)) return { ...col, type: 'fixed', precision: 38, scale: 0 };
  if (/DOUBLE|FLOAT|REAL/.test(s)) return { ...col, type: 'real' };
  if (/BOOL/.test(s)) return { ...col, type: 'boolean' };
  if (/TIMESTAMP WITH/.test(s)) return { ...col, type: 'timestamp_tz', precision: 0, scale: 9 };
  if (/TIMESTAMP_NS/.test(s)) return { ...col, type: 'timestamp_ltz', precision: 0, scale: 9 };
  if (/TIMESTAMP/.test(s)) return { ...col, type: 'timestamp_ntz', precision: 0, scale: 9 };
  if (/DATE/.test(s)) return { ...col, type: 'date' };
  if (s === 'TIME') return { ...col, type: 'time', precision: 0, scale: 9 };
  if (/BLOB/.test(s)) return { ...col, type: 'binary', length: 8388608, byteLength: 8388608 };
  return { ...col, type: 'text', length: 16777216, byteLength: 16777216 };
}

// seconds since the epoch with nine fraction digits, from a count of some unit
function epochSeconds(count, perSecond) {
  const n = BigInt(count) * (1000000000n / perSecond);
  const neg = n < 0n, a = neg ? -n : n;
  const sec = a / 1000000000n, frac = a % 1000000000n;
  // floor for negative values: -0.5 s is "-1.500000000"? Snowflake writes the signed decimal value
  return `${neg ? '-' : ''}${sec}.${String(frac).padStart(9, '0')}`;
}

// One value in Snowflake's JSON result encoding, as the drivers decode it: numbers and text as
// strings, DATE as days since the epoch, TIME and TIMESTAMP_NTZ/LTZ as seconds since midnight or the
// epoch with the column's scale, TIMESTAMP_TZ as those seconds, a space and the offset in minutes
// plus 1440, BOOLEAN as "1"/"0", BINARY as upper-case hex, VARIANT as JSON text.
function encode(v, col) {
  if (v === null || v === undefined) return null;
  switch (col.type) {
    case 'date': return String(v.days);
    case 'time': return epochSeconds(v.micros, 1000000n);
    case 'timestamp_ntz': return epochSeconds(v.micros, 1000000n);
    case 'timestamp_ltz': return epochSeconds(v.nanos, 1000000000n);
    case 'timestamp_tz': return `${epochSeconds(v.micros, 1000000n)} 1440`; // the double's zone is UTC
    case 'boolean': return v ? '1' : '0';
    case 'binary': return Buffer.from(v.bytes).toString('hex').toUpperCase();
    case 'real':
      if (Number.isNaN(v)) return 'NaN';
      if (v === Infinity) return 'inf';
      if (v === -Infinity) return '-inf';
      return String(v);
    case 'variant': return typeof v === 'string' ? v : JSON.stringify(plain(v));
    default: return String(v);
  }
}

// a DuckDB list or struct value as plain JSON data
function plain(v) {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? Number(v) : v;
  if (Array.isArray(v.items)) return v.items.map(plain);
  if (v.entries && typeof v.entries === 'object') return Object.fromEntries(Object.entries(v.entries).map(([k, x]) => [k, plain(x)]));
  return String(v);
}

// The session parameters the drivers read to decode results (Snowflake's defaults, the double's zone)
const PARAMETERS = [
  ['TIMEZONE', 'UTC'], ['DATE_OUTPUT_FORMAT', 'YYYY-MM-DD'], ['TIME_OUTPUT_FORMAT', 'HH24:MI:SS'],
  ['TIMESTAMP_OUTPUT_FORMAT', 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM'], ['TIMESTAMP_NTZ_OUTPUT_FORMAT', 'YYYY-MM-DD HH24:MI:SS.FF3'],
  ['TIMESTAMP_LTZ_OUTPUT_FORMAT', ''], ['TIMESTAMP_TZ_OUTPUT_FORMAT', ''], ['BINARY_OUTPUT_FORMAT', 'HEX'],
  ['CLIENT_TIMESTAMP_TYPE_MAPPING', 'TIMESTAMP_LTZ'], ['CLIENT_RESULT_CHUNK_SIZE', 160],
].map(([name, value]) => ({ name, value }));

function resultOf(reader) {
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const rowtype = names.map((n, i) => columnOf(n, types[i]));
  const rows = reader.getRows().map((r) => r.map((v, i) => encode(v, rowtype[i])));
  return { rowtype, rowset: rows, total: rows.length, returned: rows.length, queryResultFormat: 'json',
           version: 1, parameters: PARAMETERS };
}
const EMPTY = { rowtype: [], rowset: [], total: 0, returned: 0, queryResultFormat: 'json', version: 1, parameters: PARAMETERS };

// "a" or "s"."a" -> { schema, name, sql }
function ident(text) {
  const parts = [];
  const re = /"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*)/y;
  let m, pos = 0;
  for (;;) {
    re.lastIndex = pos;
    m = re.exec(text);
    if (!m) break;
    parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]);
    pos = re.lastIndex;
    if (text[pos] !== '.') break;
    pos++;
  }
  const q = (x) => '"' + x.replace(/"/g, '""') + '"';
  return { schema: parts.length > 1 ? parts[0] : 'main', name: parts[parts.length - 1],
           sql: parts.map(q).join('.'), rest: text.slice(pos) };
}

// A table stage as Snowflake names it: @%"table", or @"schema".%"table" (the namespace comes
// before the %; @%"schema"."table" is not a table stage and is refused).
function tableStage(text) {
  const m = /^@(?:((?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_$]*))\.)?%(.*)$/s.exec(text.trim());
  if (!m) throw new Error(`not a table stage: ${text}`);
  const t = ident(m[2]);
  if (t.schema !== 'main' && m[1] === undefined) throw new Error(`not a table stage: ${text} (the schema goes before the %)`);
  if (m[1] !== undefined) return ident(`${m[1]}.${t.sql}`);
  return t;
}

// PUT 'file:///.../name' @%"table" ...: the stage location, temporary credentials and the key.
function put(sqlText, queryId) {
  const m = /^\s*PUT\s+(?:'file:\/\/([^']+)'|file:\/\/(\S+))\s+(@(?:"(?:[^"]|"")*"|[^\s"])+)\s*(.*?);?\s*$/is.exec(sqlText);
  if (!m) throw new Error('PUT: expected PUT \'file://...\' @%table [OPTIONS]');
  const t = tableStage(m[3]);
  // the options as the service reads them, with its defaults
  const opts = { AUTO_COMPRESS: 'TRUE', SOURCE_COMPRESSION: 'AUTO_DETECT', OVERWRITE: 'FALSE', PARALLEL: '4' };
  for (const [, k, v] of m[4].matchAll(/(\w+)\s*=\s*(\w+)/g)) {
    if (!(k.toUpperCase() in opts)) throw new Error(`PUT: unknown option ${k}`);
    opts[k.toUpperCase()] = v.toUpperCase();
  }
  const prefix = `stages/${crypto.randomUUID()}/`;
  const masterKey = crypto.randomBytes(16);
  const smkId = Math.floor(Math.random() * 1e6);
  uploads.set(prefix, { masterKey, queryId, smkId, schema: t.schema, table: t.name });
  return { ...EMPTY, command: 'UPLOAD', src_locations: [m[1] || m[2]], autoCompress: opts.AUTO_COMPRESS === 'TRUE',
           sourceCompression: opts.SOURCE_COMPRESSION.toLowerCase(), overwrite: opts.OVERWRITE === 'TRUE',
           parallel: Number(opts.PARALLEL), threshold: 209715200, clientShowEncryptionParameter: false,
           stageInfo: { locationType: 'S3', location: `${S3.bucket}/${prefix}`, path: prefix, region: S3.region,
                        endPoint: `127.0.0.1:${args.s3port}`, isClientSideEncrypted: true, useS3RegionalUrl: false,
                        creds: { AWS_KEY_ID: S3.keyId, AWS_SECRET_KEY: S3.secret, AWS_TOKEN: S3.token } },
           encryptionMaterial: { queryStageMasterKey: masterKey.toString('base64'), queryId, smkId } };
}

function stageDir(schema, table) {
  return `${stageRoot}/${encodeURIComponent(schema)}.${encodeURIComponent(table)}`;
}

// ALTER TABLE a SWAP WITH b: three renames in one transaction
async function swap(conn, sqlText) {
  const m = /^\s*ALTER\s+TABLE\s+(.*?)\s+SWAP\s+WITH\s+(.*?)\s*;?\s*$/is.exec(sqlText);
  const a = ident(m[1]), b = ident(m[2]);
  const q = (x) => '"' + x.replace(/"/g, '""') + '"';
  const tmp = q('__double_swap_' + a.name);
  await conn.run('BEGIN');
  try {
    await conn.run(`ALTER TABLE ${a.sql} RENAME TO ${tmp}`);
    await conn.run(`ALTER TABLE ${b.sql} RENAME TO ${q(a.name)}`);
    await conn.run(`ALTER TABLE ${q(a.schema)}.${tmp} RENAME TO ${q(b.name)}`);
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK');
    throw e;
  }
  return EMPTY;
}

// COPY INTO t FROM @%t FILE_FORMAT = (...) ON_ERROR = ABORT_STATEMENT PURGE = TRUE, loading the
// decrypted files of t's stage with the file format's CSV rules; all of them or none.
async function copyInto(conn, sqlText) {
  const m = /^\s*COPY\s+INTO\s+(.*?)\s+FROM\s+\(\s*SELECT\s+(.*?)\s+FROM\s+(@.*?)\s*\)\s+FILE_FORMAT\s*=\s*\((.*)\)\s*ON_ERROR\s*=\s*ABORT_STATEMENT\s+PURGE\s*=\s*TRUE\s*$/is.exec(sqlText);
  if (!m) throw new Error('COPY INTO: unsupported form (the double expects FROM (SELECT $1, ... FROM @%table) FILE_FORMAT = (...) ON_ERROR = ABORT_STATEMENT PURGE = TRUE)');
  const t = ident(m[1]);
  const st = tableStage(m[3]);
  if (st.schema !== t.schema || st.name !== t.name) throw new Error(`COPY INTO ${t.sql} from the stage of another table`);
  const selectList = m[2].split(',').map((x) => x.trim());
  const opts = m[4];
  const need = [/TYPE\s*=\s*CSV/i, /FIELD_OPTIONALLY_ENCLOSED_BY\s*=\s*'"'/i, /NULL_IF\s*=\s*\(\s*'\\\\N'\s*\)/i,
                /EMPTY_FIELD_AS_NULL\s*=\s*FALSE/i, /BINARY_FORMAT\s*=\s*HEX/i, /ESCAPE_UNENCLOSED_FIELD\s*=\s*NONE/i];
  for (const re of need) if (!re.test(opts)) throw new Error('COPY INTO: file format lacks ' + re.source);
  const dir = stageDir(t.schema, t.name);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).sort().map((f) => `${dir}/${f}`) : [];
  if (!files.length) return { ...EMPTY, rowset: [['Copy executed with 0 files processed.']], total: 1, returned: 1 };
  const cols = (await conn.runAndReadAll(
    `SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = $1 AND table_name = $2 ORDER BY column_index`,
    [t.schema, t.name])).getRows();
  const q = (x) => '"' + x.replace(/"/g, '""') + '"';
  const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
  const colspec = cols.map((c, i) => `'c${i}': 'VARCHAR'`).join(', ');
  // the transform must read column i from $i, through PARSE_JSON for semi-structured columns
  if (selectList.length !== cols.length) throw new Error(`COPY INTO: ${selectList.length} expressions for ${cols.length} columns`);
  cols.forEach((c, i) => {
    const want = c[1] === 'JSON' ? `PARSE_JSON($${i + 1})` : `$${i + 1}`;
    if (selectList[i].toUpperCase() !== want) throw new Error(`COPY INTO: column ${c[0]} is loaded by ${selectList[i]}, expected ${want}`);
  });
  const exprs = cols.map((c, i) => (c[1] === 'BLOB' ? `unhex(c${i})` : `CAST(c${i} AS ${c[1]})`)).join(', ');
  await conn.run(`INSERT INTO ${t.sql} SELECT ${exprs} FROM read_csv([${list}], header = false, delim = ',', quote = '"',
    escape = '"', nullstr = '\\N', allow_quoted_nulls = false, columns = {${colspec}}, auto_detect = false,
    max_line_size = 40000000)`); // Snowflake takes values up to 16 MB, quotes doubled at worst (DuckDB: 2 MB lines)
  for (const f of files) fs.unlinkSync(f); // PURGE = TRUE
  return { ...EMPTY, rowset: [[`${files.length} files loaded`]], total: 1, returned: 1 };
}

const DONE = { ...EMPTY, rowtype: [columnOf('status', 'VARCHAR')], rowset: [['Statement executed successfully.']], total: 1, returned: 1 };

// Snowflake's transactions, as documented: BEGIN [TRANSACTION] / START TRANSACTION opens one in the
// session (one already open: the BEGIN is ignored); COMMIT and ROLLBACK end it (none open: they do
// nothing); a DDL statement first commits the open transaction and then runs in its own. Returns
// the result for BEGIN/COMMIT/ROLLBACK, or null for any other statement. One difference: DuckDB
// aborts the whole transaction when a statement in it fails (Snowflake rolls back that statement
// only); pgwarehouse rolls back on any error either way.
async function transactionStep(sqlText, session) {
  const word = (/^\s*([A-Za-z]+)/.exec(sqlText) || [])[1]?.toUpperCase();
  if (word === 'BEGIN' || /^\s*START\s+TRANSACTION\b/i.test(sqlText)) {
    if (!session.txn) {
      const conn = await enqueue(connect);
      await conn.run('BEGIN TRANSACTION');
      session.txn = conn;
      session.txnUsed = Date.now();
    }
    return DONE;
  }
  if (word === 'COMMIT' || word === 'ROLLBACK') {
    const conn = session.txn;
    if (!conn) return DONE;
    session.txn = null;
    try {
      await enqueue(() => conn.run(word));
    } finally {
      conn.closeSync();
    }
    return DONE;
  }
  if (session.txn && /^(CREATE|DROP|ALTER|COMMENT|GRANT|REVOKE|UNDROP)$/.test(word)) {
    console.log('committed (a DDL statement in the transaction)');
    await transactionStep('COMMIT', session);
  }
  return null;
}

// Locks, coarsely: a statement that writes waits while another session has a transaction open
// (Snowflake locks per table; the double per database, which is stricter). A transaction left
// idle --detached-abort-after seconds while it blocks a writer is rolled back, as Snowflake rolls
// back a detached transaction (its client gone) idle for 5 minutes that blocks another (the default
// here; the tests use 1 s).
const DETACHED_MS = 1000 * Number(args['detached-abort-after'] || 300);
async function waitForLocks(sqlText, session, who = 'a writer') {
  if (!/^\s*(INSERT|UPDATE|DELETE|MERGE|COPY|TRUNCATE)\b/i.test(sqlText)) return;
  for (;;) {
    const others = [...sessions.values()].filter((o) => o !== session && o.txn);
    if (!others.length) return;
    for (const o of others)
      if (Date.now() - o.txnUsed >= DETACHED_MS) dropTransaction(o, `idle ${DETACHED_MS / 1000} s, blocking ${who}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function execute(sqlText, queryId, session) {
  if (/^\s*PUT\s/i.test(sqlText)) return put(sqlText, queryId);
  await waitForLocks(sqlText, session);
  const step = await transactionStep(sqlText, session);
  if (step) return step;
  return withConnection(async (conn) => {
    if (/^\s*ALTER\s+TABLE\s+.*\s+SWAP\s+WITH\s/is.test(sqlText)) return swap(conn, sqlText);
    if (/^\s*COPY\s+INTO\s/i.test(sqlText)) return copyInto(conn, sqlText);
    return resultOf(await conn.runAndReadAll(rewrite(sqlText)));
  }, session);
}

// A session that expired answers HTTP 200 with code 390112, as the drivers expect.
const EXPIRED = ['390112', 'Your session has expired. Please login again.', 200];

async function query(req, res, body, url) {
  const session = sessionOf(req, true);
  if (!session) return fail(res, ...EXPIRED);
  const rid = url.searchParams.get('requestId');
  if (!rid) return fail(res, '390400', 'requestId is required', 400);
  // no driver sends PUT/GET asynchronously (JDBC and Python document it as unsupported): refuse it,
  // so a client that does fails here rather than on the real service
  if (body.asyncExec && /^\s*(PUT|GET)\s/i.test(body.sqlText || ''))
    return fail(res, '000002', 'PUT and GET cannot run asynchronously');
  // --busy-once REGEX: the first matching statement is answered HTTP 503 without running, as an
  // overloaded service answers; clients resend it (the drivers with retryCount in the URL)
  if (args['busy-once'] && !busied && new RegExp(args['busy-once'], 'i').test(body.sqlText || '')) {
    busied++;
    console.log(`busy ${rid}`);
    res.writeHead(503, { 'Content-Length': 0 });
    return res.end();
  }
  let entry = requests.get(rid);
  if (entry) {
    // the same requestId again (a client's retry): the statement is not run a second time
    if (entry.sqlText !== (body.sqlText || '')) return fail(res, '390400', `requestId ${rid} was used for another statement`, 400);
    console.log(`replayed ${rid}`);
  } else {
    const queryId = crypto.randomUUID();
    const run = execute(body.sqlText || '', queryId, session).then(
      (data) => ({ success: true, code: null, message: null, data: { ...data, queryId } }),
      (e) => ({ success: false, code: '002003', message: 'SQL compilation error:\n' + String(e.message || e),
                data: { queryId, sqlState: '42000' } }));
    entry = { sqlText: body.sqlText || '', queryId, run };
    run.then((r) => { entry.outcome = r; });
    requests.set(rid, entry);
    byQueryId.set(queryId, entry);
    console.log(`ran ${rid}`);
    // --drop-after REGEX: the first matching statement runs, then its connection is cut before the
    // answer, as a network failure after the service ran it would look
    if (args['drop-after'] && !dropped && new RegExp(args['drop-after'], 'i').test(entry.sqlText)) {
      dropped++;
      await run;
      console.log(`dropped ${rid}`);
      return req.socket.destroy();
    }
  }
  const { queryId, run } = entry;
  if (body.asyncExec) {
    return reply(res, { success: true, code: '333334', message: 'Asynchronous execution in progress.',
                        data: { queryId, getResultUrl: `/queries/${queryId}/result` } });
  }
  reply(res, await run);
}

// GET /monitoring/queries/<id>: the status the Node driver checks before it fetches a result by id
function monitoring(req, res, id) {
  if (!sessionOf(req)) return fail(res, ...EXPIRED);
  const e = byQueryId.get(id);
  if (!e) return reply(res, { success: true, code: null, message: null, data: { queries: [] } });
  const running = !e.outcome || (polls.get(id) || 0) < Number(args['running-polls'] || 0);
  const status = running ? 'RUNNING' : e.outcome.success ? 'SUCCESS' : 'FAILED_WITH_ERROR';
  if (running && e.outcome) polls.set(id, (polls.get(id) || 0) + 1);
  reply(res, { success: true, code: null, message: null,
               data: { queries: [{ id, status, sqlText: e.sqlText, errorCode: e.outcome && e.outcome.code,
                                   errorMessage: e.outcome && !e.outcome.success ? e.outcome.message : null }] } });
}

async function result(req, res, id) {
  if (!sessionOf(req)) return fail(res, ...EXPIRED);
  const e = byQueryId.get(id);
  if (!e) return fail(res, '000709', `Statement ${id} not found`);
  // --running-polls N: the first N polls of each statement find it still running (333333)
  const n = polls.get(id) || 0;
  if (n < Number(args['running-polls'] || 0)) {
    polls.set(id, n + 1);
    console.log(`running ${id}`);
    return reply(res, { success: true, code: '333333', message: 'Query execution in progress.',
                        data: { queryId: id, getResultUrl: `/queries/${id}/result` } });
  }
  reply(res, await e.run);
}

// --- the stage's S3 endpoint -------------------------------------------------------------------
function s3error(res, status, code, message) {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(xml);
}

function hmac(key, text) {
  return crypto.createHmac('sha256', key).update(text).digest();
}
const sha256hex = (b) => crypto.createHash('sha256').update(b).digest('hex');
const rfc3986 = (x) => encodeURIComponent(x).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

// AWS Signature Version 4, recomputed from the request as S3 does. The payload is signed as its
// SHA-256, as UNSIGNED-PAYLOAD, or streamed in aws-chunked encoding (each chunk signed, or unsigned
// with a trailing checksum), which is how the AWS SDK v3 in Snowflake's Node driver sends files.
// Returns { error } or { payload } (the object's bytes, chunk framing removed).
function checkSigV4(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { error: 'AuthorizationHeaderMalformed' };
  const [, keyId, day, region, signed, signature] = m;
  if (keyId !== S3.keyId) return { error: 'InvalidAccessKeyId' };
  if (req.headers['x-amz-security-token'] !== S3.token) return { error: 'InvalidToken' };
  const mode = req.headers['x-amz-content-sha256'] || '';
  const names = signed.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date') || !names.includes('x-amz-content-sha256'))
    return { error: 'AccessDenied' };
  const url = new URL(req.url, 'http://s3');
  const query = [...url.searchParams].map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).sort().join('&');
  const canon = [req.method, url.pathname, query, ...names.map((n) => `${n}:${String(req.headers[n]).trim().replace(/\s+/g, ' ')}`),
    '', signed, mode].join('\n');
  const date = req.headers['x-amz-date'];
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256hex(canon)].join('\n');
  const key = hmac(hmac(hmac(hmac('AWS4' + S3.secret, day), region), 's3'), 'aws4_request');
  if (hmac(key, toSign).toString('hex') !== signature) return { error: 'SignatureDoesNotMatch' };
  if (mode === 'UNSIGNED-PAYLOAD') return { payload: body };
  if (/^[0-9a-f]{64}$/.test(mode)) return sha256hex(body) === mode ? { payload: body } : { error: 'XAmzContentSHA256Mismatch' };
  if (/^STREAMING-(UNSIGNED-PAYLOAD-TRAILER|AWS4-HMAC-SHA256-PAYLOAD(-TRAILER)?)$/.test(mode))
    return dechunk(req, body, mode, { key, date, scope, seed: signature });
  return { error: 'InvalidArgument' };
}

// aws-chunked: "<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n" ... "0...\r\n" then trailers
// ("x-amz-checksum-crc32:<base64>\r\n") and "\r\n". Checks the chunk signatures (signed modes), the
// decoded length and the trailing checksum.
function dechunk(req, body, mode, sig) {
  if (!/aws-chunked/.test(req.headers['content-encoding'] || '')) return { error: 'InvalidArgument' };
  const parts = [];
  let pos = 0, prev = sig.seed;
  for (;;) {
    const eol = body.indexOf('\r\n', pos);
    if (eol < 0) return { error: 'IncompleteBody' };
    const [sizeHex, ext] = body.subarray(pos, eol).toString().split(';');
    const size = parseInt(sizeHex, 16);
    const chunk = body.subarray(eol + 2, eol + 2 + size);
    if (mode.startsWith('STREAMING-AWS4')) {
      const want = hmac(sig.key, ['AWS4-HMAC-SHA256-PAYLOAD', sig.date, sig.scope, prev, sha256hex(''), sha256hex(chunk)].join('\n')).toString('hex');
      if (ext !== `chunk-signature=${want}`) return { error: 'SignatureDoesNotMatch' };
      prev = want;
    }
    if (size === 0) { pos = eol + 2; break; }
    parts.push(chunk);
    pos = eol + 2 + size + 2;
  }
  const payload = Buffer.concat(parts);
  if (String(payload.length) !== req.headers['x-amz-decoded-content-length']) return { error: 'IncompleteBody' };
  const trailer = (req.headers['x-amz-trailer'] || '').toLowerCase();
  if (trailer) {
    const lines = body.subarray(pos).toString().split('\r\n');
    const got = lines.map((l) => l.split(':')).find(([k]) => k.toLowerCase() === trailer);
    const algo = trailer.replace(/^x-amz-checksum-/, '');
    const sums = { crc32: () => { const b = Buffer.alloc(4); b.writeUInt32BE(zlib.crc32(payload)); return b.toString('base64'); },
                   sha256: () => crypto.createHash('sha256').update(payload).digest('base64'),
                   sha1: () => crypto.createHash('sha1').update(payload).digest('base64') };
    if (!sums[algo]) return { error: 'InvalidRequest' };
    if (!got || got[1].trim() !== sums[algo]()) return { error: 'BadDigest' };
  }
  return { payload };
}

function s3put(req, res, raw) {
  const { error, payload: body } = checkSigV4(req, raw);
  if (error) return s3error(res, 403, error, 'signature check failed');
  const key = decodeURIComponent(new URL(req.url, 'http://s3').pathname).replace(`/${S3.bucket}/`, '');
  const prefix = [...uploads.keys()].find((p) => key.startsWith(p));
  if (!prefix) return s3error(res, 403, 'AccessDenied', 'no PUT handed out this location');
  const up = uploads.get(prefix);
  // S3 keeps only user metadata (x-amz-meta-*) with an object: an envelope sent as bare x-amz-key
  // headers would be lost and the file could never be decrypted by COPY INTO
  if (!req.headers['x-amz-meta-x-amz-key'] || !req.headers['x-amz-meta-x-amz-iv'] || !req.headers['x-amz-meta-x-amz-matdesc'])
    return s3error(res, 400, 'InvalidRequest', 'the encryption envelope is missing from the user metadata (x-amz-meta-x-amz-key/-iv/-matdesc)');
  const matdesc = JSON.parse(req.headers['x-amz-meta-x-amz-matdesc']);
  if (matdesc.queryId !== up.queryId || String(matdesc.smkId) !== String(up.smkId) || matdesc.keySize !== '128')
    return s3error(res, 400, 'InvalidRequest', 'x-amz-matdesc does not match the encryption material');
  // the file key, wrapped with the master key (AES-ECB), then the file (AES-CBC)
  const d1 = crypto.createDecipheriv('aes-128-ecb', up.masterKey, null);
  const fileKey = Buffer.concat([d1.update(Buffer.from(req.headers['x-amz-meta-x-amz-key'], 'base64')), d1.final()]);
  const d2 = crypto.createDecipheriv('aes-128-cbc', fileKey, Buffer.from(req.headers['x-amz-meta-x-amz-iv'], 'base64'));
  const gz = Buffer.concat([d2.update(body), d2.final()]);
  // the digest the clients keep to skip a file uploaded before: JDBC, Python and pgwarehouse name it
  // sfc-digest; the Node driver (3.3.0) sends it as sfc_digest. Checked when present.
  const digest = crypto.createHash('sha256').update(gz).digest('base64');
  const sent = req.headers['x-amz-meta-sfc-digest'] || req.headers['x-amz-meta-sfc_digest'];
  if (!sent || sent !== digest) return s3error(res, 400, 'BadDigest', 'sfc-digest does not match the uploaded file');
  const dir = stageDir(up.schema, up.table);
  fs.mkdirSync(dir, { recursive: true });
  const file = gz[0] === 0x1f && gz[1] === 0x8b ? zlib.gunzipSync(gz) : gz;
  fs.writeFileSync(`${dir}/${key.slice(prefix.length).replace(/[^A-Za-z0-9_.-]/g, '_')}.csv`, file);
  const meta = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-amz-meta-')));
  objects.set(key, { meta, length: body.length });
  res.writeHead(200, { ETag: '"' + crypto.createHash('md5').update(body).digest('hex') + '"' });
  res.end();
}

// HEAD of an object: its user metadata, or 404 (the Node driver asks before uploading without OVERWRITE)
function s3head(req, res) {
  const { error } = checkSigV4(req, Buffer.alloc(0));
  if (error) { res.writeHead(403); return res.end(); }
  const key = decodeURIComponent(new URL(req.url, 'http://s3').pathname).replace(`/${S3.bucket}/`, '');
  const o = objects.get(key);
  if (!o) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { ...o.meta, 'Content-Length': o.length });
  res.end();
}

// --trace FILE: one JSON line per request (method, path, query, headers, body; secrets masked), so a
// test can compare what pgwarehouse sends with what Snowflake's own driver sends
function trace(req, url, body, endpoint = 'service') {
  if (!args.trace) return;
  // secrets become ***; an Authorization header keeps its shape (scheme, credential scope, signed headers)
  const hide = (k, v) => {
    if (typeof v !== 'string') return v;
    if (/^authorization$/i.test(k)) return v.replace(/Token="[^"]*"/, 'Token="***"').replace(/Credential=[^/]+/, 'Credential=***')
      .replace(/Signature=[0-9a-f]+/, 'Signature=***');
    return /^(TOKEN|PASSWORD|oldSessionToken|x-amz-security-token)$/i.test(k) ? '***' : v;
  };
  const mask = (o) => JSON.parse(JSON.stringify(o, hide));
  fs.appendFileSync(args.trace, JSON.stringify({ endpoint, method: req.method, path: url.pathname,
    query: Object.fromEntries(url.searchParams), headers: mask(req.headers), body: mask(body) }) + '\n');
}

async function main() {
  // --tls-cert/--tls-key: the stage's S3 endpoint over HTTPS, as S3 is (the drivers reach it at
  // https://<endPoint>); with --tls-service true the service endpoint too
  const tls = args['tls-cert'] ? { cert: fs.readFileSync(args['tls-cert']), key: fs.readFileSync(args['tls-key']) } : null;
  const serve = (secure, fn) => (secure ? https.createServer(tls, fn) : http.createServer(fn));
  const s3 = serve(!!tls, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        trace(req, new URL(req.url, 'http://s3'), {}, 's3');
        if (req.method === 'PUT') return s3put(req, res, Buffer.concat(chunks));
        if (req.method === 'HEAD') return s3head(req, res);
        // the Node driver asks for the bucket's transfer acceleration; a stage's scoped credentials
        // may not read it (the drivers then upload without acceleration)
        if (req.method === 'GET' && new URL(req.url, 'http://s3').searchParams.has('accelerate'))
          return s3error(res, 403, 'AccessDenied', 'Access Denied');
        s3error(res, 405, 'MethodNotAllowed', 'the double takes PUT and HEAD only');
      } catch (e) {
        s3error(res, 400, 'InvalidRequest', String(e.message || e));
      }
    });
  });
  // port 0: the kernel picks free ports, reported on the "listening" line for the harness
  await new Promise((ok) => s3.listen(Number(args.s3port || 0), '127.0.0.1', ok));
  args.s3port = s3.address().port;
  const server = serve(!!tls && args['tls-service'] === 'true', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://double');
      let body = {};
      try {
        const raw = Buffer.concat(chunks);
        const text = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
        if (text.length) body = JSON.parse(text.toString());
      } catch (e) {
        return fail(res, '390400', 'malformed request body', 400);
      }
      const p = url.pathname;
      trace(req, url, body);
      if (req.method === 'POST' && p === '/session/v1/login-request') return login(req, res, body, url);
      if (req.method === 'POST' && p === '/session/token-request') return tokenRequest(req, res, body);
      if (req.method === 'POST' && p === '/queries/v1/query-request') return query(req, res, body, url);
      const m = /^\/queries\/([^/]+)\/result$/.exec(p);
      if (req.method === 'GET' && m) return result(req, res, m[1]);
      const mq = /^\/monitoring\/queries\/([^/]+)$/.exec(p);
      if (req.method === 'GET' && mq) return monitoring(req, res, mq[1]);
      if (req.method === 'POST' && p === '/telemetry/send') return reply(res, { success: true, code: null, message: null, data: null });
      if (req.method === 'POST' && p === '/__test/sql') return testSql(res, body);
      if (req.method === 'POST' && p === '/__test/pause') return pause().then(() => reply(res, { success: true }));
      if (req.method === 'POST' && p === '/__test/resume') { resumeStatements(); return reply(res, { success: true }); }
      if (req.method === 'POST' && p === '/session') {
        if (url.searchParams.get('delete') === 'true') dropTransaction(sessionOf(req), 'sign-out');
        return reply(res, { success: true, code: null, message: null, data: null });
      }
      if (req.method === 'POST' && p === '/queries/v1/abort-request') {
        if (!sessionOf(req)) return fail(res, ...EXPIRED);
        console.log(`abort ${body.requestId}`);  // the tests look for this line
        return reply(res, { success: true, code: null, message: null, data: null });
      }
      fail(res, '390404', `no such endpoint ${req.method} ${p}`, 404);
    });
  });
  server.listen(Number(args.port || 0), '127.0.0.1', () =>
    console.log(`listening ${server.address().port} ${args.s3port}`));
}
main();
