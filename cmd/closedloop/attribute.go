package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/extract/paths"
	"closedloop/extract/touches"
	"closedloop/load"
	"closedloop/transform"
	"closedloop/transform/attribution"
)

// attributeRow is one output row of `closedloop attribute`.
type attributeRow struct {
	Model         string   `json:"model"`
	Channel       string   `json:"channel"`
	Conversions   float64  `json:"conversions"`
	Value         float64  `json:"value"`
	RemovalEffect *float64 `json:"removal_effect"` // markov rows only
}

// attributeUsage is the help of `closedloop attribute`.
const attributeUsage = `closedloop attribute --input SPEC [flags]: run the attribution models on
aggregated paths or a touch log, without a warehouse, and print one row per model
and channel: the conversions and value each model credits to the channel, and on
markov rows the channel's removal effect.

  --input paths:FILE     ChannelAttribution's layout: path;total_conversions;total_conversion_value;total_null
                         (channels joined by " > "); each path is weighed as one journey
  --input touches:FILE   a touch log cookie,time,interaction,conversion,conversion_value,channel;
                         journeys per cookie within the lookback window, as the nightly job builds them
`

// attribute is `closedloop attribute`.
func attribute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("attribute", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, attributeUsage, "\nFlags:\n")
		fl.PrintDefaults()
	}
	input := fl.String("input", "", "the input: paths:FILE or touches:FILE")
	modelList := fl.String("models", "", "models, comma-separated (default: every model the input allows: "+strings.Join(attribution.Names(), ",")+")")
	order := fl.Int("markov-order", 1, "order of the markov chain, 1..4")
	format := fl.String("format", "table", "output: table, csv or json")
	halfLife := fl.String("decay-half-life", "7d", "time_decay half-life (touches: input)")
	position := fl.String("position-weights", "0.4,0.4", "position_based shares of the first and the last touch")
	lookback := fl.String("lookback", "90d", "how far before a conversion its journey reaches (touches: input)")
	pathSep := fl.String("path-separator", " > ", "paths: what joins the channels of a path")
	fieldSep := fl.String("field-separator", ";", "paths: the column separator, one character")
	cols := paths.DefaultColumns
	fl.StringVar(&cols.Path, "path-column", cols.Path, "paths: name of the path column")
	fl.StringVar(&cols.Conversions, "conversions-column", cols.Conversions, "paths: name of the conversions column")
	fl.StringVar(&cols.Value, "value-column", cols.Value, "paths: name of the conversion value column")
	fl.StringVar(&cols.Nulls, "null-column", cols.Nulls, "paths: name of the non-conversions column")
	if err := fl.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "closedloop attribute: "+format+"\n", a...)
		return 2
	}
	if fl.NArg() > 0 {
		return usageErr("unexpected argument %q (flags only; see closedloop attribute --help)", fl.Arg(0))
	}
	kind, loc, ok := strings.Cut(*input, ":")
	if !ok || loc == "" || (kind != "paths" && kind != "touches") {
		return usageErr("--input: want paths:FILE or touches:FILE, got %q", *input)
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return usageErr("--format: want table, csv or json, got %q", *format)
	}
	var hl, lb Days
	if err := hl.Decode(*halfLife); err != nil {
		return usageErr("--decay-half-life: %v", err)
	}
	if err := lb.Decode(*lookback); err != nil {
		return usageErr("--lookback: %v", err)
	}
	params := attribution.Params{HalfLife: time.Duration(hl), MarkovOrder: *order}
	if _, err := fmt.Sscanf(*position, "%g,%g", &params.PositionFirst, &params.PositionLast); err != nil {
		return usageErr("--position-weights: want FIRST,LAST such as 0.4,0.4, got %q", *position)
	}
	names := attribution.Names()
	if kind == "paths" {
		names = slices.DeleteFunc(names, func(n string) bool { return n == attribution.TimeDecay })
	}
	if strings.TrimSpace(*modelList) != "" {
		names = strings.Split(*modelList, ",")
	}
	models, err := attribution.Lookup(names, params)
	if err != nil {
		return usageErr("--models: %v", err)
	}
	sep := []rune(*fieldSep)
	if len(sep) != 1 {
		return usageErr("--field-separator: want one character, got %q", *fieldSep)
	}

	var rows []attributeRow
	if kind == "paths" {
		rows, err = attributePaths(ctx, paths.Config{Spec: *input, Path: loc, FieldSep: sep[0], PathSep: *pathSep, Columns: cols}, models, stderr)
	} else {
		rows, err = attributeTouches(ctx, *input, loc, models, time.Duration(lb), stderr)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if err := writeAttribution(stdout, *format, rows); err != nil {
		return fail(stderr, err)
	}
	return 0
}

