package synth

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Time is kept in microseconds since the Unix epoch, GA4's unit.
const (
	second = int64(time.Second / time.Microsecond)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// Journey knobs, chosen so that a 61-day period holds complete journeys for about half
// of the customers. The rates of forms and funnel steps are the personas' (profiles).
const (
	rateTwoDevices = 0.30 // people browsing on a second device
	rateLinked     = 0.46 // two-device converters who log in on both devices
	maxSessions    = 8    // sessions per person
	minSessionGap  = 2 * hour
)

// Session kinds.
const (
	sPlain  = iota
	sDemo   // books a demo on /demo: generate_lead
	sSignup // signs up on /signup: generate_lead, then logged in (user_id)
	sLogin  // logs in on /login: user_id from then on
)

// Funnel stages, the index of contact.stage.
const (
	stLead = iota
	stMQL
	stSQL
	stOpportunity
	stCustomer
	nStages
)

// Deal states.
const (
	dealNone = iota
	dealOpen
	dealWon
	dealLost
)

// person is one simulated human: up to two devices, each a GA4 cookie.
type person struct {
	first        [2]int64  // first_visit time per device (µs): user_first_touch_timestamp and the cookie's suffix
	cookie       [2]uint32 // random part of the client id per device
	firstTraffic [2]uint8  // traffic of the device's first session: GA4 traffic_source
	prof         [2]uint8  // device profile
	geo          uint8
	ndev         uint8
	persona      persona
	user         bool // has an account: user_id "u_<index>" once logged in
}

// session is one planned GA4 session. Its events are drawn from its own random
// stream (key) when the day is written, so only this much is kept per session.
type session struct {
	start   int64 // session_start (µs); ga_session_id is it in seconds
	person  uint32
	idx     uint8 // planning order within the person, part of the random stream key
	dev     uint8
	num     uint8 // ga_session_number on the device
	traffic uint8
	landing uint8
	kind    uint8 // sPlain, sDemo, sSignup, sLogin
	dl      uint8 // a file downloaded in the session: index in downloads + 1, 0 for none
	uid     bool  // logged in from the start
}

func (s *session) key() uint64 { return uint64(s.person)<<4 | uint64(s.idx) }

// contact is a person who submitted a form.
type contact struct {
	person     uint32
	dev        uint8          // device of the form submit: its cookie is ga_client_id
	stage      [nStages]int64 // time entering each stage (µs, ms precision), 0 when not reached
	deal       dealPlan       // the deal of an opportunity
	src        uint8          // traffic of the submit device's first session: original source
	srcLanding uint8          // its landing page
	srcAt      int64          // its time
	modified   int64          // lastmodifieddate
	id         int64          // HubSpot id
	company    int32          // company index: email domain and deal names; -1 for none
	firstName  uint8          //
	lastName   uint8          //
	persona    persona        //
	title      uint8          // index in the persona's titles
	titleStyle uint8          // how jobtitle is written: titleAsIs, titleMessy, titleEmpty, titleNull
	size       uint8          // numemployees: index in employeeRanges + 1, 0 for none
	industry   uint8          // index in industries + 1, 0 for none
	country    uint8          // index in countries + 1, 0 for none
	personal   bool           // e-mail at a free mail provider, not the company's domain
	epoch      bool           // dates written as epoch milliseconds
	messy      bool           // e-mail written in mixed case with blanks around
	colleague  bool           // associated with a colleague's deal
	email      string         // canonical (lower-case) e-mail
	role       uint8          // roleNone, or the buying-committee role of a member added to a champion's deal
	champ      uint32         // a member's champion: the person whose deal they are on
}

// Buying-committee roles of the people added to a B2B deal besides its contact (the
// champion, who found the site on their own): a technical decision maker reached by
// LinkedIn ads, an economic buyer reached by the newsletter. Neither submits a form:
// sales adds them to the CRM, where the tracking cookie is tied to them.
const (
	roleNone uint8 = iota
	roleTechnical
	roleEconomic
)

// committeeTitles are the job titles of each committee role.
var committeeTitles = [...][]string{
	roleTechnical: {"CTO", "VP of Engineering", "Head of IT Security", "Chief Information Officer"},
	roleEconomic:  {"CFO", "VP of Finance", "Head of Procurement"},
}

// How a contact's jobtitle is written.
const (
	titleAsIs  = iota
	titleMessy // typed by hand: odd casing, blanks around
	titleEmpty // the property holds ""
	titleNull  // the property is not set
)

// dealPlan is the outcome of an opportunity.
type dealPlan struct {
	state           uint8
	amount          float64
	created, closed int64 // closed: close date, or the expected one for an open deal
	openStage       uint8 // index into openStages for an open deal
}

// deal is one HubSpot deal.
type deal struct {
	contact   int32   // index in generator.contacts
	colleague int32   // a second contact, -1 for none
	members   []int32 // the champion's buying committee, after the contact and colleague
	id        int64
	sub       uint8 // 0 the main deal, 1 a lost pilot before it
	dealPlan
	usd   bool // deal_currency_code written
	epoch bool // dates written as epoch milliseconds
}

// generator holds the plan of one Generate.
type generator struct {
	cfg        Config
	start, end int64 // the period (µs), end exclusive
	lastStart  int64 // latest session start: sessions end within the period
	days       int

	people   []person
	sessions []session
	contacts []contact
	deals    []deal
	clicks   []int32 // paid sessions per day and spend campaign: day*nSpend + campaign

	stats Stats

	// Reused random streams, reseeded per person (rng) or session (tlRng).
	src, tlSrc *rand.PCG
	rng, tlRng *rand.Rand
	buf        []session
	tl         []hit
}

// Salts separate the random streams derived from one seed.
const (
	saltPerson   = 0x9e3779b97f4a7c15
	saltTimeline = 0xbf58476d1ce4e5b9
	saltCRM      = 0x94d049bb133111eb
	saltSpend    = 0x2545f4914f6cdd1d
	saltClickID  = 0x5851f42d4c957f2d
)

func newGenerator(cfg Config) (*generator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	from := cfg.From.UTC()
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	cfg.From = from
	g := &generator{cfg: cfg, days: cfg.Days}
	g.start = from.UnixMicro()
	g.end = g.start + int64(cfg.Days)*day
	g.lastStart = g.end - hour
	g.people = make([]person, cfg.People)
	g.clicks = make([]int32, cfg.Days*nSpend)
	g.src = rand.NewPCG(0, 0)
	g.rng = rand.New(g.src)
	g.tlSrc = rand.NewPCG(0, 0)
	g.tlRng = rand.New(g.tlSrc)
	g.stats.People = cfg.People
	for ps := range g.stats.Personas {
		g.stats.Personas[ps].Persona = profiles[ps].name
	}
	return g, nil
}

// reseed points g.rng at the stream (a, b).
func (g *generator) reseed(a, b uint64) *rand.Rand {
	g.src.Seed(g.cfg.Seed^a, b)
	return g.rng
}

// plan decides everything but the events' details: people, sessions, CRM records.
func (g *generator) plan() {
	for i := range g.people {
		g.planPerson(uint32(i))
	}
	g.planCommittees()
	g.planCRM()
	slices.SortFunc(g.sessions, func(a, b session) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.person, b.person), cmp.Compare(a.idx, b.idx))
	})
	g.stats.Sessions = len(g.sessions)
}

