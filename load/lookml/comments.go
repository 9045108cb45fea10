package lookml

import (
	"regexp"
	"strings"
)

// ViewDescription is the description of a SQL view: the leading "--" comment of its file
// (sql/<dialect>/v_*.sql: what a row is, what the view answers, how to use it), its
// lines joined by spaces and paragraph breaks ("--" alone) dropped. Warehouses that
// take descriptions (DuckDB, BI tools reading the catalog) show it as the view's.
func ViewDescription(sql string) string {
	var parts []string
	for _, l := range strings.Split(sql, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "--") {
			break
		}
		if l = strings.TrimSpace(strings.TrimPrefix(l, "--")); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// ColumnComments reads the descriptions of a SQL view's columns from the leading "--"
// comment of its file (sql/<dialect>/v_*.sql), which describes them in two ways:
//
//   - a list entry, indented two or more spaces after "--": the column (or several,
//     comma-separated), then what it holds, continued on the lines indented deeper:
//     "--   people                     people who reached the stage";
//   - prose, at the start of a sentence or clause: "spend is ...", "cac = ...",
//     "conversions counts ...", "breakdown says ...", "revenue sums ...",
//     "date_basis 'conversion_date' counts ...", "campaign NULL (...) is ...", up to the
//     end of the sentence or to the next clause that describes another column
//     ("leads = ..., customers = ...").
//
// Only the names in columns are recognized. A column with a list entry takes it; one
// described several times in prose takes the first. Columns the comment does not
// describe are missing from the result.
func ColumnComments(sql string, columns []string) map[string]string {
	known := map[string]bool{}
	for _, c := range columns {
		known[c] = true
	}
	type segment struct {
		text  string
		prose bool // a run of prose lines, else the text of a list entry
	}
	var segments []segment
	var prose []string
	flush := func() {
		if len(prose) > 0 {
			segments = append(segments, segment{strings.Join(prose, " "), true})
			prose = nil
		}
	}
	list := map[string]string{}
	var entry struct {
		names  []string
		indent int
		text   []string
	}
	endEntry := func() {
		if entry.names == nil {
			return
		}
		text := strings.Join(entry.text, " ")
		if len(entry.names) > 1 && text != "" { // say which columns the text is about
			text = strings.Join(entry.names, ", ") + ": " + text
		}
		for _, n := range entry.names {
			if _, ok := list[n]; !ok && text != "" {
				list[n] = text
			}
		}
		segments = append(segments, segment{text, false})
		entry.names, entry.text = nil, nil
	}
	for _, l := range strings.Split(sql, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if !strings.HasPrefix(l, "--") {
			break
		}
		l = strings.TrimPrefix(l, "--")
		content := strings.TrimSpace(l)
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if content == "" { // a bare "--": a paragraph break
			endEntry()
			flush()
			continue
		}
		if entry.names != nil && indent > entry.indent {
			entry.text = append(entry.text, content)
			continue
		}
		if indent >= 2 {
			if names, rest, ok := listHead(content, known); ok {
				endEntry()
				flush()
				entry.names, entry.indent = names, indent
				if rest != "" {
					entry.text = append(entry.text, rest)
				}
				continue
			}
		}
		endEntry()
		prose = append(prose, content)
	}
	endEntry()
	flush()

	out := map[string]string{}
	for _, s := range segments {
		for name, text := range proseComments(collapseSpace(s.text), known, s.prose) {
			if _, ok := out[name]; !ok {
				out[name] = text
			}
		}
	}
	for name, text := range list {
		out[name] = collapseSpace(text)
	}
	return out
}

// ViewColumnComments describes the columns of several SQL views: sqls maps a view to its
// file's SQL, columns to its column names. A column takes what ColumnComments reads from
// its view's file; a _by_persona view's columns are its base view's, per persona, so one
// its own comment leaves out takes the base view's description. Columns no comment
// describes are missing from the result.
func ViewColumnComments(sqls map[string]string, columns map[string][]string) map[string]map[string]string {
	own := map[string]map[string]string{}
	for v, sql := range sqls {
		own[v] = ColumnComments(sql, columns[v])
	}
	out := map[string]map[string]string{}
	for v := range sqls {
		base := own[strings.TrimSuffix(v, "_by_persona")]
		out[v] = map[string]string{}
		for _, c := range columns[v] {
			d, ok := own[v][c]
			if !ok {
				d, ok = base[c]
			}
			if ok {
				out[v][c] = d
			}
		}
	}
	return out
}

// SeeViewComment is the description of a view's column that no comment describes (the
// DuckDB column comment, the dbt column description): a pointer to the view's own.
func SeeViewComment(view string) string {
	return "See the comment on " + view + ", which describes its columns together"
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*`)

// listHead splits a list entry's first line into its column names and the rest: the
// names are known columns, comma-separated, followed by spaces or the end of the line.
func listHead(s string, known map[string]bool) (names []string, rest string, ok bool) {
	for {
		id := identRE.FindString(s)
		if id == "" || !known[id] {
			return nil, "", false
		}
		names = append(names, id)
		s = s[len(id):]
		if next, found := strings.CutPrefix(s, ", "); found && known[identRE.FindString(next)] {
			s = next
			continue
		}
		if s != "" && s[0] != ' ' {
			return nil, "", false
		}
		return names, strings.TrimSpace(s), true
	}
}

// clauseRE matches what may follow a column's name at the start of a clause that
// describes it; sentenceOnly are the forms recognized at the start of a sentence only.
var (
	clauseRE     = regexp.MustCompile(`^(?:and )?([a-z_][a-z0-9_]*) (?:is|=|counts|says|sums|'|NULL )`)
	sentenceOnly = regexp.MustCompile(`^(?:and )?[a-z_][a-z0-9_]* (?:'|NULL )`)
)

// proseComments finds the clauses of a text that describe a known column: each runs from
// the column's name to the end of its sentence or the start of the next such clause.
// Clause starts are the start of the text or of a sentence, or follow "; " or ", ",
// outside parentheses. In prose (extend), a clause after "; " that is the first of its
// sentence to describe a column takes the sentence from its start: "A selling activity
// is a touch whose channel starts with 'Sales: '; activity is that channel."
func proseComments(s string, known map[string]bool, extend bool) map[string]string {
	type clause struct {
		at, from int // where the column's name is; where the description starts
		name     string
	}
	var clauses []clause
	var ends []int // sentence ends: the byte after the period
	sentence := 0  // where the current sentence starts
	described := false
	depth := 0
	try := func(i int, sentenceStart, semicolon bool) {
		if sentenceStart {
			sentence, described = i, false
		}
		m := clauseRE.FindStringSubmatch(s[i:])
		if m == nil || !known[m[1]] || (!sentenceStart && sentenceOnly.MatchString(s[i:])) {
			return
		}
		from := i
		if extend && semicolon && !described {
			from = sentence
		}
		described = true
		clauses = append(clauses, clause{at: i, from: from, name: m[1]})
	}
	try(0, true, false)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case '.', ';', ',':
			if depth > 0 {
				continue
			}
			if i+1 == len(s) {
				if c == '.' {
					ends = append(ends, i+1)
				}
				continue
			}
			if s[i+1] != ' ' {
				continue
			}
			end := c == '.' && !(i > 0 && s[i-1] == '.' || strings.HasSuffix(s[:i], "e.g") || strings.HasSuffix(s[:i], "i.e"))
			if end {
				ends = append(ends, i+1)
			}
			try(i+2, end, c == ';')
		}
	}
	out := map[string]string{}
	for k, cl := range clauses {
		end := len(s)
		for _, e := range ends {
			if e > cl.at {
				end = e
				break
			}
		}
		if k+1 < len(clauses) && clauses[k+1].at < end {
			end = clauses[k+1].at
		}
		text := strings.TrimRight(s[cl.from:end], " ,;:")
		text = strings.TrimPrefix(text, "and ")
		if _, ok := out[cl.name]; !ok && text != "" {
			out[cl.name] = text
		}
	}
	return out
}

// collapseSpace turns every run of white space into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
