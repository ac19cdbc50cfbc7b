package line

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Defaults of [Config]. pkg/config maps the environment onto Config; a zero
// field takes the default below when a constructor calls [Config.WithDefaults].
const (
	DefaultAPIBaseURL       = "https://api.line.me"
	DefaultDataAPIBaseURL   = "https://api-data.line.me"
	DefaultHandoverPostback = "action=handover"
	DefaultEndPostback      = "action=end"
	DefaultNoticeLanguage   = "ja"
	DefaultHTTPTimeout      = 10 * time.Second
	DefaultContentTimeout   = 60 * time.Second
	DefaultHistoryLines     = 20
	DefaultLoadingSeconds   = 20
	DefaultTypingInterval   = 5 * time.Second
	DefaultPushAttempts     = 3
	DefaultWorkers          = 8
	DefaultQueueSize        = 256
	DefaultEventTimeout     = 30 * time.Second
	DefaultMaxBodyBytes     = 1 << 20  // 1 MiB
	DefaultMaxContentBytes  = 25 << 20 // 25 MiB
	DefaultForwardAttempts  = 3
	// DefaultVisitorName is the display name used when the profile API fails.
	DefaultVisitorName = "LINE user"
)

// DefaultHandoverKeywords and DefaultEndKeywords are the keyword lists used
// when the configuration gives none. Keywords match a whole text message,
// ignoring case and surrounding blank space.
var (
	DefaultHandoverKeywords = []string{"オペレーター", "operator", "担当者", "有人対応"}
	DefaultEndKeywords      = []string{"終了", "end chat", "チャット終了"}
)