// Session-count weights: visits of people who never convert (1..8), anonymous visits
// up to and including the form (1..5), visits after the form (0..3).
var (
	visitsCum = cumulative([]float64{35, 25, 15, 10, 6, 4, 3, 2})
	preCum    = cumulative([]float64{15, 25, 25, 20, 15})
	postCum   = cumulative([]float64{30, 35, 25, 10})
)

func uniform(r *rand.Rand, a, b float64) float64 { return a + r.Float64()*(b-a) }

func logUniform(r *rand.Rand, a, b float64) float64 {
	return math.Exp(uniform(r, math.Log(a), math.Log(b)))
}

// days converts a number of days to µs.
func days(d float64) int64 { return int64(d * float64(day)) }

// atDaytime moves t to a random time of its day, office hours more likely.
func atDaytime(r *rand.Rand, t int64) int64 {
	d := t - t%day
	return d + int64(pick(r, hourCum))*hour + r.Int64N(hour)
}

// later returns a visit time minDays..maxDays (log-uniform) after t, at a daytime,
// at least minSessionGap after t.
func later(r *rand.Rand, t int64, minDays, maxDays float64) int64 {
	n := atDaytime(r, t+days(logUniform(r, minDays, maxDays)))
	for n < t+minSessionGap {
		n += day
	}
	return n
}

