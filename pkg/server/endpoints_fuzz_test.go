package server

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// fuzzCore is a healthy core: it never fails for infrastructure reasons,
// so any 5xx from the server is a bug in the HTTP layer. What it answers
// depends on the customer id (no chat, open chat, ended chat) so that the
// fuzzer reaches every branch of the handlers.
type fuzzCore struct{}

func fuzzState(c bridge.CustomerID) int {
	h := fnv.New32a()
	h.Write([]byte(c))
	return int(h.Sum32() % 4)
}

func (fuzzCore) Chat(_ context.Context, c bridge.CustomerID) (bridge.Chat, error) {
	switch fuzzState(c) {
	case 0:
		return bridge.Chat{}, bridge.ErrNoChat
	case 1:
		return bridge.Chat{Customer: c, ID: "c1", Status: bridge.StatusEnded}, nil
	}
	return bridge.Chat{Customer: c, ID: "c1", Status: bridge.StatusEstablished}, nil
}

func (fuzzCore) Open(_ context.Context, v bridge.Visitor) (bridge.Chat, bool, error) {
	switch fuzzState(v.CustomerID) {
	case 0:
		return bridge.Chat{}, false, bridge.ErrStartFailed
	case 1:
		return bridge.Chat{Customer: v.CustomerID, ID: "c1", Status: bridge.StatusRequested}, false, nil
	}
	return bridge.Chat{Customer: v.CustomerID, ID: "c1", Status: bridge.StatusStarting}, true, nil
}

func (fuzzCore) Send(_ context.Context, c bridge.CustomerID, ev bridge.Event) error {
	switch fuzzState(c) {
	case 0:
		return bridge.ErrNoChat
	case 1:
		return bridge.ErrChatClosed
	}
	return nil
}

func (fuzzCore) Close(_ context.Context, c bridge.CustomerID, _ bridge.EndReason) error {
	if fuzzState(c) == 0 {
		return bridge.ErrNoChat
	}
	return nil
}

func (fuzzCore) Next(ctx context.Context, c bridge.CustomerID, _ time.Duration, accept func(bridge.Event) bool) (bridge.Event, bool, error) {
	evs := []bridge.Event{
		{Kind: bridge.KindAgentTyping},
		{Kind: bridge.KindAgentMessage, Text: string(c) + " \u2028\"\\\x00🚚"},
		{Kind: bridge.KindEnded, EndReason: bridge.EndByAgent},
	}
	for _, ev := range evs[fuzzState(c)%len(evs):] {
		if accept(ev) {
			return ev, true, nil
		}
	}
	return bridge.Event{}, false, ctx.Err()
}

var fuzzPaths = []string{"/init", "/messages", "/send", "/close"}

// FuzzEndpoints posts arbitrary bodies (and methods and content types) to
// the four seed endpoints. Bad input must get a 4xx with a JSON body; the
// server must never answer 5xx (the core is healthy) nor panic (the Recover
// middleware would turn a panic into a 500).
func FuzzEndpoints(f *testing.F) {
	seeds := []string{
		`{"line_id":"U1","display_name":"太郎"}`,
		`{"line_id":"U1","display_name":null}`,
		`{"line_id":"U2","display_name":"x","prechatEntities":[{"entityName":"Contact"}]}`,
		`{"line_id":"U3","display_name":"x","prechatEntities":"not json?"}`,
		`{"line_id":"U1","message":"こんにちは"}`,
		`{"line_id":"U1","message":""}`,
		`{"line_id":"U1","message":42}`,
		`{"line_id":"U1","message":["a"]}`,
		`{"line_id":""}`,
		`{"line_id":"   "}`,
		`{"line_id":"U\u0000x"}`,
		`{"line_id":123}`,
		`{"line_id":null}`,
		`{}`,
		`[]`,
		`null`,
		`"line_id"`,
		`{"line_id":"U1"`,
		`{"line_id":"U1","line_id":"U2"}`,
		"\xff\xfe{",
		``,
		`{"line_id":"` + strings.Repeat("U", 300) + `"}`,
		`{"line_id":"U1","message":"` + strings.Repeat("あ", 10001) + `"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i%4), uint8(0), "application/json", []byte(s))
	}
	f.Add(uint8(2), uint8(1), "text/plain", []byte(`{"line_id":"U1","message":"x"}`))
	f.Add(uint8(1), uint8(2), "", []byte(`{"line_id":"U1"}`))
	srv := New(fuzzCore{}, Options{MessagesWait: time.Millisecond, InitWait: time.Millisecond, BodyLimit: "16K"})
	h := srv.Handler()
	methods := []string{http.MethodPost, http.MethodPost, http.MethodOptions, http.MethodGet, http.MethodPut, http.MethodHead}
	f.Fuzz(func(t *testing.T, path, method uint8, contentType string, body []byte) {
		p := fuzzPaths[int(path)%len(fuzzPaths)]
		m := methods[int(method)%len(methods)]
		req := httptest.NewRequest(m, p, strings.NewReader(string(body)))
		if contentType != "" && utf8.ValidString(contentType) && !strings.ContainsAny(contentType, "\r\n") {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", m, p, body, rec.Code, rec.Body.String())
		}
		if m == http.MethodHead || m == http.MethodOptions {
			return
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s %q: status %d, body is not a JSON object: %v: %q", m, p, body, rec.Code, err, rec.Body.String())
		}
		if m == http.MethodPost && rec.Code != http.StatusRequestEntityTooLarge {
			if _, ok := v["type"]; !ok {
				t.Fatalf("POST %s %q: status %d, no \"type\" in %s", p, body, rec.Code, rec.Body.String())
			}
		}
	})
}

// FuzzPyString checks the Python json.dumps-compatible encoder: its output
// is printable ASCII, valid JSON, and decodes to the input (with invalid
// UTF-8 replaced by U+FFFD, as Python's decoder would have).
func FuzzPyString(f *testing.F) {
	for _, s := range []string{"", "接続しました。", "a\"b\\c\n\r\t\b\f", "\x00\x1f\x7f", "🚚🍎", "\ud7ff\ue000\uffff", "\xff\xfe", "\u2028\u2029", "<script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := pyObject(field{Key: "message", Value: &s}, field{Key: "k", Value: nil})
		for i, c := range out {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("byte %#x at %d is not printable ASCII: %q", c, i, out)
			}
		}
		var v struct {
			Message *string `json:"message"`
			K       *string `json:"k"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("not JSON: %v: %s", err, out)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if v.Message == nil || v.K != nil {
			t.Fatalf("decoded %+v from %s", v, out)
		}
		// encoding/json maps each invalid byte to U+FFFD and so does the
		// encoder; ToValidUTF8 collapses runs, so compare rune by rune
		// after expanding the input the same way.
		if *v.Message != want && *v.Message != expandInvalid(s) {
			t.Fatalf("round trip: got %q, want %q", *v.Message, expandInvalid(s))
		}
	})
}

// expandInvalid replaces every invalid byte by U+FFFD, as ranging over a
// string does.
func expandInvalid(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
