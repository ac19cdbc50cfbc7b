package main

import (
	"bufio"
	"encoding/base64"
	"sync"

	"context"
	"encoding/json"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
	"github.com/line-sf-bridge/bridge/pkg/store/redisstore/redistest"
)

const (
	e2eSecret = "e2e-channel-secret"
	e2eToken  = "e2e-channel-token"
)

// process is one `bridge` process started through run().
type process struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

// startBridge runs the command with env on a free port and waits until it
// listens.
func startBridge(t *testing.T, env map[string]string, args ...string) *process {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw)
		pw.CloseWithError(io.EOF)
		p.done <- err
	}()
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				urls <- line.URL
			}
			if testing.Verbose() {
				t.Log(sc.Text())
			}
		}
	}()
	select {
	case p.url = <-urls:
	case err := <-p.done:
		t.Fatalf("bridge exited: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("bridge did not start")
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *process) stop(t *testing.T) {
	p.cancel()
	select {
	case err, ok := <-p.done:
		if ok && err != nil {
			t.Errorf("bridge: %v", err)
		}
		close(p.done)
	case <-time.After(30 * time.Second):
		t.Error("bridge did not stop within 30s")
	}
}

type fakes struct {
	agent agentSide
	line  *linesim.Server
	ls    *httptest.Server
	env   map[string]string
}

func newFakes(t *testing.T, agent agentSide) *fakes {
	t.Helper()
	f := &fakes{agent: agent, line: linesim.New(e2eToken)}
	f.ls = httptest.NewServer(f.line)
	t.Cleanup(func() {
		f.ls.Close()
		f.line.Close()
	})
	rdb := redistest.Client(t)
	f.env = map[string]string{
		"REDIS_URL": redistest.URL(), "REDIS_KEY_PREFIX": redistest.Prefix(t, rdb),
		"LINE_CHANNEL_SECRET": e2eSecret, "LINE_CHANNEL_TOKEN": e2eToken,
		"LINE_API_BASE_URL": f.ls.URL, "LINE_DATA_API_BASE_URL": f.ls.URL, "LOG_FORMAT": "json", "LOG_LEVEL": "debug",
		"LEASE_TTL": "2s", "SHUTDOWN_TIMEOUT": "10s",
	}
	for k, v := range agent.env() {
		f.env[k] = v
	}
	return f
}

// say sends the user's events to the bridge's webhook as LINE would.
func (f *fakes) say(t *testing.T, p *process, events ...linesim.Event) {
	t.Helper()
	req := f.line.SignedRequest(e2eSecret, p.url+"/line/webhook", events...)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("webhook answered %d", res.StatusCode)
	}
}

// device waits until the user's phone shows n messages and returns them.
func (f *fakes) device(t *testing.T, user string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	snap, err := f.line.WaitFor(ctx, func(s linesim.Snapshot) bool { return len(s.Texts(user)) >= n })
	if err != nil {
		t.Fatalf("phone of %s: want %d messages, have %q", user, n, f.line.Snapshot().Texts(user))
	}
	return snap.Texts(user)
}

