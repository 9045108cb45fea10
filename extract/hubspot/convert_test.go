package hubspot

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// sample is the demo's HubSpot export (a clean v3 folder).
var sample = filepath.Join("..", "..", "testdata", "sample", "hubspot")

// TestWriteFivetran converts v3 export folders (the demo's sample, and testdata/same
// with every optional file) into Fivetran tables: read as a Fivetran folder, and
// loaded into DuckDB and read as a warehouse, they give the v3 folder's rows, row
// for row (locations aside), its skipped records and counts.
func TestWriteFivetran(t *testing.T) {
	for _, dir := range []string{sample, same} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			mem := checkedMem(t)
			out := t.TempDir()
			require.NoError(t, WriteFivetran(context.Background(), dir, out))
			v3, err := extractWith(t, mem, Config{Spec: "hubspot:x", Dir: dir})
			require.NoError(t, err)
			ft, err := extractWith(t, mem, Config{Spec: "hubspot:x", Dir: out})
			require.NoError(t, err)
			wh, err := extractWith(t, mem, Config{Spec: "hubspot:x", Source: loadFivetran(t, "duckdb", out).Open(t)})
			require.NoError(t, err)
			for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents, extract.TableAccounts} {
				want := canonical(t, v3.c, table)
				switch {
				case table == extract.TableEvents && dir == sample: // the sample has no activities
				case table == extract.TableAccounts && dir == same: // nor testdata/same companies
				default:
					require.NotEmpty(t, want, table)
				}
				require.Equal(t, want, canonical(t, ft.c, table), table)
				require.Equal(t, want, canonical(t, wh.c, table), table)
			}
			require.Equal(t, len(v3.c.Rejections()), len(ft.c.Rejections()))
			require.Equal(t, len(v3.c.Rejections()), len(wh.c.Rejections()))
			for _, x := range []extracted{ft, wh} {
				require.Equal(t, v3.tables, x.tables)
				require.Equal(t, v3.skipped, x.skipped)
				require.Equal(t, v3.sizes, x.sizes)
				require.Equal(t, v3.ids, x.ids)
			}
			if dir == sample {
				require.Empty(t, v3.c.Rejections(), "the sample is clean")
			}
		})
	}
}

// TestWriteFivetranTables: the tables the decoder needs are written, with the
// properties as property_* columns.
func TestWriteFivetranTables(t *testing.T) {
	out := t.TempDir()
	require.NoError(t, WriteFivetran(context.Background(), sample, out))
	for _, tb := range []string{"contact", "deal", "deal_contact", "deal_pipeline", "deal_pipeline_stage", "deal_stage", "company", "deal_company"} {
		require.FileExists(t, filepath.Join(out, tb+".csv"))
	}
	b, err := os.ReadFile(filepath.Join(out, "contact.csv"))
	require.NoError(t, err)
	require.Contains(t, string(b), "id,_fivetran_deleted,property_associatedcompanyid,property_company,")
	require.Contains(t, string(b), "property_ga_client_id")

	err = WriteFivetran(context.Background(), t.TempDir(), out)
	require.ErrorContains(t, err, "pipelines.json")
}
