package dbt_test

import (
	"fmt"
	"strings"

	yaml2 "go.yaml.in/yaml/v2"
)

// The properties dbt documents for a sources file and an exposures file
// (docs.getdbt.com "Source properties", "Exposure properties"; the same keys and enums as
// dbt-labs/dbt-jsonschema's schemas/latest/dbt_yml_files-latest.json, read 2026-12), as
// strict Go types: decoded with YAML 1.1 rules, as dbt's PyYAML reads the files, by
// yaml.v2's UnmarshalStrict, which fails on a key dbt does not know, a duplicate key or a
// value of the wrong type (an unquoted "yes" where dbt wants a string). No published JSON
// schema for these files is on npm (dbt-jsonschema is not published there; the npm
// packages that ship dbt schemas check models only), so this is the check.

type dbtPropertiesFile struct {
	Version   int           `yaml:"version"`
	Sources   []dbtSource   `yaml:"sources"`
	Exposures []dbtExposure `yaml:"exposures"`
}

type dbtSource struct {
	Name          string         `yaml:"name"`
	Description   string         `yaml:"description"`
	Database      string         `yaml:"database"`
	Schema        string         `yaml:"schema"`
	Loader        string         `yaml:"loader"`
	LoadedAtField string         `yaml:"loaded_at_field"`
	LoadedAtQuery string         `yaml:"loaded_at_query"`
	Meta          map[string]any `yaml:"meta"`
	Tags          dbtStrings     `yaml:"tags"`
	Config        map[string]any `yaml:"config"`
	Overrides     string         `yaml:"overrides"`
	Freshness     *dbtFreshness  `yaml:"freshness"`
	Quoting       *dbtQuoting    `yaml:"quoting"`
	Tables        []dbtTable     `yaml:"tables"`
	DataTests     []dbtDataTest  `yaml:"data_tests"`
	Tests         []dbtDataTest  `yaml:"tests"`
}

type dbtTable struct {
	Name          string         `yaml:"name"`
	Description   string         `yaml:"description"`
	Meta          map[string]any `yaml:"meta"`
	Identifier    string         `yaml:"identifier"`
	LoadedAtField string         `yaml:"loaded_at_field"`
	LoadedAtQuery string         `yaml:"loaded_at_query"`
	Tests         []dbtDataTest  `yaml:"tests"`
	DataTests     []dbtDataTest  `yaml:"data_tests"`
	Tags          dbtStrings     `yaml:"tags"`
	Config        map[string]any `yaml:"config"`
	Freshness     *dbtFreshness  `yaml:"freshness"`
	Quoting       *dbtQuoting    `yaml:"quoting"`
	External      map[string]any `yaml:"external"`
	Loader        string         `yaml:"loader"`
	Columns       []dbtColumn    `yaml:"columns"`
}

type dbtColumn struct {
	Name        string           `yaml:"name"`
	Description string           `yaml:"description"`
	DataType    string           `yaml:"data_type"`
	Meta        map[string]any   `yaml:"meta"`
	Quote       *bool            `yaml:"quote"`
	Tests       []dbtDataTest    `yaml:"tests"`
	DataTests   []dbtDataTest    `yaml:"data_tests"`
	Tags        dbtStrings       `yaml:"tags"`
	Constraints []map[string]any `yaml:"constraints"`
	PolicyTags  []string         `yaml:"policy_tags"`
	Config      map[string]any   `yaml:"config"`
}

type dbtQuoting struct {
	Database   *bool `yaml:"database"`
	Schema     *bool `yaml:"schema"`
	Identifier *bool `yaml:"identifier"`
}

type dbtFreshness struct {
	WarnAfter  *dbtFreshnessRule `yaml:"warn_after"`
	ErrorAfter *dbtFreshnessRule `yaml:"error_after"`
	Filter     string            `yaml:"filter"`
}

type dbtFreshnessRule struct {
	Count  *int   `yaml:"count"`
	Period string `yaml:"period"`
}

// dbtStrings is dbt's string_or_array_of_strings.
type dbtStrings []string

func (s *dbtStrings) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return err
	}
	*s = many
	return nil
}

// dbtDataTest is one entry of data_tests: a generic test's name, or a one-key map from a
// built-in test to its arguments.
type dbtDataTest struct {
	Name   string // not_null, unique, accepted_values, relationships
	Values []string
}

type dbtTestArgs struct {
	Name   string         `yaml:"name"`
	Config map[string]any `yaml:"config"`
	Where  string         `yaml:"where"`
}

