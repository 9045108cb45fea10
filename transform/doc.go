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
//     deal row; identity_conflicts, identity_edge and Output.Aliases. Then each
//     person's account (assignAccounts, accounts.go): accounts, contacts, deals,
//     e-mails -> *accounts.
//  2. sessions (Stream.finishSessions, touchpoints.go): the parts of sessions merged
//     (by device and session id, or within the timeout), every touch given its person
//     and id -> *sessionized: the touches of every day (*touches), the conversions of
//     events, each person's activity; fct_touchpoint.
//  3. page views: the stored page views given their persons and merged sessions;
//     fct_page_view.
//  4. collectConversions (conversions.go): contacts, deals, deal contacts, *stitched,
//     *accounts, the conversions of events -> *conversions, of every day, each with
//     its account and the persons on its deal; fct_conversion.
//  5. attribute (attribute.go, journeys.go, scopes.go): *touches, *conversions,
//     persons -> fct_attribution, fct_markov_removal_effect, per journey scope.
//  6. persons (persons.go, accounts.go): *stitched, activity, *conversions,
//     contacts, *accounts -> dim_person, bridge_identity, dim_account.
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
//
// # Accounts
//
// A person's account is the account (crm_accounts, "crm:ID") of their CRM record:
// when their records name different accounts, that of the first record in
// dim_person's order of identifiers (the record crm_contact_id comes from, when it
// names one). With Options.AccountFromEmail a person without one gets the account of
// the domain of their smallest business e-mail address: the CRM account with that web
// domain (or a parent domain of it), else an inferred account "domain:DOMAIN". A
// free-mail or ISP domain (a built-in list and Options.FreeMailDomains) never makes
// an account. An account is no identity: it joins no persons, it groups them. A
// conversion's account is its deal's (crm_deals.account_id), else its person's;
// dim_account.is_customer tells an account of a won deal's conversion.
//
// # Journey scopes
//
// fct_attribution holds the credits of each conversion under each scope of
// Options.Scopes (column scope); the credits of each (conversion, model, scope) sum to
// 1, and touch_person_id is the person who made the touch. A scope names a journey's
// owner: whose touches, merged in time, make the journey. The lookback window and the
// restart rule (Options.OverlapJourneys: a repeated conversion of one type looks back
// to the owner's previous one) are the person journey's, applied to the owner.
//
//   - person: the converting person's touches (the journeys before scopes existed).
//   - deal: a conversion of a deal with contacts in crm_deal_contacts takes the
//     touches of every person on the deal (its contacts' persons and the deal's own);
//     its milestones are the deal's (the first lead is that of the deal's first
//     person to become one). Any other conversion is its person's.
//   - account: a conversion of an account takes the touches of every person of that
//     account; a conversion without one is its person's.
//
// The data-driven models are fitted per scope on that scope's journeys. Under account
// scope each account and each person without one is an owner, and an account that
// never converted is a non-converting path. Under deal scope the deals own their
// conversions and the persons own the rest and the non-converting paths; the
// conversions of a person's deals count as the person's for those, so a person whose
// touches converted through a deal is no non-converter of that type.
// fct_markov_removal_effect has the rows of each scope's fits. A Pushdown (the
// bigquery engine) renders the person scope only.
package transform
