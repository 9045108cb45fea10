package synth

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// touchHeader is the header of the touch log: the layout of the public Kaggle
// "Multi-Touch Attribution" data set, which extract/touches reads.
const touchHeader = "cookie,time,interaction,conversion,conversion_value,channel\n"

// touchTime is the touch log's time layout, the public file's: RFC 3339 in UTC, to the
// second.
const touchTime = "2006-01-02T15:04:05Z"

// channelNames are the GA4 default channel group names of the channels synth plans,
// spelled as GA4 (and transform/channel) spell them.
var channelNames = [nChannels]string{
	chOrganicSearch: "Organic Search",
	chPaidSearch:    "Paid Search",
	chPaidSocial:    "Paid Social",
	chOrganicSocial: "Organic Social",
	chEmail:         "Email",
	chReferral:      "Referral",
	chDirect:        "Direct",
}

// Output says what GenerateTo writes.
type Output struct {
	// Dir receives ga4/, hubspot/ and spend/, as Generate writes them; "" writes none
	// of them.
	Dir string
	// Touches receives the touch log; nil writes none. It gets writes of about 64 KiB:
	// it needs no buffering of its own.
	Touches io.Writer
}

// GenerateTo plans the simulation of cfg once and writes what out asks for: the files
// of Generate under out.Dir, the touch log to out.Touches, or both. Both come from the
// same plan, so they tell the same story, byte for byte the same for the same Config.
// It returns ctx.Err() when ctx ends before it is done, leaving what it wrote so far.
//
// The touch log is a CSV file in the layout of the public Kaggle "Multi-Touch
// Attribution" data set, which extract/touches reads:
//
//	cookie,time,interaction,conversion,conversion_value,channel
//	1000394466.1767698551,2026-01-06T11:22:31Z,impression,0,0.0,Organic Search
//	1000394466.1767698551,2026-01-29T16:05:12Z,conversion,1,12500.0,Paid Search
//
// It has one impression row per GA4 session: cookie is the device's user_pseudo_id,
// time the session's start, channel the GA4 default channel group of the session's
// traffic as synth plans it (YouTube visits stay Organic Social, where GA4's own rules
// say Organic Video). Each won deal adds a conversion row (conversion 1,
// conversion_value the deal's amount in USD) at the deal's close, on the cookie and
// channel of the buyer's last session before the close. So the log holds
// Stats.Sessions + Stats.DealsWon rows, its conversions are Stats.DealsWon and their
// values add up to Stats.Revenue. Rows are sorted by cookie (as text) then time, as
// in the public file.
//
// Rows are written as they are made, none is kept: besides the plan (a few hundred
// bytes per person), the touch log needs its sessions by person and its cookies in
// order, 4 bytes a session and 16 a cookie.
func GenerateTo(ctx context.Context, cfg Config, out Output) (Stats, error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return Stats{}, err
	}
	g.plan()
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	if out.Dir != "" {
		if err := g.writeDir(ctx, out.Dir); err != nil {
			return Stats{}, err
		}
	}
	if out.Touches != nil {
		if err := g.writeTouches(ctx, out.Touches); err != nil {
			return Stats{}, err
		}
	}
	return g.stats, nil
}

// cookieRef is one device, placed in the touch log's cookie order by key.
type cookieRef struct {
	key    uint64 // lexKey of the client id's random part
	person uint32
	dev    uint8
}

// wonDeal is the conversion of a won deal's person.
type wonDeal struct {
	person uint32
	closed int64 // µs
	amount float64
}

// flushAt is the size at which the touch log's buffer goes to the writer.
const flushAt = 64 << 10

// checkEvery is how many cookies go by between two looks at the context.
const checkEvery = 4096

// writeTouches writes the touch log to w.
func (g *generator) writeTouches(ctx context.Context, w io.Writer) error {
	// order lists the sessions by person, each person's in time order: a counting
	// sort of g.sessions, which are in time order. Person p's are
	// order[first[p]:first[p+1]].
	first := make([]uint32, len(g.people)+1)
	for k := range g.sessions {
		first[g.sessions[k].person+1]++
	}
	for i := 1; i < len(first); i++ {
		first[i] += first[i-1]
	}
	order := make([]uint32, len(g.sessions))
	for k := range g.sessions { // first[p] runs from p's first place to p+1's
		p := g.sessions[k].person
		order[first[p]] = uint32(k)
		first[p]++
	}
	copy(first[1:], first[:len(first)-1])
	first[0] = 0

	var won []wonDeal
	isWon := make([]uint64, (len(g.people)+63)/64) // a bit per person
	for k := range g.contacts {
		if c := &g.contacts[k]; c.deal.state == dealWon {
			won = append(won, wonDeal{person: c.person, closed: c.deal.closed, amount: c.deal.amount})
			isWon[c.person/64] |= 1 << (c.person % 64)
		}
	}
	slices.SortFunc(won, func(a, b wonDeal) int { return cmp.Compare(a.person, b.person) })

	refs := make([]cookieRef, 0, g.stats.Cookies)
	for i := range g.people {
		p := &g.people[i]
		for d := range p.ndev {
			refs = append(refs, cookieRef{key: lexKey(uint64(p.cookie[d])), person: uint32(i), dev: d})
		}
	}
	slices.SortFunc(refs, func(a, b cookieRef) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		// The same random part (about one pair in a billion): the whole ids decide.
		return cmp.Or(strings.Compare(clientID(&g.people[a.person], a.dev), clientID(&g.people[b.person], b.dev)),
			cmp.Compare(a.person, b.person), cmp.Compare(a.dev, b.dev))
	})

	tw := newTouchWriter(w, g.start/day, g.days)
	tw.buf = append(tw.buf, touchHeader...)
	for n, ref := range refs {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tw.cookie = appendClientID(tw.cookie[:0], &g.people[ref.person], ref.dev)
		mine := order[first[ref.person]:first[ref.person+1]]

		// The person's conversion, when it falls on this cookie.
		var conv *wonDeal
		var convCh channel
		if isWon[ref.person/64]&(1<<(ref.person%64)) != 0 {
			k, _ := slices.BinarySearchFunc(won, ref.person, func(d wonDeal, p uint32) int { return cmp.Compare(d.person, p) })
			var last *session
			for _, j := range mine {
				if s := &g.sessions[j]; s.start < won[k].closed {
					last = s
				}
			}
			if last == nil {
				return fmt.Errorf("synth: internal error: the won deal of person %d has no session before its close", ref.person)
			}
			if last.dev == ref.dev {
				conv, convCh = &won[k], traffics[last.traffic].ch
			}
		}
		for _, j := range mine {
			s := &g.sessions[j]
			if s.dev != ref.dev {
				continue
			}
			if conv != nil && s.start >= conv.closed {
				tw.conversion(conv, convCh)
				conv = nil
			}
			tw.impression(s.start, traffics[s.traffic].ch)
		}
		if conv != nil {
			tw.conversion(conv, convCh)
		}
		if len(tw.buf) >= flushAt {
			if err := tw.flush(); err != nil {
				return err
			}
		}
	}
	g.stats.TouchRows = tw.rows
	return tw.flush()
}

