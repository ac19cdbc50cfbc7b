package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/config"
)

// env turns a map into a getenv function.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes a config file into a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, m map[string]string, file string) *config.Config {
	t.Helper()
	c, err := config.Load(env(m), file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoadDefaults(t *testing.T) {
	c := mustLoad(t, nil, "")
	d := config.Default()
	if !reflect.DeepEqual(*c, d) {
		t.Fatalf("Load with no env and no file differs from Default:\n%v\n%v", c, d)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Port", c.Port, 8080},
		{"RedisURL", c.RedisURL, ""},
		{"Desk", c.Desk, config.DeskLiveAgent},
		{"APIVersion", c.LiveAgent.APIVersion, "49"},
		{"UserAgent", c.LiveAgent.UserAgent, "Mozilla/5.0"},
		{"Language", c.LiveAgent.Language, "ja"},
		{"RequestTimeout", c.LiveAgent.RequestTimeout, 10 * time.Second},
		{"PrechatLabel", c.LiveAgent.PrechatLabel, "ContactLineId"},
		{"APIBaseURL", c.LINE.APIBaseURL, "https://api.line.me"},
		{"DataAPIBaseURL", c.LINE.DataAPIBaseURL, "https://api-data.line.me"},
		{"HandoverKeywords", c.LINE.HandoverKeywords, []string{"オペレーター", "operator", "担当者", "有人対応"}},
		{"EndKeywords", c.LINE.EndKeywords, []string{"終了", "end"}},
		{"HandoverPostback", c.LINE.HandoverPostback, "action=handover"},
		{"EndPostback", c.LINE.EndPostback, "action=end"},
		{"NoticeLanguage", c.LINE.NoticeLanguage, "ja"},
		{"HistoryLines", c.LINE.HistoryLines, 20},
		{"MessagesWait", c.MessagesWait, 25 * time.Second},
		{"InitWait", c.InitWait, 10 * time.Second},
		{"WebhookFormat", c.Events.WebhookFormat, config.EventFormatStandard},
		{"WebhookEvents", c.Events.WebhookEvents, []string(nil)},
		{"LeaseTTL", c.Relay.LeaseTTL, 10 * time.Second},
		{"LeaseScanInterval", c.Relay.LeaseScanInterval, time.Second},
		{"ChatRetention", c.Relay.ChatRetention, 168 * time.Hour},
		{"RPS", c.RateLimit.RPS, 20.0},
		{"Burst", c.RateLimit.Burst, 40},
		{"BodyLimit", c.BodyLimit, "64K"},
		{"BodyLimitBytes", c.BodyLimitBytes(), int64(64000)},
		{"TrustedProxies", c.TrustedProxies, []string(nil)},
		{"LogLevel", c.LogLevel, "info"},
		{"LogFormat", c.LogFormat, "json"},
		{"ShutdownTimeout", c.ShutdownTimeout, 25 * time.Second},
		{"CapabilitiesVersion", c.MIAW.CapabilitiesVersion, "1"},
		{"Demo", c.Demo, false},
		{"File", c.File(), ""},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

// TestEnvOnlySettingsReachTheStruct: viper's Unmarshal drops env-only keys under
// AutomaticEnv (spf13/viper#761). Load binds every key, so these all arrive.
func TestEnvOnlySettingsReachTheStruct(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"LINE_CHANNEL_TOKEN":        "tok",
		"LINE_CHANNEL_SECRET":       "sec",
		"BRIDGE_API_KEY":            "key",
		"LIVEAGENT_HOST":            "https://d.la1-c1-ukb.salesforceliveagent.com",
		"LIVEAGENT_ORGANIZATION_ID": "00D000000000001",
		"EVENTS_WEBHOOK_URL":        "https://hooks.example.com/x",
		"MIAW_ISSUER":               "bridge",
		"RATE_LIMIT_RPS":            "2.5",
		"PORT":                      "5000",
	}, "")
	if c.LINE.ChannelToken != "tok" || c.LINE.ChannelSecret != "sec" || c.APIKey != "key" ||
		c.LiveAgent.Host != "https://d.la1-c1-ukb.salesforceliveagent.com" ||
		c.LiveAgent.OrganizationID != "00D000000000001" || c.Events.WebhookURL != "https://hooks.example.com/x" ||
		c.MIAW.Issuer != "bridge" || c.RateLimit.RPS != 2.5 || c.Port != 5000 {
		t.Fatalf("env-only settings lost: %+v", c)
	}
}

func TestRedisURLFallback(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"neither", nil, ""},
		{"REDIS_URL", map[string]string{"REDIS_URL": "redis://a:6379"}, "redis://a:6379"},
		{"REDIS_TLS_URL only", map[string]string{"REDIS_TLS_URL": "rediss://:p@b:6380"}, "rediss://:p@b:6380"},
		{"both: REDIS_URL wins", map[string]string{"REDIS_URL": "rediss://:p@a:1", "REDIS_TLS_URL": "rediss://:p@b:2"}, "rediss://:p@a:1"},
		{"empty REDIS_URL counts as unset", map[string]string{"REDIS_URL": "  ", "REDIS_TLS_URL": "rediss://:p@b:2"}, "rediss://:p@b:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.env, "").RedisURL; got != tt.want {
				t.Errorf("RedisURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIVersionAlias(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		want     string
		warnings int
	}{
		{"default", nil, "49", 0},
		{"API_VERSION", map[string]string{"API_VERSION": "40"}, "40", 0},
		{"LIVEAGENT_API_VERSION", map[string]string{"LIVEAGENT_API_VERSION": "52"}, "52", 0},
		{"both equal", map[string]string{"API_VERSION": "52", "LIVEAGENT_API_VERSION": "52"}, "52", 0},
		{"both differ: API_VERSION wins, with a warning", map[string]string{"API_VERSION": "40", "LIVEAGENT_API_VERSION": "52"}, "40", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.env, "")
			if c.LiveAgent.APIVersion != tt.want {
				t.Errorf("APIVersion = %q, want %q", c.LiveAgent.APIVersion, tt.want)
			}
			n := 0
			for _, w := range c.Warnings() {
				if strings.Contains(w, "LIVEAGENT_API_VERSION") {
					n++
				}
			}
			if n != tt.warnings {
				t.Errorf("%d alias warnings, want %d: %q", n, tt.warnings, c.Warnings())
			}
		})
	}
}

