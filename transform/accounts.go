package transform

import (
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"closedloop/load"
	"closedloop/transform/identity"
)

// accounts are the run's accounts and each person's: the accounts step makes them
// right after identity (the attribution step reads them for its account scope, and
// which persons may convert), the conversions, persons and dim_account steps read
// them. An account is no identity: it never joins two persons.
type accounts struct {
	// keys are the account ids ("hubspot:123", "domain:acme.com"); code 0 is none.
	keys *dict
	// row is the crm_accounts row of each CRM account read (by code).
	row map[int32]int
	// person is each person's account code, 0 for none.
	person []int32
	// deal is each deal's ("crm:deal_id") own account code, when it names one.
	deal map[string]int32
	// customer tells the accounts with a won deal (set by the conversions step).
	customer map[int32]bool
}

// of is person p's account code (0: none).
func (a *accounts) of(p int32) int32 {
	if a == nil || p < 0 || int(p) >= len(a.person) {
		return 0
	}
	return a.person[p]
}

// id is the account id of code c ("" for none).
func (a *accounts) id(c int32) string {
	if a == nil {
		return ""
	}
	return a.keys.val(c)
}

// assignAccounts reads the CRM accounts and gives each person one: the account of
// their CRM record (of the records with one, the first in dim_person's order, the one
// crm_contact_id comes from when it has an account), else, with
// Options.AccountFromEmail, the account of their business e-mail domain.
func assignAccounts(r *run, crm *crmCols, id *stitched) *accounts {
	p := id.persons
	a := &accounts{keys: newDict(), row: map[int32]int{}, person: make([]int32, p.Len()), deal: map[string]int32{},
		customer: map[int32]bool{}}
	ac := crm.accounts
	byDomain := map[string]int32{} // web domain -> the CRM account of the smallest id
	for i := 0; i < ac.n; i++ {
		c := a.keys.code(ac.crm.Value(i) + ":" + ac.id.Value(i))
		if _, ok := a.row[c]; ok {
			continue
		}
		a.row[c] = i
		if d := normalizeDomain(sv(ac.domain, i)); d != "" {
			if cur, ok := byDomain[d]; !ok || a.keys.val(c) < a.keys.val(cur) {
				byDomain[d] = c
			}
		}
	}

	type record struct {
		typ identity.Type
		val string
		acc string
	}
	best := map[int32]record{} // person -> the record that gives their account
	ct := crm.contacts
	for i := 0; i < ct.n && ct.account != nil; i++ {
		acc := sv(ct.account, i)
		person := p.Of(id.contacts[i])
		if acc == "" || person < 0 {
			continue
		}
		typ, val, _ := p.Node(id.contacts[i])
		rec := record{typ, val, ct.crm.Value(i) + ":" + acc}
		cur, ok := best[person]
		if !ok || rec.typ < cur.typ || rec.typ == cur.typ && (rec.val < cur.val || rec.val == cur.val && rec.acc < cur.acc) {
			best[person] = record{rec.typ, strings.Clone(rec.val), rec.acc}
		}
	}
	for person, rec := range best {
		a.person[person] = a.keys.code(rec.acc)
	}
	d := crm.deals
	for i := 0; i < d.n && d.account != nil; i++ {
		if acc := sv(d.account, i); acc != "" {
			a.deal[d.key(i)] = a.keys.code(d.crm.Value(i) + ":" + acc)
		}
	}
	if r.opt.AccountFromEmail {
		a.fromEmail(r, crm, id, byDomain)
	}
	return a
}

// fromEmail gives each person without an account the account of the domain of their
// smallest business e-mail (their identifiers' and their CRM records'): the CRM
// account with that domain (or a parent of it), else "domain:DOMAIN".
func (a *accounts) fromEmail(r *run, crm *crmCols, id *stitched, byDomain map[string]int32) {
	p := id.persons
	free := newFreeMail(r.opt.FreeMailDomains)
	email := map[int32]string{} // person -> smallest business e-mail
	see := func(person int32, addr string) {
		if person < 0 || a.person[person] != 0 {
			return
		}
		addr = strings.ToLower(strings.TrimSpace(addr))
		at := strings.LastIndexByte(addr, '@')
		if at <= 0 || free.has(normalizeDomain(addr[at+1:])) || normalizeDomain(addr[at+1:]) == "" {
			return
		}
		if cur, ok := email[person]; !ok || addr < cur {
			email[person] = strings.Clone(addr)
		}
	}
	for n := int32(0); n < int32(id.graph.Len()); n++ {
		if typ, val, _ := p.Node(n); typ == identity.Email {
			see(p.Of(n), val)
		}
	}
	ct := crm.contacts
	for i := 0; i < ct.n; i++ {
		see(p.Of(id.contacts[i]), sv(ct.email, i))
	}
	for person, addr := range email {
		dom := normalizeDomain(addr[strings.LastIndexByte(addr, '@')+1:])
		c, ok := int32(0), false
		for d := dom; !ok && strings.Contains(d, "."); {
			if c, ok = byDomain[d]; !ok {
				_, d, _ = strings.Cut(d, ".")
			}
		}
		if !ok {
			c = a.keys.code("domain:" + dom)
		}
		a.person[person] = c
	}
}

// normalizeDomain lower-cases a web or e-mail domain and drops a leading "www.".
func normalizeDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	return strings.TrimPrefix(d, "www.")
}

