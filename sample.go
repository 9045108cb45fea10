// Package closedloop is the module root. It holds only the sample data set that
// travels inside the binary for `closedloop demo` (go:embed cannot reach up from
// cmd/closedloop to testdata/). The code lives in cmd/, extract/, transform/, load/
// and sql/.
package closedloop

import "embed"

// Sample is testdata/sample: GA4 export files, a HubSpot export folder and a spend
// CSV of a small synthetic B2B company (see testdata/sample/SOURCE.md).
//
//go:embed testdata/sample
var Sample embed.FS
