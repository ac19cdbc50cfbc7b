package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/config"
)

// valid returns a complete, valid Live Agent configuration.
func valid() config.Config {
	c := config.Default()
	c.LiveAgent.Host = "https://d.la4-c1-ia4.salesforceliveagent.com"
	c.LiveAgent.OrganizationID = "00D5g000004XXXX"
	c.LiveAgent.DeploymentID = "5725g000000XXXX"
	c.LiveAgent.ButtonID = "5735g000000XXXX"
	c.RedisURL = "rediss://:pw@redis.example.com:6380"
	c.APIKey = "k"
	return c
}

func TestValidateValid(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("valid config has warnings: %q", w)
	}
	demo := config.Default()
	demo.Demo = true
	if err := demo.Validate(); err != nil {
		t.Fatalf("demo with defaults: %v", err)
	}
	miaw := config.Default()
	miaw.Desk = "MIAW"
	miaw.MIAW = config.MIAW{URL: "https://x.my.salesforce-scrt.com/", OrgID: "00D5g000004XXXX", DeploymentName: "LINE_Bridge", CapabilitiesVersion: "248"}
	if err := miaw.Validate(); err != nil {
		t.Fatalf("miaw: %v", err)
	}
	if miaw.Desk != config.DeskMIAW || miaw.MIAW.URL != "https://x.my.salesforce-scrt.com" {
		t.Errorf("not normalised: desk %q url %q", miaw.Desk, miaw.MIAW.URL)
	}
}

