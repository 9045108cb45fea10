#!/usr/bin/env node
// check.js analyzes BigQuery SQL statements with ZetaSQL against a catalog of tables, so
// an unknown table or column, a type error or a syntax error fails before BigQuery sees
// the statement. load/bigquery/zetasql_test.go drives it; see ../shared/docs/TOOLING.md §1.
//
// It runs the ZetaSQL gRPC server that ships inside @fivetrandevelopers/zetasql (pinned in
// package.json; install with `npm ci --prefix tools/zetasql`), with BigQuery's settings:
// every language feature the server knows (maximum_features), product mode
// PRODUCT_EXTERNAL (BigQuery's types: INT64, FLOAT64, no INT32), CREATE VIEW and the other
// statement kinds the loaders emit, and the built-in functions for those options (else
// SAFE_DIVIDE is unknown). Known gaps of this build, which BigQuery accepts: GROUP BY ALL
// and pipe syntax (|>).
//
// Input, one JSON document on stdin:
//   {"catalog": {"name": "closedloop",            // a dataset: tables are closedloop.<table>
//                "tables": [{"name": "fct_spend",
//                            "columns": [{"name": "date", "type": "DATE"}, ...]}]},
//    "statements": [{"name": "v_channel_performance", "sql": "CREATE OR REPLACE VIEW ..."}]}
// Column types are BigQuery names: STRING, BYTES, INT64, FLOAT64, NUMERIC, BIGNUMERIC,
// BOOL, DATE, DATETIME, TIME, TIMESTAMP, JSON, and ARRAY<T> and STRUCT<name T, ...> of
// them. Optional: "rootTables" (same shape as "tables") sit in the root catalog, for
// names written whole in one pair of backticks (`project.dataset.events_*`, a wildcard
// table); "chain": true makes each CREATE TABLE AS SELECT's table, once analyzed,
// visible to the statements after it (a script's steps).
//
// Output, one JSON document on stdout, a result per statement in input order:
//   {"results": [{"name": "...", "ok": true, "kind": "resolvedCreateViewStmtNode",
//                 "columns": [{"name": "model", "type": "STRING"}, ...]},
//                {"name": "...", "ok": false, "error": "Unrecognized name: x [at 3:5]"}]}
// "columns" are the output columns of a query or view. The exit status is 0 whenever every
// statement was analyzed (whatever the verdicts), non-zero when the check itself could not
// run (bad input, server did not start); the reason goes to stderr.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');

const PKG = path.dirname(require.resolve('@fivetrandevelopers/zetasql/package.json', { paths: [__dirname] }));
// grpc-js and proto-loader are dependencies of the zetasql package: resolve them from there.
const grpc = require(require.resolve('@grpc/grpc-js', { paths: [__dirname, PKG] }));
const protoLoader = require(require.resolve('@grpc/proto-loader', { paths: [__dirname, PKG] }));

const HOST = '127.0.0.1';
const READY_MS = 20000; // the server accepts connections in ~25 ms; proto loading takes ~300 ms
const BIN = path.join(PKG, 'lib/zetasql',
  'remote_server' + (process.arch === 'arm64' ? '_arm' : '') + (process.platform === 'darwin' ? '' : '.so'));

const TYPE_KINDS = {
  STRING: 'TYPE_STRING', BYTES: 'TYPE_BYTES', INT64: 'TYPE_INT64', FLOAT64: 'TYPE_DOUBLE',
  NUMERIC: 'TYPE_NUMERIC', BIGNUMERIC: 'TYPE_BIGNUMERIC', BOOL: 'TYPE_BOOL', DATE: 'TYPE_DATE',
  DATETIME: 'TYPE_DATETIME', TIME: 'TYPE_TIME', TIMESTAMP: 'TYPE_TIMESTAMP', JSON: 'TYPE_JSON',
};
const TYPE_NAMES = Object.fromEntries(Object.entries(TYPE_KINDS).map(([k, v]) => [v, k]));