const sampleFile = `
port: 9000
messages_wait: 20s
init_wait: 5          # seconds
ssl: True
debug: yes
log_level: warn
trusted_proxies: 10.0.0.0/8, 192.168.1.1
liveagent:
  host: https://d.la2-c2-hnd.salesforceliveagent.com/chat/rest/
  organization_id: 00D000000000002
  api_version: 45
line:
  channel_token: file-token
  handover_keywords: [help, 人間]
events:
  webhook_format: chatwoot
  endpoints:
    - name: crm
      url: https://crm.example.com/hook
      secret: whsec_abc
      headers: {X-Api-Key: k1, Content-Language: ja}
      params: {shopId: "42", Mode: live}
      events: [chat.ended]
      timeout: 3
    - url: https://bi.example.com/hook
      format: standard
      enabled: false
`

func TestFileAndEnvPrecedence(t *testing.T) {
	path := writeFile(t, "bridge.yaml", sampleFile)
	c := mustLoad(t, map[string]string{
		"PORT":               "9100", // env beats file
		"LINE_CHANNEL_TOKEN": "",     // empty env = unset: file stays
		"LOG_LEVEL":          "",
		"INIT_WAIT":          "7s",
	}, path)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Port (env)", c.Port, 9100},
		{"MessagesWait (file)", c.MessagesWait, 20 * time.Second},
		{"InitWait (env)", c.InitWait, 7 * time.Second},
		{"SSL (file True)", c.SSL, true},
		{"Debug (file yes)", c.Debug, true},
		{"LogLevel (file beats DEBUG)", c.LogLevel, "warn"},
		{"TrustedProxies (file string list)", c.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.1"}},
		{"LiveAgent.Host (file, normalised)", c.LiveAgent.Host, "https://d.la2-c2-hnd.salesforceliveagent.com"},
		{"LiveAgent.OrganizationID (file)", c.LiveAgent.OrganizationID, "00D000000000002"},
		{"LiveAgent.APIVersion (file int)", c.LiveAgent.APIVersion, "45"},
		{"LiveAgent.Language (default)", c.LiveAgent.Language, "ja"},
		{"LINE.ChannelToken (file)", c.LINE.ChannelToken, "file-token"},
		{"LINE.HandoverKeywords (file)", c.LINE.HandoverKeywords, []string{"help", "人間"}},
		{"LINE.EndKeywords (default)", c.LINE.EndKeywords, []string{"終了", "end"}},
		{"File", c.File(), path},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
	if len(c.Notes()) == 0 || !strings.Contains(strings.Join(c.Notes(), "\n"), "LIVEAGENT_HOST") {
		t.Errorf("expected a note about LIVEAGENT_HOST, got %q", c.Notes())
	}
}

func TestFileEndpoints(t *testing.T) {
	c := mustLoad(t, map[string]string{"EVENTS_ALLOW_PRIVATE": "1"}, writeFile(t, "c.yaml", sampleFile))
	want := []config.EventEndpoint{
		{
			Name: "crm", URL: "https://crm.example.com/hook", Secret: "whsec_abc", Format: "chatwoot",
			Events:  []string{"chat.ended"},
			Headers: map[string]string{"X-Api-Key": "k1", "Content-Language": "ja"},
			Params:  map[string]string{"shopId": "42", "Mode": "live"},
			Timeout: 3 * time.Second, AllowPrivate: true, Enabled: true,
		},
		{
			Name: "endpoint-2", URL: "https://bi.example.com/hook", Format: "standard",
			Timeout: config.DefaultEventTimeout, AllowPrivate: true, Enabled: false,
		},
	}
	if !reflect.DeepEqual(c.Events.Endpoints, want) {
		t.Fatalf("endpoints:\n got %#v\nwant %#v", c.Events.Endpoints, want)
	}
	all := c.Events.AllEndpoints()
	if len(all) != 1 || all[0].Name != "crm" {
		t.Fatalf("AllEndpoints without EVENTS_WEBHOOK_URL = %v", all)
	}

	c = mustLoad(t, map[string]string{
		"EVENTS_WEBHOOK_URL": "https://gas.example.com/exec", "EVENTS_WEBHOOK_SECRET": "whsec_x",
		"EVENTS_WEBHOOK_EVENTS": "chat.ended, message.agent_sent",
	}, writeFile(t, "c.yaml", sampleFile))
	all = c.Events.AllEndpoints()
	if len(all) != 2 || all[0].Name != config.DefaultEnvEndpointName || all[1].Name != "crm" {
		t.Fatalf("AllEndpoints = %v", all)
	}
	first := all[0]
	if first.URL != "https://gas.example.com/exec" || first.Secret != "whsec_x" || first.Format != "chatwoot" ||
		!reflect.DeepEqual(first.Events, []string{"chat.ended", "message.agent_sent"}) || !first.Enabled ||
		first.Timeout != config.DefaultEventTimeout {
		t.Errorf("env endpoint = %#v", first)
	}
}

func TestBoolForms(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"True", true}, {"true", true}, {"TRUE", true}, {"1", true}, {"yes", true}, {"Yes", true}, {"on", true}, {"t", true},
		{"False", false}, {"false", false}, {"0", false}, {"no", false}, {"off", false}, {"f", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"SSL": tt.in, "DEBUG": tt.in, "EVENTS_ALLOW_PRIVATE": tt.in}, "")
			if c.SSL != tt.want || c.Debug != tt.want || c.Events.AllowPrivate != tt.want {
				t.Errorf("SSL=%q: SSL %v, Debug %v, AllowPrivate %v; want %v", tt.in, c.SSL, c.Debug, c.Events.AllowPrivate, tt.want)
			}
		})
	}
	// The same spellings in the file.
	for _, tt := range []struct {
		in   string
		want bool
	}{{"True", true}, {"yes", true}, {`"1"`, true}, {"1", true}, {"off", false}, {"False", false}} {
		c := mustLoad(t, nil, writeFile(t, "c.yaml", "ssl: "+tt.in+"\n"))
		if c.SSL != tt.want {
			t.Errorf("file ssl: %s gave %v, want %v", tt.in, c.SSL, tt.want)
		}
	}
}