// attributePaths runs the models on a paths: file.
func attributePaths(ctx context.Context, cfg paths.Config, models []attribution.Model, stderr io.Writer) ([]attributeRow, error) {
	res, err := paths.Read(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	reportRejections(stderr, res.Rejections)
	var conv, value, nulls float64
	for _, p := range res.Paths.Paths {
		conv, value, nulls = conv+p.Conversions, value+p.Value, nulls+p.Nulls
	}
	fmt.Fprintf(stderr, "%s: %d lines, %d distinct paths, %d channels, %s conversions, value %s, %s non-converting journeys, %d lines rejected\n",
		cfg.Spec, res.Lines, res.Paths.Len(), len(res.Channels), num(conv), num(value), num(nulls), len(res.Rejections))
	totals, used, err := attribution.AllocatePaths(res.Paths.Paths, models, res.Code("Direct"), len(res.Channels))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	order := make([]int32, len(res.Channels))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(res.Channels[a], res.Channels[b]) })
	var rows []attributeRow
	for mi, m := range used {
		mk := attribution.MarkovOf(m)
		for _, c := range order {
			r := attributeRow{Model: m.Name(), Channel: res.Channels[c], Conversions: totals[mi][c].Conversions, Value: totals[mi][c].Value}
			if mk != nil {
				re := mk.Effect(c)
				r.RemovalEffect = &re
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// attributeTouches runs the models on a touches: log through the nightly job's own
// transform (journeys per cookie within the lookback window), over the whole file.
func attributeTouches(ctx context.Context, spec, file string, models []attribution.Model, lookback time.Duration, stderr io.Writer) ([]attributeRow, error) {
	mem := memory.NewGoAllocator()
	col := extract.NewCollector(mem)
	defer col.Release()
	if err := touches.New(touches.Config{Spec: spec, Path: file, Mem: mem}).Extract(ctx, col); err != nil {
		return nil, err
	}
	reportRejections(stderr, col.Rejections())
	in := transform.Inputs{
		Events: col.Table(extract.TableEvents), Contacts: col.Table(extract.TableContacts), Deals: col.Table(extract.TableDeals),
		DealContacts: col.Table(extract.TableDealContacts), Spend: col.Table(extract.TableSpend),
	}
	defer func() {
		for _, t := range []interface{ Release() }{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend} {
			t.Release()
		}
	}()
	all := extract.Range{From: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC)}
	out, err := transform.Build(ctx, in, transform.Options{Mem: mem, Range: all, Lookback: lookback, SessionTimeout: 30 * time.Minute,
		Models: models, Currency: "USD"})
	if err != nil {
		return nil, err
	}
	defer out.Release()
	fmt.Fprintf(stderr, "%s: %d touches, %d conversions, %d cookies, %d rows rejected\n", spec,
		out.Stats.Touchpoints, out.Stats.Conversions, out.Stats.Persons, len(col.Rejections()))

	// Sum fct_attribution per model and channel.
	type key struct{ model, channel string }
	sums := map[key]*attributeRow{}
	channels := map[string]bool{}
	tr, err := out.Reader(load.FctAttribution)
	if err != nil {
		return nil, err
	}
	defer tr.Release()
	idx := func(name string) int { return tr.Schema().FieldIndices(name)[0] }
	mCol, chCol, crCol, rvCol := idx("model"), idx("channel"), idx("credit"), idx("revenue_credit")
	for tr.Next() {
		rec := tr.RecordBatch()
		ms, chs := rec.Column(mCol).(*array.String), rec.Column(chCol).(*array.String)
		crs, rvs := rec.Column(crCol).(*array.Float64), rec.Column(rvCol).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			k := key{ms.Value(i), chs.Value(i)}
			r := sums[k]
			if r == nil {
				r = &attributeRow{Model: k.model, Channel: k.channel}
				sums[k] = r
			}
			channels[k.channel] = true
			r.Conversions += crs.Value(i)
			if rvs.IsValid(i) {
				r.Value += rvs.Value(i)
			}
		}
	}
	if err := tr.Err(); err != nil {
		return nil, err
	}
	// Removal effects: only meaningful when the log has one conversion type.
	effects := map[string]float64{}
	types := map[string]bool{}
	re := out.Tables[load.FctMarkovRemovalEffect]
	rr := array.NewTableReader(re, 1<<16)
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		ty, ch, ef := rec.Column(0).(*array.String), rec.Column(1).(*array.String), rec.Column(3).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			types[ty.Value(i)] = true
			effects[ch.Value(i)] = ef.Value(i)
			channels[ch.Value(i)] = true
		}
	}
	if len(types) > 1 {
		fmt.Fprintf(stderr, "closedloop attribute: %d conversion types: removal effects are per type (see fct_markov_removal_effect of a run); left empty here\n", len(types))
	}
	names := make([]string, 0, len(channels))
	for c := range channels {
		names = append(names, c)
	}
	slices.Sort(names)
	var rows []attributeRow
	for _, m := range models {
		for _, c := range names {
			r := attributeRow{Model: m.Name(), Channel: c}
			if s := sums[key{m.Name(), c}]; s != nil {
				r = *s
			}
			if e, ok := effects[c]; ok && m.Name() == attribution.MarkovModel && len(types) == 1 {
				r.RemovalEffect = &e
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// reportRejections prints the first rejections; the count goes with the summary.
func reportRejections(w io.Writer, rs []extract.Rejection) {
	for i, r := range rs {
		if i == maxLoggedRejections {
			fmt.Fprintf(w, "... and %d more rejected lines\n", len(rs)-i)
			return
		}
		fmt.Fprintf(w, "rejected %s: %s\n", r.Location, r.Reason)
	}
}

// writeAttribution prints the rows as a table, CSV (header
// model,channel,conversions,value,removal_effect) or JSON.
func writeAttribution(w io.Writer, format string, rows []attributeRow) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"model", "channel", "conversions", "value", "removal_effect"})
		for _, r := range rows {
			re := ""
			if r.RemovalEffect != nil {
				re = strconv.FormatFloat(*r.RemovalEffect, 'f', -1, 64)
			}
			_ = cw.Write([]string{r.Model, r.Channel, strconv.FormatFloat(r.Conversions, 'f', -1, 64), strconv.FormatFloat(r.Value, 'f', -1, 64), re})
		}
		cw.Flush()
		return cw.Error()
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []attributeRow{}
		}
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tchannel\tconversions\tvalue\tremoval_effect\t")
	for _, r := range rows {
		re := "-"
		if r.RemovalEffect != nil {
			re = strconv.FormatFloat(*r.RemovalEffect, 'f', 4, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Model, r.Channel, num(r.Conversions), num(r.Value), re)
	}
	return tw.Flush()
}

// num formats a figure with two decimals, dropping them for whole numbers.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