// firstVisit draws the time of a person's first visit in the first share of the
// period, at a daytime.
func (g *generator) firstVisit(r *rand.Rand, share float64) int64 {
	for {
		t := atDaytime(r, g.start+int64(r.Float64()*share*float64(g.lastStart-g.start)))
		if t <= g.lastStart { // the last day's late hours are out of the period
			return t
		}
	}
}

// newSession plans a session of person i at t in role ro. A persona with pages of its
// own (docs, careers) often lands on them from an unpaid, non-e-mail source.
func (g *generator) newSession(r *rand.Rand, i uint32, idx int, t int64, ro role) session {
	ps := g.people[i].persona
	tr := pick(r, trafficCum[ps][ro])
	tf := &traffics[tr]
	land := tf.landing[r.IntN(len(tf.landing))]
	if pr := &profiles[ps]; tf.spend < 0 && tf.ch != chEmail && r.Float64() < pr.land {
		land = pr.landing[r.IntN(len(pr.landing))]
	}
	return session{start: t, person: i, idx: uint8(idx), traffic: uint8(tr), landing: land}
}

// planDownloads draws the files the person downloads, by their persona's rates, and
// gives each to one of the sessions ss, one file a session at most.
func (g *generator) planDownloads(r *rand.Rand, ps persona, ss []session) {
	if len(ss) == 0 {
		return
	}
	for d := range nDownloads {
		if r.Float64() >= profiles[ps].download[d] {
			continue
		}
		k := r.IntN(len(ss))
		for n := 0; n < len(ss) && ss[k].dl != 0; n++ {
			k = (k + 1) % len(ss)
		}
		if ss[k].dl == 0 {
			ss[k].dl = uint8(d) + 1
		}
	}
}

// randCookie draws the random part of a GA4 client id ("1234567890.1767600000").
func randCookie(r *rand.Rand) uint32 { return 100_000_000 + r.Uint32N(2_047_483_647-100_000_000) }

// planPerson plans one person's sessions and, when they submit a form, their contact.
func (g *generator) planPerson(i uint32) {
	r := g.reseed(saltPerson, uint64(i))
	p := &g.people[i]
	p.persona = persona(pick(r, personaCum))
	g.stats.Personas[p.persona].People++
	p.geo = uint8(pick(r, countryCum))
	two := r.Float64() < rateTwoDevices
	if two {
		p.prof = [2]uint8{uint8(pick(r, desktopCum)), uint8(pick(r, mobileCum))}
	} else {
		p.prof[0] = uint8(pick(r, anyCum))
	}
	p.cookie = [2]uint32{randCookie(r), randCookie(r)}
	ss := g.buf[:0]
	var c *contact
	if r.Float64() < profiles[p.persona].convert {
		ss, c = g.planConverter(r, i, two, ss)
	} else {
		ss = g.planVisitor(r, i, two, ss)
	}
	g.finishPerson(i, ss, c)
}

// finishPerson keeps the sessions ss of person i (sorted by start here) and contact c
// (nil for none): session numbers, first visits, paid clicks, the contact's source.
func (g *generator) finishPerson(i uint32, ss []session, c *contact) {
	p := &g.people[i]
	slices.SortFunc(ss, func(a, b session) int { return cmp.Compare(a.start, b.start) })

	// Devices: one that ended up unused is dropped, so every cookie has sessions.
	var used [2]bool
	for _, s := range ss {
		used[s.dev] = true
	}
	p.ndev = 2
	if !used[0] || !used[1] {
		p.ndev = 1
		if used[1] {
			p.prof[0], p.cookie[0] = p.prof[1], p.cookie[1]
			for k := range ss {
				ss[k].dev = 0
			}
			if c != nil {
				c.dev = 0
			}
		}
	}
	var num [2]uint8
	for k := range ss {
		s := &ss[k]
		num[s.dev]++
		s.num = num[s.dev]
		if s.num == 1 {
			p.first[s.dev] = s.start
			p.firstTraffic[s.dev] = s.traffic
		}
		d := int((s.start - g.start) / day)
		if sp := traffics[s.traffic].spend; sp >= 0 {
			g.clicks[d*nSpend+sp]++
		}
	}
	if c != nil {
		for _, s := range ss {
			if s.dev == c.dev {
				c.src, c.srcLanding, c.srcAt = s.traffic, s.landing, s.start
				break
			}
		}
		g.contacts = append(g.contacts, *c)
	}
	g.stats.Cookies += int(p.ndev)
	g.sessions = append(g.sessions, ss...)
	g.buf = ss[:0]
}

