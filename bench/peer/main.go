// Command peer is the benchmark's helper: it runs the DuckDB-SQL peer of closedloop
// (bench/*.sql, the same job in SQL only) and checks that the two agree. It links DuckDB
// through duckdb-go, as closedloop does, because the machine has no DuckDB CLI.
//
//	peer sql     -db FILE [-set KEY=VALUE]... SCRIPT.sql   run a SQL script (${KEY} filled in)
//	peer query   [-db FILE] SQL                            print the rows of a query, tab-separated
//	peer compare -closedloop FILE -peer FILE [-type T] [-tol R]
//	                                                       customers, revenue, first-touch revenue per channel
//	peer stages  LOG                                       closedloop's per-stage seconds from its JSON log
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "sql":
		err = runSQL(os.Args[2:])
	case "query":
		err = runQuery(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	case "stages":
		err = stages(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: peer sql|query|compare|stages ... (see bench/peer/main.go)")
	os.Exit(2)
}

// sets collects repeated -set KEY=VALUE flags.
type sets map[string]string

func (s sets) String() string { return fmt.Sprint(map[string]string(s)) }
func (s sets) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	s[k] = val
	return nil
}

var placeholder = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// runSQL runs a script statement by statement into a fresh database file and prints
// each statement's time to stderr (the peer's own per-stage breakdown).
func runSQL(args []string) error {
	fs := flag.NewFlagSet("sql", flag.ExitOnError)
	dbPath := fs.String("db", "", "database file (replaced)")
	vars := sets{}
	fs.Var(vars, "set", "KEY=VALUE filled in for ${KEY}")
	quiet := fs.Bool("q", false, "do not print statement times")
	fs.Parse(args)
	if fs.NArg() != 1 || *dbPath == "" {
		return errors.New("usage: peer sql -db FILE [-set KEY=VALUE]... SCRIPT.sql")
	}
	text, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var missing []string
	script := placeholder.ReplaceAllStringFunc(string(text), func(m string) string {
		k := placeholder.FindStringSubmatch(m)[1]
		v, ok := vars[k]
		if !ok {
			missing = append(missing, k)
		}
		return v
	})
	if len(missing) > 0 {
		return fmt.Errorf("%s: no value for %s (give -set KEY=VALUE)", fs.Arg(0), strings.Join(missing, ", "))
	}
	for _, p := range []string{*dbPath, *dbPath + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	db, err := sql.Open("duckdb", *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, st := range statements(script) {
		start := time.Now()
		if _, err := conn.ExecContext(context.Background(), st); err != nil {
			return fmt.Errorf("%s: %w\nin: %s", fs.Arg(0), err, firstLine(st))
		}
		if !*quiet {
			fmt.Fprintf(os.Stderr, "  %7.2fs  %s\n", time.Since(start).Seconds(), firstLine(st))
		}
	}
	return nil
}

// statements splits a script at semicolons that end a line; "--" comment lines are
// dropped. The bench scripts keep every statement's last line ending with ";".
func statements(script string) []string {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(script))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if s := strings.TrimSpace(cur.String()); s != ";" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 90 {
		l = l[:90] + "..."
	}
	return l
}

// runQuery prints the rows of one query (after any earlier statements of the text).
func runQuery(args []string) error {
	fs := flag.NewFlagSet("query", flag.ExitOnError)
	dbPath := fs.String("db", "", "database file, opened read-only (empty: in memory)")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("usage: peer query [-db FILE] SQL")
	}
	db, err := open(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	sts := statements(fs.Arg(0))
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, st := range sts[:len(sts)-1] {
		if _, err := conn.ExecContext(context.Background(), st); err != nil {
			return err
		}
	}
	rows, err := conn.QueryContext(context.Background(), sts[len(sts)-1])
	if err != nil {
		return err
	}
	defer rows.Close()
	return printRows(os.Stdout, rows)
}

func open(path string) (*sql.DB, error) {
	if path == "" {
		return sql.Open("duckdb", "")
	}
	return sql.Open("duckdb", path+"?access_mode=read_only")
}

func printRows(w io.Writer, rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	for rows.Next() {
		v := make([]any, len(cols))
		p := make([]any, len(cols))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			return err
		}
		s := make([]string, len(v))
		for i, x := range v {
			switch x := x.(type) {
			case nil:
				s[i] = ""
			case float64:
				s[i] = fmt.Sprintf("%.6f", x)
			default:
				s[i] = fmt.Sprint(x)
			}
		}
		fmt.Fprintln(w, strings.Join(s, "\t"))
	}
	return rows.Err()
}

