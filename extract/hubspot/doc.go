// Package hubspot reads HubSpot CRM data into the canonical tables: contacts with
// their lifecycle-stage dates, analytics-source properties, cookie id and
// firmographics (extract.TableContacts), deals, won, lost or open by their stage
// (extract.TableDeals), the deals' stage history (extract.TableDealStages), the
// deal-contact links (extract.TableDealContacts), the touches HubSpot knows of
// (extract.TableEvents): selling activities and marketing e-mail clicks, and the
// companies (extract.TableAccounts: name, domain, industry, numberofemployees,
// country, owner). A contact's account_id is its primary company (a primary
// contact-to-company association, typeId 1, else its associatedcompanyid property),
// a deal's its primary deal-to-company association (typeId 5, else the first
// company); a link to a company that is archived, merged away (followed to the
// survivor) or not read is dropped.
//
// # Sources
//
// The spec "hubspot:api" (Config.Dir empty) reads the API with a private-app token.
// "hubspot:DIR" reads an export folder, whose layout is told by the files present.
//
// A v3 export folder holds what the API returns, saved as files, so that both
// modes decode exactly the same objects:
//
//	contacts.ndjson          one CRM v3 contact per line ({"id", "properties", "createdAt", "updatedAt", "archived"})
//	deals.ndjson             one CRM v3 deal per line, with "propertiesWithHistory": {"dealstage": [...]} (the stage history)
//	pipelines.json           the GET /crm/v3/pipelines/deals response
//	deal_contacts.ndjson     one v4 association batch-read result per line ({"from": {"id"}, "to": [{"toObjectId"}]})
//	contact_properties.json  optional: GET /crm/v3/properties/contacts (the declared property types)
//	deal_properties.json     optional: GET /crm/v3/properties/deals
//	owners.ndjson            optional: one GET /crm/v3/owners result per line, with its teams
//	calls.ndjson             optional: one call per line; with call_contacts.ndjson, its v4 contact associations
//	meetings.ndjson          optional, with meeting_contacts.ndjson
//	emails.ndjson            optional, with email_contacts.ndjson
//	tasks.ndjson             optional, with task_contacts.ndjson
//	email_events.ndjson      optional: one GET /email/public/v1/events event per line
//	email_campaigns.ndjson   optional: one GET /email/public/v1/campaigns/{id} response per line
//	companies.ndjson         optional: one CRM v3 company per line (without it: no accounts, no account_id)
//	deal_companies.ndjson    optional: one v4 deal-to-company association result per line, with associationTypes
//
// A Fivetran folder holds Fivetran's HubSpot connector tables as CSV, named as a
// warehouse export names them (contact.csv) or as Fivetran's dbt packages name
// their seeds (contact_data.csv): contact, deal, deal_pipeline_stage and
// deal_contact are required; deal_pipeline, deal_stage (else deal_property_history),
// contact_merge_audit, merged_deal, property, owner, owner_team, team, engagement,
// engagement_call, engagement_meeting, engagement_email, engagement_task,
// engagement_contact, email_event, email_event_click, email_campaign, company,
// contact_company and deal_company (contact_id or deal_id, company_id, type_id) are
// read when present. The property_* columns are the HubSpot properties.
//
// A missing required file, or an activity file without its contact links, is an
// extract.ErrConfig error reported before anything is written.
//
// Config.Source reads the same Fivetran tables from a warehouse (a BigQuery
// dataset, a PostgreSQL or DuckDB schema; package tables) with the same decoder:
// the tables are found by name (contact, else the seed name contact_data), a
// missing required table is an extract.ErrConfig error naming it, and each table
// is read with only the columns the decoder uses (of the property_* columns, the
// properties read, the cookie property among them). Airbyte's HubSpot tables
// (contacts, deals, deal_pipelines) are not read: their layout differs (properties_*
// columns, associations and stages nested in arrays). WriteFivetran converts a v3
// export folder into Fivetran tables.
//
// # Rules
//
// Property values are strings. Dates are read by the property's declared type when
// the property definitions are known (the API always, files when they hold them):
// digits are epoch milliseconds for datetime and date properties, a date is its UTC
// day; otherwise extract.ParseTime tells ISO strings and epoch values apart.
//
// Whether a deal is won or lost is decided by its stage's metadata (isClosed and
// probability 1.0, or Fivetran's closed_won), never by stage labels, which users
// rename. An open deal's closedate is a forecast: closed_at stays null. A deal
// without its own currency gets Config.Currency.
//
// Archived (deleted) records are skipped, not rejected, and counted by Skipped;
// links to them are dropped. A contact merged into another stays one person: the
// survivor lists the merged ids in linked_ids as hubspot_contact:ID (from
// hs_merged_object_ids, the older hs_calculated_merged_vids, or Fivetran's
// contact_merge_audit). The API and v3 exports return survivors only; Fivetran keeps
// the merged-away rows, which are skipped (links to them move to the survivor), and
// deals listed in merged_deal are skipped so no revenue counts twice.
//
// The contact property Config.CookieProperty holds the analytics cookie id
// (user_pseudo_id): when the property definitions are known, a property the account
// does not have is warned about (no cookie ids are read), and one declared as a
// date or boolean is a configuration error.
//
// # Firmographics
//
// job_title, company, industry and country are the contact properties jobtitle,
// company, industry and country (Fivetran: property_jobtitle ...), trimmed, empty
// as null. company_size is numemployees, HubSpot's "Number of Employees"
// enumeration: a range ("25-50") gives its lower bound, "1000+" its number, a plain
// integer is taken as is (commas grouping thousands and a zero fraction allowed).
// Any other value leaves company_size null and the contact is written anyway: it is
// logged with its location (the first few one by one, then a count) and counted by
// BadCompanySizes. A merged contact has the survivor's values, as HubSpot merged
// them; Fivetran's merged-away rows, being skipped, give none.
//
// # Stage history
//
// extract.TableDealStages holds one row per entry of a written deal into a stage,
// with the stage's and the pipeline's labels (the id when the source has no label:
// a Fivetran folder without deal_pipeline) and the time. It comes from the deal's
// dealstage history: the API's and v3 exports' propertiesWithHistory (every value
// the property had, with its timestamp), Fivetran's deal_stage (date_entered, else
// _fivetran_start; value) or, without it, the dealstage rows of
// deal_property_history (timestamp, value). Rules:
//
//   - Entries are put in time order; an entry naming the stage the deal is already
//     in (a value set again by an import or a workflow) is no entry and is left
//     out, while a return to an earlier stage is a row of its own.
//   - A stage id is looked up in the deal's current pipeline first, else in the one
//     pipeline that has it (a deal moved between pipelines keeps the history of its
//     first one); an id no pipeline read has, or several have, is rejected.
//   - An entry without a stage id or a readable time is rejected; the deal's other
//     entries are kept.
//   - A deal whose source has no history entry for it (an export written without
//     propertiesWithHistory, a Fivetran deal without deal_stage rows) gets one row:
//     its current stage, entered at its createdate (rejected without a createdate).
//   - Archived, deleted and merged-away deals have no stage rows, as they have no
//     deal row; Fivetran history rows of deals that were rejected, or that are not in
//     the deal table, are rejected.
//
// A Fivetran folder with neither deal_stage nor deal_property_history writes no stage
// rows, and Tables does not list the table.
//
// # Touches
//
// Selling activities become one events row of kind touch per contact they are on,
// crm_record "hubspot_contact:ID", channel "Sales: Call", "Sales: Meeting", "Sales:
// Email" or "Sales: Task", event_name and utm_medium call, meeting, sales_email,
// task, utm_source the owner's primary team (else the activity's team, else the
// owner's name), occurred_at hs_timestamp (meetings: else hs_meeting_start_time).
// Not touches, as they never reached the prospect: notes (not read), calls queued,
// canceled or failed, meetings canceled, no-show or rescheduled, e-mails other than
// those sales sent (hs_email_direction EMAIL), open tasks (a status other than
// COMPLETED), and activities on no contact. They are counted in the final log line.
//
// Marketing e-mail CLICK events become touches with event_name email_click, channel
// Email, utm_source hubspot, utm_medium email, utm_campaign the campaign's name
// (else its subject), page_location the clicked URL and email the recipient (the
// e-mail events API names no contact id; transform stitches the e-mail). Opens,
// sends and clicks HubSpot filtered as machine clicks are not touches.
//
// # API
//
// Definitions are read first (property definitions, pipelines, owners active and
// deactivated), then contacts, deals with their stage history and contacts, each
// activity type with its contacts, and the e-mail clicks, concurrently with at most
// Config.Concurrency requests in flight. Objects are listed with GET /crm/v3/objects/{type} (100 a
// page, cursor paging), or with Config.Since set, searched with POST
// /crm/v3/objects/{type}/search (modified since, ascending, 200 a page) in windows
// of at most Config.SearchMaxResults results, each starting at the last
// modification time seen (an instant with more records than a window is walked by
// hs_object_id). The stage history of each page's deals is read with POST
// /crm/v3/objects/deals/batch/read and propertiesWithHistory=dealstage, 50 ids a
// request (HubSpot's limit with history; lists and searches return no history).
// Associations are read with POST
// /crm/v4/associations/{type}/contacts/batch/read, 100 ids a request, following each
// object's own paging. E-mail clicks come from GET /email/public/v1/events
// (eventType CLICK, offset paging) and campaign names from GET
// /email/public/v1/campaigns/{id}.
//
// Requests are retried and paced under Config.Retry (package httpretry): each
// attempt has its own deadline, network errors, timeouts, bodies cut short, 408, 429
// and 5xx are tried again with exponential backoff and full jitter, and a request
// gives up after Retry.MaxAttempts attempts or when Retry.SourceTimeout has passed
// since the read began. Requests start at most DefaultRate a second (bursts of
// DefaultBurst: at most 100 in any 10 s window, the smallest private-app limit), with
// at most Config.Concurrency in flight; searches are spaced to 4 a second. A 429 is
// waited out as Retry-After (seconds or HTTP date) or the
// X-HubSpot-RateLimit-Interval-Milliseconds header say, pausing every request; when a
// response's X-HubSpot-RateLimit-Remaining reaches 0 the next requests wait the window
// out. A used-up daily limit fails at once. A refused token (401, 403) is an
// extract.ErrAuth error naming CLOSEDLOOP_HUBSPOT_TOKEN; the token appears in no error
// and no log line.
//
// # Locations
//
// Rows and rejections are located by file line ("contacts.ndjson:12",
// "contact_data.csv:7"), warehouse row ("hubspot.contact row 7": SCHEMA.TABLE and the
// row's number in the order the warehouse returned the rows, as a table has no
// lines) or API object ("hubspot contact 101"); a rejection adds the object to a file
// line or row: "contacts.ndjson:6 (hubspot contact 106)". The raw record of a
// warehouse row is the columns read, as a CSV line.
package hubspot