// planCommittees adds buying committees to the B2B deals: the deal of every
// enterprise buyer and of every other professional (marketers, consultants, ...) gets
// a technical decision maker, and a won deal an economic buyer,
// each a person of their own at the champion's company who visits the site between
// the champion's form and the deal's close. They are planned after everyone else, so
// the others' random streams stay as they are. They are no persona of the story (they
// do not come on their own): Stats counts them in People, Contacts and Committee, not
// in Personas.
func (g *generator) planCommittees() {
	n := len(g.contacts)
	for k := 0; k < n; k++ {
		champ := g.contacts[k] // a copy: members are appended to g.contacts
		if champ.deal.state == dealNone || champ.persona != psEnterprise && champ.persona != psOther {
			continue
		}
		g.planMember(&champ, roleTechnical)
		if champ.deal.state == dealWon {
			g.planMember(&champ, roleEconomic)
		}
	}
}

// committeeTraffic is the traffic of each role's first visit: the LinkedIn ABM
// campaign (Paid Social) for the technical decision maker, the newsletter (Email) for
// the economic buyer.
var committeeTraffic = func() [3]uint8 {
	var out [3]uint8
	for i, t := range traffics {
		if t.source == "linkedin" && t.medium == "paid_social" && out[roleTechnical] == 0 {
			out[roleTechnical] = uint8(i)
		}
		if t.ch == chEmail && out[roleEconomic] == 0 {
			out[roleEconomic] = uint8(i)
		}
	}
	return out
}()

// planMember plans one committee member of champ's deal in role: one device, one to
// three visits after the champion became a lead and a day or more before the deal
// closes (the first, and for the economic buyer every one, from the role's traffic),
// and a contact created by sales after them, who stays a lead.
func (g *generator) planMember(champ *contact, role uint8) {
	lo := max(champ.stage[stLead]+hour, champ.deal.created-days(10), g.start)
	hi := min(champ.deal.closed-day, g.lastStart)
	if hi-lo < 2*hour {
		return
	}
	i := uint32(len(g.people))
	ps := psEnterprise
	if role == roleEconomic {
		ps = psOther
	}
	g.people = append(g.people, person{persona: ps, geo: g.people[champ.person].geo})
	g.stats.People++
	g.stats.Committee++
	r := g.reseed(saltPerson, uint64(i))
	p := &g.people[i]
	p.prof[0] = uint8(pick(r, desktopCum))
	p.cookie = [2]uint32{randCookie(r), randCookie(r)}
	ss := g.buf[:0]
	n := 1 + r.IntN(3)
	t := atDaytime(r, lo+r.Int64N((hi-lo)/2+1))
	for k := 0; k < n && t <= hi; k++ {
		ro := roleMiddle
		if k == 0 {
			ro = roleOpener
		}
		s := g.newSession(r, i, k, t, ro)
		if k == 0 || role == roleEconomic {
			s.traffic = committeeTraffic[role]
			tf := &traffics[s.traffic]
			s.landing = tf.landing[r.IntN(len(tf.landing))]
		}
		ss = append(ss, s)
		t = later(r, t, 0.3, 4)
	}
	last := ss[len(ss)-1].start
	lead := min(last+hour+r.Int64N(2*day), champ.deal.closed-hour)
	lead = max(lead, last+minute)
	c := &contact{person: i, persona: ps, role: role, champ: champ.person}
	c.stage[stLead] = lead - lead%1000
	g.finishPerson(i, ss, c)
	g.buf = ss[:0]
}

