package miaw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxResponseBody bounds a decoded success response.
const maxResponseBody = 8 << 20

// userAgent is sent with every request.
const userAgent = "line-sf-bridge-miaw/1"

// User says on whose behalf a call is made.
type User struct {
	// ID is the user's id (the LINE user id). In authenticated mode the client mints, caches
	// and renews access tokens for it (subject = ID).
	ID string
	// Token, when set, is used as it is: guest mode, the token minted for the conversation.
	// It cannot be renewed, so a 401 is final.
	Token string
}

// LogValue masks the token and shortens the id (a LINE user id is personal data).
func (u User) LogValue() slog.Value {
	id := u.ID
	if len(id) > 9 {
		id = id[:5] + "…" + id[len(id)-4:]
	}
	return slog.GroupValue(slog.String("id", id), slog.Bool("guest_token", u.Token != ""))
}

// Client calls the MIAW customer API of one deployment. It is safe for concurrent use. Its
// only state is the token cache of authenticated users, which any instance can rebuild.
type Client struct {
	cfg    Config
	hc     *http.Client
	signer *signer // nil: guest tokens

	mu     sync.Mutex
	tokens map[string]*tokenEntry
}

// NewClient returns a client for cfg (zero fields get the documented defaults). hc may be nil
// (a client with a tuned transport is used); its Timeout should be 0, because the event stream
// is a long-lived response: every call applies its own deadline. The client never logs; the
// stream reports connection failures through StreamOptions.OnError.
func NewClient(cfg Config, hc *http.Client) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if hc == nil {
		hc = &http.Client{Transport: newTransport()}
	}
	c := &Client{cfg: cfg, hc: hc, tokens: make(map[string]*tokenEntry)}
	if cfg.PrivateKey != "" {
		s, err := newSigner(cfg.PrivateKey, cfg.KeyID)
		if err != nil {
			return nil, err
		}
		c.signer = s
	}
	return c, nil
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256, // one event stream per user, many users, one host
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// Authenticated reports whether the client mints authenticated tokens (a private key is
// configured).
func (c *Client) Authenticated() bool { return c.signer != nil }

// KeyID returns the kid of the identity tokens ("" in guest mode).
func (c *Client) KeyID() string {
	if c.signer == nil {
		return ""
	}
	return c.signer.kid
}

// request is one API call.
type request struct {
	op     string
	method string
	path   string
	query  url.Values
	body   any
	user   *User  // whose token to send; nil: none
	bearer string // an explicit token (continuation)
}

// do performs r and returns the body of a 2xx answer. A 401 in authenticated mode mints a new
// token once and retries; a 429 waits Retry-After (bounded) and retries up to three times.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	reminted := false
	for limited := 0; ; {
		tok, err := c.bearerFor(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("miaw: %s: %w", r.op, err)
		}
		body, err := c.once(ctx, r, tok)
		if err == nil {
			return body, nil
		}
		se, _ := errors.AsType[*StatusError](err)
		switch {
		case se == nil:
		case se.StatusCode == http.StatusUnauthorized && c.renewable(r) && !reminted:
			reminted = true
			c.ForgetToken(r.user.ID, tok)
			continue
		case se.StatusCode == http.StatusTooManyRequests && limited < 3:
			wait := se.RetryAfter
			if wait <= 0 {
				wait = time.Second << limited
			}
			if wait <= c.cfg.MaxRetryAfter && fits(ctx, wait) {
				limited++
				if sleepCtx(ctx, wait) != nil {
					return nil, fmt.Errorf("miaw: %w", err)
				}
				continue
			}
		}
		return nil, fmt.Errorf("miaw: %w", err)
	}
}

func (c *Client) renewable(r request) bool {
	return r.user != nil && r.user.Token == "" && r.bearer == "" && c.signer != nil
}

func (c *Client) bearerFor(ctx context.Context, r request) (string, error) {
	switch {
	case r.bearer != "":
		return r.bearer, nil
	case r.user == nil:
		return "", nil
	case r.user.Token != "":
		return r.user.Token, nil
	case c.signer == nil || r.user.ID == "":
		return "", ErrNoToken
	}
	t, err := c.Token(ctx, r.user.ID)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// once performs one HTTP request with the client's deadline.
func (c *Client) once(ctx context.Context, r request, bearer string) ([]byte, error) {
	u := c.cfg.URL + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("%s: encode body: %w", r.op, err)
		}
		body = bytes.NewReader(b)
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.op, err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.op, transportError(ctx, cctx, c.cfg.RequestTimeout, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newStatusError(r.op, resp, c.cfg.Now())
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.op, transportError(ctx, cctx, c.cfg.RequestTimeout, err))
	}
	return b, nil
}

// transportError turns the expiry of the client's own deadline into ErrTimeout, and drops the
// URL of a *url.Error (it may carry a conversation id, which is not secret but is noisy).
func transportError(parent, cctx context.Context, d time.Duration, err error) error {
	if parent.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", ErrTimeout, d)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s request: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// fits reports whether ctx leaves at least d.
func fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
