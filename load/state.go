package load

import (
	"context"
	"time"
)

// StateSink takes the state an incremental run reads back from the warehouse, row by
// row (a transform.Stream): nothing of it need be held but what the run keeps.
type StateSink interface {
	// Identifier is a row of bridge_identity: an identifier as stored, first seen at
	// µs (0: unknown), and the person it belonged to.
	Identifier(typ, value string, firstSeen int64, personID string) error
	// Edge is a row of identity_edge.
	Edge(aType, a, bType, b, kind string, observedAt int64) error
	// Touchpoint is a row of fct_touchpoint from before the run's raw events.
	Touchpoint(id, personID, anonymousID string, at int64, channel, campaign, term string) error
	// Conversion is a conversion of events (a micro-conversion, a touch-log
	// conversion; not a CRM milestone) of fct_conversion from before the run's raw
	// events; revenue is NaN when NULL.
	Conversion(id, personID string, at int64, typ string, revenue float64, currency string) error
	// Person is a row of dim_person: when the person was last seen (µs).
	Person(personID string, lastSeen int64) error
}

// StateReader is a warehouse a run can resume from: its own tables are the state of
// the runs before (see the README's "Incremental runs").
type StateReader interface {
	// LastRun is the row_counts JSON of the last successful run, "" when none.
	LastRun(ctx context.Context) (string, error)
	// ReadState passes sink every identifier and identity edge, the touchpoints and
	// event conversions that occurred before since, and every person's last seen.
	// milestones are the conversion types of CRM milestones, which a run computes
	// from the CRM again and so are not read.
	ReadState(ctx context.Context, since time.Time, milestones []string, sink StateSink) error
	// Close releases the reader.
	Close() error
}