// freeMailDomains are free-mail and ISP domains whose users are no company: "name.*"
// stands for the provider's domains in every country (yahoo.com, yahoo.co.uk).
var freeMailDomains = []string{
	"gmail.com", "googlemail.com", "yahoo.*", "ymail.com", "rocketmail.com", "outlook.*", "hotmail.*", "live.*",
	"msn.com", "passport.com", "icloud.com", "me.com", "mac.com", "aol.*", "aim.com", "proton.me", "protonmail.com",
	"protonmail.ch", "pm.me", "tutanota.com", "tuta.io", "fastmail.com", "fastmail.fm", "hey.com", "zoho.com",
	"zohomail.com", "mail.com", "email.com", "gmx.*", "web.de", "t-online.de", "freenet.de", "arcor.de", "posteo.de",
	"mailbox.org", "yandex.*", "ya.ru", "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru", "ukr.net",
	"qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "aliyun.com",
	"naver.com", "daum.net", "hanmail.net", "rediffmail.com", "laposte.net", "orange.fr", "wanadoo.fr", "free.fr",
	"sfr.fr", "libero.it", "virgilio.it", "tiscali.*", "alice.it", "btinternet.com", "sky.com", "virginmedia.com",
	"blueyonder.co.uk", "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net",
	"charter.net", "earthlink.net", "optonline.net", "juno.com", "shaw.ca", "rogers.com", "sympatico.ca",
	"bigpond.com", "optusnet.com.au", "seznam.cz", "centrum.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl",
	"abv.bg", "bol.com.br", "uol.com.br", "terra.com.br", "ig.com.br", "telenet.be", "skynet.be", "ziggo.nl",
	"kpnmail.nl", "bluewin.ch", "hispeed.ch", "inbox.lv", "gmx.net",
}

// freeMail tells free-mail domains: the built-in ones and the user's.
type freeMail struct {
	exact    map[string]bool
	provider map[string]bool // "yahoo" of "yahoo.*"
}

func newFreeMail(extra []string) *freeMail {
	f := &freeMail{exact: map[string]bool{}, provider: map[string]bool{}}
	for _, d := range append(slices.Clone(freeMailDomains), extra...) {
		d = normalizeDomain(d)
		if name, ok := strings.CutSuffix(d, ".*"); ok {
			f.provider[name] = true
		} else if d != "" {
			f.exact[d] = true
		}
	}
	return f
}

// has tells whether d is free-mail: listed, or a "name.*" provider's name followed by
// a country's suffix of at most two short labels (yahoo.co.uk, not yahoo.acme.com).
func (f *freeMail) has(d string) bool {
	if f.exact[d] {
		return true
	}
	name, rest, ok := strings.Cut(d, ".")
	if !ok || !f.provider[name] {
		return false
	}
	labels := strings.Split(rest, ".")
	if len(labels) > 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 3 {
			return false
		}
	}
	return true
}

// IsFreeMail tells whether an e-mail domain is a free-mail or ISP one (the built-in
// list plus extra, as Options.FreeMailDomains): such a domain never makes an account.
func IsFreeMail(domain string, extra []string) bool {
	return newFreeMail(extra).has(normalizeDomain(domain))
}

// Columns of dim_account.
var (
	daAccountID    = col(load.DimAccount, "account_id")
	daCRM          = col(load.DimAccount, "crm")
	daCRMAccountID = col(load.DimAccount, "crm_account_id")
	daName         = col(load.DimAccount, "name")
	daDomain       = col(load.DimAccount, "domain")
	daIndustry     = col(load.DimAccount, "industry")
	daCompanySize  = col(load.DimAccount, "company_size")
	daCountry      = col(load.DimAccount, "country")
	daOwner        = col(load.DimAccount, "owner")
	daInferred     = col(load.DimAccount, "inferred")
	daPersonCount  = col(load.DimAccount, "person_count")
	daIsCustomer   = col(load.DimAccount, "is_customer")
)

// accountTable writes dim_account, by account id: every CRM account read, every
// account a contact or deal names that the CRM's accounts lack, every inferred one.
func accountTable(r *run, a *accounts, ac *accountCols) arrow.Table {
	count := make([]int64, a.keys.len())
	for _, c := range a.person {
		count[c]++
	}
	codes := make([]int32, 0, a.keys.len())
	for c := int32(1); c < int32(a.keys.len()); c++ {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(x, y int32) int { return strings.Compare(a.keys.val(x), a.keys.val(y)) })
	o := newTable(r.opt.Mem, load.DimAccount)
	for _, c := range codes {
		key := a.keys.val(c)
		o.str(daAccountID, key)
		kind, val, _ := strings.Cut(key, ":")
		inferred := kind == "domain"
		if inferred {
			o.str(daCRM, "")
			o.str(daCRMAccountID, "")
		} else {
			o.str(daCRM, kind)
			o.str(daCRMAccountID, val)
		}
		if i, ok := a.row[c]; ok {
			o.str(daName, sv(ac.name, i))
			o.str(daDomain, normalizeDomain(sv(ac.domain, i)))
			o.str(daIndustry, sv(ac.industry, i))
			o.i64(daCompanySize, ac.size.Value(i), ac.size.IsValid(i))
			o.str(daCountry, sv(ac.country, i))
			o.str(daOwner, sv(ac.owner, i))
		} else {
			o.str(daName, "")
			if inferred {
				o.str(daDomain, val)
			} else {
				o.str(daDomain, "")
			}
			o.str(daIndustry, "")
			o.i64(daCompanySize, 0, false)
			o.str(daCountry, "")
			o.str(daOwner, "")
		}
		o.bool(daInferred, inferred)
		o.i64(daPersonCount, count[c], true)
		o.bool(daIsCustomer, a.customer[c])
	}
	return o.table()
}
