// Package segment reads Segment and RudderStack events from files into
// extract.TableEvents: newline-delimited JSON (plain or gzipped, told by content),
// one event per line in the spec's shape, as the S3 / object-storage destinations of
// both products write it. A line may also be a whole HTTP API batch,
// {"batch":[event, ...]} (any object with a batch member): each element is read as an
// event of its own, located as file:line#i with i its index in batch, from 0; the
// batch's own fields (sentAt, context) are not merged into its events. Segment and
// RudderStack use the same field names (RudderStack adds channel, rudderId and
// request_ip, which are not read).
//
// Flattened warehouse rows (tables pages, tracks, identifies: anonymous_id,
// context_page_url, ...) are not this layout: they have no type and are rejected
// with a reason that says so.
//
// # Calls
//
//   - track: kind event, event_name = event (required).
//   - page: kind page_view, event_name "page_view"; screen: kind page_view,
//     event_name "screen_view" (GA4's names for the same things).
//   - identify: kind identify, event_name "identify".
//   - alias: kind identify, event_name "alias", anonymous_id = previousId and
//     user_id = userId, both required: the row ties the old id to the new one. The
//     alias call's own anonymousId is not kept: the device's other calls already tie
//     it to its ids. A previousId that was a user id lands in anonymous_id too, since
//     the row has one column for the old id.
//   - group: not about a person (it ties a user to an account). Skipped, not
//     rejected, and counted: see Extractor.Stats.
//   - any other type, or none: a rejection.
//
// # Columns
//
//   - occurred_at: timestamp, which Segment and RudderStack have already corrected
//     for the client's clock skew (receivedAt - (sentAt - originalTimestamp)).
//     originalTimestamp (the client's clock), sentAt and receivedAt (delivery times)
//     are not used, not even when timestamp is missing: that is a rejection. Any form
//     extract.ParseTime reads is taken (ISO-8601 with a zone, none meaning UTC, or
//     epoch seconds / ms / µs); the value is stored in UTC, cut to microseconds.
//     Times before 2000 are rejected (extract.BadTime): an unset clock, or digits
//     that are no epoch time ("20260105" would read as seconds); so are times after
//     the run's start (Config.Now) plus a day.
//   - anonymous_id, user_id: anonymousId, userId. One of them is required; a number
//     is taken as its text, an empty string as no id.
//   - email: traits.email, else context.traits.email (where RudderStack's SDK keeps
//     the user's traits on every call), else, for track, properties.email (a form
//     submission).
//   - session_key: context.sessionId (RudderStack's SDK sends one; Segment's does not).
//   - page_location: context.page.url, else (page, screen) properties.url.
//   - page_title: context.page.title, else (page, screen) properties.title, else
//     (page, screen) name.
//   - page_referrer: context.page.referrer, else context.referrer (a string, or the
//     object of the spec: its url, else its link), else (page, screen)
//     properties.referrer. RudderStack's "$direct" means no referrer and is dropped.
//   - utm_source, utm_medium, utm_campaign, utm_term, utm_content:
//     context.campaign.source, medium, name, term, content. Absent, they stay null:
//     normalization reads the URL.
//   - gclid, channel: null. RudderStack's channel ("web", "server") is the kind of
//     SDK, not a marketing channel.
//   - conversion_value, currency (track only): properties.revenue, else
//     properties.total (Segment's e-commerce spec: revenue with discounts), else
//     properties.value; a number or a string holding one, else a rejection, as is
//     a value that is negative or above extract.MaxRevenue. currency is
//     properties.currency, upper-cased, kept only with a value.
//   - link_url (track, page, screen): properties.link_url, else properties.file_url,
//     else, for track only, properties.url: the file downloaded or the link followed
//     ("File Downloaded", "Link Clicked"). A page's properties.url is the page itself,
//     never a link.
//   - is_conversion: true for track "Order Completed" (Segment's e-commerce spec,
//     matched ignoring case) only; other conversions are picked by name in transform
//     (CLOSEDLOOP_MICRO_CONVERSIONS).
//
// For every column an empty string counts as absent, so the next source in the
// precedence is used. A field read that holds a type other than the spec's (an
// object where a string belongs, a string where an object belongs, a boolean) makes
// the event a rejection naming the field; a number where a string belongs is taken
// as its text. So does a string read that is not UTF-8 or holds a NUL (extract.BadText):
// invalid UTF-8 is kept as it is to be refused, not turned into U+FFFD.
//
// # Duplicates
//
// Both products deliver at least once, so an event may appear twice, in one file or
// across files. Within one Extract, the first event read with a messageId is kept
// (files in sorted order, lines in order) and later ones with the same messageId
// are dropped and counted (Stats.Duplicates), whatever their content. Only written
// events are remembered: a rejected copy does not hide a good one. Events without
// messageId are all kept. Seen ids are kept as 128-bit hashes, 16 bytes each.
package segment
