package config

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EnvVar describes one environment variable read by [Load].
type EnvVar struct {
	Name    string // e.g. "LIVEAGENT_HOST"
	Key     string // its key in the config file, e.g. "liveagent.host"
	Alias   bool   // true for a fallback name (REDIS_TLS_URL, LIVEAGENT_API_VERSION)
	Secret  bool   // masked by String, LogValue and Redacted
	Default string // the default, as written in configs/config.example.yaml
}

// binding ties one config key to its environment variable name(s) and default. The type
// of def decides how an environment value is parsed: int, float64, bool, string,
// time.Duration or []string (comma separated).
type binding struct {
	key    string
	env    []string // first non-empty wins
	def    any
	secret bool
}

// bindings is the configuration contract (design.md §3): every key, its env names, its
// default. configs/config.example.yaml and app.json are tested against it.
var bindings = []binding{
	// Server
	{key: "port", env: []string{"PORT"}, def: 8080},
	{key: "redis_url", env: []string{"REDIS_URL", "REDIS_TLS_URL"}, def: "", secret: true},
	{key: "redis_key_prefix", env: []string{"REDIS_KEY_PREFIX"}, def: "br:"},
	{key: "desk", env: []string{"DESK"}, def: DeskLiveAgent},
	{key: "api_key", env: []string{"BRIDGE_API_KEY"}, def: "", secret: true},
	{key: "admin_api_key", env: []string{"ADMIN_API_KEY"}, def: "", secret: true},
	{key: "messages_wait", env: []string{"MESSAGES_WAIT"}, def: 25 * time.Second},
	{key: "init_wait", env: []string{"INIT_WAIT"}, def: 10 * time.Second},
	{key: "body_limit", env: []string{"BODY_LIMIT"}, def: "64K"},
	{key: "trusted_proxies", env: []string{"TRUSTED_PROXIES"}, def: []string{}},
	{key: "ssl", env: []string{"SSL"}, def: false},
	{key: "debug", env: []string{"DEBUG"}, def: false},
	{key: "secret_key", env: []string{"SECRET_KEY"}, def: "", secret: true},
	{key: "host", env: []string{"HOST"}, def: ""},
	{key: "log_level", env: []string{"LOG_LEVEL"}, def: "info"},
	{key: "log_format", env: []string{"LOG_FORMAT"}, def: "json"},
	{key: "shutdown_timeout", env: []string{"SHUTDOWN_TIMEOUT"}, def: 25 * time.Second},

	// Live Agent
	{key: "liveagent.host", env: []string{"LIVEAGENT_HOST"}, def: ""},
	{key: "liveagent.organization_id", env: []string{"LIVEAGENT_ORGANIZATION_ID"}, def: ""},
	{key: "liveagent.deployment_id", env: []string{"LIVEAGENT_DEPLOYMENT_ID"}, def: ""},
	{key: "liveagent.button_id", env: []string{"LIVEAGENT_BUTTON_ID"}, def: ""},
	{key: "liveagent.api_version", env: []string{"API_VERSION", "LIVEAGENT_API_VERSION"}, def: "49"},
	{key: "liveagent.user_agent", env: []string{"USER_AGENT"}, def: "Mozilla/5.0"},
	{key: "liveagent.language", env: []string{"LIVEAGENT_LANGUAGE"}, def: "ja"},
	{key: "liveagent.request_timeout", env: []string{"LIVEAGENT_REQUEST_TIMEOUT"}, def: 10 * time.Second},
	{key: "liveagent.prechat_label", env: []string{"LIVEAGENT_PRECHAT_LABEL"}, def: "ContactLineId"},

	// LINE
	{key: "line.channel_secret", env: []string{"LINE_CHANNEL_SECRET"}, def: "", secret: true},
	{key: "line.channel_token", env: []string{"LINE_CHANNEL_TOKEN"}, def: "", secret: true},
	{key: "line.api_base_url", env: []string{"LINE_API_BASE_URL"}, def: "https://api.line.me"},
	{key: "line.data_api_base_url", env: []string{"LINE_DATA_API_BASE_URL"}, def: "https://api-data.line.me"},
	{key: "line.forward_url", env: []string{"LINE_FORWARD_URL"}, def: ""},
	{key: "line.handover_keywords", env: []string{"LINE_HANDOVER_KEYWORDS"}, def: []string{"オペレーター", "operator", "担当者", "有人対応"}},
	{key: "line.end_keywords", env: []string{"LINE_END_KEYWORDS"}, def: []string{"終了", "end"}},
	{key: "line.handover_postback", env: []string{"LINE_HANDOVER_POSTBACK"}, def: "action=handover"},
	{key: "line.end_postback", env: []string{"LINE_END_POSTBACK"}, def: "action=end"},
	{key: "line.notice_language", env: []string{"NOTICE_LANGUAGE"}, def: "ja"},
	{key: "line.history_lines", env: []string{"LINE_HISTORY_LINES"}, def: 20},

	// Events
	{key: "events.webhook_url", env: []string{"EVENTS_WEBHOOK_URL"}, def: ""},
	{key: "events.webhook_secret", env: []string{"EVENTS_WEBHOOK_SECRET"}, def: "", secret: true},
	{key: "events.webhook_format", env: []string{"EVENTS_WEBHOOK_FORMAT"}, def: EventFormatStandard},
	{key: "events.webhook_events", env: []string{"EVENTS_WEBHOOK_EVENTS"}, def: []string{}},
	{key: "events.allow_private", env: []string{"EVENTS_ALLOW_PRIVATE"}, def: false},

	// Relay
	{key: "relay.lease_ttl", env: []string{"LEASE_TTL"}, def: 10 * time.Second},
	{key: "relay.lease_scan_interval", env: []string{"LEASE_SCAN_INTERVAL"}, def: 1 * time.Second},
	{key: "relay.chat_retention", env: []string{"CHAT_RETENTION"}, def: 168 * time.Hour},

	// Rate limit
	{key: "rate_limit.rps", env: []string{"RATE_LIMIT_RPS"}, def: 20.0},
	{key: "rate_limit.burst", env: []string{"RATE_LIMIT_BURST"}, def: 40},

	// Enhanced Chat (MIAW)
	{key: "miaw.url", env: []string{"MIAW_URL"}, def: ""},
	{key: "miaw.org_id", env: []string{"MIAW_ORG_ID"}, def: ""},
	{key: "miaw.deployment_name", env: []string{"MIAW_DEPLOYMENT_NAME"}, def: ""},
	{key: "miaw.capabilities_version", env: []string{"MIAW_CAPABILITIES_VERSION"}, def: "1"},
	{key: "miaw.private_key", env: []string{"MIAW_PRIVATE_KEY"}, def: "", secret: true},
	{key: "miaw.issuer", env: []string{"MIAW_ISSUER"}, def: ""},
}

