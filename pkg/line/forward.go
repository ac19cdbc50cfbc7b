package line

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// forwarder passes the events the bridge did not consume on to the bot
// behind it, as a webhook request of their own: the original events byte for
// byte, in a body signed with the channel secret, so the bot's own signature
// check passes. 5xx answers and network errors are retried a few times.
type forwarder struct {
	url       string
	secret    string
	hc        *http.Client
	attempts  int
	timeout   time.Duration
	retryBase time.Duration
	log       *slog.Logger
}

func newForwarder(cfg Config, log *slog.Logger) *forwarder {
	return &forwarder{url: cfg.ForwardURL, secret: cfg.ChannelSecret, hc: &http.Client{Timeout: cfg.HTTPTimeout},
		attempts: cfg.ForwardAttempts, timeout: cfg.HTTPTimeout, retryBase: 200 * time.Millisecond, log: log}
}

// forwardBody builds {"destination":…,"events":[…]} around raw events.
func forwardBody(destination string, events []json.RawMessage) []byte {
	var b bytes.Buffer
	d, _ := json.Marshal(destination)
	b.WriteString(`{"destination":`)
	b.Write(d)
	b.WriteString(`,"events":[`)
	for i, e := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// Sign returns the X-Line-Signature of body: Base64 of its HMAC-SHA256
// keyed by the channel secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (f *forwarder) forward(ctx context.Context, j job, events []json.RawMessage) {
	body := forwardBody(j.destination, events)
	sig := Sign(f.secret, body)
	ct := j.contentType
	if ct == "" {
		ct = "application/json; charset=utf-8"
	}
	var err error
	for attempt := 1; attempt <= f.attempts; attempt++ {
		if attempt > 1 {
			if backoff(ctx, f.retryBase, attempt-1) != nil {
				break
			}
		}
		var retry bool
		retry, err = f.post(ctx, body, sig, ct, j.userAgent)
		if err == nil {
			f.log.DebugContext(ctx, "line events forwarded", "events", len(events))
			return
		}
		if !retry {
			break
		}
	}
	f.log.WarnContext(ctx, "line events not forwarded", "events", len(events), "error", err)
}

func (f *forwarder) post(ctx context.Context, body []byte, sig, ct, ua string) (retry bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Line-Signature", sig)
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	res, err := f.hc.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("line: forward: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 == 2 {
		return false, nil
	}
	return res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests,
		fmt.Errorf("line: forward: status %d", res.StatusCode)
}