func TestDurationForms(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"25s", 25 * time.Second},
		{"25", 25 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"1m30s", 90 * time.Second},
		{"500ms", 500 * time.Millisecond},
		{" 12 ", 12 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"MESSAGES_WAIT": tt.in, "CHAT_RETENTION": tt.in}, "")
			if c.MessagesWait != tt.want || c.Relay.ChatRetention != tt.want {
				t.Errorf("%q: MessagesWait %v, ChatRetention %v; want %v", tt.in, c.MessagesWait, c.Relay.ChatRetention, tt.want)
			}
			f := mustLoad(t, nil, writeFile(t, "c.yaml", "messages_wait: "+tt.in+"\n"))
			if f.MessagesWait != tt.want {
				t.Errorf("file %q: MessagesWait %v, want %v", tt.in, f.MessagesWait, tt.want)
			}
		})
	}
}

func TestListForms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a,b", []string{"a", "b"}},
		{" a , b ,, c ", []string{"a", "b", "c"}},
		{"a,a", []string{"a"}},
		{",", nil},
	}
	for _, tt := range tests {
		c := mustLoad(t, map[string]string{"LINE_END_KEYWORDS": tt.in}, "")
		if !reflect.DeepEqual(c.LINE.EndKeywords, tt.want) {
			t.Errorf("LINE_END_KEYWORDS=%q: %#v, want %#v", tt.in, c.LINE.EndKeywords, tt.want)
		}
	}
}