// touchWriter makes the touch log's rows in a buffer that goes to w in large writes.
type touchWriter struct {
	w      io.Writer
	buf    []byte
	cookie []byte // the current row's cookie
	rows   int
	day0   int64  // the first day of dates, in days since the epoch
	dates  []byte // "2006-01-02T" of each day of the period
}

func (tw *touchWriter) flush() error {
	if _, err := tw.w.Write(tw.buf); err != nil {
		return fmt.Errorf("synth: touch log: %w", err)
	}
	tw.buf = tw.buf[:0]
	return nil
}

// impression appends the row of a session that started at t (µs).
func (tw *touchWriter) impression(t int64, ch channel) {
	tw.start(t)
	tw.buf = append(tw.buf, ",impression,0,0.0"...)
	tw.end(ch)
}

// conversion appends the row of a won deal. The value keeps a decimal point, as the
// public file's do (12500.0, 4.5).
func (tw *touchWriter) conversion(d *wonDeal, ch channel) {
	tw.start(d.closed)
	tw.buf = append(tw.buf, ",conversion,1,"...)
	n := len(tw.buf)
	tw.buf = strconv.AppendFloat(tw.buf, d.amount, 'f', -1, 64)
	if !slices.Contains(tw.buf[n:], '.') {
		tw.buf = append(tw.buf, ".0"...)
	}
	tw.end(ch)
}

// start appends the cookie and the time t (µs) in the layout touchTime, to the
// second. The dates come from a table of the period's days: formatting each with
// package time is a tenth of the touch log's time.
func (tw *touchWriter) start(t int64) {
	sec := t / second
	if t%second < 0 {
		sec--
	}
	d, s := sec/86400, sec%86400
	if s < 0 {
		d, s = d-1, s+86400
	}
	b := append(tw.buf, tw.cookie...)
	b = append(b, ',')
	if k := d - tw.day0; k >= 0 && k < int64(len(tw.dates)/dateLen) {
		b = append(b, tw.dates[k*dateLen:(k+1)*dateLen]...)
	} else {
		b = time.Unix(d*86400, 0).UTC().AppendFormat(b, dateLayout)
	}
	h, m, x := s/3600, s/60%60, s%60
	b = append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+x/10), byte('0'+x%10), 'Z')
	tw.buf = b
}

// dateLayout is the date part of touchTime, dateLen its length.
const (
	dateLayout = "2006-01-02T"
	dateLen    = 11 // len(dateLayout), untyped
)

// newTouchWriter returns a touchWriter to w for touches within the days
// [day0, day0+days), counted since the epoch.
func newTouchWriter(w io.Writer, day0 int64, days int) *touchWriter {
	tw := &touchWriter{w: w, buf: make([]byte, 0, flushAt+4<<10), day0: day0}
	tw.dates = make([]byte, 0, days*dateLen)
	for k := range int64(days) {
		tw.dates = time.Unix((day0+k)*86400, 0).UTC().AppendFormat(tw.dates, dateLayout)
	}
	return tw
}

// end appends the channel and ends the row.
func (tw *touchWriter) end(ch channel) {
	tw.buf = append(tw.buf, ',')
	tw.buf = append(tw.buf, channelNames[ch]...)
	tw.buf = append(tw.buf, '\n')
	tw.rows++
}

// lexKeyDigits is the most digits lexKey orders, well over the 10 of a client id's
// random part (randCookie).
const lexKeyDigits = 12

// lexKey maps n < 10^lexKeyDigits to a number whose order is that of n's decimal text
// followed by '.', the order of client ids "<n>.<seconds>" as text: "12." < "120." <
// "1201." < "13.". The text is right-padded with zeros to lexKeyDigits digits; among
// equal padded values the shorter text comes first, as '.' sorts before every digit.
func lexKey(n uint64) uint64 {
	digits := uint64(1)
	for x := n; x >= 10; x /= 10 {
		digits++
	}
	padded := n
	for range lexKeyDigits - digits {
		padded *= 10
	}
	return padded*(lexKeyDigits+1) + digits
}