// A LINE user hands over to an agent through the stand-alone webhook, waits
// in the queue, chats both ways (through a connection drop) and ends —
// every message once, in order — on either desk.
func TestLineHandoverEndToEnd(t *testing.T) {
	desks(t, func(t *testing.T, agent agentSide) {
		f := newFakes(t, agent)
		rcv := newReceiver(t)
		f.env["EVENTS_WEBHOOK_URL"], f.env["EVENTS_WEBHOOK_SECRET"], f.env["EVENTS_ALLOW_PRIVATE"] = rcv.srv.URL, rcv.secret, "true"
		p := startBridge(t, f.env)
		const user = "U1234567890abcdef1234567890abcdef"
		f.line.SetProfile(user, "LINE太郎", "ja")

		f.say(t, p, linesim.Text(user, "営業時間は？")) // to the bot, remembered as history
		f.say(t, p, linesim.Text(user, "オペレーター"))
		id := agent.chat(t, "LINE太郎")
		if pre := agent.prechat(t, id); !strings.Contains(pre, user) {
			t.Fatalf("pre-chat data lack the LINE user id: %s", pre)
		}
		got := f.device(t, user, 2) // the waiting reply, then the queued notice
		if !strings.Contains(got[0], "お待ちください") || !strings.HasPrefix(got[1], "接続しました。") {
			t.Fatalf("phone before accept: %q", got)
		}
		f.say(t, p, linesim.Text(user, "注文番号は 42 です"), linesim.Sticker(user, "1", "2")) // held until accepted
		agent.accept(t, id)
		got = f.device(t, user, 3)
		if !strings.Contains(got[2], "Agent Smith") {
			t.Fatalf("agent joined notice: %q", got[2])
		}
		toAgent := agent.customerTexts(t, id, 3)
		if len(toAgent) != 3 || !strings.Contains(toAgent[0], "営業時間は？") || toAgent[1] != "注文番号は 42 です" || toAgent[2] != "[スタンプ]" {
			t.Fatalf("agent received %q", toAgent)
		}
		agent.send(t, id, "確認します")
		f.device(t, user, 4)
		agent.disrupt(t, id) // the connection to Salesforce breaks mid-chat
		agent.send(t, id, "発送済みです 🚚")
		got = f.device(t, user, 5)
		if !slices.Equal(got[3:5], []string{"確認します", "発送済みです 🚚"}) {
			t.Fatalf("agent replies on the phone: %q", got)
		}
		f.say(t, p, linesim.Text(user, "ありがとう"))
		if got := agent.customerTexts(t, id, 4); got[3] != "ありがとう" {
			t.Fatalf("after the disruption the agent got %q", got)
		}
		f.say(t, p, linesim.Text(user, "終了"))
		agent.endedByCustomer(t, id)
		got = f.device(t, user, 6)
		if !strings.Contains(got[5], "終了") {
			t.Fatalf("end notice: %q", got[5])
		}
		// Nothing more, nothing twice: once the bridge let the customer go
		// (every sink caught up), the phone shows exactly these.
		p.waitMetric(t, "bridge_chats_owned 0")
		if final := f.line.Snapshot().Texts(user); len(final) != 6 {
			t.Fatalf("phone shows %d messages, want 6: %q", len(final), final)
		}
		if got := agent.customerTexts(t, id, 4); len(got) != 4 {
			t.Fatalf("agent got %d customer texts, want 4: %q", len(got), got)
		}

		// The same chat reached the event webhook receiver, signed, in order.
		evs := rcv.wait(t, "chat.ended")
		want := []string{"chat.requested", "chat.queue_updated", "message.received", "message.received",
			"message.received", "chat.agent_joined", "message.agent_sent", "message.agent_sent", "message.received", "chat.ended"}
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		if !sameMultiset(types, want) {
			t.Fatalf("event types = %v, want (in any order of the customer's held messages) %v", types, want)
		}
		end := evs[len(evs)-1]
		if end.Type != "chat.ended" || len(end.Data.Transcript) < 8 {
			t.Fatalf("chat.ended last with the transcript: %+v", end)
		}
	})
}

