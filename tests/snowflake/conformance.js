// Conformance of the Snowflake double with Snowflake's official Node.js driver (snowflake-sdk,
// pinned in scripts/deps.sh): if the driver, written against the real service, accepts the double's
// answers, the double speaks the protocol as the service does, not only as pgwarehouse reads it.
// Checks key-pair sign-in, DDL/DML, every type the tests use in Snowflake's result encoding, an
// error, PUT of a file + COPY INTO done by the driver itself (its own S3 upload over HTTPS), an
// async query fetched by its id, a statement resent after its answer was lost, a transaction
// seen from a second session, and a MERGE as change data capture sends it. Prints "ok <what>" per check, "FAIL <what>: <why>" and exits 1 on
// the first failure.
// Usage (environment from tests/lib/sfdouble.sh with SFD_TLS=1, NODE_EXTRA_CA_CERTS=DIR/ca.pem):
//   node conformance.js WORKDIR
'use strict';
const fs = require('node:fs');
const assert = require('node:assert/strict');
const snowflake = require('snowflake-sdk');

snowflake.configure({ logLevel: 'OFF', disableOCSPChecks: true });
const dir = process.argv[2];
const env = process.env;

function query(conn, sqlText, extra = {}) {
  return new Promise((ok, no) =>
    conn.execute({ sqlText, ...extra, complete: (err, stmt, rows) => (err ? no(err) : ok({ stmt, rows })) }));
}

async function check(what, fn) {
  try {
    await fn();
    console.log(`ok ${what}`);
  } catch (e) {
    console.log(`FAIL ${what}: ${e && e.message ? e.message.replace(/\n/g, " | ") : e}`);
    process.exit(1);
  }
}

function connection() {
  return snowflake.createConnection({
    account: env.SNOWSQL_ACCOUNT.split('.')[0], username: env.SNOWSQL_USER,
    accessUrl: `${env.SNOWSQL_PROTOCOL}://${env.SNOWSQL_HOST}:${env.SNOWSQL_PORT}`,
    authenticator: 'SNOWFLAKE_JWT', privateKeyPath: env.SNOWSQL_PRIVATE_KEY_PATH,
    privateKeyPass: env.SNOWSQL_PRIVATE_KEY_PASSPHRASE,
    database: env.SNOWSQL_DATABASE, schema: env.SNOWSQL_SCHEMA, warehouse: env.SNOWSQL_WAREHOUSE,
  });
}

async function count(conn, table) {
  return (await query(conn, `SELECT COUNT(*) AS "C" FROM "${table}"`)).rows[0].C;
}

