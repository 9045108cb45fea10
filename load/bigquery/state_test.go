package bigquery

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bq "google.golang.org/api/bigquery/v2"

	"closedloop/load/loadtest"
)

// recorder is a load.StateSink that writes what it is given as text.
type recorder struct{ got []string }

func (r *recorder) Identifier(typ, value string, firstSeen int64, personID string) error {
	r.got = append(r.got, fmt.Sprint("identifier ", typ, " ", value, " ", firstSeen, " ", personID))
	return nil
}

func (r *recorder) Edge(aType, a, bType, b, kind string, observedAt int64) error {
	r.got = append(r.got, fmt.Sprint("edge ", aType, " ", a, " ", bType, " ", b, " ", kind, " ", observedAt))
	return nil
}

func (r *recorder) Touchpoint(id, personID, anonymousID string, at int64, channel, campaign, term string) error {
	r.got = append(r.got, fmt.Sprint("touchpoint ", id, " ", personID, " ", anonymousID, " ", at, " ", channel, " ", campaign, " ", term))
	return nil
}

func (r *recorder) Conversion(id, personID string, at int64, typ string, revenue float64, currency string) error {
	r.got = append(r.got, fmt.Sprint("conversion ", id, " ", personID, " ", at, " ", typ, " ", math.IsNaN(revenue), " ", currency))
	return nil
}

func (r *recorder) Person(personID string, lastSeen int64) error {
	r.got = append(r.got, fmt.Sprint("person ", personID, " ", lastSeen))
	return nil
}

// TestStateReadsBack: a bigquery engine night reads the warehouse's state back with
// the queries of load.SQLState, since passed as a parameter.
func TestStateReadsBack(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	ctx := context.Background()
	st, err := OpenState(ctx, fakeProject, testDataset, "EU", f.options()...)
	require.NoError(t, err)
	assert.Nil(t, st, "no run_log yet: a first run")

	open(t, f, "night-0", loadtest.Days(0, 1), mem) // creates the contract tables
	const ts = "1767225600000000"                   // 2026-01-01 00:00 UTC, as BigQuery answers a TIMESTAMP (formatOptions.useInt64Timestamp)
	f.answer = func(q *bq.QueryRequest) (*bq.TableSchema, [][]any) {
		field := func(names ...string) *bq.TableSchema {
			s := &bq.TableSchema{}
			for _, n := range names {
				typ, n, _ := strings.Cut(n, ":")
				s.Fields = append(s.Fields, &bq.TableFieldSchema{Name: n, Type: typ})
			}
			return s
		}
		switch {
		case strings.Contains(q.Query, "FROM `test-proj.warehouse`.run_log"):
			return field("STRING:row_counts"), [][]any{{`{"state":{"complete":true}}`}}
		case strings.Contains(q.Query, "`.bridge_identity"):
			return field("STRING:identifier_type", "STRING:identifier", "TIMESTAMP:first_seen_at", "STRING:person_id"),
				[][]any{{"anonymous_id", "c1", ts, "p_1"}, {"email", "a@b.c", nil, "p_1"}}
		case strings.Contains(q.Query, "`.identity_edge"):
			return field("STRING:a", "STRING:b", "STRING:c", "STRING:d", "STRING:kind", "TIMESTAMP:observed_at"),
				[][]any{{"anonymous_id", "c1", "email", "a@b.c", "event_email", ts}}
		case strings.Contains(q.Query, "`.fct_touchpoint"):
			return field("STRING:id", "STRING:p", "STRING:anon", "TIMESTAMP:at", "STRING:ch", "STRING:camp", "STRING:term"),
				[][]any{{"t_1f", "p_1", "c1", ts, "Email", "feb", nil}}
		case strings.Contains(q.Query, "`.fct_conversion"):
			return field("STRING:id", "STRING:p", "TIMESTAMP:at", "STRING:type", "FLOAT:revenue", "STRING:cur"),
				[][]any{{"c_2a", "p_1", ts, "purchase", nil, "USD"}}
		case strings.Contains(q.Query, "`.dim_person"):
			return field("STRING:p", "TIMESTAMP:last"), [][]any{{"p_1", ts}}
		}
		t.Errorf("unexpected query %s", q.Query)
		return nil, nil
	}
	st, err = OpenState(ctx, fakeProject, testDataset, "EU", f.options()...)
	require.NoError(t, err)
	require.NotNil(t, st)
	defer st.Close()
	counts, err := st.LastRun(ctx)
	require.NoError(t, err)
	assert.Equal(t, `{"state":{"complete":true}}`, counts)
	var rec recorder
	since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, st.ReadState(ctx, since, []string{"lead", "customer"}, &rec))
	assert.Equal(t, []string{
		"identifier anonymous_id c1 1767225600000000 p_1", "identifier email a@b.c 0 p_1",
		"edge anonymous_id c1 email a@b.c event_email 1767225600000000",
		"touchpoint t_1f p_1 c1 1767225600000000 Email feb ",
		"conversion c_2a p_1 1767225600000000 purchase true USD",
		"person p_1 1767225600000000",
	}, rec.got)
	var withSince int
	for _, q := range f.queries {
		if strings.Contains(q.Query, "occurred_at < @since") {
			withSince++
			require.Len(t, q.QueryParameters, 1)
			assert.Equal(t, "since", q.QueryParameters[0].Name)
			assert.Equal(t, "TIMESTAMP", q.QueryParameters[0].ParameterType.Type)
		}
		if strings.Contains(q.Query, "fct_conversion") {
			assert.Contains(t, q.Query, "conversion_type NOT IN ('lead', 'customer')")
		}
	}
	assert.Equal(t, 2, withSince, "touchpoints and conversions before since")
}
