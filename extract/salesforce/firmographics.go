package salesforce

import (
	"context"

	"closedloop/extract"
)

// account is one Account: a crm_accounts row, and what a contact takes from it in
// file mode. A deleted or superseded account row is kept as gone, so that contacts
// naming it are not counted as naming an account the export lacks, and get no
// account_id.
type account struct {
	name, industry, employees string
	website, country, owner   string // owner: the OwnerId
	loc                       string // the row's location
	size                      int64  // company_size, set when hasSize
	hasSize                   bool
	gone                      bool
}

// readAccounts reads the Account object, export or table.
func (r *run) readAccounts(ctx context.Context) error {
	obj := r.o.account
	found, err := r.read(ctx, obj, func(_ *stream, rec *record) error {
		f := newFields(obj, rec)
		if rec.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, f.str(accountID)), rec.bad, rec)
		}
		id := key(f.str(accountID))
		if id == "" {
			return r.reject(ctx, location(obj, rec, ""), "field Id: empty: an account without an id cannot be joined to its contacts", rec)
		}
		if rec.gone || rec.stale || f.bool(accountIsDeleted) {
			if _, ok := r.accounts[id]; !ok {
				r.accounts[id] = account{gone: true}
			}
			return nil
		}
		if _, seen := r.accounts[id]; !seen {
			r.accountOrder = append(r.accountOrder, id)
		}
		a := account{name: f.str(accountName), industry: f.str(accountIndustry), employees: f.str(accountNumberOfEmployees),
			website: f.str(accountWebsite), country: f.str(accountBillingCountry), owner: key(f.str(accountOwnerID)),
			loc: location(obj, rec, id)}
		if a.employees != "" {
			if a.size, a.hasSize = extract.CompanySize(a.employees); !a.hasSize {
				r.badAccountSizes.Add(r.e.log, "salesforce: the number of employees is neither a number nor a range such as 25-50 or 1000+: the account is kept with a null company_size; fix the value in Salesforce or the export",
					"location", rejectLocation(obj, rec, id), "field", "NumberOfEmployees", "value", extract.ShortValue(a.employees))
			}
		}
		r.accounts[id] = a
		return nil
	})
	if err != nil {
		return err
	}
	r.haveAccounts = found
	if n := r.badAccountSizes.Count(); n > 0 {
		r.e.log.Warn("salesforce: accounts whose NumberOfEmployees is neither a number nor a range were written with a null company_size",
			"accounts", n, "logged", r.badAccountSizes.Logged())
	}
	if !found {
		r.e.log.Warn("salesforce: no Account export (nor Account object): no accounts, and contacts and opportunities get no account_id (nor, from files, a company, industry or company_size); export Account together with Contact")
	}
	return nil
}

// writeAccounts writes crm_accounts: the accounts read, in reading order, with their
// owners' names (User.Name), once the users are read.
func (r *run) writeAccounts(ctx context.Context) error {
	b := extract.NewBuilder(r.e.cfg.Mem, extract.TableAccounts, r.w)
	defer b.Release()
	for _, id := range r.accountOrder {
		a := r.accounts[id]
		if a.gone {
			continue
		}
		b.SetAccount(extract.Account{Input: r.spec, Location: a.loc, CRM: crm, ID: id, Name: a.name,
			Domain: extract.Domain(a.website), Industry: a.industry, Size: a.size, HasSize: a.hasSize,
			Country: a.country, Owner: r.userNames[a.owner]})
		if err := b.End(ctx); err != nil {
			return err
		}
	}
	return b.Flush(ctx)
}

// accountOf is the account_id a contact, converted lead or opportunity naming
// Account id gets: id when the Account was read and is not deleted, else "".
func (r *run) accountOf(id string) string {
	id = key(id)
	if id == "" || !r.haveAccounts {
		return ""
	}
	if a, ok := r.accounts[id]; !ok || a.gone {
		return ""
	}
	return id
}

// contactAccount returns the company, industry and number of employees of a contact:
// its Account's, through the relationship (API) or from the Account export (files).
// A contact naming an account the export lacks is counted in r.missingAccounts.
func (r *run) contactAccount(f *fields) (name, industry, employees string) {
	name, industry, employees = f.str(contactAccountName), f.str(contactAccountIndustry), f.str(contactAccountEmployees)
	if _, api := r.src.(*apiSource); api || !r.haveAccounts {
		return name, industry, employees
	}
	id := key(f.str(contactAccountID))
	if id == "" {
		return name, industry, employees
	}
	a, ok := r.accounts[id]
	if !ok {
		r.missingAccounts++
	}
	return a.name, a.industry, a.employees
}

// setCookie sets p's cookie id from value, the cookie field of record rec of obj,
// normalized to the analytics client id (a stored _ga cookie "GA1.1.<id>" gives <id>).
// A value that is no client id leaves it empty, and is logged and counted.
func (r *run) setCookie(p *person, value string, obj *object, rec *record) {
	id, ok := extract.CookieID(value)
	if ok {
		p.cookie = id
		return
	}
	r.e.badCookies.Add(r.e.log, "salesforce: the cookie field holds no analytics client id (an e-mail, a _ga_<container> session cookie or free text?): the person is kept without a cookie id and joins its web history by e-mail only; fill the field from the _ga cookie (GA1.1.<client id> is read as the client id)",
		"location", rejectLocation(obj, rec, p.id), "field", r.e.cfg.CookieField, "value", extract.ShortValue(value))
}

// setSize sets p's company_size from value, field of record rec of obj. A value
// that is not a size leaves it null, and is logged and counted.
func (r *run) setSize(p *person, value string, obj *object, rec *record, field string) {
	if value == "" {
		return
	}
	if p.size, p.hasSize = extract.CompanySize(value); !p.hasSize {
		r.e.badSizes.Add(r.e.log, "salesforce: the number of employees is neither a number nor a range such as 25-50 or 1000+: the person is kept with a null company_size; fix the value in Salesforce or the export",
			"location", rejectLocation(obj, rec, p.id), "field", field, "value", extract.ShortValue(value))
	}
}