// compare reads closedloop's warehouse and the peer's tables and prints whether they
// agree on the count and revenue of conversions of one type in the run's range and on
// first-touch revenue per channel. It exits 0 either way; the last line says which.
func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	cl := fs.String("closedloop", "", "closedloop's DuckDB file")
	pr := fs.String("peer", "", "the peer's DuckDB file")
	typ := fs.String("type", "customer", "conversion type compared")
	tol := fs.Float64("tol", 1e-6, "relative tolerance")
	from := fs.String("from", "", "with -to: only closedloop's conversions of these days (a warehouse that holds more days, as an incremental run's)")
	to := fs.String("to", "", "last day of -from")
	fs.Parse(args)
	in := "" // closedloop's rows compared: the run's days
	if *from != "" && *to != "" {
		in = fmt.Sprintf(" AND CAST(occurred_at AS DATE) BETWEEN DATE %s AND DATE %s", sqlString(*from), sqlString(*to))
	}
	if *cl == "" || *pr == "" {
		return errors.New("usage: peer compare -closedloop FILE -peer FILE [-type T] [-tol R]")
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, st := range []string{
		fmt.Sprintf("ATTACH %s AS cl (READ_ONLY)", quote(*cl)),
		fmt.Sprintf("ATTACH %s AS pr (READ_ONLY)", quote(*pr)),
	} {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			return err
		}
	}
	var n [2]int64
	var rev [2]sql.NullFloat64
	if err := conn.QueryRowContext(ctx, `SELECT count(*), sum(revenue) FROM cl.fct_conversion WHERE conversion_type = ?`+in, *typ).Scan(&n[0], &rev[0]); err != nil {
		return fmt.Errorf("closedloop: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*), sum(revenue) FROM pr.peer_conversion WHERE in_range AND conversion_type = ?`, *typ).Scan(&n[1], &rev[1]); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	rows, err := conn.QueryContext(ctx, `
		WITH a AS (SELECT channel, sum(revenue_credit) AS r FROM cl.fct_attribution
		           WHERE model = 'first_touch' AND scope = 'person' AND conversion_type = $1`+in+` GROUP BY channel),
		     b AS (SELECT channel, sum(revenue_credit) AS r FROM pr.peer_attribution
		           WHERE model = 'first_touch' AND conversion_type = $1 GROUP BY channel)
		SELECT coalesce(a.channel, b.channel), coalesce(a.r, 0), coalesce(b.r, 0)
		FROM a FULL OUTER JOIN b ON a.channel = b.channel ORDER BY 1`, *typ)
	if err != nil {
		return err
	}
	type chRow struct {
		ch   string
		a, b float64
	}
	var chs []chRow
	for rows.Next() {
		var r chRow
		if err := rows.Scan(&r.ch, &r.a, &r.b); err != nil {
			return err
		}
		chs = append(chs, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}

	bad := 0
	check := func(a, b float64) string {
		d := math.Abs(a - b)
		if d <= *tol*math.Max(math.Abs(a), math.Abs(b)) || d < 1e-9 {
			return "agree"
		}
		bad++
		return "DISAGREE"
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "figure\tclosedloop\tpeer\tpeer - closedloop\trelative\t\t\n")
	row := func(name string, a, b float64, format string) {
		fmt.Fprintf(w, "%s\t"+format+"\t"+format+"\t"+format+"\t%s\t%s\t\n", name, a, b, b-a, rel(a, b), check(a, b))
	}
	row(*typ+" conversions", float64(n[0]), float64(n[1]), "%.0f")
	row(*typ+" revenue", rev[0].Float64, rev[1].Float64, "%.2f")
	var ta, tb float64
	for _, r := range chs {
		row("first_touch "+r.ch, r.a, r.b, "%.2f")
		ta += r.a
		tb += r.b
	}
	row("first_touch total", ta, tb, "%.2f")
	w.Flush()
	// Beyond the verdict: every model and conversion type the peer computes, per channel.
	rows, err = conn.QueryContext(ctx, `
		WITH a AS (SELECT conversion_type AS t, model, channel, sum(credit) AS c, sum(revenue_credit) AS r
		           FROM cl.fct_attribution WHERE scope = 'person' AND conversion_type IN (SELECT DISTINCT conversion_type FROM pr.peer_attribution)
		             AND model IN (SELECT DISTINCT model FROM pr.peer_attribution)`+in+` GROUP BY ALL),
		     b AS (SELECT conversion_type AS t, model, channel, sum(credit) AS c, sum(revenue_credit) AS r
		           FROM pr.peer_attribution GROUP BY ALL)
		SELECT t, count(*), max(abs(coalesce(a.c, 0) - coalesce(b.c, 0))),
		       max(abs(coalesce(a.r, 0) - coalesce(b.r, 0)) / nullif(greatest(abs(a.r), abs(b.r)), 0))
		FROM a FULL OUTER JOIN b USING (t, model, channel) GROUP BY t ORDER BY t`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var t string
		var n int
		var dc, dr sql.NullFloat64
		if err := rows.Scan(&t, &n, &dc, &dr); err != nil {
			return err
		}
		fmt.Printf("also: %s conversions, every model x channel (%d figures): largest difference %.4g conversions (credit), %.2g relative in revenue credit\n",
			t, n, dc.Float64, dr.Float64)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if bad == 0 {
		fmt.Printf("agreement: agree (tolerance %g relative)\n", *tol)
	} else {
		fmt.Printf("agreement: DISAGREE on %d figure(s) (tolerance %g relative)\n", bad, *tol)
	}
	return nil
}

func rel(a, b float64) string {
	if a == b {
		return "0"
	}
	if a == 0 {
		return "new"
	}
	return fmt.Sprintf("%+.2e", (b-a)/math.Abs(a))
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// stages sums closedloop's JSON log (run with --log-level debug) into stage seconds:
// each source read, each transform step, the table loads (the slowest three named, by
// their own "table loaded" seconds where the log has them), the commit (views,
// checkpoint, rename over the live file) and the whole run.
func stages(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: peer stages LOG")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	type line struct {
		Time    time.Time `json:"time"`
		Message string    `json:"message"`
		Source  string    `json:"source"`
		Step    string    `json:"step"`
		Seconds float64   `json:"seconds"`
		Table   string    `json:"table"`
	}
	type stage struct {
		name string
		s    float64
	}
	var (
		out                                           []stage
		start, extractEnd, prev, lastLoad             time.Time
		transformStart, transformEnd, committed, done time.Time
		commitSeconds                                 float64
		diffs, own                                    []stage
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Message {
		case "run starting":
			start = l.Time
		case "source read":
			kind, _, _ := strings.Cut(l.Source, ":")
			out = append(out, stage{"extract " + kind + " (sources run concurrently)", l.Seconds})
			extractEnd = l.Time
		case "transform step":
			if transformStart.IsZero() {
				transformStart = l.Time.Add(-time.Duration(l.Seconds * float64(time.Second)))
			}
			out = append(out, stage{"transform " + l.Step, l.Seconds})
			transformEnd, prev = l.Time, l.Time
		case "loaded":
			if !prev.IsZero() {
				diffs = append(diffs, stage{l.Table, l.Time.Sub(prev).Seconds()})
			}
			prev, lastLoad = l.Time, l.Time
		case "table loaded":
			own = append(own, stage{l.Table, l.Seconds})
			lastLoad = l.Time
		case "warehouse committed":
			committed, commitSeconds = l.Time, l.Seconds
		case "run finished":
			done = l.Time
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	span := func(name string, a, b time.Time) {
		if !a.IsZero() && !b.IsZero() {
			out = append(out, stage{name, b.Sub(a).Seconds()})
		}
	}
	span("= extract, all sources", start, extractEnd)
	span("= transform, all steps", transformStart, transformEnd)
	if len(own) > 0 {
		diffs = own
	}
	if len(diffs) > 0 {
		sort.SliceStable(diffs, func(i, j int) bool { return diffs[i].s > diffs[j].s })
		var names []string
		for _, x := range diffs[:min(3, len(diffs))] {
			names = append(names, fmt.Sprintf("%s %.1f", x.name, x.s))
		}
		span("= load tables ("+strings.Join(names, ", ")+")", transformEnd, lastLoad)
	}
	if !committed.IsZero() {
		out = append(out, stage{"= commit (views, checkpoint, rename)", commitSeconds})
	} else {
		span("= views, checkpoint, rename", lastLoad, done)
	}
	span("= run", start, done)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, r := range out {
		fmt.Fprintf(w, "    %s\t%7.2f s\n", r.name, r.s)
	}
	return w.Flush()
}

// sqlString is s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