// TestValidateMessages checks every message Validate can give: each names the variable
// and says what to do.
func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		want   string
	}{
		{"port zero", func(c *config.Config) { c.Port = 0 }, "PORT must be between 1 and 65535 (got 0)"},
		{"port high", func(c *config.Config) { c.Port = 70000 }, "PORT must be between 1 and 65535 (got 70000)"},
		{"redis scheme", func(c *config.Config) { c.RedisURL = "http://:hunter2@x:1" }, `REDIS_URL must be a redis://, rediss:// or unix:// URL such as rediss://:password@host:port (got "http://:xxxxx@x:1")`},
		{"desk", func(c *config.Config) { c.Desk = "zendesk" }, `DESK must be "liveagent" or "miaw" (got "zendesk")`},
		{"host missing", func(c *config.Config) { c.LiveAgent.Host = "" }, "LIVEAGENT_HOST is required when DESK=liveagent (Setup → Chat Settings → Chat API Endpoint, e.g. https://d.la4-c1-ia4.salesforceliveagent.com)"},
		{"org missing", func(c *config.Config) { c.LiveAgent.OrganizationID = "" }, "LIVEAGENT_ORGANIZATION_ID is required when DESK=liveagent (the org id, 00D…"},
		{"deployment missing", func(c *config.Config) { c.LiveAgent.DeploymentID = "" }, "LIVEAGENT_DEPLOYMENT_ID is required when DESK=liveagent (the deployment id, 572…"},
		{"button missing", func(c *config.Config) { c.LiveAgent.ButtonID = "" }, "LIVEAGENT_BUTTON_ID is required when DESK=liveagent (the chat button id, 573…"},
		{"host scheme", func(c *config.Config) { c.LiveAgent.Host = "ftp://d.la.example.com" }, `LIVEAGENT_HOST must be an http:// or https:// URL such as https://d.la4-c1-ia4.salesforceliveagent.com (got "ftp://d.la.example.com")`},
		{"api version", func(c *config.Config) { c.LiveAgent.APIVersion = "v49" }, `API_VERSION must be a Chat REST API version number such as 49 (got "v49")`},
		{"request timeout", func(c *config.Config) { c.LiveAgent.RequestTimeout = 0 }, "LIVEAGENT_REQUEST_TIMEOUT must be more than 0, e.g. 10s (got 0s)"},
		{"line api url", func(c *config.Config) { c.LINE.APIBaseURL = "api.line.me" }, `LINE_API_BASE_URL must be an http:// or https:// URL such as https://api.line.me (got "api.line.me")`},
		{"line data url", func(c *config.Config) { c.LINE.DataAPIBaseURL = "" }, `LINE_DATA_API_BASE_URL must be an http:// or https:// URL such as https://api-data.line.me (got "")`},
		{"forward url", func(c *config.Config) { c.LINE.ForwardURL = "bot.example.com/callback" }, `LINE_FORWARD_URL must be an http:// or https:// URL such as https://my-bot.example.com/callback (got "bot.example.com/callback")`},
		{"keyword overlap", func(c *config.Config) { c.LINE.EndKeywords = []string{"operator"} }, `LINE_HANDOVER_KEYWORDS and LINE_END_KEYWORDS must not share a keyword (both have "operator")`},
		{"postbacks equal", func(c *config.Config) { c.LINE.EndPostback = c.LINE.HandoverPostback }, `LINE_HANDOVER_POSTBACK and LINE_END_POSTBACK must differ (both are "action=handover")`},
		{"notice language", func(c *config.Config) { c.LINE.NoticeLanguage = "fr" }, `NOTICE_LANGUAGE must be ja or en (got "fr")`},
		{"history lines", func(c *config.Config) { c.LINE.HistoryLines = -1 }, "LINE_HISTORY_LINES must be 0 (send no history) or more (got -1)"},
		{"messages wait high", func(c *config.Config) { c.MessagesWait = 30 * time.Second }, "MESSAGES_WAIT must be more than 0 and at most 29s, so /messages answers before Heroku's 30 s router timeout (got 30s)"},
		{"messages wait zero", func(c *config.Config) { c.MessagesWait = 0 }, "MESSAGES_WAIT must be more than 0 and at most 29s"},
		{"init wait", func(c *config.Config) { c.InitWait = time.Minute }, "INIT_WAIT must be more than 0 and at most 29s, so /init answers before Heroku's 30 s router timeout (got 1m0s)"},
		{"events url", func(c *config.Config) { c.Events.WebhookURL = "https://u:s3cr3t@[bad" }, `EVENTS_WEBHOOK_URL must be an http:// or https:// URL such as https://crm.example.com/hooks/line-bridge (got a value that does not parse as a URL)`},
		{"events format", func(c *config.Config) { c.Events.WebhookFormat = "slack" }, `EVENTS_WEBHOOK_FORMAT must be one of standard, livechat_v2, chatwoot, chatdealer (got "slack")`},
		{"events list", func(c *config.Config) { c.Events.WebhookEvents = []string{"chat ended"} }, `EVENTS_WEBHOOK_EVENTS must list event types separated by commas, such as chat.ended,message.agent_sent ("chat ended" is not one)`},
		{"endpoint url missing", func(c *config.Config) {
			c.Events.Endpoints = []config.EventEndpoint{{Name: "crm", Format: "standard", Timeout: time.Second, Enabled: true}}
		}, "events.endpoints[0] (crm) in the config file: url is required"},
		{"endpoint url bad", func(c *config.Config) {
			c.Events.Endpoints = []config.EventEndpoint{{Name: "crm", URL: "mailto:x@example.com", Format: "standard", Timeout: time.Second}}
		}, `events.endpoints[0] (crm) in the config file: url must be an http:// or https:// URL`},
		{"endpoint format", func(c *config.Config) {
			c.Events.Endpoints = []config.EventEndpoint{{Name: "crm", URL: "https://x.example.com", Format: "xml", Timeout: time.Second}}
		}, `events.endpoints[0] (crm) in the config file: format must be one of standard, livechat_v2, chatwoot, chatdealer (got "xml")`},
		{"endpoint events", func(c *config.Config) {
			c.Events.Endpoints = []config.EventEndpoint{{Name: "crm", URL: "https://x.example.com", Format: "standard", Timeout: time.Second, Events: []string{"a b"}}}
		}, `events.endpoints[0] (crm) in the config file: events must be event types such as chat.ended ("a b" is not one)`},
		{"endpoint timeout", func(c *config.Config) {
			c.Events.Endpoints = []config.EventEndpoint{{Name: "crm", URL: "https://x.example.com", Format: "standard"}}
		}, "events.endpoints[0] (crm) in the config file: timeout must be more than 0, e.g. 10s (got 0s)"},
		{"endpoint names", func(c *config.Config) {
			ep := config.EventEndpoint{Name: "crm", URL: "https://x.example.com", Format: "standard", Timeout: time.Second}
			c.Events.Endpoints = []config.EventEndpoint{ep, ep}
		}, `events.endpoints[1] (crm) in the config file: name must be unique ("crm" is used twice; "default" is taken by EVENTS_WEBHOOK_URL)`},
		{"lease ttl", func(c *config.Config) { c.Relay.LeaseTTL = 45 * time.Second }, "LEASE_TTL must be more than 0 and at most 30s, so another instance takes over a chat whose poller died before Live Agent's 40 s clientPollTimeout ends it (got 45s)"},
		{"lease scan", func(c *config.Config) { c.Relay.LeaseScanInterval = c.Relay.LeaseTTL }, "LEASE_SCAN_INTERVAL must be more than 0 and less than LEASE_TTL (10s), or expired leases are found too late (got 10s)"},
		{"retention", func(c *config.Config) { c.Relay.ChatRetention = 0 }, "CHAT_RETENTION must be more than 0, e.g. 168h to keep a finished chat's log for a week (got 0s)"},
		{"rps", func(c *config.Config) { c.RateLimit.RPS = -1 }, "RATE_LIMIT_RPS must be 0 (off) or more, in requests per second per client IP (got -1)"},
		{"burst", func(c *config.Config) { c.RateLimit.Burst = 0 }, "RATE_LIMIT_BURST must be at least 1 while RATE_LIMIT_RPS is more than 0, e.g. 40 (got 0)"},
		{"body limit", func(c *config.Config) { c.BodyLimit = "lots" }, `BODY_LIMIT must be a size such as 64K, 1M or 512KiB (got "lots")`},
		{"body limit zero", func(c *config.Config) { c.BodyLimit = "0" }, `BODY_LIMIT must be a size such as 64K, 1M or 512KiB (got "0")`},
		{"trusted proxies", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, `TRUSTED_PROXIES must list CIDRs or addresses separated by commas, such as 10.0.0.0/8,192.168.1.1 ("10.0.0.0/33" is neither)`},
		{"host", func(c *config.Config) { c.Host = "https://my-bridge.herokuapp.com/" }, `HOST must be one host name such as my-bridge.herokuapp.com, or * for any (got "https://my-bridge.herokuapp.com/")`},
		{"log level", func(c *config.Config) { c.LogLevel = "verbose" }, `LOG_LEVEL must be debug, info, warn or error (got "verbose")`},
		{"log format", func(c *config.Config) { c.LogFormat = "logfmt" }, `LOG_FORMAT must be json or text (got "logfmt")`},
		{"shutdown", func(c *config.Config) { c.ShutdownTimeout = -time.Second }, "SHUTDOWN_TIMEOUT must be more than 0, e.g. 25s (got -1s)"},
		{"miaw url missing", func(c *config.Config) { c.Desk = config.DeskMIAW }, "MIAW_URL is required when DESK=miaw (the SCRT2 URL of the Custom Client deployment's code snippet, e.g. https://MyDomain.my.salesforce-scrt.com)"},
		{"miaw org missing", func(c *config.Config) { c.Desk = config.DeskMIAW }, "MIAW_ORG_ID is required when DESK=miaw (the org id, 00D…: Setup → Company Information)"},
		{"miaw deployment missing", func(c *config.Config) { c.Desk = config.DeskMIAW }, "MIAW_DEPLOYMENT_NAME is required when DESK=miaw (the API name of the Custom Client Embedded Service deployment: Setup → Embedded Service Deployments)"},
		{"miaw url bad", func(c *config.Config) { c.Desk = config.DeskMIAW; c.MIAW.URL = "x.salesforce-scrt.com" }, `MIAW_URL must be an http:// or https:// URL such as https://MyDomain.my.salesforce-scrt.com (got "x.salesforce-scrt.com")`},
		{"miaw capabilities", func(c *config.Config) { c.Desk = config.DeskMIAW; c.MIAW.CapabilitiesVersion = "" }, "MIAW_CAPABILITIES_VERSION must not be empty when DESK=miaw (default 248)"},
		{"miaw key", func(c *config.Config) { c.Desk = config.DeskMIAW; c.MIAW.PrivateKey = "not pem"; c.MIAW.Issuer = "x" }, `MIAW_PRIVATE_KEY must be a PEM private key (-----BEGIN PRIVATE KEY----- …; write line breaks as \n if your platform keeps one line)`},
		{"miaw issuer", func(c *config.Config) { c.Desk = config.DeskMIAW; c.MIAW.PrivateKey = testPEM }, "MIAW_ISSUER is required when MIAW_PRIVATE_KEY is set (the issuer registered in the channel's User Verification settings)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

const testPEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----"

func TestValidateReportsEverythingAtOnce(t *testing.T) {
	c := config.Default() // no LIVEAGENT_* at all
	c.Port = 0
	c.MessagesWait = time.Hour
	c.LogFormat = "xml"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("not an errors.Join: %T", err)
	}
	if n := len(joined.Unwrap()); n != 7 {
		t.Fatalf("%d problems, want 7 (4 LIVEAGENT_*, PORT, MESSAGES_WAIT, LOG_FORMAT):\n%v", n, err)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.HasSuffix(line, ".") || line == "" {
			t.Errorf("message %q: want a sentence without a final period", line)
		}
	}
}

func TestValidateDemo(t *testing.T) {
	c := config.Default()
	c.Demo = true
	if err := c.Validate(); err != nil {
		t.Fatalf("demo needs no LIVEAGENT_*: %v", err)
	}
	c.LiveAgent.Host = "not a url"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "LIVEAGENT_HOST must be") {
		t.Fatalf("a bad LIVEAGENT_HOST is still reported in demo mode: %v", err)
	}
}

