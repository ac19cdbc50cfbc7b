package demo_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/demo"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

// fakeWebhook records the requests the customer API posts.
type fakeWebhook struct {
	mu     sync.Mutex
	status int
	reqs   []webhookReq
}

type webhookReq struct {
	body      []byte
	signature string
	header    http.Header
}

func (f *fakeWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, webhookReq{body: b, signature: r.Header.Get("X-Line-Signature"), header: r.Header.Clone()})
	status := f.status
	f.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

func (f *fakeWebhook) last(t *testing.T) webhookReq {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no webhook request arrived")
	}
	return f.reqs[len(f.reqs)-1]
}

type env struct {
	url  string
	line *linesim.Server
	hook *fakeWebhook
}

// newEnv serves the demo with a stand-in LINE platform and a fake webhook.
func newEnv(t *testing.T, mod func(*demo.Options)) *env {
	t.Helper()
	hook := &fakeWebhook{}
	hs := httptest.NewServer(hook)
	t.Cleanup(hs.Close)
	ls := linesim.New(testToken)
	t.Cleanup(ls.Close)
	o := demo.Options{LINE: ls, ChannelSecret: testSecret, WebhookURL: hs.URL + "/line/webhook", OperatorInterval: 20 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	e := echo.New()
	e.Any("/line-sim/*", echo.WrapHandler(http.StripPrefix("/line-sim", ls)))
	demo.Register(e, o)
	ts := httptest.NewServer(e)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return &env{url: ts.URL, line: ls, hook: hook}
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST %s: answer is not JSON (%v): %s", url, err, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("POST %s: Content-Type %q", url, ct)
	}
	return res.StatusCode, out
}

