// Package transform turns the canonical input tables of a run (package extract) into
// the warehouse tables (package load).
//
// A run is a Stream (stream.go). Its events come a chunk at a time (Add: a batch the
// extractors wrote; Build gives all events as one chunk), from several goroutines at
// once, and each chunk is reduced at once and let go:
//
//   - its identifiers and their edges go into the identity graph (eventNodes,
//     stitch.go), repeated edges compacted away;
//   - its events are walked device by device, in time order, into parts of sessions
//     with their tracked interactions, and touch-log rows (walkChunk, sessions.go),
//     interned into compact records; the conversions among its events are kept
//     (eventConversions);
//   - its page views are written, without their persons yet, to a store that spills
//     to a temporary Arrow file past Options.SpillBytes (pages.go).
//
// An incremental run (Options.Since) is also given the warehouse's state before its
// events, row by row (the Stream is a load.StateSink, state.go): identifiers and
// identity edges join the graph, stored touchpoints and event conversions wait for
// their persons.
//
// Finish then runs these steps in order, each a function of its inputs and of the
// results of the steps before it (step: inputs -> result; tables written):
//
//  1. identity (Stream.stitch): the graph, contacts, deals, deal contacts ->
//     *stitched, the graph resolved into persons, with the node of every contact and
//     deal row; identity_conflicts, identity_edge and Output.Aliases.
//  2. sessions (Stream.finishSessions, touchpoints.go): the parts of sessions merged
//     (by device and session id, or within the timeout), every touch given its person
//     and id -> *sessionized: the touches of every day (*touches), the conversions of
//     events, each person's activity; fct_touchpoint.
//  3. page views: the stored page views given their persons and merged sessions;
//     fct_page_view.
//  4. collectConversions (conversions.go): contacts, deals, deal contacts, *stitched,
//     the conversions of events -> *conversions, of every day; fct_conversion.
//  5. attribute (attribute.go, journeys.go): *touches, *conversions, persons ->
//     fct_attribution, fct_markov_removal_effect.
//  6. persons (persons.go): *stitched, activity, *conversions, contacts -> dim_person,
//     bridge_identity.
//  7. spend (spend.go): spend -> fct_spend.
//  8. dealStages (dealstages.go): deal stages, deals, *stitched -> fct_deal_stage.
//
// Nothing a Stream holds grows with the events: only with devices, sessions, touches,
// conversions and identifiers; every table goes to a temporary file past
// Options.SpillBytes (Output.Spilled). Identifiers are hashed to integers and
// repeated strings (cookies, paths, channels, campaigns, conversion types)
// dictionary-encoded in pointer-free tables (package intern); per-row work reads Arrow
// columns directly and writes Arrow builders, by column names resolved once when the
// package starts. Touchpoints, credits and persons are written in spans of persons on
// every core and joined in person order (joinSpans).
package transform
