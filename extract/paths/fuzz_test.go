package paths

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func TestBadTextRejected(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.csv")
	require.NoError(t, os.WriteFile(f, []byte("path;total_conversions;total_conversion_value;total_null\n"+
		"Caf\xe9 > Email;1;10;0\nEmail > Dir\x00ect;1;10;0\nEmail;2;5;1\n"), 0o644))
	res, err := Read(context.Background(), Config{Path: f})
	require.NoError(t, err)
	require.Len(t, res.Rejections, 2)
	require.Equal(t, f+":2", res.Rejections[0].Location)
	require.Contains(t, res.Rejections[0].Reason, "path is not valid UTF-8 (byte 0xe9 at offset 3)")
	require.Equal(t, f+":3", res.Rejections[1].Location)
	require.Contains(t, res.Rejections[1].Reason, "path holds a NUL byte at offset 11")
	require.Equal(t, []string{"Email"}, res.Channels, "the good line is read")
}

func FuzzRead(f *testing.F) {
	seed, err := os.ReadFile("testdata/paths.csv")
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte("path;total_conversions;total_conversion_value;total_null\na > b;1;2;3\n\"a;b\";x;;\n"))
	f.Add([]byte("path;total_conversions;total_conversion_value;total_null\nCaf\xe9;1;1;1\n>  > ;1;1e308;NaN\n"))
	path := filepath.Join(f.TempDir(), "p.csv") // calls in one process run one at a time
	f.Fuzz(func(t *testing.T, b []byte) {
		require.NoError(t, os.WriteFile(path, b, 0o644))
		res, err := Read(context.Background(), Config{Path: path})
		if err != nil {
			require.Nil(t, res)
			return
		}
		for _, c := range res.Channels {
			require.Empty(t, extract.BadText("channel", c), "%q", c)
		}
		for _, r := range res.Rejections {
			require.NotEmpty(t, r.Location)
			require.NotEmpty(t, r.Reason)
			require.Empty(t, extract.BadText("reason", r.Reason), "%q", r.Reason)
		}
		for _, p := range res.Paths.Paths {
			for _, c := range p.Channels {
				require.Less(t, int(c), len(res.Channels))
			}
		}
	})
}
