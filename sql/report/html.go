package report

import (
	_ "embed" // the page, its style and script, and Apache ECharts
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
)

var (
	//go:embed assets/report.html.tmpl
	pageTemplate string
	//go:embed assets/report.css
	pageCSS string
	//go:embed assets/report.js
	pageJS string
	// echartsJS is Apache ECharts' dist/echarts.min.js (assets/SOURCE.md).
	//go:embed assets/echarts.min.js
	echartsJS string
)

// page is the parsed HTML page; html/template escapes every text from the warehouse.
var page = template.Must(template.New("report").Parse(pageTemplate))

// String names a format as the HTML's charts and data attributes know it.
func (f Format) String() string {
	switch f {
	case Int:
		return "int"
	case Amount:
		return "amount"
	case Dec1:
		return "dec1"
	case Dec2:
		return "dec2"
	case Percent:
		return "percent"
	case Points:
		return "points"
	case Seconds:
		return "seconds"
	}
	return "text"
}

// MarshalJSON writes the format's name.
func (f Format) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }

// htmlChart is a chart as the page's script reads it.
type htmlChart struct {
	*Chart
	ID string `json:"id"` // the table it draws
}

// htmlCell is one cell of a table on the page: what it shows and its exact value.
type htmlCell struct {
	Col, Text, Value string
	Number, Null     bool
}

type htmlTable struct {
	ID, Caption, Empty string
	Columns            []Column
	Rows               [][]htmlCell
	Chart              int // index in the page's charts; -1: none
	ChartTitle         string
}

type htmlSection struct {
	ID, Title, Caption, Views, Period string
	Tables                            []htmlTable
}

type htmlPage struct {
	Title, Warehouse, Period, Model, Generated string
	Models                                     []string
	Sections                                   []htmlSection
	Data, ECharts, JS                          template.JS
	CSS                                        template.CSS
}

// HTML writes r as one self-contained HTML page to w: inline style, Apache ECharts
// and the report's data (JSON) inlined, charts drawn as SVG, and every chart's numbers
// in a table under it, each number in an element whose data-value holds it exactly.
// The page loads nothing from a network.
func (r *Report) HTML(w io.Writer) error {
	var charts []htmlChart
	addChart := func(c *Chart, id string) int {
		if c == nil {
			return -1
		}
		charts = append(charts, htmlChart{Chart: c, ID: id})
		return len(charts) - 1
	}
	p := htmlPage{Title: r.Title, Warehouse: r.Warehouse, Period: r.Period(), Model: r.Model, Models: r.Models,
		Generated: r.Generated.UTC().Format("2006-01-02 15:04 UTC"),
		ECharts:   template.JS(echartsJS), JS: template.JS(pageJS), CSS: template.CSS(pageCSS)}
	for _, s := range r.Sections {
		hs := htmlSection{ID: s.ID, Title: s.Title, Views: s.Views,
			Caption: strings.TrimSuffix(strings.ReplaceAll(s.Caption, "\n", " "), ":")}
		if s.Caption == "" {
			hs.Caption = strings.TrimSpace(strings.ReplaceAll(s.Text, "\n", " "))
		}
		if s.Dated {
			hs.Period = "Conversions and spend of " + r.Period() + "."
		} else {
			hs.Period = "Every loaded day (no day to filter by)."
		}
		tables := append([]*Table{s.Table}, s.More...)
		for i, t := range tables {
			c := t.Chart
			if i == 0 {
				c = s.Chart
			}
			ht := htmlTable{ID: t.ID, Caption: strings.TrimSuffix(t.Caption, ":"), Empty: t.Empty, Columns: t.Columns,
				Chart: addChart(c, t.ID)}
			if c != nil {
				ht.ChartTitle = c.Title
			}
			for _, row := range t.Rows {
				cells := make([]htmlCell, len(row))
				for j, v := range row {
					cells[j] = cell(t.Columns[j], v)
				}
				ht.Rows = append(ht.Rows, cells)
			}
			hs.Tables = append(hs.Tables, ht)
		}
		p.Sections = append(p.Sections, hs)
	}
	data, err := json.Marshal(map[string]any{"title": r.Title, "generated": r.Generated.UTC().Format(time.RFC3339),
		"model": r.Model, "models": r.Models, "charts": charts})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	p.Data = template.JS(data) // json.Marshal writes <, > and & as \u escapes: no "</script>" inside
	if err := page.Execute(w, p); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	return nil
}

// cell is a table cell of the page: the text the terminal shows, and the exact value.
func cell(c Column, v any) htmlCell {
	h := htmlCell{Col: c.Key, Text: FormatCell(v, c.Format), Number: c.Format != Text}
	switch v := v.(type) {
	case nil:
		h.Null = true
	case int64:
		h.Value = strconv.FormatInt(v, 10)
	case float64:
		h.Value = strconv.FormatFloat(v, 'g', -1, 64)
	default:
		h.Value = h.Text
	}
	return h
}
