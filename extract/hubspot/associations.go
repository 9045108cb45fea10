package hubspot

import (
	"context"
	"encoding/json"
	"strings"

	"closedloop/extract"
)

// Column indexes of extract.TableDealContacts, resolved once.
var (
	dcInput     = extract.Col(extract.TableDealContacts, "input")
	dcCRM       = extract.Col(extract.TableDealContacts, "crm")
	dcDealID    = extract.Col(extract.TableDealContacts, "deal_id")
	dcContactID = extract.Col(extract.TableDealContacts, "contact_id")
)

// association is one result of POST /crm/v4/associations/deals/contacts/batch/read.
// The v3 shape (to[].id instead of to[].toObjectId) is read too.
type association struct {
	From struct {
		ID value `json:"id"`
	} `json:"from"`
	To []struct {
		ToObjectID value `json:"toObjectId"`
		ID         value `json:"id"`
	} `json:"to"`
}

// readAssociations reads deal_contacts.ndjson into extract.TableDealContacts, one row
// per deal and contact. Links to archived (skipped) records are dropped with them.
func (e *Extractor) readAssociations(ctx context.Context, w extract.Writer, archived archivedIDs) error {
	b := extract.NewBuilder(e.cfg.Mem, extract.TableDealContacts, w)
	defer b.Release()
	var a association
	err := e.eachLine(ctx, w, DealContactsFile, func(l *lineReader, line []byte) error {
		a = association{}
		if err := json.Unmarshal(line, &a); err != nil {
			return e.reject(ctx, w, l.location("", ""), "invalid JSON: "+err.Error(), line)
		}
		deal := strings.TrimSpace(a.From.ID.s)
		if deal == "" {
			return e.reject(ctx, w, l.location("", ""), "association has no from.id (the deal id)", line)
		}
		if archived.deals[deal] {
			return nil
		}
		// Check every target before writing any, so a bad line is rejected whole.
		for _, to := range a.To {
			if strings.TrimSpace(to.ToObjectID.s) == "" && strings.TrimSpace(to.ID.s) == "" {
				return e.reject(ctx, w, l.location("deal", deal), "association target has no toObjectId (the contact id)", line)
			}
		}
		for _, to := range a.To {
			contact := strings.TrimSpace(to.ToObjectID.s)
			if contact == "" {
				contact = strings.TrimSpace(to.ID.s)
			}
			if archived.contacts[contact] {
				continue
			}
			b.Str(dcInput, e.cfg.Spec)
			b.Str(dcCRM, crm)
			b.Str(dcDealID, deal)
			b.Str(dcContactID, contact)
			if err := b.End(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return b.Flush(ctx)
}