// Config configures the LINE channel. pkg/config fills it from
// LINE_CHANNEL_SECRET, LINE_CHANNEL_TOKEN, LINE_API_BASE_URL,
// LINE_DATA_API_BASE_URL, LINE_FORWARD_URL, LINE_HANDOVER_KEYWORDS,
// LINE_END_KEYWORDS, LINE_HANDOVER_POSTBACK, LINE_END_POSTBACK and
// NOTICE_LANGUAGE; the other fields have no variable yet and keep their
// defaults.
type Config struct {
	// ChannelSecret verifies webhook signatures and signs forwarded bodies.
	// Required by the Webhook. Never logged.
	ChannelSecret string `json:"-"`
	// ChannelToken is the long-lived channel access token. Required by
	// Pusher and ReadMarker; without it the Webhook cannot reply, read
	// profiles or download content. Never logged.
	ChannelToken string `json:"-"`
	// APIBaseURL is the Messaging API endpoint (default https://api.line.me).
	APIBaseURL string
	// DataAPIBaseURL serves message content (default https://api-data.line.me).
	DataAPIBaseURL string
	// ForwardURL, when set, receives every webhook event the bridge does not
	// consume, re-signed with ChannelSecret. Empty: such events are dropped.
	ForwardURL string
	// HandoverKeywords start a chat when a text message equals one of them
	// (case-insensitive, blank space trimmed). Default DefaultHandoverKeywords.
	HandoverKeywords []string
	// EndKeywords end the open chat the same way. Default DefaultEndKeywords.
	EndKeywords []string
	// HandoverPostback and EndPostback are postback data values that start
	// and end a chat (defaults "action=handover", "action=end").
	HandoverPostback string
	EndPostback      string
	// NoticeLanguage is the default language of notices ("ja" or "en",
	// default "ja"); a chat whose Visitor.Language is a known language uses
	// that instead. Notes shown to the agent always use NoticeLanguage.
	NoticeLanguage string
	// HTTPTimeout bounds every Messaging API call and every forward attempt
	// (default 10 s).
	HTTPTimeout time.Duration
	// ContentTimeout bounds a content download and upload (default 60 s).
	ContentTimeout time.Duration
	// HistoryLines is how many recent user lines are remembered for the
	// agent (default 20; negative disables).
	HistoryLines int
	// VisitorFields are extra pre-chat fields (label → value) added to every
	// chat the Webhook starts.
	VisitorFields map[string]string
	// LoadingSeconds is the length of the loading animation shown while the
	// agent types: 5–60, rounded up to a multiple of 5 (default 20).
	LoadingSeconds int
	// TypingInterval is the minimum time between two loading animations for
	// one user (default 5 s).
	TypingInterval time.Duration
	// PushAttempts is how many times one push request is tried within one
	// delivery before the core's own retry takes over (default 3).
	PushAttempts int
	// Workers and QueueSize bound the webhook's background processing
	// (defaults 8 workers, 256 queued event groups).
	Workers   int
	QueueSize int
	// EventTimeout bounds the processing of one webhook event (default 30 s).
	EventTimeout time.Duration
	// MaxBodyBytes limits a webhook body (default 1 MiB).
	MaxBodyBytes int64
	// MaxContentBytes limits a file uploaded to the agent (default 25 MiB).
	MaxContentBytes int64
	// ForwardAttempts is how many times a forward is tried on 5xx or network
	// errors (default 3).
	ForwardAttempts int
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	if c.DataAPIBaseURL == "" {
		c.DataAPIBaseURL = DefaultDataAPIBaseURL
	}
	c.APIBaseURL = strings.TrimRight(c.APIBaseURL, "/")
	c.DataAPIBaseURL = strings.TrimRight(c.DataAPIBaseURL, "/")
	if c.HandoverKeywords == nil {
		c.HandoverKeywords = DefaultHandoverKeywords
	}
	if c.EndKeywords == nil {
		c.EndKeywords = DefaultEndKeywords
	}
	if c.HandoverPostback == "" {
		c.HandoverPostback = DefaultHandoverPostback
	}
	if c.EndPostback == "" {
		c.EndPostback = DefaultEndPostback
	}
	if c.NoticeLanguage == "" {
		c.NoticeLanguage = DefaultNoticeLanguage
	}
	c.NoticeLanguage = normLang(c.NoticeLanguage)
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.ContentTimeout <= 0 {
		c.ContentTimeout = DefaultContentTimeout
	}
	if c.HistoryLines == 0 {
		c.HistoryLines = DefaultHistoryLines
	}
	if c.LoadingSeconds <= 0 {
		c.LoadingSeconds = DefaultLoadingSeconds
	}
	c.LoadingSeconds = min(60, max(5, (c.LoadingSeconds+4)/5*5))
	if c.TypingInterval <= 0 {
		c.TypingInterval = DefaultTypingInterval
	}
	if c.PushAttempts <= 0 {
		c.PushAttempts = DefaultPushAttempts
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.EventTimeout <= 0 {
		c.EventTimeout = DefaultEventTimeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxContentBytes <= 0 {
		c.MaxContentBytes = DefaultMaxContentBytes
	}
	if c.ForwardAttempts <= 0 {
		c.ForwardAttempts = DefaultForwardAttempts
	}
	return c
}

// Validate checks the fields every part of the channel relies on (call it on
// the result of WithDefaults). Which credentials are required depends on the
// part: the constructors check those.
func (c Config) Validate() error {
	var errs []error
	for _, u := range []struct{ name, url string }{
		{"api base url", c.APIBaseURL}, {"data api base url", c.DataAPIBaseURL}, {"forward url", c.ForwardURL},
	} {
		if u.url == "" && u.name == "forward url" {
			continue
		}
		p, err := url.Parse(u.url)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("line: %s %q is not an http(s) URL", u.name, u.url))
		}
	}
	if c.NoticeLanguage != "" && !knownLanguage(c.NoticeLanguage) {
		errs = append(errs, fmt.Errorf("line: notice language %q has no templates (have %s)", c.NoticeLanguage, strings.Join(languages(), ", ")))
	}
	if c.HandoverPostback != "" && c.HandoverPostback == c.EndPostback {
		errs = append(errs, errors.New("line: handover and end postback data must differ"))
	}
	for _, k := range c.HandoverKeywords {
		for _, e := range c.EndKeywords {
			if normKeyword(k) == normKeyword(e) {
				errs = append(errs, fmt.Errorf("line: keyword %q is both a handover and an end keyword", k))
			}
		}
	}
	return errors.Join(errs...)
}

// LogValue logs the configuration without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("channel_secret_set", c.ChannelSecret != ""),
		slog.Bool("channel_token_set", c.ChannelToken != ""),
		slog.String("api_base_url", c.APIBaseURL),
		slog.String("data_api_base_url", c.DataAPIBaseURL),
		slog.Bool("forward", c.ForwardURL != ""),
		slog.Any("handover_keywords", c.HandoverKeywords),
		slog.Any("end_keywords", c.EndKeywords),
		slog.String("handover_postback", c.HandoverPostback),
		slog.String("end_postback", c.EndPostback),
		slog.String("notice_language", c.NoticeLanguage),
		slog.Duration("http_timeout", c.HTTPTimeout),
		slog.Int("history_lines", c.HistoryLines),
	)
}

// String keeps the secrets out of fmt output too.
func (c Config) String() string { return c.LogValue().String() }

// normKeyword is how keywords and texts are compared.
func normKeyword(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func matchKeyword(text string, keywords []string) bool {
	t := normKeyword(text)
	if t == "" {
		return false
	}
	for _, k := range keywords {
		if normKeyword(k) == t {
			return true
		}
	}
	return false
}
