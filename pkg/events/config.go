package events

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Body formats of an endpoint.
const (
	FormatStandard   = "standard"    // Standard Webhooks envelope and signature (default)
	FormatLiveChatV2 = "livechat_v2" // LiveChat v2 chat_started / chat_ended (seed 000)
	FormatChatwoot   = "chatwoot"    // Chatwoot / MessageHub conversation_* / message_created (seed 001)
	FormatChatDealer = "chatdealer"  // Chat Dealer external API calls (seed 003)
)

// Formats lists the accepted Endpoint.Format values.
var Formats = []string{FormatStandard, FormatLiveChatV2, FormatChatwoot, FormatChatDealer}

// Defaults.
const (
	DefaultKeyPrefix    = "wh"
	DefaultTimeout      = 15 * time.Second
	DefaultWorkers      = 4
	DefaultLease        = 60 * time.Second
	DefaultPollInterval = time.Second
	DefaultLogSize      = 1000
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultUserAgent    = "line-sf-bridge/1"
	// DefaultEndpointName is the name of the endpoint built from the
	// EVENTS_WEBHOOK_* variables.
	DefaultEndpointName = "default"
)

// DefaultSchedule is the Standard Webhooks retry schedule: the delay before
// each attempt, counted from the previous failure (10 attempts over about
// three days). Each delay but the first gets up to 20% jitter.
var DefaultSchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// Endpoint is one receiver of events.
type Endpoint struct {
	// Name identifies the endpoint in the admin API, the delivery log and
	// the Redis keys: letters, digits, '_', '-', '.'; at most 64.
	Name string `mapstructure:"name" yaml:"name" json:"name"`
	// URL is where events are POSTed (http or https).
	URL string `mapstructure:"url" yaml:"url" json:"url"`
	// Secret signs the requests: "whsec_" + base64 of 24–64 random bytes
	// (Standard Webhooks), or any other string of at least 16 bytes, used
	// as it is (the HMAC key is then the string's bytes). Required for the
	// standard and chatwoot formats.
	Secret string `mapstructure:"secret" yaml:"secret" json:"-"`
	// Format is one of Formats; empty means standard.
	Format string `mapstructure:"format" yaml:"format" json:"format"`
	// Events lists the event types to send; empty means DefaultTypes.
	// agent.typing is sent only when listed.
	Events []string `mapstructure:"events" yaml:"events" json:"events"`
	// Headers are added to every request (they cannot replace the
	// signature or content headers).
	Headers map[string]string `mapstructure:"headers" yaml:"headers" json:"-"`
	// Params are fixed parameters added to every payload ("params" in the
	// standard format; see docs/events.md for the others).
	Params map[string]string `mapstructure:"params" yaml:"params" json:"params,omitempty"`
	// ExcludeCustomers lists LINE user ids whose chats are not sent (the
	// Chat Dealer "excluded IP addresses" for LINE).
	ExcludeCustomers []string `mapstructure:"exclude_customers" yaml:"exclude_customers" json:"-"`
	// Timeout bounds one attempt; 0 means DefaultTimeout.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout" json:"timeout"`
	// AllowPrivate allows the URL to resolve to a loopback, private or
	// link-local address. Off by default (SSRF protection).
	AllowPrivate bool `mapstructure:"allow_private" yaml:"allow_private" json:"allow_private"`
	// Enabled switches the endpoint on. An endpoint from the config file
	// must say enabled: true.
	Enabled bool `mapstructure:"enabled" yaml:"enabled" json:"enabled"`
}

// Config configures the sink, the dispatcher and the admin API.
type Config struct {
	Endpoints []Endpoint `mapstructure:"endpoints" yaml:"endpoints"`
	// AdminAPIKey protects the admin API (AdminAuth); empty turns it off.
	AdminAPIKey string `mapstructure:"admin_api_key" yaml:"admin_api_key"`
	// KeyPrefix names the Redis hash tag of every key: "{wh}:…".
	KeyPrefix string `mapstructure:"key_prefix" yaml:"key_prefix"`
	// Schedule is the delay before each attempt (see DefaultSchedule); its
	// length is the number of attempts.
	Schedule []time.Duration `mapstructure:"schedule" yaml:"schedule"`
	// Workers is how many deliveries this instance attempts at once.
	Workers int `mapstructure:"workers" yaml:"workers"`
	// Lease is the visibility timeout of an attempt: an attempt not
	// finished by then (its instance died) is made again elsewhere. It must
	// exceed every endpoint's Timeout.
	Lease time.Duration `mapstructure:"lease" yaml:"lease"`
	// PollInterval is how often an idle worker looks for due deliveries
	// enqueued by other instances.
	PollInterval time.Duration `mapstructure:"poll_interval" yaml:"poll_interval"`
	// LogSize caps the delivery log of each endpoint (entries).
	LogSize int `mapstructure:"log_size" yaml:"log_size"`
	// Retention is how long events and finished deliveries are kept (for
	// redelivery). It must exceed the whole retry schedule.
	Retention time.Duration `mapstructure:"retention" yaml:"retention"`
	// MaxRetryAfter caps a receiver's Retry-After.
	MaxRetryAfter time.Duration `mapstructure:"max_retry_after" yaml:"max_retry_after"`
	// UserAgent is sent with every request.
	UserAgent string `mapstructure:"user_agent" yaml:"user_agent"`
}

