package salesforce

import (
	"strings"
	"time"
)

// object is one Salesforce object the extractor reads: the fields it wants, in the
// order of a record's values, and how to read it.
type object struct {
	name     string   // API name: "Lead"
	snake    string   // Fivetran table name: "lead"
	fields   []string // API field names; a dotted name is a parent's field (UserRole.Name)
	required []string // fields the describe / the file header must have
	queryAll bool     // read deleted rows too (REST queryAll): they are counted, not lost
	since    bool     // read incrementally by SystemModstamp when Config.Since is set
	where    string   // SOQL condition always applied
	optional bool     // an org without the object, or a folder without its file, is fine
	history  bool     // every row counts: a Fivetran history-mode table is read whole
}

// Field indexes of each object's records.
const (
	leadID = iota
	leadIsDeleted
	leadMasterRecordID
	leadEmail
	leadCreatedDate
	leadLastModifiedDate
	leadSystemModstamp
	leadLeadSource
	leadStatus
	leadIsConverted
	leadConvertedDate
	leadConvertedContactID
	leadConvertedOpportunityID
	leadTitle
	leadCompany
	leadIndustry
	leadNumberOfEmployees
	leadCountry
	leadConvertedAccountID
	leadCookie // the configured cookie field, appended at run time
)

var leadFields = []string{
	leadID: "Id", leadIsDeleted: "IsDeleted", leadMasterRecordID: "MasterRecordId", leadEmail: "Email",
	leadCreatedDate: "CreatedDate", leadLastModifiedDate: "LastModifiedDate", leadSystemModstamp: "SystemModstamp",
	leadLeadSource: "LeadSource", leadStatus: "Status", leadIsConverted: "IsConverted",
	leadConvertedDate: "ConvertedDate", leadConvertedContactID: "ConvertedContactId",
	leadConvertedOpportunityID: "ConvertedOpportunityId", leadTitle: "Title", leadCompany: "Company",
	leadIndustry: "Industry", leadNumberOfEmployees: "NumberOfEmployees", leadCountry: "Country",
	leadConvertedAccountID: "ConvertedAccountId",
}

const (
	contactID = iota
	contactIsDeleted
	contactMasterRecordID
	contactEmail
	contactCreatedDate
	contactLastModifiedDate
	contactSystemModstamp
	contactLeadSource
	contactAccountID
	contactTitle
	contactMailingCountry
	contactAccountName // the Account's fields through the relationship: API only
	contactAccountIndustry
	contactAccountEmployees
	contactCookie // the configured cookie field, appended at run time
)

var contactFields = []string{
	contactID: "Id", contactIsDeleted: "IsDeleted", contactMasterRecordID: "MasterRecordId", contactEmail: "Email",
	contactCreatedDate: "CreatedDate", contactLastModifiedDate: "LastModifiedDate",
	contactSystemModstamp: "SystemModstamp", contactLeadSource: "LeadSource",
	contactAccountID: "AccountId", contactTitle: "Title", contactMailingCountry: "MailingCountry",
	contactAccountName: "Account.Name", contactAccountIndustry: "Account.Industry",
	contactAccountEmployees: "Account.NumberOfEmployees",
}

const (
	accountID = iota
	accountIsDeleted
	accountName
	accountIndustry
	accountNumberOfEmployees
	accountWebsite
	accountBillingCountry
	accountOwnerID
)

var accountFields = []string{
	accountID: "Id", accountIsDeleted: "IsDeleted", accountName: "Name", accountIndustry: "Industry",
	accountNumberOfEmployees: "NumberOfEmployees", accountWebsite: "Website", accountBillingCountry: "BillingCountry",
	accountOwnerID: "OwnerId",
}

// Merges: the deleted losers of a lead or contact merge and their master record.
const (
	mergeID = iota
	mergeIsDeleted
	mergeMasterRecordID
)

var mergeFields = []string{mergeID: "Id", mergeIsDeleted: "IsDeleted", mergeMasterRecordID: "MasterRecordId"}

// LeadHistory rows, in either layout: the LeadHistory object (LeadId, Field,
// NewValue, CreatedDate) or a Fivetran history-mode lead table (a version of the lead
// per change: Id, Status, _fivetran_start).
const (
	lhID = iota
	lhLeadID
	lhField
	lhNewValue
	lhCreatedDate
	lhIsDeleted
	lhStatus
	lhFivetranStart
)

var leadHistoryFields = []string{
	lhID: "Id", lhLeadID: "LeadId", lhField: "Field", lhNewValue: "NewValue", lhCreatedDate: "CreatedDate",
	lhIsDeleted: "IsDeleted", lhStatus: "Status", lhFivetranStart: "_fivetran_start",
}

const (
	oppID = iota
	oppIsDeleted
	oppName
	oppStageName
	oppAmount
	oppCloseDate
	oppIsClosed
	oppIsWon
	oppCreatedDate
	oppSystemModstamp
	oppCurrencyIsoCode
	oppAccountID
)

