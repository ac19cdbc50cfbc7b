package line

import (
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"
)

// client builds SDK clients bound to one call's context.
//
// The SDK's WithContext mutates the shared client, so it is never used.
// Instead every call gets a fresh, cheap SDK client whose http.Client has a
// timeout and whose transport also honours the caller's ctx; connections are
// pooled in the shared base transport.
type client struct {
	token    string
	api      string
	data     string
	timeout  time.Duration
	ctimeout time.Duration
	base     http.RoundTripper
}

func newClient(cfg Config, base http.RoundTripper) *client {
	if base == nil {
		base = http.DefaultTransport
	}
	return &client{token: cfg.ChannelToken, api: cfg.APIBaseURL, data: cfg.DataAPIBaseURL,
		timeout: cfg.HTTPTimeout, ctimeout: cfg.ContentTimeout, base: base}
}

// messaging returns a Messaging API client for one call under ctx.
func (c *client) messaging(ctx context.Context) (*messaging_api.MessagingApiAPI, error) {
	hc := &http.Client{Timeout: c.timeout, Transport: ctxTransport{ctx: ctx, base: c.base}}
	return messaging_api.NewMessagingApiAPI(c.token,
		messaging_api.WithEndpoint(c.api), messaging_api.WithHTTPClient(hc))
}

// blob returns a content (data API) client for one call under ctx.
func (c *client) blob(ctx context.Context) (*messaging_api.MessagingApiBlobAPI, error) {
	hc := &http.Client{Timeout: c.ctimeout, Transport: ctxTransport{ctx: ctx, base: c.base}}
	return messaging_api.NewMessagingApiBlobAPI(c.token,
		messaging_api.WithBlobEndpoint(c.data), messaging_api.WithBlobHTTPClient(hc))
}

// ctxTransport makes a request also end when ctx ends, keeping the request's
// own context (which carries the http.Client timeout).
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(r.Context())
	stop := context.AfterFunc(t.ctx, func() { cancel(context.Cause(t.ctx)) })
	res, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		stop()
		cancel(nil)
		return nil, err
	}
	res.Body = &doneBody{ReadCloser: res.Body, done: func() { stop(); cancel(nil) }}
	return res, nil
}

type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

// Read releases the call's resources at EOF too: the SDK replaces the body of
// an error response without closing it.
func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

// backoff waits before attempt n+1 (n ≥ 1): base·2^(n-1), jittered ±50 %,
// or until ctx ends.
func backoff(ctx context.Context, base time.Duration, n int) error {
	d := base << (n - 1)
	d = d/2 + rand.N(d+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryKeyNamespace is the UUID namespace of push retry keys.
var retryKeyNamespace = [16]byte{0x6c, 0x69, 0x6e, 0x65, 0x2d, 0x70, 0x75, 0x73, 0x68, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x76, 0x31}

// RetryKey derives the X-Line-Retry-Key of request i of the delivery whose
// key is deliveryKey: a name-based (version 5) UUID, so every retry of the
// delivery — in this process or after a restart — sends the same keys and
// LINE accepts each request once.
func RetryKey(deliveryKey string, i int) string {
	h := sha1.New()
	h.Write(retryKeyNamespace[:])
	h.Write([]byte(deliveryKey))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(i)))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
