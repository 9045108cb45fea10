package spend

import (
	"fmt"
	"io"
	"strings"

	"closedloop/extract"
)

// platforms are the values of the campaign map's platform column ("" is any).
var platforms = map[string]bool{"": true, "google_ads": true, "meta_ads": true, "linkedin_ads": true}

// campaignKey is one entry of the campaign map: an id, or a lower-cased name, on a
// platform ("" for any).
type campaignKey struct {
	platform string
	byName   bool
	value    string
}

// campaignMap turns the platforms' campaigns into the utm_campaign of the site's
// touches. The zero value maps nothing.
type campaignMap struct {
	utm  map[campaignKey]string
	line map[campaignKey]int // where each entry was set, for conflicts
}

// loadCampaignMap reads the mapping file platform,campaign_id,campaign_name,utm_campaign.
// platform and one of campaign_id and campaign_name may be left out of the header. An
// unknown platform, a row without id and name or without utm_campaign, and one id or
// name mapped to two utm_campaign values are configuration errors naming the line.
func loadCampaignMap(path string) (m campaignMap, err error) {
	m = campaignMap{utm: map[campaignKey]string{}, line: map[campaignKey]int{}}
	t, err := openTable(path, "campaign map")
	if err != nil {
		return m, err
	}
	defer func() {
		if cerr := t.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("spend: %s: %w", path, cerr)
		}
	}()
	const want = "platform,campaign_id,campaign_name,utm_campaign"
	if !t.has("utm_campaign") || (!t.has("campaign_id") && !t.has("campaign_name")) {
		return m, fmt.Errorf("%w: spend: %s: want the header %s (platform, and one of campaign_id and campaign_name, may be left out)",
			extract.ErrConfig, t.where(t.head), want)
	}
	for {
		rec, line, err := t.next()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return m, err
		}
		platform := strings.ToLower(t.cell(rec, "platform"))
		id, name, utm := t.cell(rec, "campaign_id"), t.cell(rec, "campaign_name"), t.cell(rec, "utm_campaign")
		where := t.where(line)
		switch {
		case !platforms[platform]:
			return m, fmt.Errorf("%w: spend: %s: unknown platform %q: want google_ads, meta_ads, linkedin_ads, or empty for any platform",
				extract.ErrConfig, where, t.cell(rec, "platform"))
		case id == "" && name == "":
			return m, fmt.Errorf("%w: spend: %s: neither campaign_id nor campaign_name: fill one of them", extract.ErrConfig, where)
		case utm == "":
			return m, fmt.Errorf("%w: spend: %s: empty utm_campaign: write the utm_campaign value the campaign's links carry", extract.ErrConfig, where)
		}
		if reason := extract.BadText("utm_campaign", utm); reason != "" {
			return m, fmt.Errorf("%w: spend: %s: %s", extract.ErrConfig, where, reason)
		}
		for _, k := range []campaignKey{{platform, false, id}, {platform, true, strings.ToLower(name)}} {
			if k.value == "" {
				continue
			}
			if old, ok := m.utm[k]; ok && old != utm {
				return m, fmt.Errorf("%w: spend: %s: campaign %s is mapped to %q here and to %q on line %d: keep one",
					extract.ErrConfig, where, k, utm, old, m.line[k])
			}
			m.utm[k] = utm
			m.line[k] = line
		}
	}
}

// String names the key in error messages.
func (k campaignKey) String() string {
	p := k.platform
	if p == "" {
		p = "any platform"
	}
	if k.byName {
		return fmt.Sprintf("name %q on %s", k.value, p)
	}
	return fmt.Sprintf("id %q on %s", k.value, p)
}

// resolve returns the campaign of a platform's row: the mapped utm_campaign, by id
// first, then by name (case-insensitive), the platform's own entry before an entry for
// any platform; without one, the name as is, else "campaign_id:<id>".
func (m campaignMap) resolve(platform, id, name string) string {
	if len(m.utm) > 0 {
		if utm, ok := m.lookup(platform, false, id); ok {
			return utm
		}
		if utm, ok := m.lookup(platform, true, strings.ToLower(name)); ok {
			return utm
		}
	}
	switch {
	case name != "":
		return name
	case id != "":
		return "campaign_id:" + id
	}
	return ""
}

// lookup finds value (an id, or a lower-cased name) on platform, else on any platform.
func (m campaignMap) lookup(platform string, byName bool, value string) (string, bool) {
	if value == "" {
		return "", false
	}
	if utm, ok := m.utm[campaignKey{platform, byName, value}]; ok {
		return utm, true
	}
	utm, ok := m.utm[campaignKey{"", byName, value}]
	return utm, ok
}