// envConfigFile names the config file when Load is given none.
const envConfigFile = "CONFIG_FILE"

// EnvVars lists every environment variable [Load] reads into [Config], in the order of
// configs/config.example.yaml; a fallback name follows its primary name. CONFIG_FILE, which
// names the file itself, is not listed.
func EnvVars() []EnvVar {
	var out []EnvVar
	for _, b := range bindings {
		for i, name := range b.env {
			out = append(out, EnvVar{Name: name, Key: b.key, Alias: i > 0, Secret: b.secret, Default: formatValue(b.def)})
		}
	}
	return out
}

// parseEnv converts an environment value to the type of def.
func parseEnv(name, raw string, def any) (any, error) {
	switch def.(type) {
	case string:
		return raw, nil
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return nil, fmt.Errorf("%s must be a whole number such as %d (got %q)", name, def, raw)
		}
		return n, nil
	case float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s must be a number such as %s (got %q)", name, formatValue(def), raw)
		}
		return f, nil
	case bool:
		v, err := parseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("%s must be true or false (True, 1, yes and on are accepted; got %q)", name, raw)
		}
		return v, nil
	case time.Duration:
		d, err := parseDuration(raw)
		if err != nil {
			return nil, fmt.Errorf("%s must be a duration such as %s, or a number of seconds (got %q)", name, formatValue(def), raw)
		}
		return d, nil
	case []string:
		return splitList(raw), nil
	default:
		panic(fmt.Sprintf("config: binding %s has unsupported default type %T", name, def))
	}
}

// parseBool accepts the spellings seen in Heroku and Django configurations.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		return true, nil
	case "0", "f", "false", "n", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", s)
}

var bareNumber = regexp.MustCompile(`^[+-]?\d+(\.\d+)?$`)

// parseDuration accepts Go syntax ("25s", "1m30s") and bare numbers of seconds ("25", "0.5").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if bareNumber.MatchString(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(f) > float64(math.MaxInt64/int64(time.Second)) {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// splitList splits a comma-separated list, trimming spaces and dropping empty items; "" and
// "," both give an empty list.
func splitList(s string) []string {
	out := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

var byteSize = regexp.MustCompile(`(?i)^(\d+(?:\.\d+)?)\s?([KMGTPE]i?B?|B?)$`)

// parseByteSize reads a size the way Echo v4's BodyLimit does (labstack/gommon/bytes):
// K, KB = 1000; Ki, KiB = 1024; and so on up to E; no unit or B = bytes.
func parseByteSize(s string) (int64, error) {
	m := byteSize.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	unit := strings.ToUpper(strings.TrimSuffix(strings.ToUpper(m[2]), "B"))
	mult := 1.0
	if unit != "" {
		base := 1000.0
		if strings.HasSuffix(unit, "I") {
			base = 1024
			unit = strings.TrimSuffix(unit, "I")
		}
		mult = math.Pow(base, float64(strings.Index("KMGTPE", unit)+1))
	}
	n := f * mult
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return int64(n), nil
}

// parsePrefix reads a CIDR or a bare address (as a single-address prefix).
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// formatValue renders a default the way the example file writes it.
func formatValue(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return formatDuration(v)
	case []string:
		return strings.Join(v, ",")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// formatDuration writes whole hours, minutes or seconds without the zero parts ("168h",
// "10m", "25s"), and anything else as time.Duration.String does.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	default:
		return d.String()
	}
}