// A Django-era bot backend's calls, on either desk, through the command.
func TestSeedContractEndToEnd(t *testing.T) {
	desks(t, func(t *testing.T, agent agentSide) {
		f := newFakes(t, agent)
		f.env["MESSAGES_WAIT"] = "3s"
		delete(f.env, "LINE_CHANNEL_TOKEN") // pull mode only
		p := startBridge(t, f.env)
		call := func(path, body, want string) {
			t.Helper()
			res, err := http.Post(p.url+path, "text/plain", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(b) != want {
				t.Fatalf("POST %s %s = %d %s, want %s", path, body, res.StatusCode, b, want)
			}
		}
		const id = `"Useedcontract0000000000000000000"`
		call("/init", `{"line_id":`+id+`,"display_name":"Seed"}`, `{"type": "ok", "message": "\u63a5\u7d9a\u3057\u307e\u3057\u305f\u3002"}`)
		chat := agent.chat(t, "Seed")
		call("/send", `{"line_id":`+id+`,"message":"before accept"}`, `{"type": "send", "message": "send"}`)
		agent.accept(t, chat)
		for _, text := range []string{"one", "two", "three"} {
			agent.send(t, chat, text)
		}
		for _, text := range []string{"one", "two", "three"} {
			call("/messages", `{"line_id":`+id+`}`, `{"type": "message", "message": "`+text+`"}`)
		}
		if got := agent.customerTexts(t, chat, 1); got[0] != "before accept" {
			t.Fatalf("agent got %q", got)
		}
		call("/close", `{"line_id":`+id+`}`, `{"type": "end", "message": "deleted session"}`)
		agent.endedByCustomer(t, chat)
		call("/send", `{"line_id":`+id+`,"message":"x"}`, `{"type": "bad", "message": "bad request"}`)
	})
}

// sameMultiset reports whether a and b hold the same strings, counting
// repeats, and end alike.
func sameMultiset(a, b []string) bool {
	if len(a) != len(b) || a[len(a)-1] != b[len(b)-1] {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// receiver is an event webhook endpoint that checks every signature with
// an independent Standard Webhooks implementation.
type receiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []webhookEvent
	seen   map[string]bool
	bad    int
	cond   chan struct{}
}

type webhookEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Transcript []json.RawMessage `json:"transcript"`
	} `json:"data"`
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")), seen: map[string]bool{}, cond: make(chan struct{})}
	wh, err := standardwebhooks.NewWebhook(r.secret)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := wh.Verify(body, req.Header); err != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhookEvent
		_ = json.Unmarshal(body, &ev)
		if !r.seen[req.Header.Get("webhook-id")] {
			r.seen[req.Header.Get("webhook-id")] = true
			r.got = append(r.got, ev)
			close(r.cond)
			r.cond = make(chan struct{})
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, typ string) []webhookEvent {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r.mu.Lock()
		got, ch, bad := slices.Clone(r.got), r.cond, r.bad
		r.mu.Unlock()
		if bad > 0 {
			t.Fatalf("%d deliveries failed signature verification", bad)
		}
		if slices.ContainsFunc(got, func(e webhookEvent) bool { return e.Type == typ }) {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s event; got %+v", typ, got)
		}
	}
}

// The bridge drains within SHUTDOWN_TIMEOUT even with a /messages long poll
// in flight, answering it null.
func TestShutdownDrainsLongPolls(t *testing.T) {
	f := newFakes(t, newLiveAgent(t))
	f.env["MESSAGES_WAIT"] = "25s"
	p := startBridge(t, f.env)
	post := func(path, body string) string {
		res, err := http.Post(p.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	post("/init", `{"line_id":"Ushutdown","display_name":"S"}`)
	out := make(chan string, 1)
	go func() { out <- post("/messages", `{"line_id":"Ushutdown"}`) }()
	p.waitMetric(t, "bridge_http_long_polls_waiting 1")
	start := time.Now()
	p.cancel()
	select {
	case body := <-out:
		if body != `{"type": null, "message": null}` {
			t.Fatalf("/messages during shutdown = %s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/messages was not answered at shutdown")
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatal(err)
		}
		close(p.done)
		p.done = make(chan error, 1)
		p.done <- nil
	case <-time.After(25 * time.Second):
		t.Fatal("no exit within 25s")
	}
	t.Logf("shutdown took %v", time.Since(start))
}

// waitMetric waits until /metrics has the line want.
func (p *process) waitMetric(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(p.url + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			for _, l := range strings.Split(string(b), "\n") {
				if l == want {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric %q not reached", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