func TestDebugSetsLogLevel(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		file string
		want string
	}{
		{"DEBUG=True", map[string]string{"DEBUG": "True"}, "", "debug"},
		{"DEBUG=False", map[string]string{"DEBUG": "False"}, "", "info"},
		{"LOG_LEVEL wins", map[string]string{"DEBUG": "True", "LOG_LEVEL": "ERROR"}, "", "error"},
		{"file log_level wins", map[string]string{"DEBUG": "True"}, "log_level: info\n", "info"},
		{"LOG_LEVEL=warning", map[string]string{"LOG_LEVEL": "warning"}, "", "warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, "c.yaml", tt.file)
			}
			if got := mustLoad(t, tt.env, path).LogLevel; got != tt.want {
				t.Errorf("LogLevel = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Run("all bad env values at once", func(t *testing.T) {
		_, err := config.Load(env(map[string]string{
			"PORT": "eighty", "MESSAGES_WAIT": "soon", "SSL": "maybe", "RATE_LIMIT_RPS": "fast", "LINE_HISTORY_LINES": "1.5",
		}), "")
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{
			`PORT must be a whole number such as 8080 (got "eighty")`,
			`MESSAGES_WAIT must be a duration such as 25s, or a number of seconds (got "soon")`,
			`SSL must be true or false`,
			`RATE_LIMIT_RPS must be a number such as 20 (got "fast")`,
			`LINE_HISTORY_LINES must be a whole number`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	})
	t.Run("named file missing", func(t *testing.T) {
		_, err := config.Load(nil, filepath.Join(t.TempDir(), "nope.yaml"))
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("CONFIG_FILE missing", func(t *testing.T) {
		_, err := config.Load(env(map[string]string{"CONFIG_FILE": "/nonexistent/bridge.yaml"}), "")
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/bridge.yaml") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown key in file", func(t *testing.T) {
		_, err := config.Load(nil, writeFile(t, "c.yaml", "messages_wiat: 20s\n"))
		if err == nil || !strings.Contains(err.Error(), "messages_wiat") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("demo is not a file key", func(t *testing.T) {
		if _, err := config.Load(nil, writeFile(t, "c.yaml", "demo: true\n")); err == nil {
			t.Fatal("demo accepted from the file")
		}
	})
	t.Run("bad yaml", func(t *testing.T) {
		if _, err := config.Load(nil, writeFile(t, "c.yaml", "port: [\n")); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("bad duration in file", func(t *testing.T) {
		_, err := config.Load(nil, writeFile(t, "c.yaml", "relay:\n  lease_ttl: soon\n"))
		if err == nil || !strings.Contains(err.Error(), "lease_ttl") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestConfigFileEnv(t *testing.T) {
	path := writeFile(t, "named.yaml", "port: 7000\n")
	if c := mustLoad(t, map[string]string{"CONFIG_FILE": path}, ""); c.Port != 7000 || c.File() != path {
		t.Errorf("CONFIG_FILE: port %d, file %q", c.Port, c.File())
	}
	// An explicit argument beats CONFIG_FILE.
	other := writeFile(t, "other.yaml", "port: 7001\n")
	if c := mustLoad(t, map[string]string{"CONFIG_FILE": path}, other); c.Port != 7001 {
		t.Errorf("argument: port %d", c.Port)
	}
}

func TestSearchPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if c := mustLoad(t, nil, ""); c.File() != "" {
		t.Fatalf("no file present, but read %q", c.File())
	}
	if err := os.WriteFile("config.yaml", []byte("port: 7100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := mustLoad(t, nil, ""); c.Port != 7100 || c.File() != "config.yaml" {
		t.Fatalf("config.yaml: port %d file %q", c.Port, c.File())
	}
	if err := os.Mkdir("configs", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("configs", "config.yaml"), []byte("port: 7200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := mustLoad(t, map[string]string{"PORT": "7300"}, ""); c.Port != 7300 || c.File() != filepath.Join("configs", "config.yaml") {
		t.Fatalf("configs/config.yaml + env: port %d file %q", c.Port, c.File())
	}
	if c := mustLoad(t, nil, ""); c.Port != 7200 {
		t.Fatalf("configs/config.yaml first: port %d", c.Port)
	}
}

func TestHelpers(t *testing.T) {
	c := mustLoad(t, map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7, ::1, bogus", "BODY_LIMIT": "1Mi"}, "")
	var got []string
	for _, p := range c.TrustedProxyPrefixes() {
		got = append(got, p.String())
	}
	if want := []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TrustedProxyPrefixes = %v, want %v", got, want)
	}
	if n := c.BodyLimitBytes(); n != 1<<20 {
		t.Errorf("BodyLimitBytes = %d", n)
	}

	hosts := []struct {
		host, req string
		ok        bool
	}{
		{"", "anything:80", true},
		{"*", "anything", true},
		{"my-bridge.herokuapp.com", "my-bridge.herokuapp.com", true},
		{"my-bridge.herokuapp.com", "My-Bridge.herokuapp.com:443", true},
		{"my-bridge.herokuapp.com", "evil.example.com", false},
		{".example.com", "a.example.com", true},
		{".example.com", "example.com", true},
		{".example.com", "badexample.com", false},
		{"::1", "[::1]:8080", true},
	}
	for _, h := range hosts {
		cfg := config.Config{Host: h.host}
		if got := cfg.HostAllowed(h.req); got != h.ok {
			t.Errorf("HOST=%q, Host %q: allowed %v, want %v", h.host, h.req, got, h.ok)
		}
	}
}

func TestEnvVars(t *testing.T) {
	vars := config.EnvVars()
	byName := map[string]config.EnvVar{}
	for _, v := range vars {
		byName[v.Name] = v
	}
	for name, want := range map[string]config.EnvVar{
		"PORT":                  {Name: "PORT", Key: "port", Default: "8080"},
		"REDIS_TLS_URL":         {Name: "REDIS_TLS_URL", Key: "redis_url", Alias: true, Secret: true, Default: ""},
		"LIVEAGENT_API_VERSION": {Name: "LIVEAGENT_API_VERSION", Key: "liveagent.api_version", Alias: true, Default: "49"},
		"LINE_CHANNEL_TOKEN":    {Name: "LINE_CHANNEL_TOKEN", Key: "line.channel_token", Secret: true, Default: ""},
		"CHAT_RETENTION":        {Name: "CHAT_RETENTION", Key: "relay.chat_retention", Default: "168h"},
		"LINE_END_KEYWORDS":     {Name: "LINE_END_KEYWORDS", Key: "line.end_keywords", Default: "終了,end"},
	} {
		if got := byName[name]; got != want {
			t.Errorf("EnvVars()[%s] = %+v, want %+v", name, got, want)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	for in, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "warning": "WARN", "error": "ERROR", "bogus": "INFO"} {
		c := mustLoad(t, map[string]string{"LOG_LEVEL": in}, "")
		if got := c.SlogLevel().String(); got != want {
			t.Errorf("LOG_LEVEL=%s: %s, want %s", in, got, want)
		}
	}
}
