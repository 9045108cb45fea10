package views_test

import (
	"testing"

	"closedloop/sql/viewtest"
)

// TestMain starts one throwaway PostgreSQL for the view tests of this package.
func TestMain(m *testing.M) { viewtest.Main(m) }
