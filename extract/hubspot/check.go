package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// Check makes sure the source can be read, without reading it: for a folder, the
// checks Extract starts with (the folder exists, its layout, its required files and
// the files others need); for a warehouse Source, the same of its tables (listed,
// not read); for the API, the token, by one authenticated request for a
// page of one contact (GET /crm/v3/objects/contacts?limit=1), through the client and
// retry policy Extract uses. It returns what it found, for a person to read: "v3
// export folder", "Fivetran tables", "token accepted (contacts readable)". Its errors
// are Extract's: extract.ErrConfig for a folder or setting to fix, extract.ErrAuth for
// a token HubSpot refuses.
func (e *Extractor) Check(ctx context.Context) (string, error) {
	x := &run{e: e}
	if e.cfg.Source != nil {
		w, err := openWarehouse(ctx, e.cfg.Spec, e.cfg.Source)
		if err != nil {
			return "", err
		}
		x.wh = w
		e.sourceTables.Store(&w.names)
		if err := w.check(e.cfg.Spec); err != nil {
			return "", err
		}
		return "Fivetran HubSpot tables in " + e.cfg.Source.Spec(), nil
	}
	if e.cfg.Dir != "" {
		lay, err := x.openFolder()
		if err != nil {
			return "", err
		}
		if lay == layoutFivetran {
			return "Fivetran HubSpot tables", x.fivetranCheck()
		}
		return "v3 export folder", x.checkFolder()
	}
	if err := e.checkAPIConfig(); err != nil {
		return "", err
	}
	var page struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := newClient(e).get(ctx, "/crm/v3/objects/contacts", url.Values{"limit": {"1"}}, &page); err != nil {
		return "", fmt.Errorf("%s: %w", e.cfg.Spec, err)
	}
	return "token accepted (contacts readable)", nil
}
