package miaw

import (
	"errors"
	"strings"
	"time"
)

// Defaults applied by [NewClient] to zero [Config] fields.
const (
	DefaultCapabilitiesVersion = "1"
	DefaultPlatform            = "Web"
	DefaultRequestTimeout      = 10 * time.Second
	// DefaultIdentityTokenLifetime is the lifetime of the customer identity JWTs the client
	// signs: they are used once, right away, to mint an access token.
	DefaultIdentityTokenLifetime = 5 * time.Minute
	// DefaultTokenLifetime is assumed for an access token whose exp cannot be read.
	DefaultTokenLifetime = time.Hour
	// DefaultTokenMargin: a cached token is renewed this long before it expires.
	DefaultTokenMargin = time.Minute
	// DefaultSilenceTimeout: an event stream that sends nothing (not even a heartbeat) for this
	// long is dead; it is what the official sample app sends as heartbeatTimeout.
	DefaultSilenceTimeout = 90 * time.Second
	DefaultReconnectMin   = time.Second
	DefaultReconnectMax   = 30 * time.Second
	// DefaultMaxRetryAfter caps how long a call waits on a 429 before giving up.
	DefaultMaxRetryAfter = 30 * time.Second
)

// Config describes one Custom Client Embedded Service deployment.
type Config struct {
	// URL is the SCRT URL of the deployment's code snippet, e.g.
	// "https://MyDomain.my.salesforce-scrt.com". A trailing slash is tolerated; a missing
	// scheme means https.
	URL string
	// OrgID is the org id (00D…), sent as orgId and X-Org-Id.
	OrgID string
	// DeploymentName is the developer (API) name of the Embedded Service deployment, sent as
	// esDeveloperName.
	DeploymentName string
	// CapabilitiesVersion is sent when minting tokens (default "1", as the official sample app).
	CapabilitiesVersion string
	// Platform is sent when minting tokens (default "Web").
	Platform string
	// AppName and ClientVersion, when AppName is set, are sent as the token request's context.
	// Default: no context (the official sample sends none, and some orgs reject it).
	AppName       string
	ClientVersion string

	// PrivateKey is a PEM private key (PKCS #8, PKCS #1 RSA or SEC 1 EC P-256). When set, the
	// client mints authenticated tokens (User Verification): it signs a customer identity JWT
	// (RS256 for RSA, ES256 for EC) with subject = the user id, issuer = Issuer. When empty it
	// mints unauthenticated (guest) tokens.
	PrivateKey string
	// Issuer is the iss claim, as registered in the channel's User Verification settings.
	Issuer string
	// KeyID is the JWT kid header. Default: the key's RFC 7638 JWK thumbprint, as in the JWKS
	// that [PublicJWKS] prints.
	KeyID string
	// Audience, when set, is the aud claim.
	Audience string
	// IdentityTokenLifetime is the exp of the signed identity JWTs (default 5m).
	IdentityTokenLifetime time.Duration

	// RequestTimeout is the deadline of each HTTP request other than the event stream
	// (default 10s).
	RequestTimeout time.Duration
	// TokenMargin renews cached tokens this long before their expiry (default 1m).
	TokenMargin time.Duration
	// SilenceTimeout, ReconnectMin and ReconnectMax tune the event stream (defaults 90s, 1s,
	// 30s).
	SilenceTimeout time.Duration
	ReconnectMin   time.Duration
	ReconnectMax   time.Duration
	// MaxRetryAfter caps the wait on a 429 (default 30s); a longer Retry-After fails the call
	// with [ErrRateLimited].
	MaxRetryAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Validate reports missing required fields.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.URL) == "" {
		errs = append(errs, errors.New("miaw: config: url is required"))
	}
	if c.OrgID == "" {
		errs = append(errs, errors.New("miaw: config: org id is required"))
	}
	if c.DeploymentName == "" {
		errs = append(errs, errors.New("miaw: config: deployment name is required"))
	}
	if c.PrivateKey != "" && c.Issuer == "" {
		errs = append(errs, errors.New("miaw: config: issuer is required with a private key"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.CapabilitiesVersion == "" {
		c.CapabilitiesVersion = DefaultCapabilitiesVersion
	}
	if c.Platform == "" {
		c.Platform = DefaultPlatform
	}
	if c.ClientVersion == "" {
		c.ClientVersion = "1.0.0"
	}
	if c.IdentityTokenLifetime <= 0 {
		c.IdentityTokenLifetime = DefaultIdentityTokenLifetime
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.TokenMargin <= 0 {
		c.TokenMargin = DefaultTokenMargin
	}
	if c.SilenceTimeout <= 0 {
		c.SilenceTimeout = DefaultSilenceTimeout
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = DefaultReconnectMax
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.URL = baseURL(c.URL)
	return c
}

func baseURL(u string) string {
	u = strings.TrimSpace(u)
	if u != "" && !strings.Contains(u, "://") {
		u = "https://" + u
	}
	return strings.TrimRight(u, "/")
}
