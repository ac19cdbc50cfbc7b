package liveagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header names of the Chat REST API.
const (
	HeaderAPIVersion = "X-LIVEAGENT-API-VERSION"
	HeaderAffinity   = "X-LIVEAGENT-AFFINITY"
	HeaderSessionKey = "X-LIVEAGENT-SESSION-KEY"
	HeaderSequence   = "X-LIVEAGENT-SEQUENCE"
)

// nullAffinity is the literal affinity sent before a session exists and on ReconnectSession.
const nullAffinity = "null"

// maxResponseBody bounds the size of a decoded success response.
const maxResponseBody = 8 << 20

// Client calls the Chat REST API of one deployment. It is safe for concurrent use; it holds no
// per-session state.
type Client struct {
	cfg  Config
	base string // ".../chat/rest/"
	hc   *http.Client
}

// NewClient returns a client for cfg (zero fields get the documented defaults). If hc is nil
// the client uses its own http.Client with a tuned transport. Deadlines are always applied per
// call through the context; hc.Timeout is not relied on (and should be 0, because Messages long
// polls legitimately take ClientPollTimeout).
func NewClient(cfg Config, hc *http.Client) *Client {
	cfg = cfg.withDefaults()
	if hc == nil {
		hc = &http.Client{Transport: newTransport()}
	}
	return &Client{cfg: cfg, base: restBase(cfg.Host), hc: hc}
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256, // one long poll per chat, many chats, one host
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// headerSet selects the X-LIVEAGENT-* headers of one resource (protocol doc §1).
type headerSet int

const (
	hdrVersion        headerSet = iota // Visitor/*
	hdrVersionNullAff                  // System/SessionId
	hdrSession                         // Messages, ChasitorResyncState: version, affinity, key
	hdrSessionSeq                      // Chasitor/* POSTs: version, affinity, key, sequence
	hdrReconnect                       // ReconnectSession: version, affinity "null", key
	hdrVersionAff                      // DELETE SessionId/{key}: version, affinity
)

// call is one request to a REST resource.
type call struct {
	op      string // lowercase op name for errors
	method  string
	path    string // relative to .../chat/rest/
	query   url.Values
	headers headerSet
	s       Session
	seq     int64
	body    any // marshalled as JSON when non-nil
	timeout time.Duration
}

// do performs c and returns the status and body of a 2xx response. Non-2xx statuses become a
// *StatusError. The returned error is not wrapped with the op; callers wrap it.
func (c *Client) do(ctx context.Context, k call) (int, []byte, error) {
	u := c.base + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	var body io.Reader
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	timeout := k.timeout
	if timeout <= 0 {
		timeout = c.cfg.RequestTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, k.method, u, body)
	if err != nil {
		return 0, nil, err
	}
	if k.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	c.setHeaders(req.Header, k)

	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, c.transportError(ctx, cctx, timeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
		if len(b) > maxErrorBody {
			b = append(b[:maxErrorBody], "…"...)
		}
		// Drain a little more so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, nil, &StatusError{Op: k.op, StatusCode: resp.StatusCode, Body: string(b)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return resp.StatusCode, nil, c.transportError(ctx, cctx, timeout, err)
	}
	return resp.StatusCode, b, nil
}

func (c *Client) setHeaders(h http.Header, k call) {
	h.Set(HeaderAPIVersion, c.cfg.APIVersion)
	switch k.headers {
	case hdrVersion:
	case hdrVersionNullAff:
		h.Set(HeaderAffinity, nullAffinity)
	case hdrSession:
		h.Set(HeaderAffinity, affinity(k.s))
		h.Set(HeaderSessionKey, k.s.Key)
	case hdrSessionSeq:
		h.Set(HeaderAffinity, affinity(k.s))
		h.Set(HeaderSessionKey, k.s.Key)
		h.Set(HeaderSequence, strconv.FormatInt(k.seq, 10))
	case hdrReconnect:
		h.Set(HeaderAffinity, nullAffinity)
		h.Set(HeaderSessionKey, k.s.Key)
	case hdrVersionAff:
		h.Set(HeaderAffinity, affinity(k.s))
	}
}

func affinity(s Session) string {
	if s.AffinityToken == "" {
		return nullAffinity
	}
	return s.AffinityToken
}

// transportError turns the expiry of the client's own deadline into ErrTimeout, so that it can
// be told apart from the caller's cancellation. It also drops the URL of a *url.Error: the URL of
// DELETE SessionId contains the session key, which must never reach a log.
func (c *Client) transportError(parent, cctx context.Context, d time.Duration, err error) error {
	if parent.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", ErrTimeout, d)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s request: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
