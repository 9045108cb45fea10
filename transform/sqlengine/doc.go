// Package sqlengine is closedloop's bigquery engine: the per-event steps of a run
// (flattening the GA4 export, classifying traffic, sessions, touchpoints, page views,
// journeys and credits) as SQL that runs where the export lives, with Go keeping only
// what SQL does badly, on aggregates (see the README's "Engines").
//
// The SQL of each step is a text/template (steps.go) rendered for BigQuery, the
// production dialect, or DuckDB, in which the tests and the benchmark run it
// (dialect.go spells what the two write differently). A run is a transform.Pushdown
// (run.go): Start flattens the export and gives the Stream the distinct identifiers its
// events carry; the Stream's Finish then asks for the sessions (Sessions: cookie →
// person, referrer classes and channels come from Go as small tables), the journeys'
// shapes and paths (Journeys) and the credits (Credits: Go's weights per journey shape
// joined back to every touch). An Executor runs the statements and moves the small
// tables: BigQueryExecutor (dry run first, maximumBytesBilled, failed jobs run again)
// or DB (database/sql, DuckDB).
//
// Every table equals the local engine's (parity_test.go, edge_test.go,
// nightly_test.go); every BigQuery statement is analyzed by ZetaSQL (zetasql_test.go).
package sqlengine
