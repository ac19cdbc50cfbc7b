// Package config loads the bridge's settings: defaults, then an optional YAML file, then
// environment variables (Heroku style), into one typed [Config].
//
// It is the only package of the module that imports viper. Every setting has a default and
// is bound by hand to its exact environment variable name(s), read through the getenv
// function given to [Load] (never os.Getenv), so env-only settings always reach the struct
// and tests can pass a map. The names are the configuration contract of design.md §3; the
// full list is [EnvVars], documented in configs/config.example.yaml and app.json.
//
// [Load] reports values that cannot be parsed; [Config.Validate] reports every setting that
// is missing or out of range, at once, naming the environment variable to fix.
// [Config.String], [Config.LogValue] and [Config.Redacted] never show a secret.
package config

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Values of [Config.Desk].
const (
	DeskLiveAgent = "liveagent" // legacy Chat (Live Agent) Chat REST API
	DeskMIAW      = "miaw"      // Enhanced Chat (Messaging for In-App and Web)
)

// Values of [Events.WebhookFormat] and [EventEndpoint.Format].
const (
	EventFormatStandard   = "standard" // Standard Webhooks envelope
	EventFormatLiveChatV2 = "livechat_v2"
	EventFormatChatwoot   = "chatwoot"
	EventFormatChatDealer = "chatdealer"
)

// Limits that come from the platforms around the bridge.
const (
	// MaxWait is the longest MESSAGES_WAIT or INIT_WAIT: the Heroku router answers H12 after
	// 30 s, so a long-polling request must be answered before then.
	MaxWait = 29 * time.Second
	// MaxLeaseTTL is the longest LEASE_TTL: a chat whose poller died must be taken over
	// well within Live Agent's clientPollTimeout (40 s), or Salesforce ends it.
	MaxLeaseTTL = 30 * time.Second
	// DefaultEventTimeout is the delivery timeout of an event endpoint that sets none.
	DefaultEventTimeout = 10 * time.Second
	// DefaultEnvEndpointName names the event endpoint configured by EVENTS_WEBHOOK_URL.
	DefaultEnvEndpointName = "default"
)

// Config is the bridge's whole configuration. Load it with [Load], then set Demo from the
// command line, then call [Config.Validate].
//
// The mapstructure tags are the keys of the YAML file (configs/config.example.yaml).
type Config struct {
	// Port is the listen port (PORT, default 8080).
	Port int `mapstructure:"port"`
	// RedisURL is the Redis URL (REDIS_URL, fallback REDIS_TLS_URL). Empty means the
	// embedded in-process store: one instance only, state lost on restart.
	RedisURL string `mapstructure:"redis_url"`
	// RedisKeyPrefix starts every key the bridge writes (REDIS_KEY_PREFIX, default "br:"), so
	// several bridges (or tests) can share one Redis.
	RedisKeyPrefix string `mapstructure:"redis_key_prefix"`
	// Desk selects the agent side: [DeskLiveAgent] (default) or [DeskMIAW] (DESK).
	Desk string `mapstructure:"desk"`
	// LiveAgent configures the legacy Chat REST API (LIVEAGENT_*).
	LiveAgent LiveAgent `mapstructure:"liveagent"`
	// APIKey, if set, is required as "Authorization: Bearer <key>" or "X-API-Key" on
	// /init, /send, /messages and /close (BRIDGE_API_KEY, secret).
	APIKey string `mapstructure:"api_key"`
	// AdminAPIKey guards the admin endpoints (ADMIN_API_KEY, secret).
	AdminAPIKey string `mapstructure:"admin_api_key"`
	// LINE configures the LINE channel (LINE_*, NOTICE_LANGUAGE).
	LINE LINE `mapstructure:"line"`
	// MessagesWait is how long /messages waits for an event before answering null
	// (MESSAGES_WAIT, default 25s, at most [MaxWait]).
	MessagesWait time.Duration `mapstructure:"messages_wait"`
	// InitWait is how long /init waits for the first decisive event (INIT_WAIT, default
	// 10s, at most [MaxWait]).
	InitWait time.Duration `mapstructure:"init_wait"`
	// Events configures outbound event webhooks (EVENTS_*, more endpoints in the file).
	Events Events `mapstructure:"events"`
	// Relay tunes the per-chat poller leases and retention.
	Relay Relay `mapstructure:"relay"`
	// RateLimit limits requests per client IP.
	RateLimit RateLimit `mapstructure:"rate_limit"`
	// BodyLimit is the largest request body, in Echo's syntax: "64K", "1M", "512"
	// (BODY_LIMIT, default "64K"). See [Config.BodyLimitBytes].
	BodyLimit string `mapstructure:"body_limit"`
	// TrustedProxies lists the CIDRs (or addresses) whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES, comma list). Empty means private, loopback and link-local peers,
	// which covers the Heroku router. See [Config.TrustedProxyPrefixes].
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// SSL redirects http to https behind X-Forwarded-Proto (SSL, seed compatible: "True").
	SSL bool `mapstructure:"ssl"`
	// Debug is accepted for seed compatibility (DEBUG=True); it sets LogLevel to "debug"
	// unless LOG_LEVEL is set.
	Debug bool `mapstructure:"debug"`
	// SecretKey is accepted for seed compatibility and unused (SECRET_KEY, secret).
	SecretKey string `mapstructure:"secret_key"`
	// Host, if set and not "*", is the only Host header accepted; others get 400 (HOST,
	// the seed's ALLOWED_HOSTS).
	Host string `mapstructure:"host"`
	// LogLevel is the slog level: debug, info, warn or error (LOG_LEVEL, default info).
	LogLevel string `mapstructure:"log_level"`
	// LogFormat is json or text (LOG_FORMAT, default json).
	LogFormat string `mapstructure:"log_format"`
	// ShutdownTimeout bounds the drain after SIGTERM (SHUTDOWN_TIMEOUT, default 25s;
	// Heroku kills 30 s after SIGTERM).
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// Demo runs everything in one process (embedded store and simulator). It is never read
	// from the environment or the file: the --demo flag sets it.
	Demo bool `mapstructure:"-"`
	// MIAW configures Enhanced Chat; validated only when Desk is [DeskMIAW].
	MIAW MIAW `mapstructure:"miaw"`

	file     string   // the config file read, if any
	notes    []string // informational messages from loading and normalising
	warnings []string // warnings found while loading (conflicting aliases)
}

