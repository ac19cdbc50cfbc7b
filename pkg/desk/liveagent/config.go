package liveagent

import (
	"errors"
	"strings"
	"time"
)

// Defaults applied by [NewClient] to zero [Config] fields.
const (
	DefaultAPIVersion        = "49"
	DefaultUserAgent         = "Mozilla/5.0"
	DefaultLanguage          = "ja"
	DefaultRequestTimeout    = 10 * time.Second
	DefaultUploadTimeout     = 2 * time.Minute
	DefaultClientPollTimeout = 40 * time.Second

	// PollMargin is added to [Session.ClientPollTimeout] to get the deadline of one Messages poll.
	PollMargin = 5 * time.Second
)

// Config describes one Live Agent deployment.
type Config struct {
	// Host is the Chat API endpoint, e.g. "https://d.la4-c1-ia4.salesforceliveagent.com".
	// A trailing slash and a trailing "/chat" or "/chat/rest" are tolerated; a missing scheme
	// means https.
	Host string

	OrgID        string // organizationId, 00D…
	DeploymentID string // deploymentId, 572…
	ButtonID     string // buttonId, 573…

	APIVersion     string        // X-LIVEAGENT-API-VERSION; default "49"
	UserAgent      string        // ChasitorInit userAgent and the HTTP User-Agent; default "Mozilla/5.0"
	Language       string        // ChasitorInit language; default "ja"
	RequestTimeout time.Duration // deadline of every call except Messages and UploadFile; default 10s
	UploadTimeout  time.Duration // deadline of UploadFile; default 2m
}

// Validate reports missing required fields.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Host) == "" {
		errs = append(errs, errors.New("liveagent: config: host is required"))
	}
	if c.OrgID == "" {
		errs = append(errs, errors.New("liveagent: config: organization id is required"))
	}
	if c.DeploymentID == "" {
		errs = append(errs, errors.New("liveagent: config: deployment id is required"))
	}
	if c.ButtonID == "" {
		errs = append(errs, errors.New("liveagent: config: button id is required"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Language == "" {
		c.Language = DefaultLanguage
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.UploadTimeout <= 0 {
		c.UploadTimeout = DefaultUploadTimeout
	}
	return c
}

// restBase turns a configured host into the ".../chat/rest/" base URL.
func restBase(host string) string {
	h := strings.TrimSpace(host)
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	h = strings.TrimRight(h, "/")
	h = strings.TrimSuffix(h, "/rest")
	h = strings.TrimRight(h, "/")
	h = strings.TrimSuffix(h, "/chat")
	h = strings.TrimRight(h, "/")
	return h + "/chat/rest/"
}
