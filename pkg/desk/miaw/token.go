package miaw

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// API paths.
const (
	pathUnauthToken  = "/iamessage/api/v2/authorization/unauthenticated/access-token"
	pathAuthToken    = "/iamessage/api/v2/authorization/authenticated/access-token"
	pathContinuation = "/iamessage/api/v2/authorization/continuation-access-token"
	pathConversation = "/iamessage/api/v2/conversation"
	pathSSE          = "/eventrouter/v1/sse"
)

// Token is an access token and what came with it.
type Token struct {
	AccessToken string
	// LastEventID is where the event stream of a new token starts (its Last-Event-Id).
	LastEventID string
	// Subject is the end user's subject: "v2/iamessage/AUTH/…/uid:<id>" for a verified user,
	// an UNAUTH or ANON subject for a guest.
	Subject  string
	DeviceID string
	// Expiry is the token's exp (or, when it cannot be read, issue time + 1h).
	Expiry time.Time
}

// LogValue never shows the token itself.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subject", t.Subject), slog.Time("expiry", t.Expiry))
}

// tokenResponse is the body of the token resources.
type tokenResponse struct {
	AccessToken string          `json:"accessToken"`
	LastEventID json.RawMessage `json:"lastEventId"` // a string, sometimes a number
	Context     struct {
		DeviceID string `json:"deviceId"`
		EndUser  struct {
			Subject string `json:"subject"`
		} `json:"endUser"`
	} `json:"context"`
}

func (c *Client) decodeToken(op string, b []byte) (Token, error) {
	var r tokenResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return Token{}, fmt.Errorf("miaw: %s: decode: %w", op, err)
	}
	if r.AccessToken == "" {
		return Token{}, fmt.Errorf("miaw: %s: no accessToken in the response", op)
	}
	t := Token{
		AccessToken: r.AccessToken, LastEventID: rawString(r.LastEventID),
		Subject: r.Context.EndUser.Subject, DeviceID: r.Context.DeviceID,
		Expiry: tokenExpiry(r.AccessToken, c.cfg.Now()),
	}
	if t.Subject == "" {
		if cl, ok := readAccessClaims(r.AccessToken); ok {
			t.Subject = cl.Subject
		}
	}
	return t, nil
}

// rawString reads a JSON string or number as a string.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

type tokenRequest struct {
	OrgID                 string        `json:"orgId"`
	ESDeveloperName       string        `json:"esDeveloperName"`
	CapabilitiesVersion   string        `json:"capabilitiesVersion"`
	Platform              string        `json:"platform"`
	Context               *tokenContext `json:"context,omitempty"`
	AuthorizationType     string        `json:"authorizationType,omitempty"`
	CustomerIdentityToken string        `json:"customerIdentityToken,omitempty"`
}

type tokenContext struct {
	AppName       string `json:"appName"`
	ClientVersion string `json:"clientVersion"`
}

func (c *Client) tokenRequest() tokenRequest {
	r := tokenRequest{
		OrgID: c.cfg.OrgID, ESDeveloperName: c.cfg.DeploymentName,
		CapabilitiesVersion: c.cfg.CapabilitiesVersion, Platform: c.cfg.Platform,
	}
	if c.cfg.AppName != "" {
		r.Context = &tokenContext{AppName: c.cfg.AppName, ClientVersion: c.cfg.ClientVersion}
	}
	return r
}

// UnauthenticatedToken mints a guest token: a new anonymous end user. It cannot be renewed for
// the same end user once it expires.
func (c *Client) UnauthenticatedToken(ctx context.Context) (Token, error) {
	const op = "unauthenticated token"
	b, err := c.do(ctx, request{op: op, method: http.MethodPost, path: pathUnauthToken, body: c.tokenRequest()})
	if err != nil {
		return Token{}, err
	}
	return c.decodeToken(op, b)
}