// LiveAgent configures the legacy Chat (Live Agent) Chat REST API, as in the seed.
type LiveAgent struct {
	// Host is the Chat API endpoint, e.g. "https://d.la4-c1-ia4.salesforceliveagent.com"
	// (LIVEAGENT_HOST). A trailing slash, "/chat" or "/chat/rest" is removed on load.
	Host string `mapstructure:"host"`
	// OrganizationID is the org id, 00D… (LIVEAGENT_ORGANIZATION_ID).
	OrganizationID string `mapstructure:"organization_id"`
	// DeploymentID is the chat deployment id, 572… (LIVEAGENT_DEPLOYMENT_ID).
	DeploymentID string `mapstructure:"deployment_id"`
	// ButtonID is the chat button id, 573… (LIVEAGENT_BUTTON_ID).
	ButtonID string `mapstructure:"button_id"`
	// APIVersion is sent as X-LIVEAGENT-API-VERSION (API_VERSION, alias
	// LIVEAGENT_API_VERSION, default "49").
	APIVersion string `mapstructure:"api_version"`
	// UserAgent is ChasitorInit's userAgent (USER_AGENT, default "Mozilla/5.0").
	UserAgent string `mapstructure:"user_agent"`
	// Language is ChasitorInit's language (LIVEAGENT_LANGUAGE, default "ja").
	Language string `mapstructure:"language"`
	// RequestTimeout bounds every Chat REST call but the long poll
	// (LIVEAGENT_REQUEST_TIMEOUT, default 10s).
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// PrechatLabel is the label of the prechatDetails entry carrying the LINE user id
	// (LIVEAGENT_PRECHAT_LABEL, default "ContactLineId").
	PrechatLabel string `mapstructure:"prechat_label"`
}

