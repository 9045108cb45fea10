package channel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"closedloop/extract"
	"closedloop/transform/rulefile"
)

// Grouper assigns channels with a user's rules (CLOSEDLOOP_CHANNEL_RULES) and Google's.
// A nil or zero Grouper is GA4's default channel group. A Grouper is immutable and safe
// for concurrent use.
//
// The rules file is UTF-8 text, one "key: value" per line; blank lines and lines
// starting with "#" are ignored. An optional "mode:" line comes first:
//
//	mode: extend    the file's rules are tried first, then Google's (the default)
//	mode: replace   only the file's rules; what none matches is Unassigned
//
// Each rule starts with "channel: NAME" (any text: the channel it assigns) followed by
// its conditions, all of which must hold; a rule without conditions matches everything.
// Rules are tried in file order and the first that matches wins. Condition keys:
//
//	source, medium, campaign, term, content, click_id, source_platform
//	                  the touch's value: a comma-separated list of exact values, or
//	                  "~" and a regular expression (RE2, matched anywhere unless
//	                  anchored); "" in a list is the empty value
//	source_category   search, social, shopping, video or none: the source's category
//	                  in Google's list (Category)
//	default_channel   GA4 default channels (Google's rules applied to the touch)
//
// Matching ignores case. "!" before a value negates the condition (not in the list, or
// not matching the expression). Example: brand and generic paid search split by the
// campaign name.
//
//	mode: extend
//	channel: Paid Search - Brand
//	  default_channel: Paid Search
//	  campaign: ~brand
//	channel: Partners
//	  source: capterra.com, g2.com
//	  medium: referral
type Grouper struct {
	rules   []rule
	replace bool
}

type rule struct {
	channel string
	conds   []cond
}

type field int

const (
	fSource field = iota
	fMedium
	fCampaign
	fTerm
	fContent
	fClickID
	fSourcePlatform
	fSourceCategory
	fDefaultChannel
)

var fieldNames = map[string]field{
	"source": fSource, "medium": fMedium, "campaign": fCampaign, "term": fTerm,
	"content": fContent, "click_id": fClickID, "source_platform": fSourcePlatform,
	"source_category": fSourceCategory, "default_channel": fDefaultChannel,
}

const fieldList = "source, medium, campaign, term, content, click_id, source_platform, source_category, default_channel"

type cond struct {
	field field
	rulefile.Values
}

// LoadRules reads a rules file (see Grouper). Errors wrap extract.ErrConfig and name
// the file and line.
func LoadRules(path string) (*Grouper, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: channel rules: %v (set CLOSEDLOOP_CHANNEL_RULES to a readable rules file, or unset it for GA4's default channels)", extract.ErrConfig, err)
	}
	defer f.Close()
	return ParseRules(f, path)
}

// ParseRules reads rules (see Grouper) from r; name is the file name used in errors.
func ParseRules(r io.Reader, name string) (*Grouper, error) {
	g := &Grouper{}
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", extract.ErrConfig, name, line, fmt.Sprintf(format, args...))
	}
	sawMode := false
	var cur *rule
	var curKeys map[field]bool
	err := rulefile.Scan(r, name, func(l rulefile.Line) error {
		n, key, value := l.N, l.Key, l.Value
		switch key {
		case "":
			return fail(n, "%q is not \"key: value\" (keys: mode, channel, %s)", value, fieldList)
		case "mode":
			if sawMode || len(g.rules) > 0 {
				return fail(n, "mode must come once, before the first rule")
			}
			switch strings.ToLower(value) {
			case "extend":
			case "replace":
				g.replace = true
			default:
				return fail(n, "unknown mode %q: use extend (your rules first, then Google's) or replace (only yours)", value)
			}
			sawMode = true
			return nil
		case "channel":
			if value == "" {
				return fail(n, "empty channel name: write the channel the rule assigns, e.g. \"channel: Paid Search - Brand\"")
			}
			g.rules = append(g.rules, rule{channel: value})
			cur, curKeys = &g.rules[len(g.rules)-1], map[field]bool{}
			return nil
		}
		f, known := fieldNames[key]
		if !known {
			return fail(n, "unknown key %q (keys: mode, channel, %s)", key, fieldList)
		}
		if cur == nil {
			return fail(n, "condition %q outside a rule: start the rule with \"channel: NAME\"", key)
		}
		if curKeys[f] {
			return fail(n, "%s given twice in rule %q: list the values on one line (a, b) or write one expression", key, cur.channel)
		}
		curKeys[f] = true
		c, err := parseCond(f, key, value)
		if err != nil {
			return fail(n, "%v", err)
		}
		cur.conds = append(cur.conds, c)
		return nil
	})
	if err != nil {
		if !errors.Is(err, extract.ErrConfig) {
			err = fmt.Errorf("%w: channel rules %v", extract.ErrConfig, err)
		}
		return nil, err
	}
	if len(g.rules) == 0 {
		return nil, fmt.Errorf("%w: channel rules %s: no rule: add a \"channel: NAME\" line and its conditions, or unset CLOSEDLOOP_CHANNEL_RULES", extract.ErrConfig, name)
	}
	return g, nil
}

