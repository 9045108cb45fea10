#!/usr/bin/env node
// check.js parses a folder of LookML (what `closedloop lookml --out DIR` writes) with
// lookml-parser, the parser of Looker's LookML syntax on npm (pinned in package.json;
// install with `npm ci --prefix tools/lookml`), and prints what a test needs to check the
// project the way Looker validates it: which files parse, every view's fields (duplicates
// kept), the models with their explores, joins and datagroups, and the manifest's
// constants. cmd/closedloop/lookml_parse_test.go drives it; see
// ../shared/docs/TOOLING.md §6.
//
// Usage: node check.js DIR   (reads DIR/*.lkml, not sub-folders)
//
// Output, one JSON document on stdout:
//   {"files":    [{"path": "fct_spend.view.lkml", "type": "view", "error": "Parse error@3,1 ..."}],
//    "manifest": {"project_name": "closedloop", "constants": {"closedloop_schema": "analytics"}},
//    "models":   [{"name": "closedloop", "connection": "...", "include": ["/*.view.lkml"],
//                  "persist_with": "...", "views": ["fct_spend", ...],   // views the includes bring in
//                  "datagroups": [{"name": "...", "sql_trigger": "...", "max_cache_age": "..."}],
//                  "explores": [{"name": "...", "from": "...", "persist_with": "...",
//                                "always_filter": {"view.field": "value"},
//                                "joins": [{"name": "...", "from": "...", "type": "...",
//                                           "relationship": "...", "sql_on": "..."}]}]}],
//    "views":    [{"name": "...", "file": "...", "sql_table_name": "...",
//                  "declarations": ["dimension.roas", "measure.roas", ...],  // in file order, repeats kept
//                  "sets": {"detail": ["channel", ...]},
//                  "fields": [{"kind": "dimension", "name": "roas", "type": "number", "sql": "...",
//                              "description": "...", ...every other parameter as parsed}]}]}
// "error" is set only on files that do not parse. A parameter given twice in one object
// keeps its last value in "fields" (as in lookml-parser), which is why "declarations"
// lists every `kind: name` a view declares. yes/no parse as true/false. The exit status
// is 0 whenever the folder was read (whatever the verdicts), non-zero when the check
// could not run (no folder, no LookML files); the reason goes to stderr.
'use strict';

const fs = require('fs');
const path = require('path');
const lookmlParser = require('lookml-parser');

// The kinds of view parameters that declare a field; sets are in their own namespace.
const FIELD_KINDS = ['dimension', 'dimension_group', 'measure', 'filter', 'parameter'];

function fail(msg) {
  process.stderr.write(`check.js: ${msg}\n`);
  process.exitCode = 2;
}

// plain drops lookml-parser's bookkeeping ($strings, $type, $name, ...) from a parsed
// object, recursively.
function plain(v) {
  if (Array.isArray(v)) return v.map(plain);
  if (!v || typeof v !== 'object') return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (!k.startsWith('$')) out[k] = plain(x);
  }
  return out;
}

// named lists the objects of a named parameter ({name: object}) as [{name, ...object}].
function named(obj) {
  return Object.entries(obj || {}).map(([name, v]) => ({ name, ...plain(v) }));
}

// declarations lists every "kind.name" a parsed object declares, in order, repeats kept:
// lookml-parser records each declaration in $strings as "@kind.name".
function declarations(obj) {
  return (obj.$strings || [])
    .filter((s) => typeof s === 'string' && /^@[a-z_]+\./.test(s) && !s.startsWith('@$'))
    .map((s) => s.slice(1));
}

function view(name, v, file) {
  const fields = [];
  for (const kind of FIELD_KINDS) {
    for (const f of named(v[kind])) fields.push({ kind, ...f });
  }
  const sets = {};
  for (const s of named(v.set)) sets[s.name] = s.fields || [];
  return {
    name, file,
    sql_table_name: typeof v.sql_table_name === 'string' ? v.sql_table_name.trim() : undefined,
    drill_fields: v.drill_fields,
    declarations: declarations(v),
    sets,
    fields,
  };
}

function explore(name, e) {
  const p = plain(e);
  return {
    name,
    from: p.from,
    view_name: p.view_name,
    persist_with: p.persist_with,
    always_filter: p.always_filter && p.always_filter.filters,
    sql_always_where: p.sql_always_where,
    joins: named(e.join),
  };
}

async function main() {
  const dir = process.argv[2];
  if (!dir || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    fail(`want a folder of LookML files, got ${JSON.stringify(dir)}`);
    return;
  }
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.lkml')).sort();
  if (names.length === 0) {
    fail(`${dir} has no .lkml file`);
    return;
  }
  const source = names.map((n) => ({ path: n, content: fs.readFileSync(path.join(dir, n), 'utf8') }));
  const project = await lookmlParser.parseFiles({ source, fileOutput: 'array', console: { ...console, log: console.error } });

  const out = { files: [], manifest: undefined, models: [], views: [] };
  for (const f of project.files) {
    const entry = { path: f.$file_path, type: f.$file_type };
    if (f.error) {
      entry.error = String(f.error.message || f.error);
      out.files.push(entry);
      continue;
    }
    out.files.push(entry);
    if (f.$file_type === 'manifest') {
      const constants = {};
      for (const c of named(f.constant)) constants[c.name] = c.value;
      out.manifest = { project_name: f.project_name, constants };
    }
    for (const [name, v] of Object.entries(f.view || {})) out.views.push(view(name, v, f.$file_path));
    if (f.$file_type === 'model') {
      const assembled = (project.model || {})[f.$file_name] || {};
      out.models.push({
        name: f.$file_name,
        file: f.$file_path,
        error: assembled.error,
        connection: f.connection,
        include: [].concat(f.include || []),
        persist_with: f.persist_with,
        views: Object.keys(assembled.view || {}).sort(),
        datagroups: named(f.datagroup),
        explores: Object.entries(f.explore || {}).map(([name, e]) => explore(name, e)),
        declarations: declarations(f),
      });
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => fail(e.stack || String(e)));
