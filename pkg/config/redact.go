package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Every way of printing a Config or one of its sections goes through its LogValue, which
// works on a redacted copy: String (and so %v and %+v), GoString (%#v), MarshalJSON and slog.

// Redacted returns a deep copy in which every secret only says whether it is set: "" stays
// "", anything else becomes "set (N chars)". Secrets are BRIDGE_API_KEY, ADMIN_API_KEY,
// SECRET_KEY, LINE_CHANNEL_SECRET, LINE_CHANNEL_TOKEN, EVENTS_WEBHOOK_SECRET, MIAW_PRIVATE_KEY,
// the endpoints' secrets and header and parameter values, and the credentials inside every
// URL (REDIS_URL's password, user info, token-like query parameters), replaced by "xxxxx".
func (c Config) Redacted() Config {
	r := c
	r.RedisURL = redactURL(c.RedisURL)
	r.APIKey = mask(c.APIKey)
	r.AdminAPIKey = mask(c.AdminAPIKey)
	r.SecretKey = mask(c.SecretKey)
	r.LiveAgent = c.LiveAgent.redacted()
	r.LINE = c.LINE.redacted()
	r.Events = c.Events.redacted()
	r.MIAW = c.MIAW.redacted()
	r.TrustedProxies = cloneList(c.TrustedProxies)
	r.notes = cloneList(c.notes)
	r.warnings = cloneList(c.warnings)
	return r
}

func (l LiveAgent) redacted() LiveAgent {
	l.Host = redactURL(l.Host)
	return l
}

func (l LINE) redacted() LINE {
	l.ChannelSecret = mask(l.ChannelSecret)
	l.ChannelToken = mask(l.ChannelToken)
	l.APIBaseURL = redactURL(l.APIBaseURL)
	l.DataAPIBaseURL = redactURL(l.DataAPIBaseURL)
	l.ForwardURL = redactURL(l.ForwardURL)
	l.HandoverKeywords = cloneList(l.HandoverKeywords)
	l.EndKeywords = cloneList(l.EndKeywords)
	return l
}

func (e Events) redacted() Events {
	e.WebhookURL = redactURL(e.WebhookURL)
	e.WebhookSecret = mask(e.WebhookSecret)
	e.WebhookEvents = cloneList(e.WebhookEvents)
	if e.Endpoints != nil {
		eps := make([]EventEndpoint, len(e.Endpoints))
		for i, ep := range e.Endpoints {
			eps[i] = ep.redacted()
		}
		e.Endpoints = eps
	}
	return e
}

func (ep EventEndpoint) redacted() EventEndpoint {
	ep.URL = redactURL(ep.URL)
	ep.Secret = mask(ep.Secret)
	ep.Events = cloneList(ep.Events)
	ep.ExcludeCustomers = cloneList(ep.ExcludeCustomers)
	ep.Headers = maskMap(ep.Headers)
	ep.Params = maskMap(ep.Params)
	return ep
}

func (m MIAW) redacted() MIAW {
	m.URL = redactURL(m.URL)
	m.PrivateKey = mask(m.PrivateKey)
	return m
}

var maskPattern = regexp.MustCompile(`^set \(\d+ chars\)$`)

// mask hides a secret, keeping only whether it is set and its length. It is idempotent.
func mask(s string) string {
	if s == "" || maskPattern.MatchString(s) {
		return s
	}
	return fmt.Sprintf("set (%d chars)", utf8.RuneCountInString(s))
}

func maskMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = mask(v)
	}
	return out
}

const urlMask = "xxxxx" // as url.URL.Redacted

var secretQueryKey = regexp.MustCompile(`(?i)(token|key|secret|pass|pwd|sig|auth|code|credential)`)

// redactURL hides the credentials of a URL: the password (or a lone user name, often a
// token), and the values of query parameters whose names suggest a secret. A value that
// does not parse as a URL is masked whole. It is idempotent.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return mask(raw)
	}
	changed := false
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			if pw != urlMask {
				u.User = url.UserPassword(u.User.Username(), urlMask)
				changed = true
			}
		} else if name := u.User.Username(); name != "" && name != urlMask {
			u.User = url.User(urlMask)
			changed = true
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = urlMask
			changed = true
		} else {
			qChanged := false
			for k, vs := range q {
				if secretQueryKey.MatchString(k) {
					for i := range vs {
						if vs[i] != urlMask {
							vs[i] = urlMask
							qChanged = true
						}
					}
				}
			}
			if qChanged {
				u.RawQuery = q.Encode()
				changed = true
			}
		}
	}
	if !changed {
		return raw
	}
	return u.String()
}