// The statement kinds the loaders may emit; ZetaSQL allows queries only by default.
const STATEMENT_KINDS = ['RESOLVED_QUERY_STMT', 'RESOLVED_CREATE_VIEW_STMT', 'RESOLVED_CREATE_TABLE_STMT',
  'RESOLVED_CREATE_TABLE_AS_SELECT_STMT', 'RESOLVED_INSERT_STMT', 'RESOLVED_UPDATE_STMT',
  'RESOLVED_MERGE_STMT', 'RESOLVED_DELETE_STMT', 'RESOLVED_DROP_STMT'];

function fail(msg) {
  process.stderr.write(`check.js: ${msg}\n`);
  process.exitCode = 2;
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// parseType turns a BigQuery type name into a ZetaSQL TypeProto: a scalar, or
// ARRAY<T> and STRUCT<name T, ...> nested to any depth.
function parseType(text) {
  let i = 0;
  const src = String(text);
  const ws = () => { while (i < src.length && /\s/.test(src[i])) i++; };
  const word = () => {
    ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (!m) throw new Error(`bad type ${src} at ${i}`);
    i += m[0].length;
    return m[0];
  };
  const expect = (c) => {
    ws();
    if (src[i] !== c) throw new Error(`bad type ${src}: want ${c} at ${i}`);
    i++;
  };
  const type = () => {
    const w = word().toUpperCase();
    if (w === 'ARRAY') {
      expect('<');
      const elementType = type();
      expect('>');
      return { typeKind: 'TYPE_ARRAY', arrayType: { elementType } };
    }
    if (w === 'STRUCT') {
      expect('<');
      const field = [];
      for (;;) {
        const fieldName = word();
        field.push({ fieldName, fieldType: type() });
        ws();
        if (src[i] === ',') { i++; continue; }
        break;
      }
      expect('>');
      return { typeKind: 'TYPE_STRUCT', structType: { field } };
    }
    const kind = TYPE_KINDS[w];
    if (!kind) throw new Error(`unknown type ${w} in ${src}`);
    return { typeKind: kind };
  };
  const t = type();
  ws();
  if (i !== src.length) throw new Error(`bad type ${src}: trailing ${src.slice(i)}`);
  return t;
}

function toTable(t) {
  if (!t || typeof t.name !== 'string' || !Array.isArray(t.columns)) {
    throw new Error(`bad table in catalog: ${JSON.stringify(t)}`);
  }
  return {
    name: t.name,
    column: t.columns.map((c) => {
      try {
        return { name: c.name, type: parseType(c.type) };
      } catch (e) {
        throw new Error(`table ${t.name}, column ${c.name}: ${e.message}`);
      }
    }),
  };
}

// createdTable is the table a CREATE TABLE AS SELECT statement makes, as the next
// statements of a chain see it: its name's last part, its output columns' types.
function createdTable(node) {
  let path;
  for (let n = node; n && typeof n === 'object' && !path; n = n.parent) path = n.namePath;
  let cols;
  for (let n = node; n && typeof n === 'object'; n = n.parent) {
    if (Array.isArray(n.outputColumnList)) { cols = n.outputColumnList; break; }
  }
  if (!Array.isArray(path) || !cols) return undefined;
  return { name: path[path.length - 1], column: cols.map((oc) => ({ name: oc.name, type: oc.column.type })) };
}

// Walks the AnyResolved*Proto oneof wrappers down to the concrete node, such as
// resolvedCreateViewStmtNode, and returns its name and the node.
function concrete(obj) {
  let name = '';
  let node = obj;
  while (node && typeof node === 'object') {
    const k = node.node || Object.keys(node).find((x) => /Node$/.test(x) && node[x]);
    if (!k || !node[k]) break;
    name = k;
    node = node[k];
  }
  return { name, node };
}

// Finds output_column_list in a statement node (it sits on a parent proto of the
// concrete statement: ResolvedCreateViewBase for views, the statement for queries).
function outputColumns(node) {
  for (let n = node; n && typeof n === 'object'; n = n.parent) {
    if (Array.isArray(n.outputColumnList)) {
      return n.outputColumnList.map((oc) => {
        const kind = oc.column && oc.column.type && oc.column.type.typeKind;
        return { name: oc.name, type: TYPE_NAMES[kind] || String(kind) };
      });
    }
  }
  return undefined;
}

const call = (svc, method, req) => new Promise((resolve, reject) =>
  svc[method](req, (err, res) => (err ? reject(err) : resolve(res))));

async function main() {
  let input;
  try {
    input = JSON.parse(await readStdin());
  } catch (e) {
    fail(`stdin is not JSON: ${e.message}`);
    return;
  }
  const catalog = input.catalog || {};
  const statements = Array.isArray(input.statements) ? input.statements : [];
  let tables;
  let rootTables;
  try {
    tables = (catalog.tables || []).map(toTable);
    rootTables = (input.rootTables || []).map(toTable);
  } catch (e) {
    fail(e.message);
    return;
  }
  if (!fs.existsSync(BIN)) {
    fail(`no ZetaSQL server for ${process.platform}/${process.arch} at ${BIN}`);
    return;
  }

  const port = Number(process.env.ZETASQL_PORT) || await freePort();
  const server = spawn(BIN, [HOST, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => process.stderr.write(`[zetasql] ${d}`));
  server.stderr.on('data', (d) => process.stderr.write(`[zetasql] ${d}`));
  let exited = null;
  server.on('exit', (code, signal) => { exited = signal || code; });
  let svc;
  try {
    const def = protoLoader.loadSync('local_service.proto', {
      includeDirs: [path.join(PKG, 'lib/zetasql/protos')],
      defaults: false, oneofs: true, enums: String, longs: String,
    });
    const proto = grpc.loadPackageDefinition(def);
    svc = new proto.zetasql.local_service.ZetaSqlLocalService(`${HOST}:${port}`, grpc.credentials.createInsecure());
    await new Promise((resolve, reject) => svc.waitForReady(Date.now() + READY_MS, (err) => (err ? reject(err) : resolve())));

    const maxLang = await call(svc, 'getLanguageOptions', { maximumFeatures: true });
    const languageOptions = {
      ...maxLang,
      productMode: 'PRODUCT_EXTERNAL',
      nameResolutionMode: 'NAME_RESOLUTION_DEFAULT',
      supportedStatementKinds: STATEMENT_KINDS,
    };
    const register = () => call(svc, 'registerCatalog', { simpleCatalog: {
      name: 'bigquery',
      builtinFunctionOptions: { languageOptions },
      catalog: catalog.name ? [{ name: catalog.name, table: tables }] : [],
      table: (catalog.name ? [] : tables).concat(rootTables),
    } });
    let reg = await register();
    const options = { languageOptions, errorMessageMode: 'ERROR_MESSAGE_ONE_LINE', defaultTimezone: 'UTC' };

    const results = [];
    for (const st of statements) {
      try {
        const res = await call(svc, 'analyze', { registeredCatalogId: reg.registeredId, options, sqlStatement: st.sql });
        const { name, node } = concrete(res.resolvedStatement);
        results.push({ name: st.name, ok: true, kind: name, columns: outputColumns(node) });
        const made = input.chain && /CreateTableAsSelect/.test(name) ? createdTable(node) : undefined;
        if (made) { // the statements after it read the table it creates
          tables = tables.filter((t) => t.name !== made.name).concat([made]);
          await call(svc, 'unregisterCatalog', { registeredId: reg.registeredId });
          reg = await register();
        }
      } catch (e) {
        if (e.code !== grpc.status.INVALID_ARGUMENT) throw e; // analysis errors come back as INVALID_ARGUMENT
        results.push({ name: st.name, ok: false, error: e.details });
      }
    }
    process.stdout.write(JSON.stringify({ results }) + '\n');
  } catch (e) {
    fail(`ZetaSQL server ${BIN} on ${HOST}:${port}${exited !== null ? ` (exited: ${exited})` : ''}: ${e.message || e}`);
  } finally {
    if (svc) svc.close();
    server.kill('SIGTERM');
  }
}

main().catch((e) => fail(e.stack || String(e)));