func (t *dbtDataTest) UnmarshalYAML(unmarshal func(any) error) error {
	var name string
	if err := unmarshal(&name); err == nil {
		switch name {
		case "not_null", "unique":
			t.Name = name
			return nil
		}
		return fmt.Errorf("data test %q: not a built-in test without arguments", name)
	}
	var m struct {
		NotNull        *dbtTestArgs `yaml:"not_null"`
		Unique         *dbtTestArgs `yaml:"unique"`
		AcceptedValues *struct {
			dbtTestArgs `yaml:",inline"`
			Values      []string `yaml:"values"`
			Quote       *bool    `yaml:"quote"`
		} `yaml:"accepted_values"`
		Relationships *struct {
			dbtTestArgs `yaml:",inline"`
			To          string `yaml:"to"`
			Field       string `yaml:"field"`
		} `yaml:"relationships"`
	}
	if err := unmarshal(&m); err != nil {
		return err
	}
	switch {
	case m.NotNull != nil:
		t.Name = "not_null"
	case m.Unique != nil:
		t.Name = "unique"
	case m.AcceptedValues != nil:
		if len(m.AcceptedValues.Values) == 0 {
			return fmt.Errorf("accepted_values without values")
		}
		t.Name, t.Values = "accepted_values", m.AcceptedValues.Values
	case m.Relationships != nil:
		if m.Relationships.To == "" || m.Relationships.Field == "" {
			return fmt.Errorf("relationships wants to and field")
		}
		t.Name = "relationships"
	default:
		return fmt.Errorf("a data test map with no known test")
	}
	return nil
}

type dbtExposure struct {
	Name        string         `yaml:"name"`
	Label       string         `yaml:"label"`
	Type        string         `yaml:"type"`
	Maturity    string         `yaml:"maturity"`
	URL         string         `yaml:"url"`
	Description string         `yaml:"description"`
	Tags        dbtStrings     `yaml:"tags"`
	Meta        map[string]any `yaml:"meta"`
	Config      map[string]any `yaml:"config"`
	Owner       *struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
	} `yaml:"owner"`
	DependsOn []string `yaml:"depends_on"`
}

// readDBTFile decodes a properties file as dbt would and checks what dbt requires of it:
// version 2, names, the enums, freshness rules, exposures' required keys.
func readDBTFile(b []byte) (dbtPropertiesFile, error) {
	var f dbtPropertiesFile
	if err := yaml2.UnmarshalStrict(b, &f); err != nil {
		return f, err
	}
	var tree any
	if err := yaml2.Unmarshal(b, &tree); err != nil {
		return f, err
	}
	if err := textOnly("", tree); err != nil {
		return f, err
	}
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if f.Version != 2 {
		bad("version %d, want 2", f.Version)
	}
	rule := func(where string, r *dbtFreshnessRule) {
		if r == nil {
			return
		}
		if r.Count == nil || (r.Period != "minute" && r.Period != "hour" && r.Period != "day") {
			bad("%s: freshness rule wants a count and a period of minute, hour or day", where)
		}
	}
	for _, s := range f.Sources {
		if s.Name == "" {
			bad("a source without name")
		}
		if s.Freshness != nil {
			rule(s.Name+" warn_after", s.Freshness.WarnAfter)
			rule(s.Name+" error_after", s.Freshness.ErrorAfter)
		}
		for _, t := range s.Tables {
			if t.Name == "" {
				bad("source %s: a table without name", s.Name)
			}
			if t.Freshness != nil {
				rule(t.Name+" warn_after", t.Freshness.WarnAfter)
				rule(t.Name+" error_after", t.Freshness.ErrorAfter)
			}
			for _, c := range t.Columns {
				if c.Name == "" {
					bad("table %s: a column without name", t.Name)
				}
			}
		}
	}
	for _, e := range f.Exposures {
		switch e.Type {
		case "dashboard", "notebook", "analysis", "ml", "application":
		default:
			bad("exposure %s: type %q", e.Name, e.Type)
		}
		switch e.Maturity {
		case "", "high", "medium", "low":
		default:
			bad("exposure %s: maturity %q", e.Name, e.Maturity)
		}
		if e.Owner == nil || (e.Owner.Name == "" && e.Owner.Email == "") {
			bad("exposure %s: owner wants a name or an email", e.Name)
		}
		if len(e.DependsOn) == 0 {
			bad("exposure %s: no depends_on", e.Name)
		}
		for _, c := range e.Name {
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				bad("exposure %s: a name of letters, digits and underscores only (dbt 1.3+)", e.Name)
				break
			}
		}
	}
	if len(errs) > 0 {
		return f, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return f, nil
}

// textOnly checks that YAML 1.1 (PyYAML, dbt's reader) reads every scalar of v as text,
// but the numbers and booleans dbt wants there: yaml.v2 decodes an unquoted yes, on,
// 1.0 or ~ into a string field as text, where dbt would get a bool, a number or None.
func textOnly(key string, v any) error {
	switch v := v.(type) {
	case map[any]any:
		for k, x := range v {
			ks, ok := k.(string)
			if !ok {
				return fmt.Errorf("key %v (%T) under %q: YAML 1.1 does not read it as text", k, k, key)
			}
			if err := textOnly(ks, x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := textOnly(key, x); err != nil {
				return err
			}
		}
	case string:
	case int:
		if key != "version" && key != "count" {
			return fmt.Errorf("%s: %d is a number in YAML 1.1, where dbt wants text", key, v)
		}
	case bool:
		if key != "quote" && key != "database" && key != "schema" && key != "identifier" {
			return fmt.Errorf("%s: %v is a boolean in YAML 1.1, where dbt wants text", key, v)
		}
	default:
		return fmt.Errorf("%s: %v (%T) where dbt wants text", key, v, v)
	}
	return nil
}
