package linesim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

const token = "tok"

type call struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, srv *httptest.Server, method, path, tok, retryKey string, body any) call {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL+path, r)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if retryKey != "" {
		req.Header.Set("X-Line-Retry-Key", retryKey)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	c := call{status: res.StatusCode, header: res.Header}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &c.body)
	return c
}

func start(t *testing.T) (*Server, *httptest.Server) {
	s := New(token)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close)
	return s, srv
}

func texts(n int, text string) map[string]any {
	var msgs []map[string]any
	for range n {
		msgs = append(msgs, map[string]any{"type": "text", "text": text})
	}
	return map[string]any{"to": "Uuser", "messages": msgs}
}

func TestPushValidation(t *testing.T) {
	_, srv := start(t)
	const key = "123e4567-e89b-12d3-a456-426614174000"
	for _, tc := range []struct {
		name   string
		tok    string
		key    string
		body   any
		status int
	}{
		{"ok", token, "", texts(5, "hi"), 200},
		{"bad token", "nope", "", texts(1, "hi"), 401},
		{"six messages", token, "", texts(6, "hi"), 400},
		{"no messages", token, "", texts(0, "hi"), 400},
		{"empty text", token, "", texts(1, ""), 400},
		{"5000 units", token, "", texts(1, strings.Repeat("🍎", 2500)), 200},
		{"5001 units", token, "", texts(1, strings.Repeat("🍎", 2500)+"a"), 400},
		{"bad retry key", token, "not-a-uuid", texts(1, "hi"), 400},
		{"retry key", token, key, texts(2, "hi"), 200},
		{"retry key again", token, key, texts(2, "hi"), 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := do(t, srv, http.MethodPost, "/v2/bot/message/push", tc.tok, tc.key, tc.body)
			if c.status != tc.status {
				t.Fatalf("status %d, want %d (%v)", c.status, tc.status, c.body)
			}
			if c.status == 409 {
				if c.header.Get("X-Line-Accepted-Request-Id") == "" {
					t.Error("409 without x-line-accepted-request-id")
				}
				if sm, _ := c.body["sentMessages"].([]any); len(sm) != 2 {
					t.Errorf("409 body %v", c.body)
				}
			}
		})
	}
}

func TestReplyTokenSingleUse(t *testing.T) {
	s, srv := start(t)
	ev := Text("Uuser", "hi")
	body := map[string]any{"replyToken": ev.ReplyToken(), "messages": []map[string]any{{"type": "text", "text": "ok"}}}
	if c := do(t, srv, http.MethodPost, "/v2/bot/message/reply", token, "", body); c.status != 400 {
		t.Fatalf("unissued token: %d", c.status)
	}
	s.Issue(ev)
	if c := do(t, srv, http.MethodPost, "/v2/bot/message/reply", token, "", body); c.status != 200 {
		t.Fatalf("issued token: %d %v", c.status, c.body)
	}
	if c := do(t, srv, http.MethodPost, "/v2/bot/message/reply", token, "", body); c.status != 400 {
		t.Fatalf("second use: %d", c.status)
	}
	if got := s.Snapshot().Texts("Uuser"); len(got) != 1 || got[0] != "ok" {
		t.Errorf("device %q", got)
	}
}

func TestOtherEndpoints(t *testing.T) {
	s, srv := start(t)
	s.SetProfile("Uuser", "Taro", "ja")
	if c := do(t, srv, http.MethodGet, "/v2/bot/profile/Uuser", token, "", nil); c.status != 200 || c.body["displayName"] != "Taro" {
		t.Errorf("profile %d %v", c.status, c.body)
	}
	if c := do(t, srv, http.MethodGet, "/v2/bot/profile/Uother", token, "", nil); c.status != 404 {
		t.Errorf("unknown profile %d", c.status)
	}
	for secs, want := range map[int]int{5: 202, 60: 202, 0: 400, 7: 400, 65: 400} {
		if c := do(t, srv, http.MethodPost, "/v2/bot/chat/loading/start", token, "", map[string]any{"chatId": "Uuser", "loadingSeconds": secs}); c.status != want {
			t.Errorf("loading %d s: %d, want %d", secs, c.status, want)
		}
	}
	if c := do(t, srv, http.MethodPost, "/v2/bot/chat/loading/start", token, "123e4567-e89b-12d3-a456-426614174000", map[string]any{"chatId": "Uuser"}); c.status != 400 {
		t.Errorf("retry key on loading: %d", c.status)
	}
	if c := do(t, srv, http.MethodPost, "/v2/bot/chat/markAsRead", token, "", map[string]any{"markAsReadToken": "r1"}); c.status != 200 {
		t.Errorf("markAsRead %d", c.status)
	}
	s.SetContent("42", "image/png", []byte("PNG"))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/bot/message/42/content", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "PNG" || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("content %d %q", res.StatusCode, b)
	}
	snap := s.Snapshot()
	if len(snap.Loadings) != 2 || len(snap.Reads) != 1 {
		t.Errorf("loadings %d reads %d", len(snap.Loadings), len(snap.Reads))
	}
}

func TestFailuresAndWaitFor(t *testing.T) {
	s, srv := start(t)
	s.Fail(Push, 1, Failure{Status: 429})
	s.Fail(Push, 1, Failure{AfterAccept: true, Status: 503})
	if c := do(t, srv, http.MethodPost, "/v2/bot/message/push", token, "", texts(1, "a")); c.status != 429 {
		t.Errorf("first %d", c.status)
	}
	if c := do(t, srv, http.MethodPost, "/v2/bot/message/push", token, "", texts(1, "b")); c.status != 503 {
		t.Errorf("second %d", c.status)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	done := make(chan Snapshot)
	go func() {
		snap, _ := s.WaitFor(ctx, func(s Snapshot) bool { return len(s.Texts("Uuser")) == 2 })
		done <- snap
	}()
	do(t, srv, http.MethodPost, "/v2/bot/message/push", token, "", texts(1, "c"))
	snap := <-done
	if got := snap.Texts("Uuser"); strings.Join(got, ",") != "b,c" {
		t.Errorf("device %q", got)
	}

	s.Fail(Push, 1, Failure{Hang: true})
	hctx, hcancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer hcancel()
	req, _ := http.NewRequestWithContext(hctx, http.MethodPost, srv.URL+"/v2/bot/message/push", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	if _, err := srv.Client().Do(req); err == nil {
		t.Error("hanging call answered")
	}
}

func TestEvents(t *testing.T) {
	ulid := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
	ev := Text("Uuser", "hi")
	if !ulid.MatchString(ev.ID()) {
		t.Errorf("event id %q", ev.ID())
	}
	re := ev.Redelivered()
	if re.ID() != ev.ID() || re["deliveryContext"].(map[string]any)["isRedelivery"] != true {
		t.Error("redelivery changed the id or lacks the flag")
	}
	if ev["deliveryContext"].(map[string]any)["isRedelivery"] != false {
		t.Error("Redelivered modified the original")
	}
	g := ev.InGroup("Cg")
	if g["source"].(map[string]any)["groupId"] != "Cg" || g.UserID() != "Uuser" {
		t.Errorf("group source %v", g["source"])
	}
	req := SignedRequest("secret", "http://x/line/webhook", ev)
	body, _ := io.ReadAll(req.Body)
	if req.Header.Get("X-Line-Signature") != Sign("secret", body) {
		t.Error("signature does not match the body")
	}
	if a, b := NewEventID(), NewEventID(); a == b {
		t.Error("event ids repeat")
	}
}
