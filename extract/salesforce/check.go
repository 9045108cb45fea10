package salesforce

import (
	"context"
	"strings"
)

// Check makes sure the source can be read, without reading its records: the checks
// Extract starts with. A folder must hold Lead and Contact files with their required
// columns (their header rows are read), a warehouse Source Lead and Contact tables
// with theirs (their columns are listed); the API's credentials must be accepted (the
// client-credentials flow's token fetched) and Lead and Contact described, two
// authenticated GETs through the client and retry policy Extract uses. The cookie
// field must be on one of them. It returns what it found, for a person to read.
// Its errors are Extract's: extract.ErrConfig for a folder, field or setting to fix,
// extract.ErrAuth for credentials Salesforce refuses.
func (e *Extractor) Check(ctx context.Context) (string, error) {
	src, err := e.source(ctx)
	if err != nil {
		return "", err
	}
	if err := newRun(e, nil, src).checkPeople(ctx); err != nil {
		return "", err
	}
	what := "Lead and Contact readable"
	switch {
	case e.cfg.Source != nil:
		what = "Lead and Contact tables in " + e.cfg.Source.Spec()
	case e.cfg.Dir == "":
		what = "credentials accepted; " + what
	}
	if f := e.cfg.CookieField; f != "" {
		what += "; cookie field " + f
	}
	return strings.TrimSpace(what), nil
}
