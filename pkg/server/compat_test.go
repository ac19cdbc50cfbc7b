package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
	"github.com/line-sf-bridge/bridge/pkg/server"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

type stack struct {
	sim *lasim.Sim
	srv *httptest.Server
}

func newStack(t *testing.T, opt server.Options) *stack {
	t.Helper()
	sim := lasim.New(lasim.Options{HoldTime: 200 * time.Millisecond, ClientPollTimeout: 3 * time.Second})
	la := httptest.NewServer(sim)
	t.Cleanup(func() { la.CloseClientConnections(); la.Close(); _ = sim.Close() })
	rdb := redistest.Client(t)
	st := redisstore.New(rdb, redisstore.Options{Prefix: redistest.Prefix(t, rdb)})
	desk := liveagent.NewDesk(liveagent.NewClient(liveagent.Config{Host: la.URL, OrgID: "00D", DeploymentID: "572", ButtonID: "573"}, la.Client()), liveagent.DeskOptions{})
	b := bridge.New(st, desk, nil, bridge.Options{LeaseTTL: time.Second, ScanInterval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if opt.MessagesWait == 0 {
		opt.MessagesWait = 2 * time.Second
	}
	if opt.InitWait == 0 {
		opt.InitWait = 2 * time.Second
	}
	srv := httptest.NewServer(server.New(b, opt).Handler())
	t.Cleanup(srv.Close)
	return &stack{sim: sim, srv: srv}
}

type resp struct {
	code int
	body string
	hdr  http.Header
}

func (s *stack) do(t *testing.T, method, path, body string, hdr ...string) resp {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header}
}

func (s *stack) post(t *testing.T, path, body string, hdr ...string) resp {
	t.Helper()
	return s.do(t, http.MethodPost, path, body, hdr...)
}

func expect(t *testing.T, what string, got resp, code int, body string) {
	t.Helper()
	if got.code != code || got.body != body {
		t.Fatalf("%s:\n got %d %s\nwant %d %s", what, got.code, got.body, code, body)
	}
	if ct := got.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

// The Django original's exact bytes (json.dumps defaults).
const (
	okJSON      = `{"type": "ok", "message": "\u63a5\u7d9a\u3057\u307e\u3057\u305f\u3002"}`
	failJSON    = `{"type": "fail", "message": "\u305f\u3060\u3044\u307e\u63a5\u7d9a\u3067\u304d\u307e\u305b\u3093\u3002"}`
	endJSON     = `{"type": "end", "message": "\u63a5\u7d9a\u304c\u7d42\u4e86\u3057\u307e\u3057\u305f\u3002"}`
	nullJSON    = `{"type": null, "message": null}`
	badJSON     = `{"type": "bad", "message": "bad request"}`
	sendJSON    = `{"type": "send", "message": "send"}`
	deletedJSON = `{"type": "end", "message": "deleted session"}`
)

func (s *stack) chatOf(t *testing.T, name string) lasim.ChatView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := s.sim.WaitFor(ctx, func(c lasim.ChatView) bool { return c.VisitorName == name })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A whole chat as a Django-era LINE bot backend drives it.
func TestSeedConversation(t *testing.T) {
	s := newStack(t, server.Options{})
	const id = `"U4af4980629ab12c3d4e5f6a7b8c9d0e1"`
	expect(t, "init", s.post(t, "/init", `{"line_id": `+id+`, "display_name": "山田", "prechatEntities": [{"entityName":"Contact"}]}`,
		"Content-Type", "application/x-www-form-urlencoded"), 200, okJSON)
	sc := s.chatOf(t, "山田")
	if !strings.Contains(string(sc.InitBody), `"prechatEntities":[{"entityName":"Contact"}]`) ||
		!strings.Contains(string(sc.InitBody), `"label":"ContactLineId","value":"U4af4980629ab12c3d4e5f6a7b8c9d0e1"`) {
		t.Fatalf("ChasitorInit body: %s", sc.InitBody)
	}
	expect(t, "init while open", s.post(t, "/init", `{"line_id": `+id+`, "display_name": "山田"}`), 200, okJSON)
	expect(t, "send before accept (held)", s.post(t, "/send", `{"line_id": `+id+`, "message": "はじめまして"}`), 200, sendJSON)
	if err := s.sim.Accept(sc.ID); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"いらっしゃいませ", "<b>A&B</b> 🍎", "3つ目"} {
		_ = s.sim.AgentSend(sc.ID, text)
	}
	// All three, in order, one per call (the seed kept only the last).
	expect(t, "message 1", s.post(t, "/messages", `{"line_id": `+id+`}`), 200, `{"type": "message", "message": "\u3044\u3089\u3063\u3057\u3083\u3044\u307e\u305b"}`)
	expect(t, "message 2", s.post(t, "/messages", `{"line_id": `+id+`}`), 200, `{"type": "message", "message": "<b>A&B</b> \ud83c\udf4e"}`)
	expect(t, "message 3", s.post(t, "/messages", `{"line_id": `+id+`}`), 200, `{"type": "message", "message": "3\u3064\u76ee"}`)
	expect(t, "nothing pending", s.post(t, "/messages", `{"line_id": `+id+`}`), 200, nullJSON)
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if _, err := s.sim.WaitChat(wctx, sc.ID, func(c lasim.ChatView) bool {
		return c.Counters.VisitorMessages == 1 && c.Counters.Errors500 == 0
	}); err != nil {
		t.Fatalf("held message not delivered once after accept: %v", err)
	}
	expect(t, "close", s.post(t, "/close", `{"line_id": `+id+`}`), 200, deletedJSON)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v, err := s.sim.WaitChat(ctx, sc.ID, func(c lasim.ChatView) bool { return c.State == lasim.StateEnded }); err != nil || v.EndedBy != "visitor" {
		t.Fatalf("ChatEnd not sent to Salesforce: %+v %v", v, err)
	}
	expect(t, "messages after close", s.post(t, "/messages", `{"line_id": `+id+`}`), 200, nullJSON)
	expect(t, "send after close", s.post(t, "/send", `{"line_id": `+id+`, "message": "x"}`), 400, badJSON)
}

func TestSeedOutcomes(t *testing.T) {
	s := newStack(t, server.Options{})
	expect(t, "messages, unknown id", s.post(t, "/messages", `{"line_id": "Unobody"}`), 200, badJSON)
	expect(t, "send, unknown id", s.post(t, "/send", `{"line_id": "Unobody", "message": "hi"}`), 400, badJSON)
	expect(t, "close, unknown id", s.post(t, "/close", `{"line_id": "Unobody"}`), 200, deletedJSON)
	expect(t, "init without display_name", s.post(t, "/init", `{"line_id": "Unobody"}`), 200, nullJSON)
	expect(t, "init with null display_name", s.post(t, "/init", `{"line_id": "Unobody", "display_name": null}`), 200, nullJSON)

	expect(t, "init", s.post(t, "/init", `{"line_id": "Uagentends", "display_name": "A"}`), 200, okJSON)
	_ = s.sim.Accept(s.chatOf(t, "A").ID)
	_ = s.sim.End(s.chatOf(t, "A").ID)
	expect(t, "agent ended", s.post(t, "/messages", `{"line_id": "Uagentends"}`), 200, endJSON)

	expect(t, "init", s.post(t, "/init", `{"line_id": "Unoagent", "display_name": "B"}`), 200, okJSON)
	_ = s.sim.Fail(s.chatOf(t, "B").ID, "Unavailable")
	expect(t, "request failed", s.post(t, "/messages", `{"line_id": "Unoagent"}`), 200, failJSON)
	// A new /init after the end starts a fresh chat.
	expect(t, "re-init", s.post(t, "/init", `{"line_id": "Unoagent", "display_name": "B2"}`), 200, okJSON)
	if s.chatOf(t, "B2").ID == s.chatOf(t, "B").ID {
		t.Fatal("re-init reused the old session")
	}

	_ = s.sim.InjectFault(lasim.Fault{Kind: "sessionId", Status: 500})
	expect(t, "init, Salesforce down", s.post(t, "/init", `{"line_id": "Udown", "display_name": "C"}`), 200, nullJSON)
}

func TestHTTPContract(t *testing.T) {
	s := newStack(t, server.Options{})
	for _, p := range []string{"/init", "/messages", "/send", "/close"} {
		if r := s.post(t, p+"/", `{}`); r.code != 404 {
			t.Errorf("POST %s/ = %d, want 404", p, r.code)
		}
		r := s.do(t, http.MethodGet, p, "")
		if r.code != 405 || r.hdr.Get("Allow") != "POST, OPTIONS" {
			t.Errorf("GET %s = %d Allow %q, want 405 POST, OPTIONS", p, r.code, r.hdr.Get("Allow"))
		}
		if r := s.do(t, http.MethodOptions, p, ""); r.code != 200 {
			t.Errorf("OPTIONS %s = %d", p, r.code)
		}
	}
	bad := []struct{ path, body, code string }{
		{"/init", `{not json`, "invalid_json"},
		{"/messages", ``, "invalid_json"},
		{"/send", `{"line_id": "U1"}`, "invalid_message"},
		{"/send", `{"line_id": "U1", "message": ""}`, "empty_message"},
		{"/send", `{"line_id": "U1", "message": 42}`, "invalid_message"},
		{"/close", `{"line_id": ""}`, "invalid_line_id"},
		{"/close", `{"line_id": "U\u0000x"}`, "invalid_line_id"},
		{"/close", `{"line_id": "` + strings.Repeat("U", 256) + `"}`, "invalid_line_id"},
		{"/messages", `{"id": "U1"}`, "missing_line_id"},
		{"/init", `{"line_id": "U1", "display_name": 7}`, "invalid_display_name"},
		{"/messages", `[1,2]`, "invalid_json"},
	}
	for _, b := range bad {
		r := s.post(t, b.path, b.body)
		if r.code != 400 || !strings.HasPrefix(r.body, badJSON[:len(badJSON)-1]) || !strings.Contains(r.body, `"code":"`+b.code+`"`) {
			t.Errorf("POST %s %s = %d %s; want 400 with code %s", b.path, b.body, r.code, r.body, b.code)
		}
	}
	if r := s.post(t, "/send", `{"line_id":"U1","message":"`+strings.Repeat("x", 70000)+`"}`); r.code != 413 {
		t.Errorf("oversized body = %d, want 413", r.code)
	}
	if r := s.do(t, http.MethodGet, "/healthz", ""); r.code != 200 {
		t.Errorf("healthz = %d", r.code)
	}
	if r := s.do(t, http.MethodGet, "/line/webhook", ""); r.code != 404 || !strings.Contains(r.body, "LINE_CHANNEL_SECRET") {
		t.Errorf("webhook without a secret = %d %s", r.code, r.body)
	}
	if r := s.do(t, http.MethodGet, "/admin/endpoints", ""); r.code != 404 {
		t.Errorf("admin without a key = %d", r.code)
	}
	if r := s.do(t, http.MethodGet, "/metrics", ""); r.code != 200 {
		t.Errorf("metrics = %d", r.code)
	}
}

func TestAPIKeyRateLimitAndSSL(t *testing.T) {
	s := newStack(t, server.Options{APIKey: "s3cret-key", RateRPS: 1, RateBurst: 5, SSL: true})
	https := []string{"X-Forwarded-Proto", "https"}
	if r := s.post(t, "/close", `{"line_id":"U1"}`, https...); r.code != 401 || r.hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("no key = %d %s", r.code, r.body)
	}
	if r := s.post(t, "/close", `{"line_id":"U1"}`, append(https, "Authorization", "Bearer wrong")...); r.code != 401 {
		t.Fatalf("wrong key = %d", r.code)
	}
	expect(t, "bearer", s.post(t, "/close", `{"line_id":"U1"}`, append(https, "Authorization", "Bearer s3cret-key")...), 200, deletedJSON)
	expect(t, "x-api-key", s.post(t, "/close", `{"line_id":"U1"}`, append(https, "X-API-Key", "s3cret-key")...), 200, deletedJSON)
	var limited bool
	for range 10 {
		if r := s.post(t, "/close", `{"line_id":"U1"}`, append(https, "X-API-Key", "s3cret-key")...); r.code == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("no 429 after a burst")
	}
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/close", strings.NewReader(`{}`))
	req.Header.Set("X-Forwarded-Proto", "http")
	c := s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 301 || !strings.HasPrefix(res.Header.Get("Location"), "https://") {
		t.Fatalf("SSL redirect = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}