func TestLiveAgentHostNormalised(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://d.la4-c1-ia4.salesforceliveagent.com", "https://d.la4-c1-ia4.salesforceliveagent.com"},
		{"https://d.la4-c1-ia4.salesforceliveagent.com/", "https://d.la4-c1-ia4.salesforceliveagent.com"},
		{"https://d.la4-c1-ia4.salesforceliveagent.com/chat", "https://d.la4-c1-ia4.salesforceliveagent.com"},
		{"https://d.la4-c1-ia4.salesforceliveagent.com/chat/", "https://d.la4-c1-ia4.salesforceliveagent.com"},
		{"https://d.la4-c1-ia4.salesforceliveagent.com/chat/rest", "https://d.la4-c1-ia4.salesforceliveagent.com"},
		{"https://d.la4-c1-ia4.salesforceliveagent.com/chat/rest/", "https://d.la4-c1-ia4.salesforceliveagent.com"},
		{"d.la4-c1-ia4.salesforceliveagent.com", "https://d.la4-c1-ia4.salesforceliveagent.com"},
		{" http://127.0.0.1:8081/ ", "http://127.0.0.1:8081"},
	}
	for _, tt := range tests {
		c := mustLoad(t, map[string]string{"LIVEAGENT_HOST": tt.in}, "")
		if c.LiveAgent.Host != tt.want {
			t.Errorf("LIVEAGENT_HOST=%q → %q, want %q", tt.in, c.LiveAgent.Host, tt.want)
		}
		changed := strings.TrimSpace(tt.in) != tt.want
		noted := strings.Contains(strings.Join(c.Notes(), "\n"), "LIVEAGENT_HOST: using "+tt.want)
		if changed != noted {
			t.Errorf("LIVEAGENT_HOST=%q: notes %q (changed=%v)", tt.in, c.Notes(), changed)
		}
		// Validate normalises hand-built configs the same way.
		v := valid()
		v.LiveAgent.Host = tt.in
		if err := v.Validate(); err != nil || v.LiveAgent.Host != tt.want {
			t.Errorf("Validate with host %q: %v, host %q", tt.in, err, v.LiveAgent.Host)
		}
	}
}

