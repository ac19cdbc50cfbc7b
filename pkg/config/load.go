package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/viper"
	yaml "go.yaml.in/yaml/v3"
)

// searchPaths are the config files Load looks for, in order, relative to the working
// directory, when it is given no file and CONFIG_FILE is unset. Absent files are skipped.
var searchPaths = []string{"configs/config.yaml", "config.yaml"}

// Load reads the configuration: defaults, then a YAML file, then environment variables,
// each overriding the one before. An empty environment value counts as unset.
//
// file names the YAML file; if it is "", CONFIG_FILE names it; if that is unset too, the
// first of configs/config.yaml and config.yaml (relative to the working directory) that
// exists is read, and none is fine. A file that was named but
// does not exist is an error.
//
// getenv is the only source of environment values (pass os.Getenv, or a map's lookup in
// tests); nil means an empty environment. Load reports values it cannot parse, every one of
// them, naming the variable; it does not check that the result is complete or consistent:
// set Demo, then call [Config.Validate].
func Load(getenv func(string) string, file string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if file == "" {
		file = strings.TrimSpace(getenv(envConfigFile))
	}
	if file != "" {
		if _, err := os.Stat(file); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("config: config file %q not found (named by the command line or CONFIG_FILE)", file)
			}
			return nil, fmt.Errorf("config: config file: %w", err)
		}
	} else {
		for _, p := range searchPaths {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				file = p
				break
			}
		}
	}
	return load(getenv, file)
}

// Default returns the configuration with every setting at its default, as Load gives with
// an empty environment and no file.
func Default() Config {
	c, err := load(func(string) string { return "" }, "")
	if err != nil {
		panic("config: defaults do not load: " + err.Error()) // a bug in bindings, caught by tests
	}
	return *c
}

func load(getenv func(string) string, file string) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	for _, b := range bindings {
		v.SetDefault(b.key, b.def)
	}

	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: reading %s: %w", file, err)
		}
	}

	// Bind every key by hand to its exact names: viper's own BindEnv and AutomaticEnv read
	// os.Getenv, and AutomaticEnv alone never reaches Unmarshal (spf13/viper#761).
	var errs []error
	var warnings, notes []string
	logLevelSet := file != "" && v.InConfig("log_level")
	for _, b := range bindings {
		name, raw, ok := lookup(getenv, b.env)
		if !ok {
			continue
		}
		for _, other := range b.env {
			if o := strings.TrimSpace(getenv(other)); other != name && o != "" && o != raw {
				msg := fmt.Sprintf("%s and %s are both set and differ; using %s", name, other, name)
				if b.key == "redis_url" {
					notes = append(notes, msg)
				} else {
					warnings = append(warnings, msg)
				}
			}
		}
		val, err := parseEnv(name, raw, b.def)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if b.key == "log_level" {
			logLevelSet = true
		}
		v.Set(b.key, val)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errors.Join(errs...))
	}

	var c Config
	if err := v.UnmarshalExact(&c, viper.DecodeHook(decodeHook)); err != nil {
		where := "defaults"
		if file != "" {
			where = file
		}
		return nil, fmt.Errorf("config: %s: %w", where, err)
	}
	c.file = file
	c.warnings = warnings
	c.notes = notes
	if file != "" {
		if err := c.fixEndpoints(file, v); err != nil {
			return nil, err
		}
	}
	if c.Debug && !logLevelSet {
		c.LogLevel = "debug"
		c.notes = append(c.notes, "DEBUG is set and LOG_LEVEL is not: logging at debug level")
	}
	c.normalize()
	return &c, nil
}

// lookup returns the first of names whose value is not blank.
func lookup(getenv func(string) string, names []string) (name, value string, ok bool) {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return n, v, true
		}
	}
	return "", "", false
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	stringSliceType = reflect.TypeFor[[]string]()
)

// decodeHook converts file values: durations from "25s" or a number of seconds, booleans
// from True/yes/on/1, string lists from "a, b". It replaces viper's default hooks.
func decodeHook(from, to reflect.Type, data any) (any, error) {
	switch {
	case to == durationType:
		switch d := data.(type) {
		case string:
			return parseDuration(d)
		case int:
			return time.Duration(d) * time.Second, nil
		case int64:
			return time.Duration(d) * time.Second, nil
		case uint64:
			return time.Duration(d) * time.Second, nil
		case float64:
			return time.Duration(d * float64(time.Second)), nil
		}
	case to.Kind() == reflect.Bool:
		switch b := data.(type) {
		case string:
			return parseBool(b)
		case int:
			return b != 0, nil
		}
	case to == stringSliceType:
		if s, ok := data.(string); ok {
			return splitList(s), nil
		}
	}
	return data, nil
}

// rawEndpoint is the part of an event endpoint viper cannot give back as written: it lower-
// cases map keys.
type rawEndpoint struct {
	Headers map[string]string `yaml:"headers"`
	Params  map[string]string `yaml:"params"`
}

// fixEndpoints restores the case of the endpoints' header and parameter names and fills in
// each endpoint's defaults.
func (c *Config) fixEndpoints(file string, v *viper.Viper) error {
	if len(c.Events.Endpoints) == 0 {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("config: reading %s: %w", file, err)
	}
	var raw struct {
		Events struct {
			Endpoints []rawEndpoint `yaml:"endpoints"`
		} `yaml:"events"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("config: %s: events.endpoints: %w", file, err)
	}
	rawEPs := raw.Events.Endpoints
	for i := range c.Events.Endpoints {
		ep := &c.Events.Endpoints[i]
		var r rawEndpoint
		if i < len(rawEPs) {
			r = rawEPs[i]
		}
		if r.Headers != nil && len(r.Headers) == len(ep.Headers) {
			ep.Headers = r.Headers
		}
		if r.Params != nil && len(r.Params) == len(ep.Params) {
			ep.Params = r.Params
		}
		if !endpointHasKey(v, i, "enabled") {
			ep.Enabled = true
		}
		if ep.Name == "" {
			ep.Name = fmt.Sprintf("endpoint-%d", i+1)
		}
		if ep.Format == "" {
			ep.Format = c.Events.WebhookFormat
		}
		if ep.Timeout == 0 {
			ep.Timeout = DefaultEventTimeout
		}
	}
	return nil
}

// endpointHasKey reports whether endpoint i of the file sets key, whatever its case.
func endpointHasKey(v *viper.Viper, i int, key string) bool {
	list, ok := v.Get("events.endpoints").([]any)
	if !ok || i >= len(list) {
		return false
	}
	m, ok := list[i].(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}