// planVisitor plans the sessions of a person who never submits a form.
func (g *generator) planVisitor(r *rand.Rand, i uint32, two bool, ss []session) []session {
	n := 1 + pick(r, visitsCum)
	t := g.firstVisit(r, 1)
	for k := 0; k < n && t <= g.lastStart; k++ {
		ro := roleMiddle
		if k == 0 {
			ro = roleOpener
		}
		s := g.newSession(r, i, k, t, ro)
		if two {
			s.dev = uint8(r.IntN(2))
		}
		ss = append(ss, s)
		t = later(r, t, 0.3, 10)
	}
	g.planDownloads(r, g.people[i].persona, ss)
	return ss
}

// planConverter plans a person who means to submit a form: anonymous visits, the
// form, the funnel, visits after the form. A journey that runs out of period before
// the form is that of a visitor.
func (g *generator) planConverter(r *rand.Rand, i uint32, two bool, ss []session) ([]session, *contact) {
	npre := 1 + pick(r, preCum)
	t := g.firstVisit(r, 0.5)
	for k := 0; k < npre; k++ {
		if k > 0 {
			t = later(r, t, 0.2, 5)
		}
		if t > g.lastStart {
			break
		}
		ro := roleMiddle
		switch {
		case k == npre-1 && (npre > 1 || r.Float64() < 0.5):
			ro = roleCloser
		case k == 0:
			ro = roleOpener
		}
		ss = append(ss, g.newSession(r, i, k, t, ro))
	}
	submitted := len(ss) == npre
	last := len(ss) - 1
	for k := range ss {
		switch {
		case !two:
		case submitted && k == last:
			if r.Float64() >= 0.8 {
				ss[k].dev = 1
			}
		default:
			ss[k].dev = uint8(r.IntN(2))
		}
	}
	// Downloads come before or with the form: the whitepaper is a lead magnet.
	ps := g.people[i].persona
	g.planDownloads(r, ps, ss)
	if !submitted {
		return ss, nil
	}
	sub := &ss[last]
	linked := two && r.Float64() < rateLinked
	sub.kind = sDemo
	if linked || r.Float64() < profiles[ps].signup {
		sub.kind = sSignup
	}
	// The form's time comes from the session's own event stream, so that the contact's
	// createdate is the generate_lead event's time (to the millisecond).
	submitAt := g.leadTime(sub)
	c := &contact{person: i, dev: sub.dev, persona: ps}
	end := g.funnel(r, c, submitAt)
	if sub.kind == sSignup {
		g.people[i].user = true
	}

	// Visits after the form: nurture e-mails, retargeting, brand searches.
	npost := min(pick(r, postCum), maxSessions-len(ss))
	lo, hi := submitAt+12*hour, min(g.lastStart, end+2*day)
	var at [3]int64
	for k := 0; k < npost && lo < hi; k++ {
		at[k] = atDaytime(r, lo+r.Int64N(hi-lo))
	}
	slices.Sort(at[:npost])
	prev := sub.start
	for k, t := range at[:npost] {
		if lo >= hi || t < prev+minSessionGap || t < lo || t > hi {
			continue
		}
		s := g.newSession(r, i, npre+k, t, rolePost)
		if two && r.Float64() >= 0.7 {
			s.dev = 1 - sub.dev
		} else {
			s.dev = sub.dev
		}
		ss = append(ss, s)
		prev = t
	}
	if linked {
		ss = g.planLogin(r, i, ss, last, submitAt)
	}
	g.setUserID(ss)
	return ss, c
}

// planLogin makes the person log in on the device they did not sign up on: the first
// later visit there, or a typed-in visit added for it.
func (g *generator) planLogin(r *rand.Rand, i uint32, ss []session, submit int, submitAt int64) []session {
	other := 1 - ss[submit].dev
	for k := submit + 1; k < len(ss); k++ {
		if ss[k].dev == other {
			ss[k].kind, ss[k].traffic, ss[k].landing = sLogin, directTraffic, pHome
			return ss
		}
	}
	t := later(r, submitAt, 0.5, 7)
	if t > g.lastStart {
		return ss
	}
	for _, s := range ss {
		if s.start > t-minSessionGap && s.start < t+minSessionGap {
			return ss
		}
	}
	if len(ss) >= maxSessions {
		// Replace the last visit after the form rather than exceed the cap.
		if len(ss)-1 <= submit {
			return ss
		}
		ss = ss[:len(ss)-1]
	}
	idx := 0
	for _, s := range ss {
		idx = max(idx, int(s.idx)+1)
	}
	ss = append(ss, session{start: t, person: i, idx: uint8(idx), dev: other, traffic: directTraffic, landing: pHome, kind: sLogin})
	return ss
}

