package synth

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// spendHeader is the spend CSV's header.
const spendHeader = "date,source,medium,campaign,cost,clicks,impressions,currency\n"

// writeSpend writes spend.csv: one row per day and paid campaign over the whole
// period, zero-click days included. Clicks follow the paid sessions planned that day
// (ad platforms count a few more clicks than analytics sees sessions); impressions
// and cost follow from click-through rates and prices drawn per row.
func (g *generator) writeSpend(dir string) (err error) {
	path := filepath.Join(dir, "spend.csv")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("synth: %w", cerr)
		}
	}()
	w := bufio.NewWriter(f)
	w.WriteString(spendHeader)
	scale := float64(g.cfg.People) / 300 // campaigns reach audiences in proportion to the site's
	var b []byte
	total := 0.0
	for d := range g.days {
		date := time.UnixMicro(g.start + int64(d)*day).UTC().Format("2006-01-02")
		for c := range nSpend {
			sc := &spendCampaigns[c]
			r := g.reseed(saltSpend, uint64(d*nSpend+c))
			sessions := float64(g.clicks[d*nSpend+c])
			clicks := int64(sessions + sessions*uniform(r, 0.05, 0.3) + r.Float64())
			impressions := int64(float64(clicks)/uniform(r, sc.ctr[0], sc.ctr[1]) + uniform(r, sc.baseImpr[0], sc.baseImpr[1])*scale)
			var cost float64
			if sc.perClick {
				cost = float64(clicks) * uniform(r, sc.price[0], sc.price[1])
			} else {
				cost = float64(impressions) / 1000 * uniform(r, sc.price[0], sc.price[1])
			}
			cost = math.Round(cost*100) / 100
			total += cost
			b = append(b[:0], date...)
			b = append(b, ',')
			b = append(b, sc.source...)
			b = append(b, ',')
			b = append(b, sc.medium...)
			b = append(b, ',')
			b = append(b, sc.campaign...)
			b = append(b, ',')
			b = strconv.AppendFloat(b, cost, 'f', 2, 64)
			b = append(b, ',')
			b = strconv.AppendInt(b, clicks, 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, impressions, 10)
			b = append(b, ",USD\n"...)
			w.Write(b)
			g.stats.SpendRows++
		}
	}
	g.stats.Spend = math.Round(total*100) / 100
	if err := w.Flush(); err != nil {
		return fmt.Errorf("synth: %s: %w", path, err)
	}
	return nil
}