// describeURL quotes a URL for an error message, without its credentials.
func describeURL(s string) string {
	r := redactURL(s)
	if maskPattern.MatchString(r) {
		return "a value that does not parse as a URL"
	}
	return strconv.Quote(r)
}

func cloneList(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

// LogValue implements slog.LogValuer with secrets masked; the keys are those of the config
// file.
func (c Config) LogValue() slog.Value {
	r := c.Redacted()
	return slog.GroupValue(
		slog.String("file", r.file),
		slog.Bool("demo", r.Demo),
		slog.Int("port", r.Port),
		slog.String("redis_url", r.RedisURL),
		slog.String("redis_key_prefix", r.RedisKeyPrefix),
		slog.String("desk", r.Desk),
		slog.Any("liveagent", r.LiveAgent),
		slog.String("api_key", r.APIKey),
		slog.String("admin_api_key", r.AdminAPIKey),
		slog.Any("line", r.LINE),
		slog.String("messages_wait", formatDuration(r.MessagesWait)),
		slog.String("init_wait", formatDuration(r.InitWait)),
		slog.Any("events", r.Events),
		slog.Any("relay", r.Relay),
		slog.Any("rate_limit", r.RateLimit),
		slog.String("body_limit", r.BodyLimit),
		slog.String("trusted_proxies", strings.Join(r.TrustedProxies, ",")),
		slog.Bool("ssl", r.SSL),
		slog.Bool("debug", r.Debug),
		slog.String("secret_key", r.SecretKey),
		slog.String("host", r.Host),
		slog.String("log_level", r.LogLevel),
		slog.String("log_format", r.LogFormat),
		slog.String("shutdown_timeout", formatDuration(r.ShutdownTimeout)),
		slog.Any("miaw", r.MIAW),
	)
}

// LogValue implements slog.LogValuer.
func (l LiveAgent) LogValue() slog.Value {
	l = l.redacted()
	return slog.GroupValue(
		slog.String("host", l.Host),
		slog.String("organization_id", l.OrganizationID),
		slog.String("deployment_id", l.DeploymentID),
		slog.String("button_id", l.ButtonID),
		slog.String("api_version", l.APIVersion),
		slog.String("user_agent", l.UserAgent),
		slog.String("language", l.Language),
		slog.String("request_timeout", formatDuration(l.RequestTimeout)),
		slog.String("prechat_label", l.PrechatLabel),
	)
}

// LogValue implements slog.LogValuer with secrets masked.
func (l LINE) LogValue() slog.Value {
	l = l.redacted()
	return slog.GroupValue(
		slog.String("channel_secret", l.ChannelSecret),
		slog.String("channel_token", l.ChannelToken),
		slog.String("api_base_url", l.APIBaseURL),
		slog.String("data_api_base_url", l.DataAPIBaseURL),
		slog.String("forward_url", l.ForwardURL),
		slog.String("handover_keywords", strings.Join(l.HandoverKeywords, ",")),
		slog.String("end_keywords", strings.Join(l.EndKeywords, ",")),
		slog.String("handover_postback", l.HandoverPostback),
		slog.String("end_postback", l.EndPostback),
		slog.String("notice_language", l.NoticeLanguage),
		slog.Int("history_lines", l.HistoryLines),
	)
}

// LogValue implements slog.LogValuer with secrets masked. Endpoints are keyed by index.
func (e Events) LogValue() slog.Value {
	e = e.redacted()
	eps := make([]slog.Attr, len(e.Endpoints))
	for i, ep := range e.Endpoints {
		eps[i] = slog.Any(strconv.Itoa(i), ep)
	}
	return slog.GroupValue(
		slog.String("webhook_url", e.WebhookURL),
		slog.String("webhook_secret", e.WebhookSecret),
		slog.String("webhook_format", e.WebhookFormat),
		slog.String("webhook_events", strings.Join(e.WebhookEvents, ",")),
		slog.Bool("allow_private", e.AllowPrivate),
		slog.Attr{Key: "endpoints", Value: slog.GroupValue(eps...)},
	)
}

// LogValue implements slog.LogValuer with secrets, header and parameter values masked.
func (ep EventEndpoint) LogValue() slog.Value {
	ep = ep.redacted()
	return slog.GroupValue(
		slog.String("name", ep.Name),
		slog.String("url", ep.URL),
		slog.String("secret", ep.Secret),
		slog.String("format", ep.Format),
		slog.String("events", strings.Join(ep.Events, ",")),
		slog.Attr{Key: "headers", Value: mapValue(ep.Headers)},
		slog.Attr{Key: "params", Value: mapValue(ep.Params)},
		slog.String("exclude_customers", strings.Join(ep.ExcludeCustomers, ",")),
		slog.String("timeout", formatDuration(ep.Timeout)),
		slog.Bool("allow_private", ep.AllowPrivate),
		slog.Bool("enabled", ep.Enabled),
	)
}

func mapValue(m map[string]string) slog.Value {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, len(keys))
	for i, k := range keys {
		attrs[i] = slog.String(k, m[k])
	}
	return slog.GroupValue(attrs...)
}

