package channel

import (
	_ "embed"
	"encoding/csv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Source categories of Google's list.
const (
	CategorySearch   = "SOURCE_CATEGORY_SEARCH"
	CategorySocial   = "SOURCE_CATEGORY_SOCIAL"
	CategoryShopping = "SOURCE_CATEGORY_SHOPPING"
	CategoryVideo    = "SOURCE_CATEGORY_VIDEO"
)

// categoriesCSV is Google's source-category list (819 rows): see SOURCE.md.
//
//go:embed ga4_source_categories.csv
var categoriesCSV string

// extraCategories are sources missing from Google's downloadable list (last changed
// 2022-09) that GA4 reports for networks renamed or launched since, and the Android
// package names GA4 keeps as the source of in-app referrers (android-app://PACKAGE).
// They are ours, not Google's; Google's list wins where both name a source.
var extraCategories = map[string]string{
	"x.com":                                 CategorySocial,
	"threads.net":                           CategorySocial,
	"threads.com":                           CategorySocial,
	"bsky.app":                              CategorySocial,
	"com.facebook.katana":                   CategorySocial,
	"com.facebook.orca":                     CategorySocial,
	"com.instagram.android":                 CategorySocial,
	"com.linkedin.android":                  CategorySocial,
	"com.twitter.android":                   CategorySocial,
	"com.reddit.frontpage":                  CategorySocial,
	"com.pinterest":                         CategorySocial,
	"com.zhiliaoapp.musically":              CategorySocial,
	"com.google.android.youtube":            CategoryVideo,
	"com.google.android.apps.youtube.music": CategoryVideo,
}

var categories = func() map[string]string {
	rows, err := csv.NewReader(strings.NewReader(categoriesCSV)).ReadAll()
	if err != nil {
		panic("channel: embedded source categories: " + err.Error())
	}
	m := make(map[string]string, len(rows)+len(extraCategories))
	for s, c := range extraCategories {
		m[s] = c
	}
	for _, r := range rows[1:] {
		m[strings.ToLower(r[0])] = r[1]
	}
	return m
}()

// Category returns the category of source in Google's list ("" when it is in none).
// Google matches the list exactly; as sources are often hosts, Category also looks a
// host up without a leading "www.", "m.", "l." or "lm.", and a search engine's country
// host ("google.co.uk", "www.bing.com") by its brand, the label before the public suffix.
func Category(source string) string {
	s := lower(source)
	if c, ok := categories[s]; ok {
		return c
	}
	if strings.IndexByte(s, '.') < 0 {
		return ""
	}
	for _, p := range []string{"www.", "m.", "l.", "lm."} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			if c, ok := categories[rest]; ok {
				return c
			}
			s = rest
			break
		}
	}
	if b := brand(s); b != "" && categories[b] == CategorySearch {
		return CategorySearch
	}
	return ""
}

// brand returns the label of host just before its public suffix when host is that label
// and the suffix alone ("google" for "google.co.uk"), else "".
func brand(host string) string {
	suffix, _ := publicsuffix.PublicSuffix(host)
	rest, ok := strings.CutSuffix(host, "."+suffix)
	if !ok || rest == "" || strings.IndexByte(rest, '.') >= 0 {
		return ""
	}
	return rest
}
