package bqstorage

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract/ga4/bqstorage/bqfake"
)

// fixtureRows reads testdata/events_20260105.ndjson, one event per line.
func fixtureRows(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/events_20260105.ndjson")
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// testRig is a Client wired to the fake Storage Read and REST APIs of package bqfake.
type testRig struct {
	*Client
	fake *bqfake.Server
}

const (
	testProject = "proj-a"
	testDataset = "analytics_123456"
)

// newRig starts a fake serving the test dataset and a Client for cfg (Project,
// Dataset and the endpoints are filled in). Streams reopen after at most 1 ms instead
// of the production backoff, unless cfg.Retry says otherwise.
func newRig(t testing.TB, cfg Config) *testRig {
	t.Helper()
	return startRig(t, cfg, bqfake.Config{})
}

// startRig is newRig with the fake's configuration fc (Project and Dataset are
// filled in).
func startRig(t testing.TB, cfg Config, fc bqfake.Config) *testRig {
	t.Helper()
	fc.Project, fc.Dataset = testProject, testDataset
	fake := bqfake.Start(t, fc)
	cfg.Project, cfg.Dataset = testProject, testDataset
	cfg.Endpoint, cfg.RESTEndpoint = fake.Endpoint, fake.RESTEndpoint
	if cfg.Retry.InitialInterval == 0 {
		cfg.Retry.InitialInterval, cfg.Retry.MaxInterval = time.Millisecond, time.Millisecond
	}
	c, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return &testRig{Client: c, fake: fake}
}

// tablePath is the Storage Read API's name of table id of the test dataset.
func tablePath(id string) string {
	return "projects/" + testProject + "/datasets/" + testDataset + "/tables/" + id
}