// LogValue implements slog.LogValuer.
func (r Relay) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("lease_ttl", formatDuration(r.LeaseTTL)),
		slog.String("lease_scan_interval", formatDuration(r.LeaseScanInterval)),
		slog.String("chat_retention", formatDuration(r.ChatRetention)),
	)
}

// LogValue implements slog.LogValuer.
func (r RateLimit) LogValue() slog.Value {
	return slog.GroupValue(slog.Float64("rps", r.RPS), slog.Int("burst", r.Burst))
}

// LogValue implements slog.LogValuer with the private key masked.
func (m MIAW) LogValue() slog.Value {
	m = m.redacted()
	return slog.GroupValue(
		slog.String("url", m.URL),
		slog.String("org_id", m.OrgID),
		slog.String("deployment_name", m.DeploymentName),
		slog.String("capabilities_version", m.CapabilitiesVersion),
		slog.String("private_key", m.PrivateKey),
		slog.String("issuer", m.Issuer),
	)
}

// String renders the configuration as space-separated key=value pairs, secrets masked.
func (c Config) String() string { return render(c.LogValue()) }

// GoString makes %#v as safe as %v.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// MarshalJSON renders the configuration with secrets masked, keyed as the config file.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(toAny(c.LogValue())) }

// String renders the section with secrets masked.
func (l LINE) String() string { return render(l.LogValue()) }

// GoString makes %#v as safe as %v.
func (l LINE) GoString() string { return "config.LINE{" + l.String() + "}" }

// MarshalJSON renders the section with secrets masked.
func (l LINE) MarshalJSON() ([]byte, error) { return json.Marshal(toAny(l.LogValue())) }

// String renders the section with secrets masked.
func (e Events) String() string { return render(e.LogValue()) }

// GoString makes %#v as safe as %v.
func (e Events) GoString() string { return "config.Events{" + e.String() + "}" }

// MarshalJSON renders the section with secrets masked.
func (e Events) MarshalJSON() ([]byte, error) { return json.Marshal(toAny(e.LogValue())) }

// String renders the endpoint with secrets masked.
func (ep EventEndpoint) String() string { return render(ep.LogValue()) }

// GoString makes %#v as safe as %v.
func (ep EventEndpoint) GoString() string { return "config.EventEndpoint{" + ep.String() + "}" }

// MarshalJSON renders the endpoint with secrets masked.
func (ep EventEndpoint) MarshalJSON() ([]byte, error) { return json.Marshal(toAny(ep.LogValue())) }

// String renders the section with the private key masked.
func (m MIAW) String() string { return render(m.LogValue()) }

// GoString makes %#v as safe as %v.
func (m MIAW) GoString() string { return "config.MIAW{" + m.String() + "}" }

// MarshalJSON renders the section with the private key masked.
func (m MIAW) MarshalJSON() ([]byte, error) { return json.Marshal(toAny(m.LogValue())) }

// render writes a (resolved) slog value as key=value pairs, groups as dotted prefixes.
func render(v slog.Value) string {
	var b strings.Builder
	var walk func(prefix string, v slog.Value)
	walk = func(prefix string, v slog.Value) {
		v = v.Resolve()
		if v.Kind() == slog.KindGroup {
			for _, a := range v.Group() {
				walk(prefix+a.Key+".", a.Value)
			}
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.TrimSuffix(prefix, "."))
		b.WriteByte('=')
		s := v.String()
		if s == "" || strings.ContainsAny(s, " \t\n\"=") {
			s = strconv.Quote(s)
		}
		b.WriteString(s)
	}
	walk("", v)
	return b.String()
}

// toAny turns a (resolved) slog value into values encoding/json writes the same way.
func toAny(v slog.Value) any {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		m := make(map[string]any, len(v.Group()))
		for _, a := range v.Group() {
			m[a.Key] = toAny(a.Value)
		}
		return m
	case slog.KindBool:
		return v.Bool()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindFloat64:
		return v.Float64()
	default:
		return v.String()
	}
}