// setUserID marks the sessions that start logged in: after a sign-up on its device,
// after a login on the other one.
func (g *generator) setUserID(ss []session) {
	slices.SortFunc(ss, func(a, b session) int { return cmp.Compare(a.start, b.start) })
	var in [2]bool
	for k := range ss {
		s := &ss[k]
		s.uid = in[s.dev]
		if s.kind == sSignup || s.kind == sLogin {
			in[s.dev] = true
		}
	}
	if in[0] && in[1] {
		g.stats.LinkedPeople++
	}
}

// leadTime returns the time of the session's generate_lead event, to the millisecond.
func (g *generator) leadTime(s *session) int64 {
	g.tl = g.timeline(s, g.tl[:0])
	for _, h := range g.tl {
		if h.kind == evLead {
			return h.t - h.t%1000
		}
	}
	panic("synth: form session without generate_lead")
}

// funnel moves a new contact through the lifecycle stages from the form at lead. Each
// step happens with its rate, days to weeks after the previous one, and only within
// the period. It returns the time of the last thing that happened.
func (g *generator) funnel(r *rand.Rand, c *contact, lead int64) int64 {
	pr := &profiles[c.persona]
	c.stage[stLead] = lead
	last := lead
	step := func(st int, p, minDays, maxDays float64) bool {
		if c.stage[st-1] == 0 || r.Float64() >= p {
			return false
		}
		t := c.stage[st-1] + days(uniform(r, minDays, maxDays))
		t -= t % 1000
		if t >= g.end {
			return false
		}
		c.stage[st], last = t, t
		return true
	}
	step(stMQL, pr.funnel[0], 0.2, 6)
	step(stSQL, pr.funnel[1], 1, 10)
	if !step(stOpportunity, pr.funnel[2], 1, 10) {
		return last
	}
	opp := c.stage[stOpportunity]
	c.deal = dealPlan{created: opp, amount: dealAmount(r, pr.amount)}
	won := r.Float64() < pr.funnel[3]
	closed := opp + days(uniform(r, 5, 25))
	closed -= closed % 1000
	c.deal.closed = closed
	switch {
	case closed >= g.end:
		c.deal.state = dealOpen
		// How far the deal got: the share of its time to close that has passed.
		f := float64(g.end-opp) / float64(closed-opp)
		c.deal.openStage = uint8(min(len(openStages)-1, int(f*float64(len(openStages)))))
		// The expected close date is a forecast, rounded to a day, past the period.
		c.deal.closed = closed - closed%day + 17*hour
		return g.end - 1
	case won:
		c.deal.state = dealWon
		c.stage[stCustomer] = closed
	default:
		c.deal.state = dealLost
	}
	return closed
}

// dealAmount draws a deal's amount in USD within span (log-uniform), mostly round.
func dealAmount(r *rand.Rand, span [2]float64) float64 {
	a := logUniform(r, span[0], span[1])
	switch x := r.Float64(); {
	case x < 0.7:
		a = math.Max(span[0], math.Round(a/500)*500)
	case x < 0.9:
		a = math.Round(a/10) * 10
	default:
		a = math.Round(a*100) / 100
	}
	return a
}

