package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// every warehouse kind: only the PostgreSQL DSN carries a credential
		{"duckdb:closedloop.duckdb", "duckdb:closedloop.duckdb"},
		{"duckdb:/data/wh.duckdb", "duckdb:/data/wh.duckdb"},
		{"parquet:/lake/closedloop", "parquet:/lake/closedloop"},
		{"bigquery:my-project.analytics", "bigquery:my-project.analytics"},
		{"postgres:postgres://etl:s3cr3t@db.internal:5432/wh?sslmode=require", "postgres:postgres://etl:xxxxx@db.internal:5432/wh?sslmode=require"},
		{"postgres:postgresql://etl:p%40ss@db/wh", "postgres:postgresql://etl:xxxxx@db/wh"},
		{"postgres:postgres://etl:p@ss@db/wh", "postgres:postgres://etl:xxxxx@db/wh"},
		{"postgres:postgres://etl@db/wh", "postgres:postgres://etl@db/wh"},
		{"postgres:postgres://db/wh?user=etl&password=s3cr3t&sslmode=disable", "postgres:postgres://db/wh?user=etl&password=xxxxx&sslmode=disable"},
		{"postgres:host=db user=etl password=s3cr3t dbname=wh", "postgres:host=db user=etl password=xxxxx dbname=wh"},
		{"postgres:host=db password='s3 cr3t' dbname=wh", "postgres:host=db password=xxxxx dbname=wh"},
		{"postgres:host=db PASSWORD = s3cr3t", "postgres:host=db PASSWORD = xxxxx"},
		{"postgres:host=db sslpassword=k3y sslmode=verify-full", "postgres:host=db sslpassword=xxxxx sslmode=verify-full"},
		// sources
		{"hubspot:api", "hubspot:api"},
		{"ga4:bigquery://proj/analytics_123", "ga4:bigquery://proj/analytics_123"},
		{"ga4:/data/ga4/events_*.ndjson.gz", "ga4:/data/ga4/events_*.ndjson.gz"},
		// messages
		{`CLOSEDLOOP_HUBSPOT_TOKEN=pat-na1-123 and access_token=abc`, `CLOSEDLOOP_HUBSPOT_TOKEN=xxxxx and access_token=xxxxx`},
		{`set CLOSEDLOOP_HUBSPOT_TOKEN: the token was refused`, `set CLOSEDLOOP_HUBSPOT_TOKEN: the token was refused`},
		{`cannot parse "postgres://u:pw@h/db": bad port`, `cannot parse "postgres://u:xxxxx@h/db": bad port`},
		{"no credential here: 12 rows", "no credential here: 12 rows"},
	} {
		assert.Equal(t, c.want, String(c.in), c.in)
		assert.Equal(t, c.want, String(String(c.in)), "idempotent: %s", c.in)
	}
}
