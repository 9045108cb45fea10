package sqlengine

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"closedloop/transform/normalize"
)

// Dialect is a SQL dialect the steps are rendered in.
type Dialect int

const (
	// BigQuery is GoogleSQL as BigQuery runs it: the engine's production rendering.
	BigQuery Dialect = iota
	// DuckDB is the rendering the tests and the benchmark run, on the sample and on
	// closedloop gen data, to hold the SQL to the local engine's tables.
	DuckDB
)

// String names d as the SQL files and logs do: bigquery or duckdb.
func (d Dialect) String() string {
	if d == DuckDB {
		return "duckdb"
	}
	return "bigquery"
}

// lit quotes s as a string literal of d.
func (d Dialect) lit(s string) string {
	if d == BigQuery {
		// GoogleSQL escapes with backslashes inside quotes.
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\x00", `\x00`)
		return "'" + r.Replace(s) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// re quotes a regular expression (RE2 in both dialects) as a literal of d.
func (d Dialect) re(pattern string) string {
	if d == BigQuery {
		if !strings.Contains(pattern, "'") {
			return "r'" + pattern + "'"
		}
		return `r"` + pattern + `"`
	}
	return "'" + strings.ReplaceAll(pattern, "'", "''") + "'"
}

// funcs are the template functions every step's SQL is written with: what the two
// dialects spell differently.
func (d Dialect) funcs(c *Config) template.FuncMap {
	bq := d == BigQuery
	return template.FuncMap{
		"lit": d.lit,
		// t is the name of a work table of the run (cfg.Staging).
		"t": func(name string) string { return c.table(c.Staging, name) },
		// w is the name of a warehouse table (cfg.Warehouse).
		"w": func(name string) string { return c.table(c.Warehouse, name) },
		// export is the GA4 export's day tables, read for the days of cfg.Read.
		"export": func() string {
			if bq {
				return "`" + c.Export + ".events_*`"
			}
			return c.Export
		},
		"suffix": func() string {
			if bq {
				return "_TABLE_SUFFIX"
			}
			return "_table_suffix"
		},
		"trim": d.trim,
		// qp is a page URL parameter (column pq), '' at once without a query string.
		"qp": func(key string) string {
			return fmt.Sprintf("(CASE WHEN pq = '' THEN '' ELSE %s END)", d.qparam("pq", key))
		},
		// param is the text of a GA4 event parameter (its one value, digits for numbers),
		// or ''.
		"param": func(key string) string {
			if bq {
				return "COALESCE((SELECT COALESCE(p.value.string_value, CAST(p.value.int_value AS STRING), " +
					"CAST(p.value.double_value AS STRING), CAST(p.value.float_value AS STRING)) " +
					"FROM UNNEST(event_params) AS p WHERE p.key = " + d.lit(key) + " LIMIT 1), '')"
			}
			return "COALESCE(list_extract(list_transform(list_filter(event_params, p -> p.key = " + d.lit(key) + "), " +
				"p -> COALESCE(p.value.string_value, CAST(p.value.int_value AS VARCHAR), " +
				"CAST(p.value.double_value AS VARCHAR), CAST(p.value.float_value AS VARCHAR))), 1), '')"
		},
		// number is a GA4 event parameter as a number, or NULL.
		"number": func(key string) string {
			if bq {
				return "(SELECT COALESCE(p.value.double_value, CAST(p.value.int_value AS FLOAT64), p.value.float_value, " +
					"SAFE_CAST(p.value.string_value AS FLOAT64)) FROM UNNEST(event_params) AS p WHERE p.key = " + d.lit(key) + " LIMIT 1)"
			}
			return "list_extract(list_transform(list_filter(event_params, p -> p.key = " + d.lit(key) + "), " +
				"p -> COALESCE(p.value.double_value, CAST(p.value.int_value AS DOUBLE), p.value.float_value, " +
				"TRY_CAST(p.value.string_value AS DOUBLE))), 1)"
		},
		// first is the value of x on the first row (by order) where cond holds: an
		// aggregate.
		"first": func(x, order, cond string) string {
			if bq {
				return fmt.Sprintf("ARRAY_AGG(IF(%s, %s, NULL) IGNORE NULLS ORDER BY %s LIMIT 1)[SAFE_OFFSET(0)]", cond, x, order)
			}
			return fmt.Sprintf("first(%s ORDER BY %s) FILTER (WHERE %s)", x, order, cond)
		},
		// id is prefix and the first 64 bits of the SHA-256 of x in hex, without leading
		// zeros (as package transform writes its ids, and an incremental run parses the
		// stored ones): the same in both dialects.
		"id": func(prefix, x string) string {
			if bq {
				return fmt.Sprintf("CONCAT(%s, COALESCE(NULLIF(LTRIM(SUBSTR(TO_HEX(SHA256(%s)), 1, 16), '0'), ''), '0'))", d.lit(prefix), x)
			}
			return fmt.Sprintf("(%s || COALESCE(NULLIF(ltrim(substr(sha256(%s), 1, 16), '0'), ''), '0'))", d.lit(prefix), x)
		},
		// str is x as text.
		"str": func(x string) string {
			if bq {
				return "CAST(" + x + " AS STRING)"
			}
			return "CAST(" + x + " AS VARCHAR)"
		},
		// ts is a time in µs since the epoch as a TIMESTAMP (UTC).
		"ts": func(x string) string {
			if bq {
				return "TIMESTAMP_MICROS(" + x + ")"
			}
			return "make_timestamp(" + x + ")::TIMESTAMPTZ"
		},
		"int": func(v int64) string { return strconv.FormatInt(v, 10) },
		// known is package ga4's known: set and not a placeholder such as "(not set)".
		"known": func(x string) string {
			return fmt.Sprintf("(%[1]s <> '' AND NOT (STARTS_WITH(%[1]s, '(') AND ENDS_WITH(%[1]s, ')')))", x)
		},
		// any is the aggregate "x holds on some row".
		"any": func(x string) string {
			if bq {
				return "LOGICAL_OR(" + x + ")"
			}
			return "bool_or(" + x + ")"
		},
		// sep is a separator no campaign name holds (U+001F).
		"sep": func() string {
			if bq {
				return "'\\x1f'" // the escape, one character
			}
			return "chr(31)"
		},
		"pick": d.pick,
		// expire makes a work table expire by itself in BigQuery, should the run die
		// before it drops them (Engine.Cleanup).
		"expire": func() string {
			if bq {
				return " OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 2 DAY))"
			}
			return ""
		},
		"nan": func() string {
			if bq {
				return "CAST('NaN' AS FLOAT64)"
			}
			return "CAST('NaN' AS DOUBLE)"
		},
		"paramskey": func() string {
			if bq {
				return "TO_JSON_STRING(event_params)"
			}
			return "CAST(event_params AS VARCHAR)"
		},
		"clickid":     d.clickID,
		"clicksource": func(x string) string { return d.clickCase(x, func(c normalize.ClickID) string { return c.Source }) },
		"clickmedium": func(x string) string { return d.clickCase(x, func(c normalize.ClickID) string { return c.Medium }) },
		"keyword":     d.keyword,
		"path":        d.path,
		// googleclick tells whether URL x carries a Google Ads click id (package ga4's
		// googleClick).
		"googleclick": func(x string) string { return d.rem(x, `\?(?:[^#]*&)?(?:gclid|gbraid|wbraid)=[^&#]`) },
		// base is URL x without query string and fragment; origin its scheme and
		// authority; query its raw query string.
		"base":   func(x string) string { return d.re1(x, `^([^?#]*)`) },
		"origin": func(x string) string { return d.re1(x, `^([a-zA-Z][a-zA-Z0-9+.\-]*://[^/?#]*)`) },
		"query":  func(x string) string { return d.re1(x, `^[^#?]*\?([^#]*)`) },
		"host":   d.host,
		// in is x IN (the literals of vals), FALSE for none.
		"in": func(x string, vals []string) string {
			if len(vals) == 0 {
				return "FALSE"
			}
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = d.lit(v)
			}
			return x + " IN (" + strings.Join(q, ", ") + ")"
		},
	}
}

// decode renders package normalize's unescape: plus says "+" is a space (a query).
func (d Dialect) decode(x string, plus bool) string {
	const bad = badEscapeRE + `|%00` // a NUL is no text either: the value stays as it was
	in := x
	if d == BigQuery {
		if plus {
			in = "REPLACE(" + x + ", '+', ' ')"
		}
		return fmt.Sprintf("(CASE WHEN NOT REGEXP_CONTAINS(%[1]s, r'[%%+]') THEN %[1]s WHEN REGEXP_CONTAINS(%[1]s, %[2]s) THEN %[1]s "+
			"ELSE COALESCE(SAFE_CONVERT_BYTES_TO_STRING((SELECT STRING_AGG(IF(STARTS_WITH(y, '%%'), FROM_HEX(SUBSTR(y, 2)), CAST(y AS BYTES)), b'' ORDER BY o) "+
			"FROM UNNEST(REGEXP_EXTRACT_ALL(%[3]s, r'%%[0-9A-Fa-f]{2}|[^%%]+')) AS y WITH OFFSET o)), %[1]s) END)", x, d.re(bad), in)
	}
	if plus {
		in = "replace(" + x + ", '+', ' ')"
	}
	return fmt.Sprintf("(CASE WHEN NOT regexp_matches(%[1]s, '[%%+]') THEN %[1]s WHEN regexp_matches(%[1]s, %[2]s) THEN %[1]s "+
		"ELSE coalesce(try(url_decode(%[3]s)), %[1]s) END)", x, d.re(bad), in)
}

// regexpQuote escapes the RE2 metacharacters of a URL parameter's name.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// qparam renders the decoded value of the first key=value of the raw query string in
// column query (package normalize's query.get).
func (d Dialect) qparam(query, key string) string {
	v := fmt.Sprintf("(?:^|&)%s(?:=([^&]*))?(?:&|$)", regexpQuote(key))
	var raw string
	if d == BigQuery {
		raw = fmt.Sprintf("COALESCE(REGEXP_EXTRACT(%s, %s), '')", query, d.re(v))
	} else {
		raw = fmt.Sprintf("regexp_extract(%s, %s, 1)", query, d.re(v))
	}
	return d.decode(raw, true)
}

// spaceRE is what strings.TrimSpace trims: unicode.IsSpace's white space.
const spaceRE = `[\t\n\v\f\r \x{85}\x{A0}\pZ]`

// trim is strings.TrimSpace of x.
func (d Dialect) trim(x string) string {
	pattern := "^" + spaceRE + "+|" + spaceRE + "+$"
	if d == BigQuery {
		return fmt.Sprintf("REGEXP_REPLACE(%s, %s, '')", x, d.re(pattern))
	}
	return fmt.Sprintf("regexp_replace(%s, %s, '', 'g')", x, d.re(pattern))
}

// pick is an explicit value when it is set, else the page URL's parameter (column pq):
// package normalize's pick.
func (d Dialect) pick(explicit, param string) string {
	return fmt.Sprintf("(CASE WHEN %[1]s <> '' THEN %[1]s WHEN pq = '' THEN '' ELSE %[2]s END)", d.trim(explicit), d.trim(d.qparam("pq", param)))
}

// clickID is the first of normalize.ClickIDs the page URL (column pq) or the event
// (column gclid) carries, or ”.
func (d Dialect) clickID() string {
	var b strings.Builder
	b.WriteString("(CASE")
	for _, c := range normalize.ClickIDs {
		cond := d.trim(d.qparam("pq", c.Param)) + " <> ''"
		switch c.Param {
		case "gclid":
			cond = d.trim("gclid") + " <> '' OR " + cond
		case "ScCid":
			cond += " OR " + d.trim(d.qparam("pq", "sccid")) + " <> ''"
		}
		fmt.Fprintf(&b, " WHEN %s THEN %s", cond, d.lit(c.Param))
	}
	b.WriteString(" ELSE '' END)")
	// Most events carry no query string and no click id: nothing to look for.
	return fmt.Sprintf("(CASE WHEN pq = '' AND %s = '' THEN '' ELSE %s END)", d.trim("gclid"), b.String())
}

// clickCase maps a click id's parameter (column x) to what it implies.
func (d Dialect) clickCase(x string, of func(normalize.ClickID) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(CASE %s", x)
	for _, c := range normalize.ClickIDs {
		fmt.Fprintf(&b, " WHEN %s THEN %s", d.lit(c.Param), d.lit(of(c)))
	}
	b.WriteString(" ELSE '' END)")
	return b.String()
}

// keyword is the search terms of a search engine's referrer: the first of its
// parameters (columns kw1, kw2 of cl_referrers) set in the referrer's query (rq).
func (d Dialect) keyword() string {
	val := func(col string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "(CASE %s", col)
		for _, p := range normalize.KeywordParams() {
			fmt.Fprintf(&b, " WHEN %s THEN %s", d.lit(p), d.trim(d.qparam("rq", p)))
		}
		b.WriteString(" ELSE '' END)")
		return b.String()
	}
	return fmt.Sprintf("(CASE WHEN ref_engine = '' OR kw1 = '' THEN '' WHEN %[1]s <> '' THEN %[1]s ELSE %[2]s END)", val("kw1"), val("kw2"))
}

// The parts of a URL as Go's url.Parse finds them (package normalize's parseURL).
const (
	schemeRE = `^[a-zA-Z][a-zA-Z0-9+.\-]*:`
	// authorityRE starts a URL with an authority: a scheme's, or a scheme-relative
	// URL's (not "///": url.Parse reads that as a path).
	authorityRE = `^(?:[a-zA-Z][a-zA-Z0-9+.\-]*://|//(?:[^/]|$))`
	badEscapeRE = `%([^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|[0-9A-Fa-f]?$)`
)

// rawPath is the escaped path of URL x: "" for an opaque URL.
func (d Dialect) rawPath(x string) string {
	base := d.re1(x, `^\s*([^#?]*)`)
	return fmt.Sprintf("(CASE WHEN %[2]s THEN %[3]s WHEN %[4]s THEN %[5]s ELSE %[1]s END)",
		base,
		d.rem(base, authorityRE), d.re1(base, authorityRE+`[^/]*(.*)$`),
		d.rem(base, schemeRE), d.re1(base, schemeRE+`(/.*)$`))
}

// path is normalize.Path of URL x.
func (d Dialect) path(x string) string {
	raw := d.rawPath(x)
	return fmt.Sprintf("(CASE WHEN %[1]s THEN '' WHEN %[2]s = '' AND %[3]s <> '' THEN '/' ELSE %[4]s END)",
		d.rem(raw, badEscapeRE), raw, d.hostRaw(x), d.decode(raw, false))
}

// hostRaw is the lower-cased host of URL x as url.Parse and Hostname find it before
// their errors: after the last "@" of the authority, less a ":port" and brackets.
func (d Dialect) hostRaw(x string) string {
	h := d.re1(x, `^\s*(?:[a-zA-Z][a-zA-Z0-9+.\-]*:)?//(?:[^/?#]*@)?([^/?#]*)`)
	var noPort string
	if d == BigQuery {
		noPort = fmt.Sprintf("REGEXP_REPLACE(%s, r':[0-9]*$', '')", h)
	} else {
		noPort = fmt.Sprintf("regexp_replace(%s, ':[0-9]*$', '')", h)
	}
	return fmt.Sprintf("LOWER(CASE WHEN STARTS_WITH(%[1]s, '[') AND ENDS_WITH(%[1]s, ']') THEN SUBSTR(%[1]s, 2, LENGTH(%[1]s) - 2) ELSE %[1]s END)", noPort)
}

// host is normalize.Host of URL x: "" when the URL does not parse.
func (d Dialect) host(x string) string {
	return fmt.Sprintf("(CASE WHEN %s THEN '' ELSE %s END)", d.rem(d.rawPath(x), badEscapeRE), d.hostRaw(x))
}

func (d Dialect) re1(x, pattern string) string {
	if d == BigQuery {
		return fmt.Sprintf("COALESCE(REGEXP_EXTRACT(%s, %s), '')", x, d.re(pattern))
	}
	return fmt.Sprintf("regexp_extract(%s, %s, 1)", x, d.re(pattern))
}

func (d Dialect) rem(x, pattern string) string {
	if d == BigQuery {
		return fmt.Sprintf("REGEXP_CONTAINS(%s, %s)", x, d.re(pattern))
	}
	return fmt.Sprintf("regexp_matches(%s, %s)", x, d.re(pattern))
}
