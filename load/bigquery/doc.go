// Package bigquery loads the warehouse into a BigQuery dataset (warehouse spec
// bigquery:PROJECT.DATASET) with load jobs of Parquet files: no streaming inserts, no
// DML for the loads themselves.
//
// # A run
//
// Open makes sure the dataset exists (created with the Config's location and labels) and
// that every contract table of load.Tables exists with its columns: a missing table is
// created with the table and column descriptions, the labels, DAY partitioning on the
// DateColumn for ReplaceRange tables and clustering on ClusterBy (at most 4 columns); an
// existing table whose columns or partitioning differ from the contract is refused, but
// for an Append table (run_log, rejected_rows) of an older version that lacks only
// nullable columns at the end: Commit adds them (step 0 below).
//
// Load, RemapPersons and ApplyViews send nothing: Load writes the rows as Parquet files
// (arrow-go's pqarrow) into a local staging directory, one file per day of the range for
// ReplaceRange tables, days without rows included; RemapPersons stages the aliases the same
// way; ApplyViews records the views. Commit sends everything, in this order:
//
//  0. the columns a newer contract added to an Append table, by a table patch (tables.patch
//     with the ETag Open read) that only adds NULLABLE columns: the old rows read NULL;
//  1. the load jobs, one per table and per day of a ReplaceRange table, at most 8 at a
//     time, each awaited to the end;
//  2. the views of sql/bigquery, as CREATE OR REPLACE VIEW query jobs;
//  3. the person remap: the aliases go into a scratch table _closedloop_person_alias_<run>
//     (expiring after a day, dropped at the end), then one UPDATE ... FROM query job per
//     ReplaceRange table that has a person_id column.
//
// Close without Commit removes the staging directory: BigQuery never saw the run.
//
// Because the UPDATEs run at Commit, RemapPersons cannot know the rows it changes: it
// returns 0, and Loader.Remapped returns the count (the jobs' numDmlAffectedRows) after
// Commit.
//
// # Replacing the range: partition decorators
//
// A ReplaceRange table is replaced one day at a time: a load job into the partition
// decorator table$YYYYMMDD with WRITE_TRUNCATE swaps that day's partition for the day's
// Parquet file and leaves every other partition alone. A day of the range without rows
// gets an empty Parquet file, so its partition ends up empty. This was chosen over loading
// a staging table and replacing the range with a MERGE (or DELETE + INSERT in a
// transaction) because:
//
//   - load jobs are free and need no query slots; a MERGE is a query billed for the bytes
//     it reads (the staging table and the range's partitions of the target);
//   - a MERGE is mutating DML, which BigQuery runs only a few at a time per table and
//     queues or fails beyond that, competing with any other DML on the table (an
//     analyst's UPDATE, another run); load jobs are not DML;
//   - a partition's WRITE_TRUNCATE keeps the table's schema, column descriptions,
//     partitioning and clustering (a WRITE_TRUNCATE of a whole table replaces the schema by
//     the Parquet file's, which has no descriptions);
//   - nothing to clean up: a crashed run leaves no staging tables behind;
//   - every (table, day) is one job with a deterministic id, so a retried run skips the
//     days already loaded and waits for the ones still running (see Job ids).
//
// The price is the quota and the atomicity. BigQuery allows 1,500 load jobs per table per
// day (rolling 24 h; failed jobs count, and so do copy and query jobs writing the table):
// a run spends one per day of its range on each ReplaceRange table (a nightly run of 4
// days: 4), so Open refuses ranges longer than 1,000 days, which leaves room for a second
// run the same day; backfill longer history in several runs on different days.
// Atomicity: see What a reader sees.
//
// ReplaceAll tables get one load job with WRITE_TRUNCATE_DATA: it replaces every row but,
// unlike WRITE_TRUNCATE, keeps the table's schema and column descriptions. Append tables
// get WRITE_APPEND; an Append table without rows in this run gets no job. Every load job
// has CREATE_NEVER: only Open creates tables, with the contract's schema.
//
// # Job ids
//
// Job ids are deterministic: closedloop_<run>_<table>[_<yyyymmdd>] for loads,
// closedloop_<run>_<view> for views and closedloop_<run>_remap_<table> for the UPDATEs,
// where <run> is Config.RunID with every character other than [A-Za-z0-9_-] replaced by
// "_". BigQuery refuses a second job with an existing id (409), so Commit then fetches that
// job and uses its outcome instead of running it again: a run retried with the same RunID
// never loads a partition twice, and a failed job keeps failing (start a new RunID to load
// again). RunID must therefore be unique per run and reused only to retry that run. The
// load of the scratch aliases is the exception: its id gets a random suffix, as every
// attempt recreates the scratch table and must fill it again.
//
// Google's client retries every call the loader makes but a job insert with media: the
// upload of a Parquet file. Commit retries those under Config.Retry (package httpretry):
// a reset, a timeout, a cut answer, 408, 429 or 5xx sends the whole file again. An upload
// that reached BigQuery before its answer was lost meets its own job id on the next
// attempt (409) and takes that job, as a retried run does.
//
// # What a reader sees
//
// Each load job is atomic: a reader sees a partition, or a ReplaceAll table, entirely as
// it was before the job or entirely as the job left it, never half of it and never an
// empty gap. ReplaceAll and Append tables are thus replaced atomically, per table. A
// ReplaceRange table is replaced per day: while Commit runs (seconds to minutes), a query
// over the range can see some days of this run beside days of the previous one, each day
// whole, never duplicated or missing. Between tables there is no atomicity: a dashboard
// reading during Commit can see this run's fct_attribution beside the last run's
// fct_spend. Views are replaced only after every load succeeded, and persons are
// re-pointed last. A failed Commit leaves the tables and days whose jobs succeeded
// updated and the others as they were. If it failed on its way (a crash, a timeout, a
// lost connection), retrying with the same RunID completes it; if a job failed, fix the
// cause and run with a new RunID, which loads every partition again.
package bigquery
