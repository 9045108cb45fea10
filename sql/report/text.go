package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Print writes the terminal rendering of r's sections to w: each section's heading and
// table (the identity section as a sentence), separated by blank lines. The sections of
// Terminal print as `closedloop demo` always printed them; the others add their further
// tables.
func (r *Report) Print(w io.Writer) error {
	for i, s := range r.Sections {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if s.Text != "" {
			fmt.Fprint(w, s.Text)
			continue
		}
		fmt.Fprintln(w, s.Caption)
		if err := printTable(w, s.Table); err != nil {
			return err
		}
		if isTerminal(s.ID) {
			continue // as the demo has always printed them
		}
		for _, t := range s.More {
			fmt.Fprintf(w, "\n%s\n", t.Caption)
			if err := printTable(w, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// PrintHeader writes what the report covers: the warehouse, the period and the model.
func (r *Report) PrintHeader(w io.Writer) {
	fmt.Fprintf(w, "%s of %s\nconversions and spend: %s; single-model sections: %s; models: %s\n\n",
		r.Title, r.Warehouse, r.Period(), r.Model, strings.Join(r.Models, ", "))
}

func isTerminal(id string) bool {
	for _, t := range Terminal {
		if t == id {
			return true
		}
	}
	return false
}

// printTable writes t right-aligned, without its HTMLOnly columns; a table without rows
// says why.
func printTable(w io.Writer, t *Table) error {
	if len(t.Rows) == 0 && t.Empty != "" {
		_, err := fmt.Fprintf(w, "  (%s)\n", t.Empty)
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	for _, c := range t.Columns {
		if !c.HTMLOnly {
			fmt.Fprintf(tw, "%s\t", c.Header)
		}
	}
	fmt.Fprintln(tw)
	for _, row := range t.Rows {
		for i, c := range t.Columns {
			if !c.HTMLOnly {
				fmt.Fprintf(tw, "%s\t", FormatCell(row[i], c.Format))
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// FormatCell shows a cell as the report does: NULL as "-", numbers by format.
func FormatCell(v any, f Format) string {
	var x float64
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.DateTime)
	case int64:
		if f == Int || f == Text {
			return strconv.FormatInt(v, 10)
		}
		x = float64(v)
	case float64:
		x = v
	default:
		return fmt.Sprint(v)
	}
	if f != Amount { // Money, which tests compare with SQL sums, rounds as it always did
		x = denoise(x)
	}
	switch f {
	case Amount:
		return Money(x)
	case Dec1:
		return fmt.Sprintf("%.1f", x)
	case Dec2:
		return fmt.Sprintf("%.2f", x)
	case Percent:
		return percent(x)
	case Points:
		return fmt.Sprintf("%+.0f pt", 100*x)
	case Seconds:
		return fmt.Sprintf("%.2f s", x)
	case Int:
		return fmt.Sprintf("%.0f", x)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// denoise rounds x to 9 decimals. The same credits summed in another order (DuckDB's
// parallel aggregation, DuckDB views over a Parquet warehouse) differ in their last
// bits, which must not tip a value of exactly half a displayed unit (18.45 leads) one
// way in one warehouse and the other way in another.
func denoise(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= 1e6 {
		return x
	}
	return math.Round(x*1e9) / 1e9
}

// percent formats a share as a whole percentage.
func percent(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// Money formats an amount as the report shows it: whole units with thousands
// separators.
func Money(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