func TestMIAWPrivateKeyEscapedNewlines(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"DESK": "miaw", "MIAW_URL": "https://x.my.salesforce-scrt.com", "MIAW_ORG_ID": "00D5g000004XXXX",
		"MIAW_DEPLOYMENT_NAME": "LINE_Bridge", "MIAW_ISSUER": "bridge",
		"MIAW_PRIVATE_KEY": strings.ReplaceAll(testPEM, "\n", `\n`),
	}, "")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MIAW.PrivateKey != testPEM {
		t.Errorf("private key not unescaped: %q", c.MIAW.PrivateKey)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		want   string // "" = no warning
	}{
		{"none", func(c *config.Config) {}, ""},
		{"no redis", func(c *config.Config) { c.RedisURL = "" }, "REDIS_URL is not set: using the embedded in-process store, so chats are lost on restart and only one instance may run"},
		{"no redis in demo", func(c *config.Config) { c.RedisURL = ""; c.Demo = true }, ""},
		{"no api key", func(c *config.Config) { c.APIKey = "" }, "BRIDGE_API_KEY is not set: /init, /send, /messages and /close are open"},
		{"token without secret", func(c *config.Config) { c.LINE.ChannelToken = "t" }, "LINE_CHANNEL_TOKEN is set without LINE_CHANNEL_SECRET"},
		{"secret without token", func(c *config.Config) { c.LINE.ChannelSecret = "s" }, "LINE_CHANNEL_SECRET is set without LINE_CHANNEL_TOKEN"},
		{"both LINE", func(c *config.Config) { c.LINE.ChannelSecret = "s"; c.LINE.ChannelToken = "t" }, ""},
		{"forward without secret", func(c *config.Config) { c.LINE.ForwardURL = "https://bot.example.com" }, "LINE_FORWARD_URL is set without LINE_CHANNEL_SECRET"},
		{"events unsigned", func(c *config.Config) { c.Events.WebhookURL = "https://x.example.com" }, "EVENTS_WEBHOOK_URL is set without EVENTS_WEBHOOK_SECRET"},
		{"events secret alone", func(c *config.Config) { c.Events.WebhookSecret = "whsec_x" }, "EVENTS_WEBHOOK_SECRET is set without EVENTS_WEBHOOK_URL"},
		{"endpoint unsigned", func(c *config.Config) {
			c.Events.Endpoints = []config.EventEndpoint{{Name: "crm", URL: "https://x.example.com", Enabled: true}}
		}, `event endpoint "crm" has no secret`},
		{"rate limit off", func(c *config.Config) { c.RateLimit.RPS = 0 }, "RATE_LIMIT_RPS is 0: requests are not rate limited"},
		{"shutdown long", func(c *config.Config) { c.ShutdownTimeout = 40 * time.Second }, "SHUTDOWN_TIMEOUT is 40s: Heroku kills the process 30 s after SIGTERM"},
		{"org id shape", func(c *config.Config) { c.LiveAgent.OrganizationID = "12345" }, `LIVEAGENT_ORGANIZATION_ID="12345" does not look like an org id (15 or 18 characters starting with 00D)`},
		{"deployment id shape", func(c *config.Config) { c.LiveAgent.DeploymentID = "5735g000000XXXX" }, "LIVEAGENT_DEPLOYMENT_ID=\"5735g000000XXXX\" does not look like a chat deployment id"},
		{"button id shape", func(c *config.Config) { c.LiveAgent.ButtonID = "5725g000000XXXX" }, "LIVEAGENT_BUTTON_ID=\"5725g000000XXXX\" does not look like a chat button id"},
		{"18-char ids are fine", func(c *config.Config) { c.LiveAgent.OrganizationID = "00D5g000004XXXXAAA" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			w := c.Warnings()
			if tt.want == "" {
				if len(w) != 0 {
					t.Fatalf("unexpected warnings %q", w)
				}
				return
			}
			if len(w) != 1 || !strings.Contains(w[0], tt.want) {
				t.Fatalf("warnings %q, want one containing %q", w, tt.want)
			}
		})
	}
}
