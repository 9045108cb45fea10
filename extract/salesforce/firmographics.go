package salesforce

import (
	"context"

	"closedloop/extract"
)

// account is what a contact takes from its Account in file mode. A deleted or
// superseded account row is kept as gone, so that contacts naming it are not counted
// as naming an account the export lacks.
type account struct {
	name, industry, employees string
	gone                      bool
}

// readAccounts reads the Account export or table (files and warehouse tables only:
// the API gives a contact's Account fields through the relationship).
func (r *run) readAccounts(ctx context.Context) error {
	if _, api := r.src.(*apiSource); api {
		return nil
	}
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
		r.accounts[id] = account{name: f.str(accountName), industry: f.str(accountIndustry), employees: f.str(accountNumberOfEmployees)}
		return nil
	})
	if err != nil {
		return err
	}
	r.haveAccounts = found
	if !found {
		r.e.log.Warn("salesforce: no Account export: contacts get no company, industry or company_size; export Account together with Contact")
	}
	return nil
}

// contactAccount returns the company, industry and number of employees of a contact:
// its Account's, through the relationship (API) or from the Account export (files).
// A contact naming an account the export lacks is counted in r.missingAccounts.
func (r *run) contactAccount(f *fields) (name, industry, employees string) {
	name, industry, employees = f.str(contactAccountName), f.str(contactAccountIndustry), f.str(contactAccountEmployees)
	if !r.haveAccounts {
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