// LINE configures the LINE channel.
type LINE struct {
	// ChannelSecret enables POST /line/webhook, signature checked (LINE_CHANNEL_SECRET,
	// secret). Empty: the route answers 404.
	ChannelSecret string `mapstructure:"channel_secret"`
	// ChannelToken enables pushing agent replies to LINE (LINE_CHANNEL_TOKEN, secret).
	// Empty: pull mode only (/messages).
	ChannelToken string `mapstructure:"channel_token"`
	// APIBaseURL is the Messaging API (LINE_API_BASE_URL, default https://api.line.me).
	APIBaseURL string `mapstructure:"api_base_url"`
	// DataAPIBaseURL is the content API (LINE_DATA_API_BASE_URL, default
	// https://api-data.line.me).
	DataAPIBaseURL string `mapstructure:"data_api_base_url"`
	// ForwardURL receives, re-signed, every webhook event the bridge does not consume, so
	// the bot behind it keeps working (LINE_FORWARD_URL). Empty: not forwarded.
	ForwardURL string `mapstructure:"forward_url"`
	// HandoverKeywords start a chat with an agent (LINE_HANDOVER_KEYWORDS, comma list).
	HandoverKeywords []string `mapstructure:"handover_keywords"`
	// EndKeywords end the chat (LINE_END_KEYWORDS, comma list).
	EndKeywords []string `mapstructure:"end_keywords"`
	// HandoverPostback is the postback data that starts a chat (LINE_HANDOVER_POSTBACK).
	HandoverPostback string `mapstructure:"handover_postback"`
	// EndPostback is the postback data that ends the chat (LINE_END_POSTBACK).
	EndPostback string `mapstructure:"end_postback"`
	// NoticeLanguage selects the notice texts sent to the user: ja or en (NOTICE_LANGUAGE).
	NoticeLanguage string `mapstructure:"notice_language"`
	// HistoryLines is how many recent lines of the LINE conversation are sent to the agent
	// when a chat starts; 0 sends none (LINE_HISTORY_LINES, default 20).
	HistoryLines int `mapstructure:"history_lines"`
}

// Events configures outbound event webhooks: one endpoint from the environment, more from
// the file. Use [Events.AllEndpoints] to get them all.
type Events struct {
	// WebhookURL is the endpoint configured by the environment (EVENTS_WEBHOOK_URL).
	WebhookURL string `mapstructure:"webhook_url"`
	// WebhookSecret signs its deliveries (EVENTS_WEBHOOK_SECRET, secret).
	WebhookSecret string `mapstructure:"webhook_secret"`
	// WebhookFormat is the payload format (EVENTS_WEBHOOK_FORMAT, default "standard"); it
	// is also the format of file endpoints that set none.
	WebhookFormat string `mapstructure:"webhook_format"`
	// WebhookEvents lists the event types sent; empty sends all (EVENTS_WEBHOOK_EVENTS).
	WebhookEvents []string `mapstructure:"webhook_events"`
	// AllowPrivate allows endpoints on private, loopback and link-local addresses
	// (EVENTS_ALLOW_PRIVATE, default false); it applies to every endpoint.
	AllowPrivate bool `mapstructure:"allow_private"`
	// Endpoints come from the config file only. Load fills in each one's defaults: name
	// "endpoint-N", format WebhookFormat, timeout [DefaultEventTimeout], enabled true.
	Endpoints []EventEndpoint `mapstructure:"endpoints"`
}

// EventEndpoint is one outbound event webhook.
type EventEndpoint struct {
	Name             string            `mapstructure:"name"`
	URL              string            `mapstructure:"url"`
	Secret           string            `mapstructure:"secret"` // secret
	Format           string            `mapstructure:"format"`
	Events           []string          `mapstructure:"events"`            // empty: all
	Headers          map[string]string `mapstructure:"headers"`           // values masked in logs
	Params           map[string]string `mapstructure:"params"`            // fixed payload parameters, key case kept
	ExcludeCustomers []string          `mapstructure:"exclude_customers"` // LINE user ids never reported
	Timeout          time.Duration     `mapstructure:"timeout"`
	AllowPrivate     bool              `mapstructure:"allow_private"`
	Enabled          bool              `mapstructure:"enabled"`
}

// Relay tunes the per-chat pollers.
type Relay struct {
	// LeaseTTL is how long a poller's lease on a chat lasts without renewal (LEASE_TTL,
	// default 10s, at most [MaxLeaseTTL]).
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// LeaseScanInterval is how often an instance looks for chats without a live poller
	// (LEASE_SCAN_INTERVAL, default 1s, less than LeaseTTL).
	LeaseScanInterval time.Duration `mapstructure:"lease_scan_interval"`
	// ChatRetention is how long a finished chat's log is kept (CHAT_RETENTION, default 168h).
	ChatRetention time.Duration `mapstructure:"chat_retention"`
}