// EnvEndpoint builds the endpoint of the EVENTS_WEBHOOK_URL,
// EVENTS_WEBHOOK_SECRET and EVENTS_WEBHOOK_FORMAT variables; ok is false
// when url is empty (no such endpoint).
func EnvEndpoint(url, secret, format string) (ep Endpoint, ok bool) {
	if strings.TrimSpace(url) == "" {
		return Endpoint{}, false
	}
	return Endpoint{
		Name: DefaultEndpointName, URL: strings.TrimSpace(url), Secret: secret,
		Format: strings.TrimSpace(format), Enabled: true,
	}, true
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if len(c.Schedule) == 0 {
		c.Schedule = slices.Clone(DefaultSchedule)
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.LogSize == 0 {
		c.LogSize = DefaultLogSize
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = 24 * time.Hour
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	c.Endpoints = slices.Clone(c.Endpoints)
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		if e.Format == "" {
			e.Format = FormatStandard
		}
		if e.Timeout == 0 {
			e.Timeout = DefaultTimeout
		}
	}
	return c
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	prefixRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

// reservedHeaders cannot be set by Endpoint.Headers.
var reservedHeaders = []string{
	"Content-Type", "Content-Length", "Host", "Webhook-Id", "Webhook-Timestamp",
	"Webhook-Signature", "X-Chatwoot-Signature", "X-Chatwoot-Timestamp",
	"X-Chatwoot-Delivery", "X-Bridge-Event-Type", "Transfer-Encoding", "Connection",
}

// Validate reports every problem of c (after WithDefaults) in one error,
// each line naming the setting to fix.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("events: "+format, a...)) }
	if !prefixRE.MatchString(c.KeyPrefix) {
		bad("key_prefix %q: use 1–128 letters, digits or _ . : -", c.KeyPrefix)
	}
	var total time.Duration
	for i, d := range c.Schedule {
		if d < 0 {
			bad("schedule[%d] is negative (%s): delays are durations such as 5s, 30m", i, d)
		}
		total += d
	}
	if c.Workers < 1 || c.Workers > 256 {
		bad("workers = %d: use 1–256", c.Workers)
	}
	if c.PollInterval < 0 {
		bad("poll_interval = %s: use a positive duration such as 1s", c.PollInterval)
	}
	if c.LogSize < 1 {
		bad("log_size = %d: use a positive number of entries", c.LogSize)
	}
	if c.Retention <= total {
		bad("retention = %s must exceed the whole retry schedule (%s), or a late retry finds its event gone", c.Retention, total)
	}
	if c.AdminAPIKey != "" && len(c.AdminAPIKey) < 16 {
		bad("ADMIN_API_KEY is %d characters: use at least 16 random characters (e.g. openssl rand -hex 24)", len(c.AdminAPIKey))
	}
	seen := map[string]bool{}
	for i, e := range c.Endpoints {
		where := fmt.Sprintf("endpoints[%d] (%q)", i, e.Name)
		if !nameRE.MatchString(e.Name) {
			bad("%s: name must be 1–64 letters, digits or _ . -", where)
		}
		if seen[e.Name] {
			bad("%s: another endpoint has the same name", where)
		}
		seen[e.Name] = true
		if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s: url %q must be an absolute http:// or https:// URL", where, e.URL)
		} else if u.User != nil {
			bad("%s: url must not carry user:password; use headers (e.g. Authorization) instead", where)
		}
		if !slices.Contains(Formats, e.Format) {
			bad("%s: format %q is not one of %s", where, e.Format, strings.Join(Formats, ", "))
		}
		if _, err := secretKey(e.Secret); err != nil {
			bad("%s: %v", where, err)
		} else if e.Secret == "" && (e.Format == FormatStandard || e.Format == FormatChatwoot) && e.Enabled {
			bad("%s: format %s needs a secret (EVENTS_WEBHOOK_SECRET or secret:): generate one with: echo whsec_$(openssl rand -base64 32)", where, e.Format)
		}
		for _, t := range e.Events {
			if !knownType(t) {
				bad("%s: unknown event type %q in events; known types: %s", where, t, strings.Join(AllTypes, ", "))
			}
		}
		for h := range e.Headers {
			if slices.Contains(reservedHeaders, http.CanonicalHeaderKey(h)) {
				bad("%s: header %q is set by the bridge and cannot be overridden", where, h)
			}
		}
		if e.Timeout < 0 || e.Timeout >= c.Lease {
			bad("%s: timeout = %s must be positive and below lease (%s)", where, e.Timeout, c.Lease)
		}
	}
	return errors.Join(errs...)
}

// secretKey turns an endpoint secret into the HMAC key.
func secretKey(secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, errors.New("secret starts with whsec_ but the rest is not valid base64")
		}
		if len(key) < 24 || len(key) > 64 {
			return nil, fmt.Errorf("secret decodes to %d bytes: use 24–64 random bytes (echo whsec_$(openssl rand -base64 32))", len(key))
		}
		return key, nil
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("secret is %d bytes: use at least 16 (or a whsec_ secret: echo whsec_$(openssl rand -base64 32))", len(secret))
	}
	return []byte(secret), nil
}

// subscribed reports whether e gets events of type typ.
func (e *Endpoint) subscribed(typ string) bool {
	if len(e.Events) == 0 {
		return slices.Contains(DefaultTypes, typ)
	}
	return slices.Contains(e.Events, typ)
}

func (e *Endpoint) excluded(c string) bool { return slices.Contains(e.ExcludeCustomers, c) }
