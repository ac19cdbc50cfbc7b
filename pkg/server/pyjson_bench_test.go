package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// BenchmarkPyObject encodes a /messages answer the way Python's json.dumps
// did (every non-ASCII character as \uXXXX).
func BenchmarkPyObject(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"ascii-20", "hello, how are you?"},
		{"japanese-20", "ご注文の商品は本日発送いたしました"},
		{"japanese-1000", strings.Repeat("お問い合わせありがとうございます。", 60)},
		{"emoji-20", "発送済みです 🚚🚚🚚🚚🚚"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.text)))
			typ := "message"
			for b.Loop() {
				_ = pyObject(field{Key: "type", Value: &typ}, field{Key: "message", Value: &tc.text})
			}
		})
	}
}

// benchCore answers every call at once, so the benchmarks below measure the
// HTTP layer alone (routing, middleware, body decoding, the reply).
type benchCore struct{}

func (benchCore) Chat(_ context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	return bridge.Chat{Customer: c, ID: "c1", Status: bridge.StatusEstablished}, nil
}
func (benchCore) Open(_ context.Context, v bridge.Visitor) (bridge.Chat, bool, error) {
	return bridge.Chat{Customer: v.CustomerID, ID: "c1", Status: bridge.StatusRequested}, false, nil
}
func (benchCore) Send(context.Context, bridge.CustomerID, bridge.Event) error      { return nil }
func (benchCore) Close(context.Context, bridge.CustomerID, bridge.EndReason) error { return nil }
func (benchCore) Next(_ context.Context, _ bridge.CustomerID, _ time.Duration, accept func(bridge.Event) bool) (bridge.Event, bool, error) {
	ev := bridge.Event{Kind: bridge.KindAgentMessage, Text: "ご注文の商品は本日発送いたしました"}
	return ev, accept(ev), nil
}

// BenchmarkEndpoint serves the seed endpoints in process with a core that
// does nothing: the per-request cost of Echo, the middleware and the
// handlers.
func BenchmarkEndpoint(b *testing.B) {
	h := New(benchCore{}, Options{MessagesWait: time.Second}).Handler()
	for _, tc := range []struct{ path, body string }{
		{"/send", `{"line_id":"U0123456789abcdef0123456789abcdef","message":"注文番号は 42 です"}`},
		{"/messages", `{"line_id":"U0123456789abcdef0123456789abcdef"}`},
		{"/init", `{"line_id":"U0123456789abcdef0123456789abcdef","display_name":"太郎"}`},
	} {
		b.Run(strings.TrimPrefix(tc.path, "/"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", tc.path, rec.Code, rec.Body)
				}
				_, _ = io.Copy(io.Discard, rec.Body)
			}
		})
	}
}