async function main() {
  const conn = connection();
  await check('key-pair sign-in (JWT with iat/exp in milliseconds)', () => conn.connectAsync());

  await check('DDL and DML', async () => {
    await query(conn, `CREATE TABLE "TYPED" ("N" NUMBER(10,2), "I" NUMBER(19,0), "S" VARCHAR, "D" DATE,
      "TN" TIMESTAMP_NTZ, "TL" TIMESTAMP_LTZ, "TZ" TIMESTAMP_TZ, "B" BOOLEAN, "F" FLOAT, "BI" BINARY, "V" VARIANT)`);
    const { rows } = await query(conn, `INSERT INTO "TYPED" SELECT 12.50, 9007199254740991, 'h\u00e9llo "q"',
      '2024-02-29'::DATE, '1969-12-31 23:59:59.5'::TIMESTAMP_NTZ, '2021-03-04 05:06:07.123456'::TIMESTAMP_LTZ,
      '2021-03-04 05:06:07.5+00:00'::TIMESTAMP_TZ, TRUE, 1.5, HEX_DECODE_BINARY('AB00FF'), PARSE_JSON('{"a": [1, 2], "b": null}')
      UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`);
    assert.equal(rows.length, 1);
  });

  await check('typed results in Snowflake encoding (NUMBER VARCHAR DATE TIMESTAMP_NTZ/LTZ/TZ BOOLEAN FLOAT BINARY VARIANT)', async () => {
    const { stmt, rows } = await query(conn, 'SELECT * FROM "TYPED" ORDER BY "I" NULLS LAST');
    const types = stmt.getColumns().map((c) => c.getType());
    assert.deepEqual(types, ['fixed', 'fixed', 'text', 'date', 'timestamp_ntz', 'timestamp_ltz', 'timestamp_tz',
                             'boolean', 'real', 'binary', 'variant']);
    assert.equal(stmt.getColumns()[0].getScale(), 2);
    const r = rows[0];
    assert.equal(r.N, 12.5);
    assert.equal(r.I, 9007199254740991);
    assert.equal(r.S, 'h\u00e9llo "q"');
    assert.equal(r.D.toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(r.TN.getTime(), -500);
    assert.equal(r.TL.toISOString(), '2021-03-04T05:06:07.123Z');
    assert.equal(r.TL.getNanoSeconds(), 123456000);
    assert.equal(r.TZ.getTime(), Date.UTC(2021, 2, 4, 5, 6, 7, 500));
    assert.equal(r.B, true);
    assert.equal(r.F, 1.5);
    assert.ok(Buffer.isBuffer(r.BI));
    assert.equal(r.BI.toString('hex'), 'ab00ff');
    assert.deepEqual(r.V, { a: [1, 2], b: null });
    for (const [k, v] of Object.entries(rows[1])) assert.equal(v, null, `NULL ${k}`);
  });

  await check('an error comes back as the service reports it (code, SQL state)', async () => {
    await assert.rejects(query(conn, 'SELECT * FROM "NO_SUCH_TABLE"'), (e) => {
      assert.equal(e.code, '002003');
      assert.match(e.sqlState, /^\w{5}$/);
      return true;
    });
  });

  await check('PUT file:// + COPY INTO by the driver (its own encrypted S3 upload over HTTPS)', async () => {
    await query(conn, 'CREATE TABLE "LOADED" ("ID" NUMBER(10,0), "NAME" VARCHAR, "RAW" BINARY)');
    const csv = `${dir}/rows.csv`;
    const lines = [];
    for (let i = 1; i <= 1000; i++) lines.push(`${i},"name ""${i}""",${(i % 256).toString(16).padStart(2, '0')}`);
    lines.push('1001,\\N,\\N');
    fs.writeFileSync(csv, lines.join('\n') + '\n');
    const put = await query(conn, `PUT file://${csv} @%"LOADED"`);
    assert.equal(put.rows.length, 1);
    assert.equal(put.rows[0].status, 'UPLOADED');
    assert.equal(put.rows[0].target, 'rows.csv.gz');
    await query(conn, `COPY INTO "LOADED" FROM (SELECT $1, $2, $3 FROM @%"LOADED") FILE_FORMAT = (TYPE = CSV
      FIELD_OPTIONALLY_ENCLOSED_BY = '"' NULL_IF = ('\\\\N') EMPTY_FIELD_AS_NULL = FALSE BINARY_FORMAT = HEX
      ESCAPE_UNENCLOSED_FIELD = NONE) ON_ERROR = ABORT_STATEMENT PURGE = TRUE`);
    const { rows } = await query(conn, 'SELECT COUNT(*) AS "C", SUM("ID") AS "S", MAX("NAME") AS "M", COUNT("RAW") AS "R" FROM "LOADED"');
    assert.deepEqual(rows[0], { C: 1001, S: 501501, M: 'name "999"', R: 1000 });
  });

  await check('an async query fetched by its query id (status polled at /monitoring/queries)', async () => {
    const queryId = await new Promise((ok, no) => conn.execute({
      sqlText: 'SELECT COUNT(*) AS "C" FROM "LOADED"', asyncExec: true,
      complete: (err, stmt) => (err ? no(err) : ok(stmt.getQueryId())) }));
    const stmt = await conn.getResultsFromQueryId({ queryId });
    const rows = await new Promise((ok, no) => {
      const out = [];
      stmt.streamRows().on('data', (r) => out.push(r)).on('end', () => ok(out)).on('error', no);
    });
    assert.deepEqual(rows, [{ C: 1001 }]);
  });

  await check('a statement whose answer was lost is sent again with its requestId and runs once', async () => {
    // the double (--drop-after '^INSERT INTO "RETRIED"') runs the first such statement, then cuts
    // the connection before answering, as a network failure after the service ran it would
    await query(conn, 'CREATE TABLE "RETRIED" ("ID" NUMBER(10,0))');
    await query(conn, 'INSERT INTO "RETRIED" SELECT 1');
    const { rows } = await query(conn, 'SELECT COUNT(*) AS "C" FROM "RETRIED"');
    assert.deepEqual(rows, [{ C: 1 }]);
  });

  await check('a transaction of the session: ROLLBACK undoes, COMMIT keeps, another session sees only what was committed, a DDL statement commits', async () => {
    await query(conn, 'CREATE TABLE "TXN" ("ID" NUMBER(10,0), "V" VARCHAR)');
    await query(conn, 'BEGIN');
    await query(conn, `INSERT INTO "TXN" SELECT 1, 'rolled back'`);
    await query(conn, 'ROLLBACK');
    assert.equal(await count(conn, 'TXN'), 0);
    const other = connection();
    await other.connectAsync();
    await query(conn, 'BEGIN TRANSACTION');
    await query(conn, `INSERT INTO "TXN" SELECT 2, 'committed'`);
    assert.equal(await count(conn, 'TXN'), 1, 'the session sees its own transaction');
    assert.equal(await count(other, 'TXN'), 0, 'another session does not see it before the commit');
    await query(conn, 'COMMIT');
    assert.equal(await count(other, 'TXN'), 1);
    await query(conn, 'BEGIN');
    await query(conn, `INSERT INTO "TXN" SELECT 3, 'committed by the DDL that follows'`);
    await query(conn, 'CREATE TABLE "TXN_DDL" ("ID" NUMBER(10,0))');
    await query(conn, 'ROLLBACK'); // no transaction open any more: does nothing
    assert.equal(await count(other, 'TXN'), 2);
    await new Promise((ok, no) => other.destroy((err) => (err ? no(err) : ok())));
  });

  await check('MERGE deleting, updating (a column kept from the current row) and inserting in one statement', async () => {
    await query(conn, 'CREATE TABLE "MT" ("K" VARCHAR, "A" NUMBER(10,0), "B" VARCHAR)');
    await query(conn, `INSERT INTO "MT" SELECT 'x', 1, 'keep' UNION ALL SELECT 'y', 2, 'y' UNION ALL SELECT 'z', 3, 'z'`);
    await query(conn, 'CREATE TABLE "MS" ("K" VARCHAR, "A" NUMBER(10,0), "B" VARCHAR, "OP" NUMBER(5,0), "KEEP" VARCHAR)');
    await query(conn, `INSERT INTO "MS" SELECT 'x', 10, NULL, 0, ',2,' UNION ALL SELECT 'y', NULL, NULL, 1, NULL
      UNION ALL SELECT 'w', 4, 'w', 0, NULL UNION ALL SELECT 'v', NULL, NULL, 1, NULL`);
    await query(conn, `MERGE INTO "MT" AS t USING "MS" AS s ON t."K" = s."K" WHEN MATCHED AND s."OP" = 1 THEN DELETE
      WHEN MATCHED THEN UPDATE SET "K" = s."K", "A" = s."A", "B" = CASE WHEN s."KEEP" LIKE '%,2,%' THEN t."B" ELSE s."B" END
      WHEN NOT MATCHED AND s."OP" = 0 THEN INSERT ("K", "A", "B") VALUES (s."K", s."A", s."B")`);
    const { rows } = await query(conn, 'SELECT "K", "A", "B" FROM "MT" ORDER BY "K"');
    assert.deepEqual(rows, [{ K: 'w', A: 4, B: 'w' }, { K: 'x', A: 10, B: 'keep' }, { K: 'z', A: 3, B: 'z' }]);
  });

  await check('a multiset of rows changed by counts: UPDATE ... FROM, DELETE ... USING with IS NOT DISTINCT FROM, copies made with LATERAL FLATTEN(ARRAY_GENERATE_RANGE)', async () => {
    await query(conn, 'CREATE TABLE "KT" ("A" VARCHAR, "B" NUMBER(10,0))');
    await query(conn, `INSERT INTO "KT" SELECT 'x', 1 UNION ALL SELECT 'x', 1 UNION ALL SELECT 'x', 1 UNION ALL SELECT NULL, NULL UNION ALL SELECT 'y', 2`);
    await query(conn, 'CREATE TABLE "KS" ("A" VARCHAR, "B" NUMBER(10,0), "N" NUMBER(19,0), "ID" VARCHAR)');
    await query(conn, `INSERT INTO "KS" SELECT 'x', 1, -2, '0' UNION ALL SELECT NULL, NULL, 1, '1' UNION ALL SELECT 'z', 3, 2, '2'`);
    await query(conn, `UPDATE "KS" AS s SET "N" = s."N" + m.c FROM (SELECT n."ID" AS id, COUNT(*) AS c FROM "KS" AS n
      JOIN "KT" AS o ON n."A" IS NOT DISTINCT FROM o."A" AND n."B" IS NOT DISTINCT FROM o."B" GROUP BY n."ID") AS m WHERE s."ID" = m.id`);
    await query(conn, `DELETE FROM "KT" AS o USING "KS" AS n WHERE n."A" IS NOT DISTINCT FROM o."A" AND n."B" IS NOT DISTINCT FROM o."B"`);
    await query(conn, `INSERT INTO "KT" SELECT n."A", n."B" FROM "KS" AS n, LATERAL FLATTEN(INPUT => ARRAY_GENERATE_RANGE(0, n."N")) WHERE n."N" > 0`);
    const { rows } = await query(conn, 'SELECT "A", "B", COUNT(*) AS "C" FROM "KT" GROUP BY "A", "B" ORDER BY "A" NULLS FIRST');
    assert.deepEqual(rows, [{ A: null, B: null, C: 2 }, { A: 'x', B: 1, C: 1 }, { A: 'y', B: 2, C: 1 }, { A: 'z', B: 3, C: 2 }]);
  });

  await check('sign-out', () => new Promise((ok, no) => conn.destroy((err) => (err ? no(err) : ok()))));
}
main();
