// Package transform turns the canonical input tables of a run (package extract) into
// the warehouse tables (package load).
//
// Build runs these steps in order, each a function of its inputs and of the results
// of the steps before it (step: inputs -> result; tables written):
//
//  1. stitch (stitch.go): events, contacts, deals, deal contacts -> *stitched, the
//     identity graph resolved into persons, with the node of every event, contact and
//     deal row; identity_conflicts and Output.Aliases.
//  2. sessions (sessions.go, touchpoints.go): events, *stitched -> *sessionized: the
//     touches of every day (*touches), the events that are conversions
//     ([]eventConversion) and each person's last event and behaviour (activity);
//     fct_touchpoint, fct_page_view. The session state machine, the touchpoint writer
//     and the page-view writer are separate pieces of the walk. Devices are
//     independent, so the walk is cut at device boundaries and its parts run on every
//     core; their results join in walk order into what one walk gives.
//  3. collectConversions (conversions.go): contacts, deals, deal contacts, *stitched,
//     []eventConversion -> *conversions, of every day; fct_conversion.
//  4. attribute (attribute.go, journeys.go): *touches, *conversions, persons ->
//     fct_attribution, fct_markov_removal_effect.
//  5. persons (persons.go): *stitched, activity, *conversions, contacts -> dim_person,
//     bridge_identity.
//  6. spend (spend.go): spend -> fct_spend.
//  7. dealStages (dealstages.go): deal stages, deals, *stitched -> fct_deal_stage.
//
// Only the first two steps read the events; the later ones read the compact results
// (touches, conversions, persons), which grow with touches and people, not events.
// Identifiers are hashed to integers and repeated strings (channels, campaigns,
// conversion types) dictionary-encoded; per-row work reads Arrow columns directly and
// writes Arrow builders, by column names resolved once when the package starts.
package transform