var opportunityFields = []string{
	oppID: "Id", oppIsDeleted: "IsDeleted", oppName: "Name", oppStageName: "StageName", oppAmount: "Amount",
	oppCloseDate: "CloseDate", oppIsClosed: "IsClosed", oppIsWon: "IsWon", oppCreatedDate: "CreatedDate",
	oppSystemModstamp: "SystemModstamp", oppCurrencyIsoCode: "CurrencyIsoCode", oppAccountID: "AccountId",
}

// OpportunityHistory rows, in either layout: the OpportunityHistory object
// (OpportunityId, StageName, CreatedDate) or a Fivetran history-mode opportunity
// table (Id, StageName, _fivetran_start).
const (
	ohID = iota
	ohOpportunityID
	ohStageName
	ohCreatedDate
	ohIsDeleted
	ohFivetranStart
)

var opportunityHistoryFields = []string{
	ohID: "Id", ohOpportunityID: "OpportunityId", ohStageName: "StageName", ohCreatedDate: "CreatedDate",
	ohIsDeleted: "IsDeleted", ohFivetranStart: "_fivetran_start",
}

const (
	ocrID = iota
	ocrOpportunityID
	ocrContactID
	ocrIsPrimary
	ocrIsDeleted
)

var contactRoleFields = []string{
	ocrID: "Id", ocrOpportunityID: "OpportunityId", ocrContactID: "ContactId", ocrIsPrimary: "IsPrimary",
	ocrIsDeleted: "IsDeleted",
}

const (
	taskID = iota
	taskIsDeleted
	taskWhoID
	taskWhatID
	taskOwnerID
	taskSubtype
	taskType
	taskIsClosed
	taskActivityDate
	taskCompletedDateTime
	taskCreatedDate
	taskSystemModstamp
)

var taskFields = []string{
	taskID: "Id", taskIsDeleted: "IsDeleted", taskWhoID: "WhoId", taskWhatID: "WhatId", taskOwnerID: "OwnerId",
	taskSubtype: "TaskSubtype", taskType: "Type", taskIsClosed: "IsClosed", taskActivityDate: "ActivityDate",
	taskCompletedDateTime: "CompletedDateTime", taskCreatedDate: "CreatedDate", taskSystemModstamp: "SystemModstamp",
}

const (
	eventID = iota
	eventIsDeleted
	eventWhoID
	eventWhatID
	eventOwnerID
	eventIsChild
	eventStartDateTime
	eventActivityDateTime
	eventActivityDate
	eventCreatedDate
	eventSystemModstamp
)

var eventFields = []string{
	eventID: "Id", eventIsDeleted: "IsDeleted", eventWhoID: "WhoId", eventWhatID: "WhatId", eventOwnerID: "OwnerId",
	eventIsChild: "IsChild", eventStartDateTime: "StartDateTime", eventActivityDateTime: "ActivityDateTime",
	eventActivityDate: "ActivityDate", eventCreatedDate: "CreatedDate", eventSystemModstamp: "SystemModstamp",
}

// TaskRelation / EventRelation: the people of a shared activity (Shared Activities).
const (
	relActivityID = iota
	relRelationID
	relIsWhat
	relIsParent
	relIsDeleted
)

var taskRelationFields = []string{
	relActivityID: "TaskId", relRelationID: "RelationId", relIsWhat: "IsWhat", relIsParent: "IsParent", relIsDeleted: "IsDeleted",
}

var eventRelationFields = []string{
	relActivityID: "EventId", relRelationID: "RelationId", relIsWhat: "IsWhat", relIsParent: "IsParent", relIsDeleted: "IsDeleted",
}

const (
	userID = iota
	userName
	userDepartment
	userRoleID
	userRoleName
)

var userFields = []string{
	userID: "Id", userName: "Name", userDepartment: "Department", userRoleID: "UserRoleId", userRoleName: "UserRole.Name",
}

const (
	roleID = iota
	roleName
)

var userRoleFields = []string{roleID: "Id", roleName: "Name"}

const (
	campaignID = iota
	campaignName
	campaignType
)

var campaignFields = []string{campaignID: "Id", campaignName: "Name", campaignType: "Type"}

const (
	memberID = iota
	memberIsDeleted
	memberCampaignID
	memberLeadID
	memberContactID
	memberHasResponded
	memberFirstRespondedDate
	memberSystemModstamp
)

var campaignMemberFields = []string{
	memberID: "Id", memberIsDeleted: "IsDeleted", memberCampaignID: "CampaignId", memberLeadID: "LeadId",
	memberContactID: "ContactId", memberHasResponded: "HasResponded", memberFirstRespondedDate: "FirstRespondedDate",
	memberSystemModstamp: "SystemModstamp",
}

// objects are the objects of one run; Lead and Contact carry the configured cookie
// field, when there is one.
type objects struct {
	lead, contact, account, leadMerges, contactMerges *object
	leadHistory                                       *object
	opportunity, opportunityHistory, contactRoles     *object
	task, event, taskRelations, eventRelations        *object
	user, userRole, campaign, campaignMember          *object
}

