// Package hubspot reads HubSpot CRM data: contacts with their lifecycle-stage dates and
// analytics-source properties, deals, the deal pipelines that say which stages are won
// or lost, and the deal-contact associations.
//
// This file set implements the "export folder" mode: a folder holding what the HubSpot
// CRM v3 API returns, saved as files, so that the API mode decodes exactly the same
// objects:
//
//	contacts.ndjson       one v3 contact object per line ({"id", "properties", "createdAt", "updatedAt", "archived"})
//	deals.ndjson          one v3 deal object per line
//	pipelines.json        the GET /crm/v3/pipelines/deals response
//	deal_contacts.ndjson  one v4 association batch-read result per line ({"from": {"id"}, "to": [{"toObjectId"}]})
//
// All four files are required. Property values are strings or null; datetimes come as
// ISO-8601 strings or epoch-millisecond strings, both read by extract.ParseTime.
// Whether a deal is won or lost is decided by its stage's metadata in pipelines.json
// (isClosed, probability 1.0 or 0.0), never by stage labels, which users rename.
//
// Archived records ("archived": true) are skipped, not rejected, and counted by
// Skipped; associations that point at a skipped record are dropped with it. Every
// other unusable line becomes an extract.Rejection located as
// "contacts.ndjson:12 (hubspot contact 101)".
package hubspot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// The files of an export folder.
const (
	ContactsFile     = "contacts.ndjson"
	DealsFile        = "deals.ndjson"
	PipelinesFile    = "pipelines.json"
	DealContactsFile = "deal_contacts.ndjson"
)

// crm is the value of the crm column of every row this package writes.
const crm = "hubspot"

// MaxLineBytes bounds one NDJSON line. HubSpot objects are a few KiB; a longer line
// is rejected (its first bytes kept as the raw row) and reading goes on.
const MaxLineBytes = 16 << 20

// Config configures an Extractor.
type Config struct {
	// Spec is the source spec as the user wrote it ("hubspot:exports/hubspot"): the
	// extractor's Name, the input column and the Input of rejections.
	Spec string
	// Dir is the export folder.
	Dir string
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// CookieProperty is the contact property holding the analytics cookie id (the GA4
	// user_pseudo_id), written to cookie_id. Empty writes no cookie id.
	CookieProperty string
	// Currency is the currency of deals without deal_currency_code (the account's
	// company currency).
	Currency string
}

// Extractor reads a HubSpot export folder. It is used for one Extract at a time.
type Extractor struct {
	cfg     Config
	skipped atomic.Int64
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns an Extractor for cfg. Nothing is opened before Extract.
func New(cfg Config) *Extractor {
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Spec == "" {
		cfg.Spec = "hubspot:" + cfg.Dir
	}
	cfg.Currency = strings.ToUpper(strings.TrimSpace(cfg.Currency))
	return &Extractor{cfg: cfg}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables lists the tables Extract writes.
func (e *Extractor) Tables() []string {
	return []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts}
}

// Skipped returns how many archived contacts and deals the last Extract skipped.
func (e *Extractor) Skipped() int { return int(e.skipped.Load()) }

// Extract reads the folder: pipelines first (deals need them), then contacts, deals
// and associations. A missing file is an extract.ErrConfig error, reported before
// anything is written.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	e.skipped.Store(0)
	if err := e.checkFolder(); err != nil {
		return err
	}
	stages, err := e.readPipelines()
	if err != nil {
		return err
	}
	archived := archivedIDs{contacts: map[string]bool{}, deals: map[string]bool{}}
	if err := e.readContacts(ctx, w, archived.contacts); err != nil {
		return err
	}
	if err := e.readDeals(ctx, w, stages, archived.deals); err != nil {
		return err
	}
	return e.readAssociations(ctx, w, archived)
}

// archivedIDs are the ids of skipped records, so associations to them can be dropped.
type archivedIDs struct {
	contacts, deals map[string]bool
}

// checkFolder makes sure the folder holds the four files.
func (e *Extractor) checkFolder() error {
	fi, err := os.Stat(e.cfg.Dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s: export folder %s does not exist", extract.ErrConfig, e.cfg.Spec, e.cfg.Dir)
		}
		return fmt.Errorf("%s: %w", e.cfg.Spec, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s: %s is not a folder (want a folder holding %s, %s, %s and %s)",
			extract.ErrConfig, e.cfg.Spec, e.cfg.Dir, ContactsFile, DealsFile, PipelinesFile, DealContactsFile)
	}
	for _, name := range []string{ContactsFile, DealsFile, PipelinesFile, DealContactsFile} {
		fi, err := os.Stat(filepath.Join(e.cfg.Dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%w: %s: folder %s has no %s (%s)", extract.ErrConfig, e.cfg.Spec, e.cfg.Dir, name, why[name])
		case err != nil:
			return fmt.Errorf("%s: %w", e.cfg.Spec, err)
		case fi.IsDir():
			return fmt.Errorf("%w: %s: %s is a folder, want a file", extract.ErrConfig, e.cfg.Spec, filepath.Join(e.cfg.Dir, name))
		}
	}
	return nil
}

// why tells, per file, what it is and why it cannot be left out.
var why = map[string]string{
	ContactsFile:     "one CRM v3 contact object per line",
	DealsFile:        "one CRM v3 deal object per line",
	PipelinesFile:    "the GET /crm/v3/pipelines/deals response; won and lost deals cannot be told apart without it",
	DealContactsFile: "one v4 deal-to-contact association result per line; deals cannot be tied to contacts without it",
}