// AuthenticatedToken mints a token for userID (no cache): it signs a customer identity JWT
// (sub = userID) and exchanges it. An anonymous answer (failed User Verification) is
// [ErrVerificationFailed].
func (c *Client) AuthenticatedToken(ctx context.Context, userID string) (Token, error) {
	const op = "authenticated token"
	if c.signer == nil {
		return Token{}, fmt.Errorf("miaw: %s: no private key configured", op)
	}
	if userID == "" {
		return Token{}, fmt.Errorf("miaw: %s: empty user id", op)
	}
	jwt, err := c.signer.identityToken(c.cfg, userID)
	if err != nil {
		return Token{}, err
	}
	body := c.tokenRequest()
	body.AuthorizationType, body.CustomerIdentityToken = "JWT", jwt
	b, err := c.do(ctx, request{op: op, method: http.MethodPost, path: pathAuthToken, body: body})
	if err != nil {
		return Token{}, err
	}
	t, err := c.decodeToken(op, b)
	if err != nil {
		return Token{}, err
	}
	if t.Subject != "" && !strings.Contains(t.Subject, "/AUTH/") {
		return Token{}, fmt.Errorf("%w (subject %q)", ErrVerificationFailed, t.Subject)
	}
	return t, nil
}

// ContinuationToken exchanges a valid access token for one with the same end user and a new
// client id. It does not extend the expiry.
func (c *Client) ContinuationToken(ctx context.Context, accessToken string) (Token, error) {
	const op = "continuation token"
	if accessToken == "" {
		return Token{}, fmt.Errorf("miaw: %s: %w", op, ErrNoToken)
	}
	b, err := c.do(ctx, request{op: op, method: http.MethodGet, path: pathContinuation, bearer: accessToken})
	if err != nil {
		return Token{}, err
	}
	return c.decodeToken(op, b)
}

// tokenEntry is a cached token, or one being minted (done not yet closed).
type tokenEntry struct {
	done chan struct{}
	tok  Token
	err  error
}

// maxCachedTokens bounds the cache; expired entries are swept when it is exceeded.
const maxCachedTokens = 4096

// Token returns a valid access token for userID (authenticated mode), from the cache or newly
// minted. Concurrent callers for the same user share one mint.
func (c *Client) Token(ctx context.Context, userID string) (Token, error) {
	if c.signer == nil {
		return Token{}, ErrNoToken
	}
	for {
		c.mu.Lock()
		e := c.tokens[userID]
		if e != nil {
			select {
			case <-e.done:
				if e.err == nil && c.cfg.Now().Before(e.tok.Expiry.Add(-c.cfg.TokenMargin)) {
					c.mu.Unlock()
					return e.tok, nil
				}
			default:
				c.mu.Unlock()
				select {
				case <-e.done:
					continue
				case <-ctx.Done():
					return Token{}, ctx.Err()
				}
			}
		}
		e = &tokenEntry{done: make(chan struct{})}
		c.tokens[userID] = e
		if len(c.tokens) > maxCachedTokens {
			c.sweepLocked()
		}
		c.mu.Unlock()

		e.tok, e.err = c.AuthenticatedToken(ctx, userID)
		close(e.done)
		if e.err != nil {
			c.mu.Lock()
			if c.tokens[userID] == e {
				delete(c.tokens, userID)
			}
			c.mu.Unlock()
		}
		return e.tok, e.err
	}
}

func (c *Client) sweepLocked() {
	now := c.cfg.Now()
	for id, e := range c.tokens {
		select {
		case <-e.done:
			if e.err != nil || !now.Before(e.tok.Expiry) {
				delete(c.tokens, id)
			}
		default:
		}
	}
}

// ForgetToken drops userID's cached token if it is accessToken (or any token when accessToken
// is empty), so that the next call mints a new one.
func (c *Client) ForgetToken(userID, accessToken string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.tokens[userID]
	if e == nil {
		return
	}
	select {
	case <-e.done:
		if accessToken == "" || e.tok.AccessToken == accessToken {
			delete(c.tokens, userID)
		}
	default:
	}
}
