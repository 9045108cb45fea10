package bigquery

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"closedloop/load"
)

// State is the load.StateReader of a BigQuery warehouse: the queries of load.SQLState
// run as BigQuery jobs, so that a bigquery engine night resumes from the warehouse
// (package sqlengine) as a local night does from DuckDB or PostgreSQL.
type State struct {
	client           *bigquery.Client
	project, dataset string
	location         string
}

var _ load.StateReader = (*State)(nil)

// OpenState returns the state of dataset project.dataset, or nil when it has no
// run_log yet (a first run).
func OpenState(ctx context.Context, project, dataset, location string, opts ...option.ClientOption) (*State, error) {
	client, err := bigquery.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigquery: %w", err)
	}
	_, err = client.Dataset(dataset).Table(load.RunLog).Metadata(ctx)
	if isStatus(err, http.StatusNotFound) {
		client.Close()
		return nil, nil
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("bigquery: %s.%s.run_log: %w%s", project, dataset, err, credentialsHint(err))
	}
	return &State{client: client, project: project, dataset: dataset, location: location}, nil
}

func (s *State) table(name string) string { return "`" + s.project + "." + s.dataset + "`." + name }

// query runs q with params and calls row with each row's values.
func (s *State) query(ctx context.Context, name, q string, params []bigquery.QueryParameter, row func([]bigquery.Value) error) error {
	bq := s.client.Query(q)
	bq.Parameters = params
	bq.Location = s.location
	bq.Labels = map[string]string{"app": "closedloop"}
	it, err := bq.Read(ctx)
	if err != nil {
		return fmt.Errorf("bigquery: read back %s: %w", name, err)
	}
	for {
		var vals []bigquery.Value
		err := it.Next(&vals)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bigquery: read back %s: %w", name, err)
		}
		if err := row(vals); err != nil {
			return fmt.Errorf("bigquery: read back %s: %w", name, err)
		}
	}
}

// LastRun is the row_counts of the last successful run, "" when none.
func (s *State) LastRun(ctx context.Context) (string, error) {
	var counts string
	err := s.query(ctx, "run_log", "SELECT row_counts FROM "+s.table(load.RunLog)+
		" WHERE status = 'success' ORDER BY finished_at DESC LIMIT 1", nil, func(v []bigquery.Value) error {
		counts = str(v[0])
		return nil
	})
	return counts, err
}

func str(v bigquery.Value) string {
	s, _ := v.(string)
	return s
}

func micros(v bigquery.Value) int64 {
	if t, ok := v.(time.Time); ok {
		return t.UnixMicro()
	}
	return 0
}

// ReadState passes sink the warehouse's state, as load.SQLState does.
func (s *State) ReadState(ctx context.Context, since time.Time, milestones []string, sink load.StateSink) error {
	before := []bigquery.QueryParameter{{Name: "since", Value: since.UTC()}}
	notMilestone := ""
	if len(milestones) > 0 {
		quoted := make([]string, len(milestones))
		for i, m := range milestones {
			quoted[i] = "'" + strings.ReplaceAll(m, "'", "\\'") + "'"
		}
		notMilestone = " AND conversion_type NOT IN (" + strings.Join(quoted, ", ") + ")"
	}
	queries := []struct {
		name, q string
		params  []bigquery.QueryParameter
		row     func([]bigquery.Value) error
	}{
		{load.BridgeIdentity, "SELECT identifier_type, identifier, first_seen_at, person_id FROM " + s.table(load.BridgeIdentity), nil,
			func(v []bigquery.Value) error { return sink.Identifier(str(v[0]), str(v[1]), micros(v[2]), str(v[3])) }},
		{load.IdentityEdge, "SELECT identifier_type, identifier, other_type, other_identifier, kind, observed_at FROM " + s.table(load.IdentityEdge), nil,
			func(v []bigquery.Value) error {
				return sink.Edge(str(v[0]), str(v[1]), str(v[2]), str(v[3]), str(v[4]), micros(v[5]))
			}},
		{load.FctTouchpoint, "SELECT touchpoint_id, person_id, anonymous_id, occurred_at, channel, campaign, term FROM " +
			s.table(load.FctTouchpoint) + " WHERE occurred_at < @since", before,
			func(v []bigquery.Value) error {
				return sink.Touchpoint(str(v[0]), str(v[1]), str(v[2]), micros(v[3]), str(v[4]), str(v[5]), str(v[6]))
			}},
		{load.FctConversion, "SELECT conversion_id, person_id, occurred_at, conversion_type, revenue, currency FROM " +
			s.table(load.FctConversion) + " WHERE occurred_at < @since AND crm_deal_id IS NULL" + notMilestone, before,
			func(v []bigquery.Value) error {
				rev := math.NaN()
				if f, ok := v[4].(float64); ok {
					rev = f
				}
				return sink.Conversion(str(v[0]), str(v[1]), micros(v[2]), str(v[3]), rev, str(v[5]))
			}},
		{load.DimPerson, "SELECT person_id, last_seen_at FROM " + s.table(load.DimPerson) + " WHERE last_seen_at IS NOT NULL", nil,
			func(v []bigquery.Value) error { return sink.Person(str(v[0]), micros(v[1])) }},
	}
	for _, q := range queries {
		if err := s.query(ctx, q.name, q.q, q.params, q.row); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the client.
func (s *State) Close() error { return s.client.Close() }
