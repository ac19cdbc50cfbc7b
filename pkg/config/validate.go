package config

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Validate reports every problem of the configuration at once (errors.Join), each as a
// sentence naming the environment variable to change. It normalises the configuration
// first, as Load does (see [Config.Notes]). The Live Agent settings are required unless
// Demo is set; the MIAW settings are checked only when Desk is [DeskMIAW].
func (c *Config) Validate() error {
	c.normalize()
	var p problems

	if c.Port < 1 || c.Port > 65535 {
		p.addf("PORT must be between 1 and 65535 (got %d)", c.Port)
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || !slices.Contains([]string{"redis", "rediss", "unix"}, u.Scheme) {
			p.addf("REDIS_URL must be a redis://, rediss:// or unix:// URL such as rediss://:password@host:port (got %s)", describeURL(c.RedisURL))
		}
	}
	switch c.Desk {
	case DeskLiveAgent:
		c.validateLiveAgent(&p)
	case DeskMIAW:
		c.validateMIAW(&p)
	default:
		p.addf("DESK must be %q or %q (got %q)", DeskLiveAgent, DeskMIAW, c.Desk)
	}
	c.validateLINE(&p)
	checkWait(&p, "MESSAGES_WAIT", c.MessagesWait, "/messages")
	checkWait(&p, "INIT_WAIT", c.InitWait, "/init")
	c.validateEvents(&p)

	if c.Relay.LeaseTTL <= 0 || c.Relay.LeaseTTL > MaxLeaseTTL {
		p.addf("LEASE_TTL must be more than 0 and at most %s, so another instance takes over a chat whose poller died before Live Agent's 40 s clientPollTimeout ends it (got %s)", formatDuration(MaxLeaseTTL), c.Relay.LeaseTTL)
	}
	if c.Relay.LeaseScanInterval <= 0 || (c.Relay.LeaseTTL > 0 && c.Relay.LeaseScanInterval >= c.Relay.LeaseTTL) {
		p.addf("LEASE_SCAN_INTERVAL must be more than 0 and less than LEASE_TTL (%s), or expired leases are found too late (got %s)", c.Relay.LeaseTTL, c.Relay.LeaseScanInterval)
	}
	if c.Relay.ChatRetention <= 0 {
		p.addf("CHAT_RETENTION must be more than 0, e.g. 168h to keep a finished chat's log for a week (got %s)", c.Relay.ChatRetention)
	}

	if c.RateLimit.RPS < 0 {
		p.addf("RATE_LIMIT_RPS must be 0 (off) or more, in requests per second per client IP (got %s)", formatValue(c.RateLimit.RPS))
	}
	if c.RateLimit.Burst < 0 || (c.RateLimit.RPS > 0 && c.RateLimit.Burst < 1) {
		p.addf("RATE_LIMIT_BURST must be at least 1 while RATE_LIMIT_RPS is more than 0, e.g. 40 (got %d)", c.RateLimit.Burst)
	}
	if n, err := parseByteSize(c.BodyLimit); err != nil || n <= 0 {
		p.addf("BODY_LIMIT must be a size such as 64K, 1M or 512KiB (got %q)", c.BodyLimit)
	}
	for _, s := range c.TrustedProxies {
		if _, err := parsePrefix(s); err != nil {
			p.addf("TRUSTED_PROXIES must list CIDRs or addresses separated by commas, such as 10.0.0.0/8,192.168.1.1 (%q is neither)", s)
		}
	}
	if c.Host != "" && c.Host != "*" && (strings.ContainsAny(c.Host, "/ ,") || strings.Contains(c.Host, "://")) {
		p.addf("HOST must be one host name such as my-bridge.herokuapp.com, or * for any (got %q)", c.Host)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		p.addf("LOG_LEVEL must be debug, info, warn or error (got %q)", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		p.addf("LOG_FORMAT must be json or text (got %q)", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		p.addf("SHUTDOWN_TIMEOUT must be more than 0, e.g. 25s (got %s)", c.ShutdownTimeout)
	}
	return p.err()
}

func (c *Config) validateLiveAgent(p *problems) {
	la := c.LiveAgent
	required := []struct{ name, value, hint string }{
		{"LIVEAGENT_HOST", la.Host, "Setup → Chat Settings → Chat API Endpoint, e.g. https://d.la4-c1-ia4.salesforceliveagent.com"},
		{"LIVEAGENT_ORGANIZATION_ID", la.OrganizationID, "the org id, 00D…: Setup → Company Information → Salesforce.com Organization ID, or the last argument of liveagent.init in a deployment's code"},
		{"LIVEAGENT_DEPLOYMENT_ID", la.DeploymentID, "the deployment id, 572…: Setup → Chat → Deployments → your deployment → Deployment Code, the second argument of liveagent.init"},
		{"LIVEAGENT_BUTTON_ID", la.ButtonID, "the chat button id, 573…: Setup → Chat → Chat Buttons & Invitations → your button → Chat Button Code"},
	}
	if !c.Demo {
		for _, r := range required {
			if r.value == "" {
				p.addf("%s is required when DESK=liveagent (%s), unless the bridge runs with --demo", r.name, r.hint)
			}
		}
	}
	if la.Host != "" {
		checkURL(p, "LIVEAGENT_HOST", la.Host, "https://d.la4-c1-ia4.salesforceliveagent.com")
	}
	if !apiVersion.MatchString(la.APIVersion) {
		p.addf("API_VERSION must be a Chat REST API version number such as 49 (got %q)", la.APIVersion)
	}
	if la.RequestTimeout <= 0 {
		p.addf("LIVEAGENT_REQUEST_TIMEOUT must be more than 0, e.g. 10s (got %s)", la.RequestTimeout)
	}
}

var apiVersion = regexp.MustCompile(`^\d+(\.\d+)?$`)

func (c *Config) validateMIAW(p *problems) {
	m := c.MIAW
	if !c.Demo {
		if m.URL == "" {
			p.add("MIAW_URL is required when DESK=miaw (the SCRT2 URL of the Custom Client deployment's code snippet, e.g. https://MyDomain.my.salesforce-scrt.com)")
		}
		if m.OrgID == "" {
			p.add("MIAW_ORG_ID is required when DESK=miaw (the org id, 00D…: Setup → Company Information)")
		}
		if m.DeploymentName == "" {
			p.add("MIAW_DEPLOYMENT_NAME is required when DESK=miaw (the API name of the Custom Client Embedded Service deployment: Setup → Embedded Service Deployments)")
		}
	}
	if m.URL != "" {
		checkURL(p, "MIAW_URL", m.URL, "https://MyDomain.my.salesforce-scrt.com")
	}
	if m.CapabilitiesVersion == "" {
		p.add("MIAW_CAPABILITIES_VERSION must not be empty when DESK=miaw (default 248)")
	}
	if m.PrivateKey != "" {
		if b, _ := pem.Decode([]byte(m.PrivateKey)); b == nil || !strings.Contains(b.Type, "PRIVATE KEY") {
			p.add("MIAW_PRIVATE_KEY must be a PEM private key (-----BEGIN PRIVATE KEY----- …; write line breaks as \\n if your platform keeps one line)")
		}
		if m.Issuer == "" {
			p.add("MIAW_ISSUER is required when MIAW_PRIVATE_KEY is set (the issuer registered in the channel's User Verification settings)")
		}
	}
}

func (c *Config) validateLINE(p *problems) {
	l := c.LINE
	checkURL(p, "LINE_API_BASE_URL", l.APIBaseURL, "https://api.line.me")
	checkURL(p, "LINE_DATA_API_BASE_URL", l.DataAPIBaseURL, "https://api-data.line.me")
	if l.ForwardURL != "" {
		checkURL(p, "LINE_FORWARD_URL", l.ForwardURL, "https://my-bot.example.com/callback")
	}
	for _, k := range l.HandoverKeywords {
		if slices.Contains(l.EndKeywords, k) {
			p.addf("LINE_HANDOVER_KEYWORDS and LINE_END_KEYWORDS must not share a keyword (both have %q)", k)
		}
	}
	if l.HandoverPostback != "" && l.HandoverPostback == l.EndPostback {
		p.addf("LINE_HANDOVER_POSTBACK and LINE_END_POSTBACK must differ (both are %q)", l.HandoverPostback)
	}
	if l.NoticeLanguage != "ja" && l.NoticeLanguage != "en" {
		p.addf("NOTICE_LANGUAGE must be ja or en (got %q)", l.NoticeLanguage)
	}
	if l.HistoryLines < 0 {
		p.addf("LINE_HISTORY_LINES must be 0 (send no history) or more (got %d)", l.HistoryLines)
	}
}

var (
	eventFormats = []string{EventFormatStandard, EventFormatLiveChatV2, EventFormatChatwoot, EventFormatChatDealer}
	eventName    = regexp.MustCompile(`^[A-Za-z0-9_*]+(\.[A-Za-z0-9_*]+)*$`)
)

func (c *Config) validateEvents(p *problems) {
	e := c.Events
	if e.WebhookURL != "" {
		checkURL(p, "EVENTS_WEBHOOK_URL", e.WebhookURL, "https://crm.example.com/hooks/line-bridge")
	}
	if !slices.Contains(eventFormats, e.WebhookFormat) {
		p.addf("EVENTS_WEBHOOK_FORMAT must be one of %s (got %q)", strings.Join(eventFormats, ", "), e.WebhookFormat)
	}
	for _, ev := range e.WebhookEvents {
		if !eventName.MatchString(ev) {
			p.addf("EVENTS_WEBHOOK_EVENTS must list event types separated by commas, such as chat.ended,message.agent_sent (%q is not one)", ev)
		}
	}
	seen := map[string]bool{}
	if e.WebhookURL != "" {
		seen[DefaultEnvEndpointName] = true
	}
	for i, ep := range e.Endpoints {
		where := fmt.Sprintf("events.endpoints[%d] (%s) in the config file", i, ep.Name)
		if seen[ep.Name] {
			p.addf("%s: name must be unique (%q is used twice; %q is taken by EVENTS_WEBHOOK_URL)", where, ep.Name, DefaultEnvEndpointName)
		}
		seen[ep.Name] = true
		if ep.URL == "" {
			p.addf("%s: url is required", where)
		} else {
			checkURL(p, where+": url", ep.URL, "https://crm.example.com/hooks/line-bridge")
		}
		if !slices.Contains(eventFormats, ep.Format) {
			p.addf("%s: format must be one of %s (got %q)", where, strings.Join(eventFormats, ", "), ep.Format)
		}
		for _, ev := range ep.Events {
			if !eventName.MatchString(ev) {
				p.addf("%s: events must be event types such as chat.ended (%q is not one)", where, ev)
			}
		}
		if ep.Timeout <= 0 {
			p.addf("%s: timeout must be more than 0, e.g. 10s (got %s)", where, ep.Timeout)
		}
	}
}

func checkWait(p *problems, name string, d time.Duration, route string) {
	if d <= 0 || d > MaxWait {
		p.addf("%s must be more than 0 and at most %s, so %s answers before Heroku's 30 s router timeout (got %s)", name, formatDuration(MaxWait), route, d)
	}
}

// checkURL reports raw unless it is an absolute http or https URL with a host.
func checkURL(p *problems, name, raw, example string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.addf("%s must be an http:// or https:// URL such as %s (got %s)", name, example, describeURL(raw))
	}
}

// Warnings returns the start-up warnings: settings that work but are probably not what a
// production deployment wants (no Redis, no API key, half a LINE channel …).
func (c *Config) Warnings() []string {
	w := append([]string(nil), c.warnings...)
	if c.RedisURL == "" && !c.Demo {
		w = append(w, "REDIS_URL is not set: using the embedded in-process store, so chats are lost on restart and only one instance may run (add the heroku-redis add-on or set REDIS_URL)")
	}
	if c.APIKey == "" {
		w = append(w, "BRIDGE_API_KEY is not set: /init, /send, /messages and /close are open to anyone who knows a LINE user id (set it and send Authorization: Bearer <key>)")
	}
	l := c.LINE
	switch {
	case l.ChannelToken != "" && l.ChannelSecret == "":
		w = append(w, "LINE_CHANNEL_TOKEN is set without LINE_CHANNEL_SECRET: agent replies are pushed to LINE, but POST /line/webhook is off (answers 404)")
	case l.ChannelSecret != "" && l.ChannelToken == "":
		w = append(w, "LINE_CHANNEL_SECRET is set without LINE_CHANNEL_TOKEN: the webhook is on, but agent replies cannot be pushed to LINE (users see them only through a backend polling /messages)")
	}
	if l.ForwardURL != "" && l.ChannelSecret == "" {
		w = append(w, "LINE_FORWARD_URL is set without LINE_CHANNEL_SECRET: nothing is forwarded, since the bridge receives no LINE webhook")
	}
	e := c.Events
	if e.WebhookURL != "" && e.WebhookSecret == "" {
		w = append(w, "EVENTS_WEBHOOK_URL is set without EVENTS_WEBHOOK_SECRET: event deliveries are not signed, so the receiver cannot tell them from forgeries")
	}
	if e.WebhookURL == "" && e.WebhookSecret != "" {
		w = append(w, "EVENTS_WEBHOOK_SECRET is set without EVENTS_WEBHOOK_URL: it is not used")
	}
	for _, ep := range e.Endpoints {
		if ep.Enabled && ep.Secret == "" {
			w = append(w, fmt.Sprintf("event endpoint %q has no secret: its deliveries are not signed", ep.Name))
		}
	}
	if c.RateLimit.RPS == 0 {
		w = append(w, "RATE_LIMIT_RPS is 0: requests are not rate limited")
	}
	if c.ShutdownTimeout > MaxWait {
		w = append(w, fmt.Sprintf("SHUTDOWN_TIMEOUT is %s: Heroku kills the process 30 s after SIGTERM, so the drain may be cut short (25s is safe)", c.ShutdownTimeout))
	}
	if c.Desk == DeskLiveAgent && !c.Demo {
		for _, id := range []struct{ name, value, prefix, what string }{
			{"LIVEAGENT_ORGANIZATION_ID", c.LiveAgent.OrganizationID, "00D", "an org id"},
			{"LIVEAGENT_DEPLOYMENT_ID", c.LiveAgent.DeploymentID, "572", "a chat deployment id"},
			{"LIVEAGENT_BUTTON_ID", c.LiveAgent.ButtonID, "573", "a chat button id"},
		} {
			if id.value != "" && !looksLikeSalesforceID(id.value, id.prefix) {
				w = append(w, fmt.Sprintf("%s=%q does not look like %s (15 or 18 characters starting with %s); Salesforce will refuse the chat request if it is wrong", id.name, id.value, id.what, id.prefix))
			}
		}
	}
	return w
}

var sfID = regexp.MustCompile(`^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$`)

func looksLikeSalesforceID(s, prefix string) bool {
	return sfID.MatchString(s) && strings.HasPrefix(s, prefix)
}

// normalize trims values, lower-cases enumerations, fixes up URLs and makes empty lists nil.
// It is idempotent.
func (c *Config) normalize() {
	for _, s := range []*string{
		&c.RedisURL, &c.APIKey, &c.AdminAPIKey, &c.BodyLimit, &c.SecretKey, &c.Host,
		&c.LiveAgent.Host, &c.LiveAgent.OrganizationID, &c.LiveAgent.DeploymentID, &c.LiveAgent.ButtonID,
		&c.LiveAgent.APIVersion, &c.LiveAgent.UserAgent, &c.LiveAgent.Language, &c.LiveAgent.PrechatLabel,
		&c.LINE.ChannelSecret, &c.LINE.ChannelToken, &c.LINE.APIBaseURL, &c.LINE.DataAPIBaseURL,
		&c.LINE.ForwardURL, &c.LINE.HandoverPostback, &c.LINE.EndPostback,
		&c.Events.WebhookURL, &c.Events.WebhookSecret,
		&c.MIAW.URL, &c.MIAW.OrgID, &c.MIAW.DeploymentName, &c.MIAW.CapabilitiesVersion, &c.MIAW.PrivateKey, &c.MIAW.Issuer,
	} {
		*s = strings.TrimSpace(*s)
	}
	for _, s := range []*string{&c.Desk, &c.LogLevel, &c.LogFormat, &c.LINE.NoticeLanguage, &c.Events.WebhookFormat} {
		*s = strings.ToLower(strings.TrimSpace(*s))
	}
	if c.LogLevel == "warning" {
		c.LogLevel = "warn"
	}
	c.LiveAgent.Host = c.normalizeLiveAgentHost(c.LiveAgent.Host)
	c.LINE.APIBaseURL = strings.TrimRight(c.LINE.APIBaseURL, "/")
	c.LINE.DataAPIBaseURL = strings.TrimRight(c.LINE.DataAPIBaseURL, "/")
	c.MIAW.URL = strings.TrimRight(c.MIAW.URL, "/")
	if strings.Contains(c.MIAW.PrivateKey, `\n`) && !strings.Contains(c.MIAW.PrivateKey, "\n") {
		c.MIAW.PrivateKey = strings.ReplaceAll(c.MIAW.PrivateKey, `\n`, "\n")
		c.note(`MIAW_PRIVATE_KEY: turned the literal \n sequences into line breaks`)
	}

	c.TrustedProxies = cleanList(c.TrustedProxies)
	c.LINE.HandoverKeywords = cleanList(c.LINE.HandoverKeywords)
	c.LINE.EndKeywords = cleanList(c.LINE.EndKeywords)
	c.Events.WebhookEvents = cleanList(c.Events.WebhookEvents)
	if len(c.Events.Endpoints) == 0 {
		c.Events.Endpoints = nil
	}
	for i := range c.Events.Endpoints {
		ep := &c.Events.Endpoints[i]
		ep.Name = strings.TrimSpace(ep.Name)
		ep.URL = strings.TrimSpace(ep.URL)
		ep.Secret = strings.TrimSpace(ep.Secret)
		ep.Format = strings.ToLower(strings.TrimSpace(ep.Format))
		ep.Events = cleanList(ep.Events)
		ep.ExcludeCustomers = cleanList(ep.ExcludeCustomers)
		ep.AllowPrivate = ep.AllowPrivate || c.Events.AllowPrivate
		if len(ep.Headers) == 0 {
			ep.Headers = nil
		}
		if len(ep.Params) == 0 {
			ep.Params = nil
		}
	}
}

// normalizeLiveAgentHost turns "d.la4-….com/chat/rest/" into "https://d.la4-….com".
func (c *Config) normalizeLiveAgentHost(h string) string {
	if h == "" {
		return h
	}
	orig := h
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	for {
		t := strings.TrimSuffix(strings.TrimRight(h, "/"), "/chat/rest")
		t = strings.TrimSuffix(strings.TrimRight(t, "/"), "/chat")
		t = strings.TrimRight(t, "/")
		if t == h {
			break
		}
		h = t
	}
	if h != orig {
		c.note(fmt.Sprintf("LIVEAGENT_HOST: using %s (given %s; the bridge adds /chat/rest itself)", redactURL(h), redactURL(orig)))
	}
	return h
}

// cleanList trims items, drops empty ones and duplicates, and returns nil for no items.
func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (c *Config) note(msg string) {
	if !slices.Contains(c.notes, msg) {
		c.notes = append(c.notes, msg)
	}
}

// problems collects validation failures.
type problems []error

func (p *problems) add(msg string) { *p = append(*p, errors.New(msg)) }

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

func (p problems) err() error { return errors.Join(p...) }
