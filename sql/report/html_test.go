package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestHTMLEscapesWarehouseText: text from the warehouse (a campaign, a page path, the
// warehouse's name) is escaped in the page and in its JSON, so a name holding markup or
// a closing script tag neither injects nor ends the page's scripts early.
func TestHTMLEscapesWarehouseText(t *testing.T) {
	evil := `<img src=x onerror=alert(1)></script><script>alert(2)</script>`
	r := &Report{Title: "closedloop report", Warehouse: evil, Generated: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Model: "linear", Models: []string{"linear"},
		Sections: []*Section{{ID: "campaigns", Title: "Campaign ROI", Views: "v_campaign_roi", Caption: "Campaigns:",
			Table: &Table{ID: "campaigns", Columns: []Column{{Key: "campaign", Header: "campaign"}, {Key: "spend", Header: "spend", Format: Amount}},
				Rows: [][]any{{evil, 1234.6}, {"none", nil}}},
			Chart: &Chart{Kind: "bar", Categories: []string{evil, "none"}, Series: []Series{{Name: evil, Values: []*float64{ptr(1234.6), nil}}}}}}}
	var b bytes.Buffer
	if err := r.HTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	// The page's own scripts: the JSON, ECharts, the chart code. Any more would be injected.
	if n := strings.Count(page, "<script"); n != 3 {
		t.Errorf("the page has %d <script> tags, want 3", n)
	}
	if strings.Contains(page, "<img src=x") {
		t.Error("markup from the warehouse reaches the page unescaped")
	}
	for _, want := range []string{`data-value="1234.6"`, `>1,235<`, `data-col="spend" data-null`, `&lt;img src=x onerror=alert(1)&gt;`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %s", want)
		}
	}
}

// TestEmptySectionSaysSo: a section without rows says why, in the page and in the
// terminal, and draws no chart.
func TestEmptySectionSaysSo(t *testing.T) {
	r := &Report{Title: "closedloop report", Sections: []*Section{{ID: "social", Title: "Social networks", Caption: "Social:",
		Table: &Table{ID: "social", Columns: []Column{{Key: "network", Header: "network"}}, Empty: "no Organic Social or Paid Social touch"}}}}
	var page, text bytes.Buffer
	if err := r.HTML(&page); err != nil {
		t.Fatal(err)
	}
	if err := r.Print(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `data-empty="social">no Organic Social or Paid Social touch.</p>`) || strings.Contains(page.String(), `data-chart=`) {
		t.Errorf("the page's empty section:\n%s", page.String()[strings.Index(page.String(), `<section`):][:400])
	}
	if want := "Social:\n  (no Organic Social or Paid Social touch)\n"; text.String() != want {
		t.Errorf("terminal: %q, want %q", text.String(), want)
	}
}