func parseCond(f field, key, value string) (cond, error) {
	var item func(string) (string, error)
	switch f {
	case fSourceCategory:
		item = func(v string) (string, error) {
			cat, ok := categoryNames[strings.TrimPrefix(v, "source_category_")]
			if !ok {
				return "", fmt.Errorf("source_category: unknown category %q: use search, social, shopping, video or none", v)
			}
			return cat, nil
		}
	case fDefaultChannel:
		item = func(v string) (string, error) {
			ch := canonicalChannel(v)
			if ch == "" {
				return "", fmt.Errorf("default_channel: %q is not a GA4 default channel (%s)", v, strings.Join(Channels, ", "))
			}
			return ch, nil
		}
	}
	vs, err := rulefile.ParseValues(key, value, f != fSourceCategory && f != fDefaultChannel, item)
	return cond{field: f, Values: vs}, err
}

var categoryNames = map[string]string{
	"search": CategorySearch, "social": CategorySocial, "shopping": CategoryShopping,
	"video": CategoryVideo, "none": "",
}

func canonicalChannel(v string) string {
	for _, ch := range Channels {
		if strings.EqualFold(ch, v) {
			return ch
		}
	}
	return ""
}

// Group returns the channel of a source / medium / campaign.
func (g *Grouper) Group(source, medium, campaign string) string {
	return g.GroupTouch(Touch{Source: source, Medium: medium, Campaign: campaign})
}

// GroupTouch returns the channel of t: the first user rule that matches, else (mode
// extend, or a nil Grouper) GA4's default channel group, else Unassigned.
func (g *Grouper) GroupTouch(t Touch) string {
	t = lowerTouch(t)
	if g == nil {
		return defaultGroup(t)
	}
	def := ""
	for i := range g.rules {
		if g.rules[i].match(t, &def) {
			return g.rules[i].channel
		}
	}
	if g.replace {
		return Unassigned
	}
	if def == "" {
		def = defaultGroup(t)
	}
	return def
}

// match reports whether every condition holds; def caches Google's channel of t.
func (r *rule) match(t Touch, def *string) bool {
	for i := range r.conds {
		c := &r.conds[i]
		var v string
		switch c.field {
		case fSource:
			v = t.Source
		case fMedium:
			v = t.Medium
		case fCampaign:
			v = t.Campaign
		case fTerm:
			v = t.Term
		case fContent:
			v = t.Content
		case fClickID:
			v = t.ClickID
		case fSourcePlatform:
			v = t.SourcePlatform
		case fSourceCategory:
			v = Category(t.Source)
		case fDefaultChannel:
			if *def == "" {
				*def = defaultGroup(t)
			}
			v = *def
		}
		var ok bool
		if c.Re != nil {
			ok = c.Re.MatchString(v)
		} else {
			ok = in(v, c.List...)
		}
		if ok == c.Negate {
			return false
		}
	}
	return true
}