func newObjects(cookieField string) objects {
	withCookie := func(fields []string) []string {
		out := append([]string(nil), fields...)
		if cookieField != "" {
			out = append(out, cookieField)
		}
		return out
	}
	return objects{
		lead: &object{name: "Lead", snake: "lead", fields: withCookie(leadFields), required: []string{"Id", "CreatedDate"},
			queryAll: true, since: true},
		contact: &object{name: "Contact", snake: "contact", fields: withCookie(contactFields), required: []string{"Id", "CreatedDate"},
			queryAll: true, since: true},
		// Account gives crm_accounts, and contacts' firmographics in files (the API
		// gives Contact's Account.Name, Account.Industry and Account.NumberOfEmployees
		// directly).
		account: &object{name: "Account", snake: "account", fields: accountFields, required: []string{"Id"}, optional: true},
		leadMerges: &object{name: "Lead", snake: "lead", fields: mergeFields, required: []string{"Id"},
			queryAll: true, where: "IsDeleted = true AND MasterRecordId != null"},
		contactMerges: &object{name: "Contact", snake: "contact", fields: mergeFields, required: []string{"Id"},
			queryAll: true, where: "IsDeleted = true AND MasterRecordId != null"},
		leadHistory: &object{name: "LeadHistory", snake: "lead_history", fields: leadHistoryFields,
			where: "Field = 'Status'", optional: true, history: true},
		opportunity: &object{name: "Opportunity", snake: "opportunity", fields: opportunityFields,
			required: []string{"Id", "StageName", "IsClosed", "IsWon", "CreatedDate"}, queryAll: true, since: true, optional: true},
		opportunityHistory: &object{name: "OpportunityHistory", snake: "opportunity_history", fields: opportunityHistoryFields,
			required: []string{"StageName"}, optional: true, history: true},
		contactRoles: &object{name: "OpportunityContactRole", snake: "opportunity_contact_role", fields: contactRoleFields,
			required: []string{"OpportunityId", "ContactId"}, queryAll: true, optional: true},
		task: &object{name: "Task", snake: "task", fields: taskFields, required: []string{"Id", "WhoId", "CreatedDate"},
			queryAll: true, since: true, optional: true},
		event: &object{name: "Event", snake: "event", fields: eventFields, required: []string{"Id", "WhoId", "CreatedDate"},
			queryAll: true, since: true, optional: true},
		taskRelations: &object{name: "TaskRelation", snake: "task_relation", fields: taskRelationFields,
			required: []string{"TaskId", "RelationId"}, where: "IsWhat = false", optional: true},
		eventRelations: &object{name: "EventRelation", snake: "event_relation", fields: eventRelationFields,
			required: []string{"EventId", "RelationId"}, where: "IsWhat = false AND IsParent = true", optional: true},
		user: &object{name: "User", snake: "user", fields: userFields, required: []string{"Id", "Name"}, optional: true},
		// UserRole is read only from files: the API gives User's UserRole.Name directly.
		userRole: &object{name: "UserRole", snake: "user_role", fields: userRoleFields, required: []string{"Id", "Name"}, optional: true},
		campaign: &object{name: "Campaign", snake: "campaign", fields: campaignFields, required: []string{"Id"}, optional: true},
		campaignMember: &object{name: "CampaignMember", snake: "campaign_member", fields: campaignMemberFields,
			required: []string{"CampaignId", "HasResponded", "FirstRespondedDate"}, queryAll: true, since: true,
			where: "HasResponded = true", optional: true},
	}
}

// index returns the index of field name in o.fields, -1 when absent.
func (o *object) index(name string) int {
	for i, f := range o.fields {
		if strings.EqualFold(f, name) {
			return i
		}
	}
	return -1
}

// soql builds the query of o over the fields the org has.
func (o *object) soql(has []bool, since time.Time) string {
	var sel []string
	for i, f := range o.fields {
		if has[i] {
			sel = append(sel, f)
		}
	}
	var where []string
	if o.where != "" {
		where = append(where, o.where)
	}
	if o.since && !since.IsZero() && has[o.index("SystemModstamp")] {
		where = append(where, "SystemModstamp >= "+since.UTC().Format("2006-01-02T15:04:05Z"))
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + o.name
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return q
}

// fileNames are the names a folder may hold o under: the Salesforce Data Export
// name (Lead.csv), the Fivetran table name (lead.csv) and the Fivetran dbt seed name
// (sf_lead_data.csv). Matched without regard to case.
func (o *object) fileNames() []string {
	return []string{o.name + ".csv", o.snake + ".csv", "sf_" + o.snake + "_data.csv"}
}

// normKey is how a column or field name is compared: lower case, letters and digits
// only, so that API names (ConvertedContactId, GA_Client_ID__c) match Fivetran's
// snake_case columns (converted_contact_id, ga_client_id_c).
func normKey(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c|0x20)
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b = append(b, c)
		}
	}
	return string(b)
}