func (e *env) newUser(t *testing.T, name string) string {
	t.Helper()
	status, out := postJSON(t, e.url+"/demo/api/customers", `{"name":`+jsString(name)+`,"language":"ja"}`)
	if status != http.StatusOK {
		t.Fatalf("create user: %d %v", status, out)
	}
	user, _ := out["user"].(string)
	if len(user) != 33 || user[0] != 'U' {
		t.Fatalf("create user: user %q", user)
	}
	return user
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type webhookBody struct {
	Destination string           `json:"destination"`
	Events      []map[string]any `json:"events"`
}

func TestCreateSetsProfile(t *testing.T) {
	e := newEnv(t, nil)
	user := e.newUser(t, "山田 太郎")
	req, _ := http.NewRequest(http.MethodGet, e.url+"/line-sim/v2/bot/profile/"+user, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct{ DisplayName, Language, UserID string }
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("profile: %d %v", res.StatusCode, err)
	}
	if p.DisplayName != "山田 太郎" || p.Language != "ja" {
		t.Errorf("profile = %+v", p)
	}

	// A reload keeps its id.
	status, out := postJSON(t, e.url+"/demo/api/customers", `{"name":"Taro","user":"`+user+`"}`)
	if status != http.StatusOK || out["user"] != user {
		t.Errorf("re-create: %d %v", status, out)
	}
}

func TestSendPostsSignedWebhook(t *testing.T) {
	e := newEnv(t, nil)
	user := e.newUser(t, "Hanako")
	for _, tc := range []struct {
		name, body string
		check      func(t *testing.T, ev map[string]any)
	}{
		{"text", `{"text":"こんにちは"}`, func(t *testing.T, ev map[string]any) {
			m := ev["message"].(map[string]any)
			if ev["type"] != "message" || m["type"] != "text" || m["text"] != "こんにちは" {
				t.Errorf("event = %v", ev)
			}
			if ev["replyToken"] == "" || m["markAsReadToken"] == "" {
				t.Errorf("event lacks reply or read token: %v", ev)
			}
		}},
		{"sticker", `{"sticker":{"packageId":"446","stickerId":"1989"}}`, func(t *testing.T, ev map[string]any) {
			m := ev["message"].(map[string]any)
			if m["type"] != "sticker" || m["packageId"] != "446" || m["stickerId"] != "1989" {
				t.Errorf("event = %v", ev)
			}
		}},
		{"default sticker", `{"sticker":{}}`, func(t *testing.T, ev map[string]any) {
			if m := ev["message"].(map[string]any); m["type"] != "sticker" || m["stickerId"] == "" {
				t.Errorf("event = %v", ev)
			}
		}},
		{"image", `{"image":true}`, func(t *testing.T, ev map[string]any) {
			m := ev["message"].(map[string]any)
			if m["type"] != "image" {
				t.Fatalf("event = %v", ev)
			}
			// Its content is served by the stand-in LINE platform.
			req, _ := http.NewRequest(http.MethodGet, e.url+"/line-sim/v2/bot/message/"+m["id"].(string)+"/content", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Errorf("content: %d %s %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(b))
			}
		}},
		{"postback", `{"postback":"action=handover"}`, func(t *testing.T, ev map[string]any) {
			if ev["type"] != "postback" || ev["postback"].(map[string]any)["data"] != "action=handover" {
				t.Errorf("event = %v", ev)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := postJSON(t, e.url+"/demo/api/customer/"+user+"/send", tc.body)
			if status != http.StatusOK || out["ok"] != true || out["webhook_status"] != float64(200) || out["id"] == "" {
				t.Fatalf("send: %d %v", status, out)
			}
			r := e.hook.last(t)
			if r.signature == "" || r.signature != sign(r.body) {
				t.Fatalf("signature %q does not sign the body (want %q)", r.signature, sign(r.body))
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			var wb webhookBody
			if err := json.Unmarshal(r.body, &wb); err != nil || len(wb.Events) != 1 {
				t.Fatalf("body %s: %v", r.body, err)
			}
			ev := wb.Events[0]
			if src := ev["source"].(map[string]any); src["type"] != "user" || src["userId"] != user {
				t.Errorf("source = %v", src)
			}
			if ev["webhookEventId"] != out["webhook_event_id"] {
				t.Errorf("webhook_event_id %v, event has %v", out["webhook_event_id"], ev["webhookEventId"])
			}
			tc.check(t, ev)
		})
	}
}

func TestSendReportsWebhookFailures(t *testing.T) {
	e := newEnv(t, nil)
	user := e.newUser(t, "Alex")
	e.hook.mu.Lock()
	e.hook.status = http.StatusUnauthorized
	e.hook.mu.Unlock()
	status, out := postJSON(t, e.url+"/demo/api/customer/"+user+"/send", `{"text":"hi"}`)
	if status != http.StatusOK || out["ok"] != false || out["webhook_status"] != float64(401) {
		t.Errorf("webhook 401: %d %v", status, out)
	}

	down := newEnv(t, func(o *demo.Options) { o.WebhookURL = "http://127.0.0.1:1/line/webhook" })
	user = down.newUser(t, "Alex")
	status, out = postJSON(t, down.url+"/demo/api/customer/"+user+"/send", `{"text":"hi"}`)
	if status != http.StatusBadGateway || out["error"] == nil {
		t.Errorf("webhook down: %d %v", status, out)
	}
	tl := timeline(t, down.url, user)
	if len(tl.Items) != 1 || tl.Items[0].Status != -1 {
		t.Errorf("timeline after a failed send: %+v", tl.Items)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	user := e.newUser(t, "Taro")
	send := e.url + "/demo/api/customer/" + user + "/send"
	long := strings.Repeat("あ", 5001)
	for _, tc := range []struct{ name, url, body string }{
		{"user id", e.url + "/demo/api/customer/U123/send", `{"text":"hi"}`},
		{"user id upper case", e.url + "/demo/api/customer/" + strings.ToUpper(user) + "/send", `{"text":"hi"}`},
		{"empty body", send, ``},
		{"not JSON", send, `hello`},
		{"not an object", send, `["hi"]`},
		{"unknown field", send, `{"txt":"hi"}`},
		{"trailing data", send, `{"text":"hi"} {}`},
		{"nothing", send, `{}`},
		{"two kinds", send, `{"text":"hi","image":true}`},
		{"empty text", send, `{"text":"  "}`},
		{"long text", send, `{"text":"` + long + `"}`},
		{"image false", send, `{"image":false}`},
		{"sticker ids", send, `{"sticker":{"packageId":"x","stickerId":"1"}}`},
		{"empty postback", send, `{"postback":""}`},
		{"long postback", send, `{"postback":"` + strings.Repeat("a", 301) + `"}`},
		{"no name", e.url + "/demo/api/customers", `{"name":" "}`},
		{"long name", e.url + "/demo/api/customers", `{"name":"` + strings.Repeat("名", 41) + `"}`},
		{"control in name", e.url + "/demo/api/customers", `{"name":"a\u0007b"}`},
		{"language", e.url + "/demo/api/customers", `{"name":"a","language":"<script>"}`},
		{"given user", e.url + "/demo/api/customers", `{"name":"a","user":"Uxyz"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := postJSON(t, tc.url, tc.body)
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %v", status, out)
			}
			if msg, _ := out["error"].(string); msg == "" {
				t.Errorf("no error message: %v", out)
			}
		})
	}
	e.hook.mu.Lock()
	n := len(e.hook.reqs)
	e.hook.mu.Unlock()
	if n != 0 {
		t.Errorf("%d webhook requests for bad input", n)
	}
	for _, u := range []string{"/demo/api/customer/U1/timeline", "/demo/api/customer/U1/stream"} {
		res, err := http.Get(e.url + u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d", u, res.StatusCode)
		}
	}
}

func TestWithoutLINE(t *testing.T) {
	e := newEnv(t, func(o *demo.Options) { o.LINE = nil })
	status, out := postJSON(t, e.url+"/demo/api/customers", `{"name":"Taro"}`)
	if status != http.StatusServiceUnavailable || out["error"] == nil {
		t.Errorf("create: %d %v", status, out)
	}
	status, out = postJSON(t, e.url+"/demo/api/customer/U0123456789abcdef0123456789abcdef/send", `{"text":"hi"}`)
	if status != http.StatusServiceUnavailable || out["error"] == nil {
		t.Errorf("send: %d %v", status, out)
	}
}

// push delivers a text to user as the bridge's push relay does.
func (e *env) push(t *testing.T, user, text string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"to": user, "messages": []map[string]string{{"type": "text", "text": text}}})
	e.call(t, "/line-sim/v2/bot/message/push", body)
}

func (e *env) call(t *testing.T, path string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d", path, res.StatusCode)
	}
}

type sseEvent struct {
	name string
	data string
}

// readSSE streams the events of url into a channel until ctx ends.
func readSSE(t *testing.T, ctx context.Context, url string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		res.Body.Close()
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					select {
					case ch <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch
}

// next returns the first event for which ok holds.
func next(t *testing.T, ch <-chan sseEvent, what string, ok func(sseEvent) bool) sseEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, open := <-ch:
			if !open {
				t.Fatalf("stream ended before %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s within 5s", what)
		}
	}
}

func item(ev sseEvent) demo.Item {
	var it demo.Item
	if ev.name == "item" {
		_ = json.Unmarshal([]byte(ev.data), &it)
	}
	return it
}

func TestStreamEmitsMessages(t *testing.T) {
	e := newEnv(t, nil)
	user := e.newUser(t, "Taro")
	other := e.newUser(t, "Jiro")
	e.push(t, user, "before the stream")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := readSSE(t, ctx, e.url+"/demo/api/customer/"+user+"/stream")
	next(t, ch, "reset", func(ev sseEvent) bool { return ev.name == "reset" })
	it := item(next(t, ch, "the earlier push", func(ev sseEvent) bool { return ev.name == "item" }))
	if it.Dir != "in" || it.Text != "before the stream" || it.Via != "push" || it.From != "bot" {
		t.Errorf("first item = %+v", it)
	}

	// What the user sends shows, with the webhook's answer.
	status, out := postJSON(t, e.url+"/demo/api/customer/"+user+"/send", `{"text":"hello"}`)
	if status != http.StatusOK {
		t.Fatalf("send: %d %v", status, out)
	}
	next(t, ch, "the sent text with its status", func(ev sseEvent) bool {
		it := item(ev)
		return it.Dir == "out" && it.Text == "hello" && it.Status == http.StatusOK && it.ID == out["id"]
	})

	// Pushes to other users do not; pushes to this one do, live.
	e.push(t, other, "not for Taro")
	e.push(t, user, "an agent's reply")
	it = item(next(t, ch, "the live push", func(ev sseEvent) bool { return item(ev).Dir == "in" }))
	if it.Text != "an agent's reply" {
		t.Errorf("live item = %+v", it)
	}

	// The loading animation.
	e.call(t, "/line-sim/v2/bot/chat/loading/start", []byte(`{"chatId":"`+user+`","loadingSeconds":20}`))
	ld := next(t, ch, "loading", func(ev sseEvent) bool { return ev.name == "loading" })
	var l demo.Loading
	if err := json.Unmarshal([]byte(ld.data), &l); err != nil || l.Seconds != 20 || l.At.IsZero() {
		t.Errorf("loading = %s (%v)", ld.data, err)
	}

	// Marking the message as read updates its item.
	e.hook.mu.Lock()
	var wb webhookBody
	_ = json.Unmarshal(e.hook.reqs[len(e.hook.reqs)-1].body, &wb)
	e.hook.mu.Unlock()
	token := wb.Events[0]["message"].(map[string]any)["markAsReadToken"].(string)
	e.call(t, "/line-sim/v2/bot/chat/markAsRead", []byte(`{"markAsReadToken":"`+token+`"}`))
	next(t, ch, "the read mark", func(ev sseEvent) bool { it := item(ev); return it.ID == out["id"] && it.Read })

	// The timeline has it all, in order.
	tl := timeline(t, e.url, user)
	var got []string
	for _, it := range tl.Items {
		got = append(got, it.Dir+":"+it.Text)
	}
	want := "in:before the stream out:hello in:an agent's reply"
	if strings.Join(got, " ") != want {
		t.Errorf("timeline = %q, want %q", strings.Join(got, " "), want)
	}
	if tl.Loading == nil || tl.Loading.Seconds != 20 {
		t.Errorf("timeline loading = %+v", tl.Loading)
	}
}

func TestStreamEndsWithRequest(t *testing.T) {
	e := newEnv(t, nil)
	user := e.newUser(t, "Taro")
	ctx, cancel := context.WithCancel(t.Context())
	ch := readSSE(t, ctx, e.url+"/demo/api/customer/"+user+"/stream")
	next(t, ch, "reset", func(ev sseEvent) bool { return ev.name == "reset" })
	cancel()
	select {
	case _, open := <-ch:
		for open {
			_, open = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end with its request")
	}
}

func timeline(t *testing.T, base, user string) demo.Timeline {
	t.Helper()
	res, err := http.Get(base + "/demo/api/customer/" + user + "/timeline")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tl demo.Timeline
	if err := json.NewDecoder(res.Body).Decode(&tl); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("timeline: %d %v", res.StatusCode, err)
	}
	return tl
}

func TestPagesAndAssets(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/demo", "text/html", `src="/demo/customer"`},
		{"/demo/customer", "text/html", "customer.js"},
		{"/demo/operator", "text/html", "operator.js"},
		{"/demo/agent/", "text/html", `<meta name="control-api" content="/sim/control">`},
		{"/demo/agent/assets/agent.js", "text/javascript", "EventSource"},
		{"/demo/assets/demo.css", "text/css", ":root"},
		{"/demo/assets/customer.js", "text/javascript", "/demo/api"},
		{"/demo/assets/sample.png", "image/png", "PNG"},
	} {
		res, err := http.Get(e.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.contains) {
			t.Errorf("GET %s: %d %s, has %q: %v", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.contains, strings.Contains(string(b), tc.contains))
		}
		if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: security headers missing", tc.path)
		}
	}
	for _, p := range []string{"/demo/assets/nope.js", "/demo/assets/customer.html", "/demo/agent/assets/.x"} {
		res, err := http.Get(e.url + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
	// /demo/agent redirects to the console, keeping the query.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(e.url + "/demo/agent?api=/x/control")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/demo/agent/?api=/x/control" {
		t.Errorf("GET /demo/agent: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestAgentConsoleAlone(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/console/", demo.AgentConsole())
	ts := httptest.NewServer(mux)
	defer ts.Close()
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/console/", "text/html", `<meta name="control-api" content="">`},
		{"/console/assets/agent.js", "text/javascript", "../control"},
		{"/console/assets/agent.css", "text/css", ".chat-item"},
		{"/console/assets/demo.css", "text/css", ":root"},
	} {
		res, err := http.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.contains) {
			t.Errorf("GET %s: %d %s", tc.path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if tc.ctype == "text/html" && strings.Contains(string(b), "{{API}}") {
			t.Errorf("GET %s: placeholder left in the page", tc.path)
		}
	}
	res, err := http.Post(ts.URL+"/console/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/: %d", res.StatusCode)
	}
}

// fakeOperator is a bridge with fixed chats.
type fakeOperator struct {
	mu     sync.Mutex
	active []bridge.Chat
	events map[bridge.ChatID][]bridge.Event
	err    error
}

func (f *fakeOperator) Active(ctx context.Context, limit int) ([]bridge.Chat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bridge.Chat(nil), f.active...), f.err
}

func (f *fakeOperator) Transcript(ctx context.Context, c bridge.CustomerID, id bridge.ChatID) ([]bridge.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events[id], nil
}

func TestOperatorView(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	pos := 1
	op := &fakeOperator{
		active: []bridge.Chat{{
			Customer: "Uaaa", ID: "c1", Status: bridge.StatusEstablished, AgentName: "Sato",
			Visitor: bridge.Visitor{DisplayName: "Taro", Language: "ja"}, CreatedAt: now,
		}},
		events: map[bridge.ChatID][]bridge.Event{"c1": {
			{ID: "1", Kind: bridge.KindStarted, Time: now},
			{ID: "2", Kind: bridge.KindRequested, Time: now, Position: &pos},
			{ID: "3", Kind: bridge.KindAgentJoined, Time: now, AgentName: "Sato"},
			{ID: "4", Kind: bridge.KindAgentMessage, Time: now, Text: "hello"},
		}},
	}
	e := newEnv(t, func(o *demo.Options) { o.Operator = op })

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := readSSE(t, ctx, e.url+"/demo/api/operator/stream")
	first := view(t, next(t, ch, "chats", func(ev sseEvent) bool { return ev.name == "chats" }))
	if len(first.Chats) != 1 {
		t.Fatalf("view = %+v", first)
	}
	c := first.Chats[0]
	if c.Status != bridge.StatusEstablished || !c.Active || c.VisitorName != "Taro" || c.AgentName != "Sato" || c.EventCount != 4 ||
		len(c.Events) != 4 || c.Events[3].Text != "hello" || *c.Events[1].Position != 1 {
		t.Errorf("chat = %+v", c)
	}

	// The chat ends and leaves the active set: it stays on view, ended.
	op.mu.Lock()
	op.events["c1"] = append(op.events["c1"], bridge.Event{ID: "5", Kind: bridge.KindEnded, Time: now.Add(time.Second), EndReason: bridge.EndByAgent})
	op.active = nil
	op.mu.Unlock()
	v := view(t, next(t, ch, "the ended chat", func(ev sseEvent) bool {
		v := view(t, ev)
		return len(v.Chats) == 1 && !v.Chats[0].Active
	}))
	c = v.Chats[0]
	if c.Status != bridge.StatusEnded || c.EndReason != bridge.EndByAgent || !c.EndedAt.Equal(now.Add(time.Second)) {
		t.Errorf("ended chat = %+v", c)
	}

	// The JSON endpoint serves the same; errors of the bridge are reported.
	op.mu.Lock()
	op.err = errors.New("redis down")
	op.mu.Unlock()
	res, err := http.Get(e.url + "/demo/api/operator/chats")
	if err != nil {
		t.Fatal(err)
	}
	var got demo.OpView
	_ = json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(got.Error, "redis down") {
		t.Errorf("chats with a failing bridge: %d %+v", res.StatusCode, got)
	}
}

func TestOperatorOff(t *testing.T) {
	e := newEnv(t, nil)
	res, err := http.Get(e.url + "/demo/api/operator/chats")
	if err != nil {
		t.Fatal(err)
	}
	var got demo.OpView
	_ = json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || got.Error == "" || got.Chats == nil {
		t.Errorf("operator off: %d %+v", res.StatusCode, got)
	}
}

func view(t *testing.T, ev sseEvent) demo.OpView {
	t.Helper()
	var v demo.OpView
	if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
		t.Fatalf("chats event %q: %v", ev.data, err)
	}
	return v
}
