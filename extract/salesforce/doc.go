// Package salesforce reads Salesforce CRM data into closedloop's canonical tables:
// leads and contacts (crm_contacts), opportunities (crm_deals), their contact roles
// (crm_deal_contacts) and stage history (crm_deal_stages), and the touches the CRM
// knows (events): selling activities (Task, Event) and campaign responses
// (CampaignMember), and the accounts (crm_accounts: Account's Name, Website as a
// domain, Industry, NumberOfEmployees, BillingCountry and the owner's User.Name). A
// contact's account_id is its AccountId, a converted lead's (whose contact is not
// read) its ConvertedAccountId, an opportunity's its AccountId; an account that is
// deleted or not read gives none.
//
// Two modes read the same objects with the same code after the first step:
//
//   - API ("salesforce:api"): SOQL over the REST API (GET /services/data/vXX.X/query,
//     then nextRecordsUrl until done), queryAll for the objects whose deleted rows
//     must be seen. Every object is described first, and only the fields the org has
//     are selected. Authentication is an access token, or the OAuth 2.0
//     client-credentials flow (POST /services/oauth2/token), whose token is fetched
//     again once when the API answers 401. Requests are retried and paced under
//     Config.Retry (package httpretry): network errors, timeouts, bodies cut short,
//     408, 429 and 5xx are tried again with backoff (Retry-After honoured), bounded in
//     attempts and by the source's time limit; REQUEST_LIMIT_EXCEEDED stops the run.
//   - Files ("salesforce:DIR"): a folder of CSV exports, either the Salesforce Data
//     Export service (Lead.csv: API field names as headers) or Fivetran's connector
//     tables (lead.csv or the dbt seeds' sf_lead_data.csv: snake_case columns).
//     Column names are matched without regard to case and underscores, so
//     ConvertedContactId and converted_contact_id are one field. Lead and Contact
//     are required; the other objects (Account among them) are optional. Fivetran
//     rows with _fivetran_deleted true or (history mode) _fivetran_active false are
//     skipped.
//   - Warehouse tables (Config.Source: a BigQuery dataset, a PostgreSQL or DuckDB
//     schema; package tables) in either layout of a folder, read as its files are:
//     Fivetran's connector tables, or tables named as the API objects with the API
//     field names as columns, as Airbyte's Salesforce connector writes them (Lead,
//     OpportunityContactRole: Id, ConvertedContactId). Only the columns of the
//     fields read are selected. Rows are located "SCHEMA.TABLE row N" (N counts the
//     rows in the order the warehouse returned them), a rejection's raw record is
//     the columns read as a CSV line.
//
// Rules where Salesforce leaves a choice:
//
//   - Ids are written in their 18-character form (ID18), whatever form the source
//     used; a lead id starts with 00Q, a contact id with 003. A record whose own id
//     is not a Salesforce id is rejected.
//   - Deleted records (IsDeleted, Fivetran _fivetran_deleted) are skipped and counted
//     by Skipped. The losers of a merge (deleted, MasterRecordId set) add their id to
//     the winner's linked_ids, so the identity graph joins whatever still names them.
//   - A converted lead is folded into the row of the contact it was converted into
//     (ConvertedContactId): one row per person, contact_id the contact's, the lead's
//     id in linked_ids, lead_at the earliest CreatedDate of the contact and its
//     leads, mql_at and sql_at the leads' earliest, the lead's e-mail and cookie when
//     the contact has none (else in linked_ids). A person is therefore one lead
//     conversion, not two. When that contact is not read (deleted, or outside Since),
//     the lead gets a row of its own with linked_ids salesforce_contact:<contact>.
//   - A contact no lead was converted into: lead_at = CreatedDate.
//   - Firmographics: a lead's job_title, company, industry, company_size and country
//     are its Title, Company, Industry, NumberOfEmployees and Country; a contact's are
//     its Title and MailingCountry and its Account's Name, Industry and
//     NumberOfEmployees (API: the relationship fields Account.Name ...; files: the
//     Account export joined on AccountId, its deleted and superseded rows left out;
//     contacts naming an account the export lacks are counted in a warning). A
//     converted lead folded into its contact fills what the contact lacks. Values are
//     trimmed, empty is null. company_size takes a whole number (commas grouping
//     thousands and a zero fraction allowed), a range's lower bound ("25-50") or an
//     open range's ("1000+"); any other value leaves it null without rejecting the
//     person: it is logged with its location (the first few one by one, then a
//     count) and counted by Extractor.BadCompanySizes. Merged-away records give none.
//   - mql_at / sql_at: when the lead's Status first entered Config.MQLStatuses /
//     SQLStatuses according to LeadHistory (Field = Status; in files the
//     LeadHistory export or a Fivetran history-mode lead table). A lead without any
//     Status history whose current Status is in a list gets its CreatedDate (created
//     in that status, or history tracking off). A converted lead without an SQL date
//     gets its ConvertedDate as sql_at. opportunity_at and customer_at are left to
//     the deals (transform derives them from crm_deals).
//   - Opportunities: closed_at = CloseDate for closed ones; when OpportunityHistory
//     shows the opportunity entering its current stage on that day, the time of that
//     change (CloseDate has no time of day, and touches on the closing day must fall
//     before or after it correctly). Open deals have no closed_at. Amount in
//     CurrencyIsoCode, else Config.Currency.
//   - crm_deal_stages: one row per entry of a written opportunity into a stage: its
//     first OpportunityHistory row (or Fivetran history-mode version) and every row
//     whose StageName differs from the row before it in time (rows with the same
//     stage record amount or close-date edits). stage = StageName, entered_at = the
//     row's CreatedDate (_fivetran_start), pipeline null (RecordType is not read). An
//     opportunity without history gets one row at its CreatedDate in its current
//     StageName. Deleted opportunities have none. A history row without time,
//     opportunity or stage is rejected as it is read; the rows of a rejected
//     opportunity, or of one in neither the Opportunity export nor the org, are
//     rejected once Opportunity is read, with the fields read as Raw (history rows
//     are not kept whole). With Since, the history of opportunities not read (unchanged
//     since then) is left out and logged.
//   - crm_deal_contacts: every live OpportunityContactRole (primary first, one row
//     per contact); an opportunity without one is tied to the contact of the lead
//     converted into it (Lead.ConvertedOpportunityId).
//   - Touches: a closed Task (open tasks have not happened yet and are skipped) is a
//     call (TaskSubtype or Type Call), a sales e-mail (Email, ListEmail) or a task; an
//     Event is a meeting (invitee copies, IsChild, are skipped). One row per person
//     of the activity: WhoId, plus the TaskRelation / EventRelation people of a shared
//     activity; an activity with no person but an opportunity (WhatId 006...) is the
//     opportunity's first contact; one with neither is rejected. The owner's team is
//     its UserRole name, else its Department, else its name (User is read on its
//     own: Task.Owner is polymorphic and cannot reach UserRole in SOQL). Notes are
//     internal and not read. A CampaignMember with HasResponded is a
//     campaign_response touch on FirstRespondedDate, channel = Campaign.Type as given.
//   - Config.Since reads Lead, Contact, Opportunity, Task, Event and CampaignMember
//     incrementally (SystemModstamp >= Since); the lookups (merges, histories, roles,
//     users, campaigns, relations) are always read whole.
package salesforce