// RateLimit limits requests per client IP; RPS 0 disables it.
type RateLimit struct {
	RPS   float64 `mapstructure:"rps"`   // RATE_LIMIT_RPS, default 20
	Burst int     `mapstructure:"burst"` // RATE_LIMIT_BURST, default 40
}

// MIAW configures Enhanced Chat (Messaging for In-App and Web). Placeholder: validated only
// when [Config.Desk] is [DeskMIAW].
type MIAW struct {
	// URL is the SCRT2 base URL, e.g. https://MyDomain.my.salesforce-scrt.com (MIAW_URL).
	URL string `mapstructure:"url"`
	// OrgID is the org id, 00D… (MIAW_ORG_ID).
	OrgID string `mapstructure:"org_id"`
	// DeploymentName is the Custom Client Embedded Service deployment's developer name
	// (MIAW_DEPLOYMENT_NAME).
	DeploymentName string `mapstructure:"deployment_name"`
	// CapabilitiesVersion is sent when requesting tokens (MIAW_CAPABILITIES_VERSION,
	// default "1", as the official sample app sends since it dropped "248").
	CapabilitiesVersion string `mapstructure:"capabilities_version"`
	// PrivateKey is the PEM private key signing customer identity tokens for authenticated
	// users (MIAW_PRIVATE_KEY, secret). Empty: guest (unauthenticated) tokens.
	PrivateKey string `mapstructure:"private_key"`
	// Issuer is the iss of those tokens, as registered in User Verification (MIAW_ISSUER).
	Issuer string `mapstructure:"issuer"`
}

// SlogLevel returns LogLevel as a slog level; an invalid one gives info ([Config.Validate]
// reports it).
func (c *Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// File returns the path of the config file that was read, or "" if none was.
func (c *Config) File() string { return c.file }

// Notes returns informational messages about how the settings were read and normalised
// (for example a LIVEAGENT_HOST whose "/chat/rest" suffix was removed), to log at info level.
func (c *Config) Notes() []string { return append([]string(nil), c.notes...) }

// BodyLimitBytes returns BodyLimit in bytes, as Echo's BodyLimit middleware reads it
// (K, M, G… are powers of 1000; Ki, Mi, Gi… of 1024). It returns 0 if BodyLimit is invalid;
// [Config.Validate] reports that.
func (c *Config) BodyLimitBytes() int64 {
	n, err := parseByteSize(c.BodyLimit)
	if err != nil {
		return 0
	}
	return n
}

// TrustedProxyPrefixes returns TrustedProxies as prefixes (a bare address becomes a /32 or
// /128), skipping invalid entries, which [Config.Validate] reports. Empty means the caller
// should trust private, loopback and link-local peers.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// AllEndpoints returns every enabled event endpoint: the one of EVENTS_WEBHOOK_URL first
// (named [DefaultEnvEndpointName]), then the enabled ones of the file.
func (e Events) AllEndpoints() []EventEndpoint {
	var out []EventEndpoint
	if e.WebhookURL != "" {
		out = append(out, EventEndpoint{
			Name:         DefaultEnvEndpointName,
			URL:          e.WebhookURL,
			Secret:       e.WebhookSecret,
			Format:       e.WebhookFormat,
			Events:       append([]string(nil), e.WebhookEvents...),
			Timeout:      DefaultEventTimeout,
			AllowPrivate: e.AllowPrivate,
			Enabled:      true,
		})
	}
	for _, ep := range e.Endpoints {
		if ep.Enabled {
			out = append(out, ep)
		}
	}
	return out
}

// HostAllowed reports whether a request's Host header is accepted under HOST: always when
// HOST is empty or "*"; otherwise when the host (without port) equals HOST, ignoring case,
// or, for a HOST starting with ".", when it is that domain or a subdomain of it (as Django's
// ALLOWED_HOSTS).
func (c *Config) HostAllowed(requestHost string) bool {
	want := strings.ToLower(strings.TrimSpace(c.Host))
	if want == "" || want == "*" {
		return true
	}
	h := strings.ToLower(strings.TrimSpace(requestHost))
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	if strings.HasPrefix(want, ".") {
		return h == want[1:] || strings.HasSuffix(h, want)
	}
	return h == want
}
