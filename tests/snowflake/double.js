// A local double of the parts of Snowflake's session protocol pgwarehouse uses, for tests only.
// It follows the public documentation and the open-source drivers' behaviour:
//   POST /session/v1/login-request   key-pair (SNOWFLAKE_JWT) or password sign-in -> session token
//   POST /queries/v1/query-request   run sqlText (sync, or asyncExec with a result URL)
//   GET  /queries/<id>/result        the result of an async query
//   POST /session?delete=true        sign out
//   POST /queries/v1/abort-request   cancel a statement by its requestId (logged)
//   PUT <table stage> answered with an S3 stageInfo and encryptionMaterial; the files then arrive at
//   a local S3-compatible endpoint (--s3port) that checks the SigV4 signature with the temporary
//   credentials it handed out and decrypts each file with the material of that PUT.
// SQL runs on an embedded DuckDB after a small rewrite of Snowflake syntax (see rewrite()); the
// database file is opened per statement, so tests can read it between statements.
// Usage: node double.js [--port N] [--s3port M] --db FILE --account A --user U [--pubkey PEM] [--password PW]
//        [--token PAT_OR_OAUTH] [--token-max-uses N] [--validity SECONDS]
// (ports default to free ones; the first output line is "listening <port> <s3port>")
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
const requests = new Map(); // requestId -> { sqlText, queryId, run }: a resent request is not run again
const polls = new Map(); // queryId -> "still running" answers given so far (--running-polls N)
let dropped = 0; // statements whose answer was cut off (--drop-after REGEX, first match only)
const uploads = new Map(); // S3 key prefix -> { masterKey, queryId, smkId, dir }
const S3 = { keyId: 'AKIADOUBLE' + crypto.randomBytes(5).toString('hex').toUpperCase(),
             secret: crypto.randomBytes(20).toString('base64'), token: crypto.randomBytes(16).toString('hex'),
             bucket: 'sfc-double-stage', region: 'us-west-2' };
const stageRoot = (args.db || '/tmp/double') + '.stages';
let queue = Promise.resolve(); // statements run one at a time