// planCRM gives contacts and deals their ids, names and quirks, once every person is
// planned: ids follow creation time, as in HubSpot.
func (g *generator) planCRM() {
	slices.SortFunc(g.contacts, func(a, b contact) int {
		return cmp.Or(cmp.Compare(a.stage[stLead], b.stage[stLead]), cmp.Compare(a.person, b.person))
	})
	r := g.reseed(saltCRM, 0)
	id := int64(10100)
	for k := range g.contacts {
		c := &g.contacts[k]
		id += 1 + r.Int64N(3)
		c.id = id
		c.company = int32(k)
		c.firstName = uint8(r.IntN(len(firstNames)))
		c.lastName = uint8(r.IntN(len(lastNames)))
		c.epoch = k%5 == 2 // HubSpot returns both ISO and epoch-ms strings
		c.messy = k%7 == 3 // typed by hand, pasted with blanks
		g.firmographics(r, c, k)
		g.countStages(c)
	}
	// Committee members join their champion's company; the deals get them below.
	champOf := make(map[uint32]int32, len(g.contacts)) // champion's person -> contact
	for k := range g.contacts {
		if g.contacts[k].role == roleNone {
			champOf[g.contacts[k].person] = int32(k)
		}
	}
	membersOf := map[int32][]int32{} // champion's contact -> members, in creation order
	for k := range g.contacts {
		c := &g.contacts[k]
		if c.role == roleNone {
			continue
		}
		j := champOf[c.champ]
		ch := &g.contacts[j]
		c.company, c.size, c.industry, c.personal, c.titleStyle = ch.company, ch.size, ch.industry, false, titleAsIs
		membersOf[j] = append(membersOf[j], int32(k))
	}

	// Deals. A few customers first ran a pilot that was lost, then bought.
	wonSeq := 0
	for k := range g.contacts {
		c := &g.contacts[k]
		if c.deal.state == dealNone {
			continue
		}
		main := deal{contact: int32(k), colleague: -1, dealPlan: c.deal}
		if c.deal.state == dealWon {
			if wonSeq < 3 || wonSeq%15 == 0 {
				span := c.deal.closed - c.deal.created
				pilot := deal{contact: int32(k), colleague: -1, sub: 1, dealPlan: dealPlan{
					state: dealLost, amount: math.Round(c.deal.amount*0.3/100) * 100,
					created: c.deal.created, closed: c.deal.created + span*2/5 - (c.deal.created+span*2/5)%1000,
				}}
				pilot.amount = math.Max(pilot.amount, 2000)
				main.created = c.deal.created + span/2 - (c.deal.created+span/2)%1000
				g.deals = append(g.deals, pilot)
			}
			wonSeq++
		}
		g.deals = append(g.deals, main)
	}
	slices.SortFunc(g.deals, func(a, b deal) int {
		return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.contact, b.contact), -cmp.Compare(a.sub, b.sub))
	})
	id = 4800
	wonIdx := 0
	for j := range g.deals {
		d := &g.deals[j]
		id += 1 + r.Int64N(4)
		d.id = id
		d.usd = j%25 == 3  // most deals leave deal_currency_code empty (company currency)
		d.epoch = j%6 == 4 // as for contacts
		switch d.state {
		case dealWon:
			g.stats.DealsWon++
			g.stats.Revenue += d.amount
			g.stats.Personas[g.contacts[d.contact].persona].Revenue += d.amount
			// Now and then a colleague from the same company is on the deal too.
			if wonIdx%40 == 0 {
				d.colleague = g.findColleague(d)
			}
			wonIdx++
		case dealLost:
			g.stats.DealsLost++
		case dealOpen:
			g.stats.DealsOpen++
		}
		d.members = membersOf[d.contact]
		g.stats.DealContacts += 1 + len(d.members)
		if d.colleague >= 0 {
			g.stats.DealContacts++
		}
	}
	g.stats.Deals = len(g.deals)
	g.stats.Companies = len(g.companies())
	g.stats.Contacts = len(g.contacts)
	g.stats.Revenue = math.Round(g.stats.Revenue*100) / 100
	for ps := range g.stats.Personas {
		g.stats.Personas[ps].Revenue = math.Round(g.stats.Personas[ps].Revenue*100) / 100
	}

	// E-mails last: a colleague shares the company's domain.
	seen := make(map[string]bool, len(g.contacts))
	for k := range g.contacts {
		c := &g.contacts[k]
		local := lower(firstNames[c.firstName]) + "." + lower(lastNames[c.lastName])
		var domain string
		if c.personal || c.company < 0 {
			// Free-mail users pick a handle of their own.
			local = lower(firstNames[c.firstName]) + lower(lastNames[c.lastName]) + itoa(int64(10+r.IntN(90)))
			domain = freeMail[pick(r, freeMailCum)]
		} else {
			domain = companyDomain(int(c.company))
		}
		e := local + "@" + domain
		for n := 2; seen[e]; n++ {
			e = local + itoa(int64(n)) + "@" + domain
		}
		seen[e] = true
		c.email = e
		c.modified = g.modified(r, c)
	}
}

