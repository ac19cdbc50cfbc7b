package line_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/line"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// fuzzBridge is a healthy core whose answers depend on the customer id, so
// that events reach every branch of the handler.
type fuzzBridge struct{}

func fuzzOpen(c bridge.CustomerID) bool { return len(c)%2 == 1 }

func (fuzzBridge) Chat(_ context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	if fuzzOpen(c) {
		return bridge.Chat{Customer: c, ID: "c1", Status: bridge.StatusEstablished, FileRequest: &bridge.FileRef{Token: "t"}}, nil
	}
	return bridge.Chat{}, bridge.ErrNoChat
}

func (fuzzBridge) Open(_ context.Context, v bridge.Visitor) (bridge.Chat, bool, error) {
	return bridge.Chat{Customer: v.CustomerID, ID: "c1", Status: bridge.StatusStarting}, true, nil
}

func (fuzzBridge) Send(context.Context, bridge.CustomerID, bridge.Event) error { return nil }

func (fuzzBridge) Close(context.Context, bridge.CustomerID, bridge.EndReason) error { return nil }

func (fuzzBridge) Upload(_ context.Context, _ bridge.CustomerID, _, _ string, r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	return bridge.ErrNoFileRequested
}

type fuzzStore struct{}

func (fuzzStore) Once(context.Context, string, time.Duration) (bool, error) { return true, nil }

func (fuzzStore) Remember(context.Context, bridge.CustomerID, string, int) error { return nil }

func (fuzzStore) Recall(context.Context, bridge.CustomerID) ([]string, error) {
	return []string{"user: こんにちは"}, nil
}

// panicLog records the messages logged at error level.
type panicLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *panicLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (h *panicLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "panic" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	h.msgs = append(h.msgs, msg)
	return nil
}
func (h *panicLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *panicLog) WithGroup(string) slog.Handler      { return h }

const fuzzSecret = "fuzz-channel-secret"

// FuzzWebhook posts arbitrary bodies to the LINE webhook, signed with the
// channel secret (so they get past the signature check) or not. Bad input
// must be answered 4xx, never 5xx; no event may make the handler panic,
// neither while answering nor in the background workers.
func FuzzWebhook(f *testing.F) {
	u := "U0123456789abcdef0123456789abcdef"
	g := linesim.Text(u, "hi").InGroup("C0123456789abcdef0123456789abcdef")
	for _, body := range [][]byte{
		linesim.Body(),
		linesim.Body(linesim.Text(u, "オペレーター")),
		linesim.Body(linesim.Text(u+"x", "終了"), linesim.Text(u+"x", "注文番号は 42 です")),
		linesim.Body(linesim.Sticker(u, "1", "2"), linesim.Image(u+"x"), linesim.Video(u), linesim.Audio(u), linesim.File(u+"x", "a.pdf", 10)),
		linesim.Body(linesim.Location(u, "東京", "千代田区", 35.68, 139.76), linesim.Postback(u, "action=handover"), linesim.Postback(u, "action=end")),
		linesim.Body(linesim.Follow(u), linesim.Unfollow(u+"x"), g, linesim.Text(u, "x").Standby(), linesim.Text(u, "x").Redelivered()),
		[]byte(`{"destination":"U1","events":[{"type":"message","source":{"type":"user","userId":"U1"},"message":{"type":"text"}}]}`),
		[]byte(`{"destination":"U1","events":[{"type":"message","source":{"type":"user","userId":"U1"},"message":null}]}`),
		[]byte(`{"destination":"U1","events":[{"type":"postback","source":{"type":"user","userId":"U1"}}]}`),
		[]byte(`{"destination":"U1","events":[{"type":"unknownType","source":{"type":"user","userId":"U1"}}]}`),
		[]byte(`{"destination":"U1","events":[{"type":"message","source":{"type":"user","userId":"U1"},"message":{"type":"image","contentProvider":{"type":"external"}}}]}`),
		[]byte(`{"destination":"U1","events":[{"type":"message","source":{"type":"user"},"message":{"type":"text","text":"x"}}]}`),
		[]byte(`{"destination":"U1","events":[{"type":"message","source":{"type":"user","userId":"U1"},"message":{"type":"text","text":"x","id":5}}]}`),
		[]byte(`{"destination":"U1","events":[null]}`),
		[]byte(`{"destination":"U1","events":[1,"x"]}`),
		[]byte(`{"destination":"U1","events":null}`),
		[]byte(`{"events":{}}`),
		[]byte(`[]`),
		[]byte(`{`),
		[]byte(``),
	} {
		f.Add(body, true, "")
	}
	f.Add([]byte(`{"destination":"U1","events":[]}`), false, "bad")
	f.Add([]byte(`{"destination":"U1","events":[]}`), false, "")
	f.Fuzz(func(t *testing.T, body []byte, sign bool, sig string) {
		logs := &panicLog{}
		w, err := line.NewWebhook(line.Config{ChannelSecret: fuzzSecret, Workers: 2, QueueSize: 16, EventTimeout: time.Second},
			fuzzBridge{}, fuzzStore{}, slog.New(logs))
		if err != nil {
			t.Fatal(err)
		}
		if sign {
			sig = linesim.Sign(fuzzSecret, body)
		}
		if !utf8.ValidString(sig) || strings.ContainsFunc(sig, unicode.IsControl) {
			sig = "x"
		}
		req := linesim.RawRequest("http://bridge.test/line/webhook", body, sig)
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
		if rec.Code >= 500 || (rec.Code != http.StatusOK && rec.Code < 400) {
			t.Fatalf("status %d for %q (signed %v): %s", rec.Code, body, sign, rec.Body.String())
		}
		if !sign && sig != linesim.Sign(fuzzSecret, body) && rec.Code == http.StatusOK {
			t.Fatalf("unsigned body accepted: %q", body)
		}
		logs.mu.Lock()
		defer logs.mu.Unlock()
		for _, m := range logs.msgs {
			if strings.Contains(m, "panicked") {
				t.Fatalf("handler panicked on %q: %s", body, m)
			}
		}
	})
}

// FuzzSplitText checks LINE text splitting: pieces fit, none is empty, none
// splits a character, and only blank space at the cuts is lost.
func FuzzSplitText(f *testing.F) {
	for _, s := range []string{"", "  ", "あいうえお", "🍎🍎🍎🍎", "a b c d e f", "一文目。二文目。三文目。", "line1\nline2\n\npara", "\xff\xfe\xfd", strings.Repeat("x", 50)} {
		f.Add(s, 3)
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < -1 || max > 6000 || len(s) > 20000 {
			return
		}
		pieces := line.SplitText(s, max)
		limit := max
		if limit < 2 {
			limit = 2
		}
		for i, p := range pieces {
			if p == "" {
				t.Fatalf("piece %d is empty: %q", i, pieces)
			}
			if n := line.UTF16Len(p); n > limit {
				t.Fatalf("piece %d has %d UTF-16 units, limit %d", i, n, limit)
			}
			if utf8.ValidString(s) && !utf8.ValidString(p) {
				t.Fatalf("piece %d splits a character: %q", i, p)
			}
		}
		strip := func(x string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return -1
				}
				return r
			}, x)
		}
		// Strip each piece on its own: joining the bytes first could make
		// invalid bytes on both sides of a cut form a valid character.
		var got strings.Builder
		for _, p := range pieces {
			got.WriteString(strip(p))
		}
		if got, want := got.String(), strip(s); got != want {
			t.Fatalf("content changed:\n got %q\nwant %q", got, want)
		}
	})
}