async function withConnection(fn) {
  const run = queue.then(async () => {
    const db = await DuckDBInstance.create(args.db || ':memory:');
    const conn = await db.connect();
    try {
      await conn.run("SET TimeZone = 'UTC'");
      return await fn(conn);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });
  queue = run.catch(() => {});
  return run;
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
  const token = crypto.randomBytes(24).toString('hex');
  sessions.set(token, { database: url.searchParams.get('databaseName'), schema: url.searchParams.get('schemaName'),
                        uses: 0, expires: Date.now() + 1000 * Number(args.validity || 3600) });
  console.log(`login ${d.AUTHENTICATOR || 'PASSWORD'}`);
  reply(res, {
    success: true, code: null, message: null,
    data: { token, masterToken: crypto.randomBytes(24).toString('hex'), validityInSeconds: Number(args.validity || 3600),
            masterValidityInSeconds: 14400, sessionId: Date.now(), parameters: [],
            sessionInfo: { databaseName: url.searchParams.get('databaseName'), schemaName: url.searchParams.get('schemaName'),
                           warehouseName: url.searchParams.get('warehouse'), roleName: url.searchParams.get('roleName') } },
  });
}

// --token-max-uses N: a session expires after N statements, as a long run's session would
function sessionOf(req) {
  const m = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization || '');
  const s = m ? sessions.get(m[1]) : undefined;
  if (s && ((args['token-max-uses'] && ++s.uses > Number(args['token-max-uses'])) || Date.now() > s.expires)) {
    sessions.delete(m[1]);
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

// Snowflake SQL -> DuckDB SQL, for the statements pgwarehouse sends.
function rewrite(sql) {
  sql = replaceCall(sql, 'TO_VARCHAR', (a) => `CAST(${a} AS VARCHAR)`);
  // DuckDB renames within the schema: drop the qualifier of the new name
  sql = sql.replace(/(RENAME\s+TO\s+)(?:"(?:[^"]|"")*"\.)("(?:[^"]|"")*")/i, '$1$2');
  return sql
    .replace(/\bCURRENT_VERSION\(\)/gi, "'9.0.0-double'")
    .replace(/\bNUMBER\(/gi, 'DECIMAL(')
    .replace(/\bTIMESTAMP_NTZ\b/gi, 'TIMESTAMP')
    .replace(/\bTIMESTAMP_TZ\b/gi, 'TIMESTAMPTZ')
    .replace(/\bFLOAT\b/gi, 'DOUBLE') // Snowflake's FLOAT is 64-bit
    .replace(/\bVARIANT\b/gi, 'JSON')
    .replace(/\bARRAY\b(?!\s*\()/gi, 'JSON')
    .replace(/\bBINARY\b/gi, 'BLOB')
    .replace(/\bTEXT\b/gi, 'VARCHAR')
    .replace(/\bSTARTSWITH\(/gi, 'starts_with(')
    .replace(/\bDATEDIFF\(\s*day\s*,/gi, "date_diff('day',")
    .replace(/\bDATE_PART\(\s*epoch_microsecond\s*,/gi, 'epoch_us(')
    .replace(/\bHEX_ENCODE\(/gi, 'hex(')
    .replace(/\bINFORMATION_SCHEMA\.TABLES\b/gi,
      '(SELECT schema_name AS TABLE_SCHEMA, table_name AS TABLE_NAME, comment AS COMMENT, estimated_size AS ROW_COUNT FROM duckdb_tables())')
    .replace(/\bCURRENT_SCHEMA\(\)/gi, "'main'");
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

function resultOf(reader) {
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const rows = reader.getRows().map((r) => r.map((v) => (v === null ? null : String(v))));
  return {
    rowtype: names.map((n, i) => ({ name: n, type: typeOf(types[i]), nullable: true })),
    rowset: rows, total: rows.length, returned: rows.length, queryResultFormat: 'json', parameters: [],
  };
}
const EMPTY = { rowtype: [], rowset: [], total: 0, returned: 0, queryResultFormat: 'json', parameters: [] };

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
  const m = /^\s*PUT\s+'file:\/\/([^']+)'\s+(@.*?)\s+(AUTO_COMPRESS|SOURCE_COMPRESSION|OVERWRITE|PARALLEL)/is.exec(sqlText);
  if (!m) throw new Error('PUT: expected PUT \'file://...\' @%table OPTIONS');
  const t = tableStage(m[2]);
  const prefix = `stages/${crypto.randomUUID()}/`;
  const masterKey = crypto.randomBytes(16);
  const smkId = Math.floor(Math.random() * 1e6);
  uploads.set(prefix, { masterKey, queryId, smkId, schema: t.schema, table: t.name });
  return { ...EMPTY, command: 'UPLOAD', src_locations: [m[1]], autoCompress: false, sourceCompression: 'gzip',
           overwrite: true, parallel: 1,
           stageInfo: { locationType: 'S3', location: `${S3.bucket}/${prefix}`, path: prefix, region: S3.region,
                        endPoint: `127.0.0.1:${args.s3port}`, isClientSideEncrypted: true,
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
    escape = '"', nullstr = '\\N', allow_quoted_nulls = false, columns = {${colspec}}, auto_detect = false)`);
  for (const f of files) fs.unlinkSync(f); // PURGE = TRUE
  return { ...EMPTY, rowset: [[`${files.length} files loaded`]], total: 1, returned: 1 };
}

async function execute(sqlText, queryId) {
  if (/^\s*PUT\s/i.test(sqlText)) return put(sqlText, queryId);
  return withConnection(async (conn) => {
    if (/^\s*ALTER\s+TABLE\s+.*\s+SWAP\s+WITH\s/is.test(sqlText)) return swap(conn, sqlText);
    if (/^\s*COPY\s+INTO\s/i.test(sqlText)) return copyInto(conn, sqlText);
    return resultOf(await conn.runAndReadAll(rewrite(sqlText)));
  });
}

// A session that expired answers HTTP 200 with code 390112, as the drivers expect.
const EXPIRED = ['390112', 'Your session has expired. Please login again.', 200];

async function query(req, res, body, url) {
  if (!sessionOf(req)) return fail(res, ...EXPIRED);
  const rid = url.searchParams.get('requestId');
  if (!rid) return fail(res, '390400', 'requestId is required', 400);
  // no driver sends PUT/GET asynchronously (JDBC and Python document it as unsupported): refuse it,
  // so a client that does fails here rather than on the real service
  if (body.asyncExec && /^\s*(PUT|GET)\s/i.test(body.sqlText || ''))
    return fail(res, '000002', 'PUT and GET cannot run asynchronously');
  let entry = requests.get(rid);
  if (entry) {
    // the same requestId again (a client's retry): the statement is not run a second time
    if (entry.sqlText !== (body.sqlText || '')) return fail(res, '390400', `requestId ${rid} was used for another statement`, 400);
    console.log(`replayed ${rid}`);
  } else {
    const queryId = crypto.randomUUID();
    const run = execute(body.sqlText || '', queryId).then(
      (data) => ({ success: true, code: null, message: null, data: { ...data, queryId } }),
      (e) => ({ success: false, code: '002003', message: 'SQL compilation error:\n' + String(e.message || e),
                data: { queryId, sqlState: '42000' } }));
    entry = { sqlText: body.sqlText || '', queryId, run };
    requests.set(rid, entry);
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
    asyncResults.set(queryId, run);
    return reply(res, { success: true, code: '333334', message: 'Asynchronous execution in progress.',
                        data: { queryId, getResultUrl: `/queries/${queryId}/result` } });
  }
  reply(res, await run);
}

async function result(req, res, id) {
  if (!sessions.has((/Snowflake Token="([^"]+)"/.exec(req.headers.authorization || '') || [])[1])) return fail(res, ...EXPIRED);
  const r = asyncResults.get(id);
  if (!r) return fail(res, '000709', `Statement ${id} not found`);
  // --running-polls N: the first N polls of each statement find it still running (333333)
  const n = polls.get(id) || 0;
  if (n < Number(args['running-polls'] || 0)) {
    polls.set(id, n + 1);
    console.log(`running ${id}`);
    return reply(res, { success: true, code: '333333', message: 'Query execution in progress.',
                        data: { queryId: id, getResultUrl: `/queries/${id}/result` } });
  }
  reply(res, await r);
}

// --- the stage's S3 endpoint -------------------------------------------------------------------
function s3error(res, status, code, message) {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(xml);
}

// AWS Signature Version 4, recomputed from the request as S3 does
function checkSigV4(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'AuthorizationHeaderMalformed';
  const [, keyId, day, region, signed, signature] = m;
  if (keyId !== S3.keyId) return 'InvalidAccessKeyId';
  if (req.headers['x-amz-security-token'] !== S3.token) return 'InvalidToken';
  const payloadHash = crypto.createHash('sha256').update(body).digest('hex');
  if (req.headers['x-amz-content-sha256'] !== payloadHash) return 'XAmzContentSHA256Mismatch';
  const names = signed.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date') || !names.includes('x-amz-content-sha256'))
    return 'AccessDenied';
  const canon = [req.method, new URL(req.url, 'http://s3').pathname, '',
    ...names.map((n) => `${n}:${String(req.headers[n]).trim()}`), '', signed, payloadHash].join('\n');
  const date = req.headers['x-amz-date'];
  const toSign = ['AWS4-HMAC-SHA256', date, `${day}/${region}/s3/aws4_request`,
    crypto.createHash('sha256').update(canon).digest('hex')].join('\n');
  let k = crypto.createHmac('sha256', 'AWS4' + S3.secret).update(day).digest();
  k = crypto.createHmac('sha256', k).update(region).digest();
  k = crypto.createHmac('sha256', k).update('s3').digest();
  k = crypto.createHmac('sha256', k).update('aws4_request').digest();
  const want = crypto.createHmac('sha256', k).update(toSign).digest('hex');
  return want === signature ? null : 'SignatureDoesNotMatch';
}

function s3put(req, res, body) {
  const why = checkSigV4(req, body);
  if (why) return s3error(res, 403, why, 'signature check failed');
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
  const digest = crypto.createHash('sha256').update(gz).digest('base64');
  if (req.headers['x-amz-meta-sfc-digest'] !== digest)
    return s3error(res, 400, 'BadDigest', 'sfc-digest does not match the uploaded file');
  const dir = stageDir(up.schema, up.table);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${dir}/${key.slice(prefix.length).replace(/[^A-Za-z0-9_.-]/g, '_')}.csv`, require('node:zlib').gunzipSync(gz));
  res.writeHead(200, { ETag: '"' + crypto.createHash('md5').update(body).digest('hex') + '"' });
  res.end();
}

async function main() {
  const s3 = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        if (req.method === 'PUT') return s3put(req, res, Buffer.concat(chunks));
        s3error(res, 405, 'MethodNotAllowed', 'the double takes PUT only');
      } catch (e) {
        s3error(res, 400, 'InvalidRequest', String(e.message || e));
      }
    });
  });
  // port 0: the kernel picks free ports, reported on the "listening" line for the harness
  await new Promise((ok) => s3.listen(Number(args.s3port || 0), '127.0.0.1', ok));
  args.s3port = s3.address().port;
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
      if (req.method === 'POST' && p === '/queries/v1/query-request') return query(req, res, body, url);
      const m = /^\/queries\/([^/]+)\/result$/.exec(p);
      if (req.method === 'GET' && m) return result(req, res, m[1]);
      if (req.method === 'POST' && p === '/session') return reply(res, { success: true, code: null, message: null, data: null });
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