// findColleague picks a contact who stayed a lead, created before the deal closed,
// nearest in creation order to the deal's contact, and moves them to its company.
func (g *generator) findColleague(d *deal) int32 {
	k := int(d.contact)
	for dist := 1; dist < len(g.contacts); dist++ {
		for _, j := range []int{k - dist, k + dist} {
			if j < 0 || j >= len(g.contacts) {
				continue
			}
			c := &g.contacts[j]
			if c.stage[stMQL] == 0 && !c.colleague && c.role == roleNone && c.stage[stLead] < d.closed && c.company >= 0 {
				owner := &g.contacts[k]
				c.colleague = true
				c.company, c.size, c.industry, c.personal = owner.company, owner.size, owner.industry, false
				return int32(j)
			}
		}
	}
	return -1
}

// countStages adds a contact's stages to the stats.
func (g *generator) countStages(c *contact) {
	for st, n := range []*int{nil, &g.stats.MQLs, &g.stats.SQLs, &g.stats.Opportunities, &g.stats.Customers} {
		if n != nil && c.stage[st] != 0 {
			*n++
		}
	}
	if c.role != roleNone {
		return
	}
	ps := &g.stats.Personas[c.persona]
	ps.Contacts++
	if c.stage[stMQL] != 0 {
		ps.MQLs++
	}
	if c.stage[stCustomer] != 0 {
		ps.Customers++
	}
}

// firmographics draws the CRM fields of contact c, the k-th by creation: its persona's
// job title, company size and industry, and the person's country. A few records are
// messy as hand-typed CRM data is: an odd casing, an empty or missing job title, no
// country.
func (g *generator) firmographics(r *rand.Rand, c *contact, k int) {
	pr := &profiles[c.persona]
	c.title = uint8(pick(r, titleCum[c.persona]))
	switch {
	case pr.titles[c.title].v == "" || k%23 == 11:
		c.titleStyle = titleNull
	case k%29 == 7:
		c.titleStyle = titleEmpty
	case k%13 == 5:
		c.titleStyle = titleMessy
	}
	if sizeCum[c.persona] == nil {
		c.company = -1
	} else {
		c.size = uint8(pick(r, sizeCum[c.persona])) + 1
		c.industry = uint8(pick(r, industryCum[c.persona])) + 1
	}
	c.personal = r.Float64() < pr.personal
	if r.Float64() >= pr.noCountry {
		c.country = g.people[c.person].geo + 1
	}
}

// modified returns a contact's lastmodifieddate: a little after the last thing that
// happened to it, within the period.
func (g *generator) modified(r *rand.Rand, c *contact) int64 {
	t := c.stage[stLead]
	for _, s := range c.stage {
		t = max(t, s)
	}
	if c.deal.state == dealWon || c.deal.state == dealLost {
		t = max(t, c.deal.closed)
	}
	t += hour + r.Int64N(2*day)
	t = min(t, g.end-second)
	return t - t%1000
}

// lifecycle returns the contact's current lifecyclestage value.
func (c *contact) lifecycle() string {
	switch {
	case c.stage[stCustomer] != 0:
		return "customer"
	case c.stage[stOpportunity] != 0:
		return "opportunity"
	case c.stage[stSQL] != 0:
		return "salesqualifiedlead"
	case c.stage[stMQL] != 0:
		return "marketingqualifiedlead"
	}
	return "lead"
}

// companyName and companyDomain name company k; they are unique per k. Within each
// block of 32x32 names an odd multiplier (a bijection mod 1024) mixes the words, so
// neighbours do not share one.
func companyName(k int) string {
	a, b := companyWords[0], companyWords[1]
	block := len(a) * len(b)
	m := (k*389 + 17) % block
	s := a[m%len(a)] + b[m/len(a)]
	if n := k / block; n > 0 {
		s += " " + itoa(int64(n+1))
	}
	return s
}

func companyDomain(k int) string {
	return strings.ReplaceAll(lower(companyName(k)), " ", "") + tlds[k%len(tlds)]
}
