package main

import (
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"closedloop/load/redact"
)

// writeSample writes the embedded sample into dir and prints the closedloop run
// command that loads it as the demo does, into warehouse.
func writeSample(dir, warehouse, rules, personas string, stdout io.Writer) error {
	if err := checkWarehouse(warehouse); err != nil {
		return bad("Warehouse", "%v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := unpackSample(abs); err != nil {
		return fmt.Errorf("%w: demo: write the sample into %s: %v (name a new or empty folder)", errUsage, abs, err)
	}
	cfg, err := demoConfig("", abs, warehouse)
	if err != nil {
		return err
	}
	if rules != "" || personas != "" {
		if cfg, err = withRules(cfg, rules, personas); err != nil {
			return err
		}
	}
	args, err := runArgs(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "closedloop demo: the sample (GA4 export files, HubSpot exports, ad spend, persona rules; %s..%s) is in %s\n",
		sampleFrom.Format(time.DateOnly), sampleTo.Format(time.DateOnly), abs)
	fmt.Fprintf(stdout, "This loads it as the demo does (--warehouse takes duckdb:PATH, postgres:DSN, parquet:DIR or bigquery:PROJECT.DATASET):\n\n")
	quoted := make([]string, len(args))
	masked := false
	for i, a := range args {
		r := redact.String(a)
		masked = masked || r != a
		quoted[i] = shellQuote(r)
	}
	fmt.Fprintf(stdout, "  closedloop run %s\n\n", strings.Join(quoted, " "))
	fmt.Fprintln(stdout, "Its flags win over CLOSEDLOOP_* variables; unset the others to get the demo's numbers.")
	if masked {
		fmt.Fprintf(stdout, "The warehouse's password is shown as %s: leave it out of the DSN and set PGPASSWORD (or a ~/.pgpass file).\n", redact.Mask)
	}
	return nil
}

// withRules sets the channel rules and persona files the demo was asked to try.
func withRules(cfg Config, rules, personas string) (Config, error) {
	cfg.ChannelRules = absPath(rules)
	if personas != "" {
		cfg.Personas = absPath(personas)
	}
	return cfg, cfg.validate()
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// noFlag are the settings runArgs leaves out: the warehouse comes last, and logging
// changes nothing in the warehouse.
var noFlag = map[string]bool{"Warehouse": true, "LogFormat": true, "LogLevel": true}

// runArgs returns the closedloop run flags that give cfg: one for each setting in which
// cfg differs from run's default, then --warehouse.
func runArgs(cfg Config) ([]string, error) {
	def, err := runDefaults()
	if err != nil {
		return nil, err
	}
	have, want := reflect.ValueOf(cfg), reflect.ValueOf(def)
	var args []string
	for _, s := range settings() {
		if noFlag[s.field] {
			continue
		}
		v := have.FieldByName(s.field)
		if reflect.DeepEqual(v.Interface(), want.FieldByName(s.field).Interface()) {
			continue
		}
		text, ok := flagText(v)
		if !ok {
			return nil, fmt.Errorf("demo: no flag text for %s (%s)", s.field, v.Type())
		}
		if v.Kind() == reflect.Bool {
			args = append(args, "--"+s.flag+"="+text) // --flag false would be an argument
			continue
		}
		args = append(args, "--"+s.flag, text)
	}
	return append(args, "--warehouse", cfg.Warehouse), nil
}

// runDefaults is the Config of closedloop run when no variable and no flag is set.
func runDefaults() (Config, error) {
	var cfg Config
	// Under a prefix that no variable has, envconfig fills the defaults of the tags
	// only (no tag names a variable of its own to fall back to).
	if err := envconfig.Process(envPrefix+"_DEMO_DEFAULTS_ONLY", &cfg); err != nil {
		return Config{}, fmt.Errorf("demo: run's defaults: %w", err)
	}
	return cfg, nil
}

// flagText writes a setting's value as its flag reads it.
func flagText(v reflect.Value) (string, bool) {
	switch x := v.Interface().(type) {
	case string:
		return x, true
	case Date:
		return x.Format(time.DateOnly), true
	case Days:
		if d := time.Duration(x); d%(24*time.Hour) == 0 {
			return fmt.Sprintf("%dd", d/(24*time.Hour)), true
		}
		return time.Duration(x).String(), true
	case time.Duration:
		return x.String(), true
	case int:
		return strconv.Itoa(x), true
	case bool:
		return strconv.FormatBool(x), true
	case []string:
		return strings.Join(x, ","), true
	case []float64:
		parts := make([]string, len(x))
		for i, f := range x {
			parts[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%_+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
