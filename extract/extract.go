// Package extract defines the contract between sources and the rest of closedloop.
//
// An Extractor reads one source (a GA4 export, a touch log, a CRM, an ad-spend export)
// and writes Arrow record batches for the canonical tables declared in schema.go, plus
// one Rejection for every input row it cannot use. Extractors of one run are called
// concurrently, each from its own goroutine; the run cancels the context of the others
// when one of them returns an error. End of input is a nil return.
//
// Implementations live in sub-packages named after what they read: extract/ga4 (with
// extract/ga4/bqstorage for the BigQuery tables), extract/segment, extract/touches,
// extract/hubspot, extract/spend.
package extract

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Writer receives an extractor's output. Implementations are safe for concurrent use.
type Writer interface {
	// Write adds a batch of table, whose schema must equal the canonical one. Write
	// retains what it keeps: the caller still releases its own reference.
	Write(ctx context.Context, table string, rec arrow.RecordBatch) error
	// Reject records an input row that could not be used.
	Reject(ctx context.Context, r Rejection) error
}

// Extractor reads one source.
type Extractor interface {
	// Name is the source spec as the user wrote it ("ga4:exports/*.ndjson.gz"): it
	// names the source in errors, run_log and rejected_rows.
	Name() string
	// Tables lists the canonical tables the extractor writes.
	Tables() []string
	// Extract reads the source to its end and writes everything to w.
	Extract(ctx context.Context, w Writer) error
}

// Rejection is one input row that could not be used, with where it was and why.
type Rejection struct {
	Input    string // source spec
	Location string // file:line, or the API object ("hubspot contact 1234")
	Reason   string // what is wrong and what to do about it
	Raw      string // the raw row (cut to MaxRawBytes)
}

// MaxRawBytes bounds the raw row kept in a rejection, so one broken multi-megabyte
// line cannot blow up rejected_rows.
const MaxRawBytes = 4096

// Cut shortens a raw row to MaxRawBytes.
func Cut(raw string) string {
	if len(raw) <= MaxRawBytes {
		return raw
	}
	return raw[:MaxRawBytes] + "…"
}

// Range is the run's date range: days From..To inclusive, in UTC.
type Range struct {
	From, To time.Time
}

// Start is the first instant of the range.
func (r Range) Start() time.Time { return r.From }

// End is the first instant after the range.
func (r Range) End() time.Time { return r.To.AddDate(0, 0, 1) }

// Contains reports whether t falls on a day of the range.
func (r Range) Contains(t time.Time) bool {
	return !t.Before(r.Start()) && t.Before(r.End())
}

// ErrConfig marks errors in the user's configuration: the command exits 2.
var ErrConfig = errors.New("configuration")

// ErrAuth marks a source that refused the run's credentials (an expired or revoked
// token): the run fails with exit 1 and loads nothing. Its message names the variable
// to fix and never contains the secret.
var ErrAuth = errors.New("authentication")

// Spec is one parsed source spec: KIND:LOCATION.
type Spec struct {
	Kind     string
	Location string
}

// String gives the spec back as the user wrote it.
func (s Spec) String() string { return s.Kind + ":" + s.Location }

// ParseSpecs splits a comma-separated list of KIND:LOCATION specs and checks each kind
// against allowed. variable names the setting in error messages.
func ParseSpecs(variable, list string, allowed ...string) ([]Spec, error) {
	var specs []Spec
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, loc, ok := strings.Cut(part, ":")
		if !ok || kind == "" || loc == "" {
			return nil, fmt.Errorf("%w: %s: %q is not KIND:LOCATION (kinds: %s)",
				ErrConfig, variable, part, strings.Join(allowed, ", "))
		}
		known := false
		for _, a := range allowed {
			known = known || a == kind
		}
		if !known {
			return nil, fmt.Errorf("%w: %s: unknown source kind %q in %q (kinds: %s)",
				ErrConfig, variable, kind, part, strings.Join(allowed, ", "))
		}
		specs = append(specs, Spec{Kind: kind, Location: loc})
	}
	return specs, nil
}
