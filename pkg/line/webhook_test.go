package line

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/line/line-bot-sdk-go/v8/linebot/webhook"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/line/linesim"
)

const hookURL = "http://bridge.test/line/webhook"

type whEnv struct {
	w   *Webhook
	fb  *fakeBridge
	st  *fakeStore
	sim *linesim.Server
}

func newTestWebhook(t *testing.T, mod ...func(*Config)) *whEnv {
	t.Helper()
	sim, url := newSim(t)
	cfg := Config{ChannelSecret: testSecret, ChannelToken: testToken, APIBaseURL: url, DataAPIBaseURL: url, HTTPTimeout: 2 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	e := &whEnv{fb: newFakeBridge(), st: newFakeStore(), sim: sim}
	w, err := NewWebhook(cfg, e.fb, e.st, testLogger(t))
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	e.w = w
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// post delivers events as the LINE Platform does and returns the answer.
func (e *whEnv) post(t *testing.T, evs ...linesim.Event) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	e.w.ServeHTTP(rec, e.sim.SignedRequest(testSecret, hookURL, evs...))
	if rec.Code != http.StatusOK {
		t.Fatalf("webhook answered %d: %s", rec.Code, rec.Body)
	}
	return rec
}

// drain waits until every queued event was handled (a barrier for
// asserting that something did not happen).
func (e *whEnv) drain(t *testing.T) {
	t.Helper()
	if err := e.w.Close(waitCtx(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func (e *whEnv) openChat(status bridge.Status) {
	e.fb.setChat(bridge.Chat{Customer: testUser, ID: "chat-1", Status: status})
}

func TestWebhookSignature(t *testing.T) {
	e := newTestWebhook(t)
	body := linesim.Body(linesim.Text(testUser, "hi"))
	for name, sig := range map[string]string{
		"missing": "",
		"wrong":   linesim.Sign("other-secret", body),
		"garbage": "not base64!",
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.w.ServeHTTP(rec, linesim.RawRequest(hookURL, body, sig))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d", rec.Code)
			}
			var got struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Error.Code != "invalid_signature" || got.Error.Message == "" {
				t.Errorf("body %s", rec.Body)
			}
		})
	}
	e.drain(t)
	if len(e.st.seen) != 0 || len(e.fb.sent) != 0 {
		t.Error("an unsigned event was processed")
	}
}

func TestWebhookURLVerificationAndMethods(t *testing.T) {
	e := newTestWebhook(t)
	rec := e.post(t) // no events
	if rec.Body.String() != "{}" {
		t.Errorf("body %q", rec.Body)
	}
	rec = httptest.NewRecorder()
	e.w.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, hookURL, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	bad := []byte(`{"events":[{"type":1}]}`)
	e.w.ServeHTTP(rec, linesim.RawRequest(hookURL, bad, linesim.Sign(testSecret, bad)))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("invalid body answered %d", rec.Code)
	}
}

func TestWebhookRedeliveryProcessedOnce(t *testing.T) {
	e := newTestWebhook(t)
	e.openChat(bridge.StatusEstablished)
	ev := linesim.Text(testUser, "hello agent")
	e.post(t, ev)
	e.post(t, ev.Redelivered())
	e.post(t, ev.Redelivered(), linesim.Text(testUser, "second"))
	e.drain(t)
	var texts []string
	for _, s := range e.fb.sent {
		texts = append(texts, s.ev.Text)
	}
	if want := []string{"hello agent", "second"}; !slices.Equal(texts, want) {
		t.Errorf("sent %q, want %q", texts, want)
	}
	if ttl := e.st.seen["line:evt:"+ev.ID()]; ttl != 24*time.Hour {
		t.Errorf("dedup ttl %v", ttl)
	}
}

func TestWebhookHandoverKeyword(t *testing.T) {
	e := newTestWebhook(t, func(c *Config) { c.VisitorFields = map[string]string{"Origin": "LINE"} })
	e.sim.SetProfile(testUser, "山田 太郎", "ja")
	e.post(t, linesim.Text(testUser, "料金を知りたい"), linesim.Sticker(testUser, "1", "2"))
	e.post(t, linesim.Text(testUser, "  オペレーター "))
	e.fb.await(t, "chat opened", func() bool { return len(e.fb.opened) == 1 })
	v := e.fb.opened[0]
	if v.CustomerID != testUser || v.DisplayName != "山田 太郎" || v.Language != "ja" || v.Fields["Origin"] != "LINE" {
		t.Errorf("visitor %+v", v)
	}
	if want := []string{"user: 料金を知りたい"}; !slices.Equal(v.History, want) {
		t.Errorf("history %q, want %q", v.History, want)
	}
	snap, err := e.sim.WaitFor(waitCtx(t), func(s linesim.Snapshot) bool { return len(s.Replies) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Texts(testUser); !slices.Equal(got, []string{"担当者におつなぎします。お待ちください。"}) {
		t.Errorf("reply %q", got)
	}
	if len(snap.Pushes) != 0 {
		t.Error("the waiting notice must use the free reply")
	}
}

func TestWebhookHandoverPostbackProfileFallback(t *testing.T) {
	e := newTestWebhook(t, func(c *Config) { c.NoticeLanguage = "en" })
	// no profile registered: 404 → fallback name
	e.post(t, linesim.Postback(testUser, "action=handover"))
	e.fb.await(t, "chat opened", func() bool { return len(e.fb.opened) == 1 })
	if got := e.fb.opened[0].DisplayName; got != DefaultVisitorName {
		t.Errorf("display name %q", got)
	}
	snap, err := e.sim.WaitFor(waitCtx(t), func(s linesim.Snapshot) bool { return len(s.Replies) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Texts(testUser); !slices.Equal(got, []string{"Connecting you to an agent. Please wait a moment."}) {
		t.Errorf("reply %q", got)
	}
}

func TestWebhookOpenFailsRepliesFailure(t *testing.T) {
	e := newTestWebhook(t)
	e.fb.openErr = bridge.ErrStartFailed
	e.post(t, linesim.Text(testUser, "operator"))
	snap, err := e.sim.WaitFor(waitCtx(t), func(s linesim.Snapshot) bool { return len(s.Replies) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Texts(testUser); len(got) != 1 || got[0] != "ただいま接続できません。\n時間をおいて、もう一度お試しください。" {
		t.Errorf("reply %q", got)
	}
}

func TestWebhookEndKeywordAndPostback(t *testing.T) {
	for _, ev := range []linesim.Event{linesim.Text(testUser, "終了"), linesim.Postback(testUser, "action=end")} {
		e := newTestWebhook(t)
		e.openChat(bridge.StatusRequested)
		e.post(t, ev)
		e.drain(t)
		if len(e.fb.closed) != 1 || e.fb.closed[0].reason != bridge.EndByCustomer {
			t.Errorf("closed %+v", e.fb.closed)
		}
		if len(e.fb.sent) != 0 {
			t.Errorf("end keyword relayed: %+v", e.fb.sent)
		}
	}
}

func TestWebhookRelaysDuringChat(t *testing.T) {
	e := newTestWebhook(t)
	e.openChat(bridge.StatusEstablished)
	text := linesim.Text(testUser, "注文番号は12345です")
	loc := linesim.Location(testUser, "東京タワー", "東京都港区芝公園4-2-8", 35.6586, 139.7454)
	e.post(t, text, linesim.Sticker(testUser, "11537", "52002734"), linesim.Image(testUser),
		linesim.Video(testUser), linesim.Audio(testUser), linesim.File(testUser, "見積書.pdf", 1200), loc,
		linesim.Text(testUser, "operator")) // a handover keyword inside a chat is just text
	e.drain(t)
	var got []string
	for _, s := range e.fb.sent {
		got = append(got, string(s.ev.Kind)+" "+s.ev.Text)
		if s.ev.Source != "line" || s.ev.SourceID == "" || s.ev.ReadToken == "" {
			t.Errorf("event %+v lacks source data", s.ev)
		}
	}
	want := []string{
		"customer_message 注文番号は12345です", "customer_note [スタンプ]", "customer_note [画像]",
		"customer_note [動画]", "customer_note [音声]", "customer_note [ファイル: 見積書.pdf]",
		"customer_note [位置情報: 東京タワー 東京都港区芝公園4-2-8 35.6586,139.7454]", "customer_message operator",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sent\n got %q\nwant %q", got, want)
	}
	first := e.fb.sent[0].ev
	if first.SourceID != text.MessageID() || first.ReadToken != text.ReadToken() {
		t.Errorf("ids %q %q", first.SourceID, first.ReadToken)
	}
	if len(e.fb.opened) != 0 {
		t.Error("a chat was opened during a chat")
	}
}

func TestWebhookUploadsRequestedFile(t *testing.T) {
	e := newTestWebhook(t)
	e.fb.setChat(bridge.Chat{Customer: testUser, ID: "chat-1", Status: bridge.StatusEstablished, FileRequest: &bridge.FileRef{Token: "f"}})
	img := linesim.Image(testUser)
	data := bytes.Repeat([]byte{0xFF, 0xD8, 0x42}, 1000)
	e.sim.SetContent(img.MessageID(), "image/jpeg", data)
	second := linesim.Image(testUser) // the request is used up: a note
	e.post(t, img, second)
	e.drain(t)
	if len(e.fb.uploads) != 1 {
		t.Fatalf("uploads %d", len(e.fb.uploads))
	}
	u := e.fb.uploads[0]
	if u.name != "image-"+img.MessageID()+".jpg" || u.ctype != "image/jpeg" || !bytes.Equal(u.data, data) {
		t.Errorf("upload %q %q %d bytes", u.name, u.ctype, len(u.data))
	}
	if len(e.fb.sent) != 1 || e.fb.sent[0].ev.Text != "[画像]" || e.fb.sent[0].ev.SourceID != second.MessageID() {
		t.Errorf("sent %+v", e.fb.sent)
	}
}

func TestWebhookFileUploadFailureBecomesNote(t *testing.T) {
	e := newTestWebhook(t)
	e.fb.setChat(bridge.Chat{Customer: testUser, ID: "chat-1", Status: bridge.StatusEstablished, FileRequest: &bridge.FileRef{Token: "f"}})
	f := linesim.File(testUser, "a.pdf", 10)
	e.sim.Fail(linesim.Content, 1, linesim.Failure{Status: 500})
	e.post(t, f)
	e.drain(t)
	if len(e.fb.uploads) != 0 || len(e.fb.sent) != 1 || e.fb.sent[0].ev.Text != "[ファイル: a.pdf]" {
		t.Errorf("uploads %d, sent %+v", len(e.fb.uploads), e.fb.sent)
	}
}

// upstream is the bot behind the bridge.
type upstream struct {
	changes
	mu     sync.Mutex
	bodies [][]byte
	bad    int // requests with a bad signature
	fail   int // answer 500 this many times
	hits   int
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	defer u.signal()
	defer u.mu.Unlock()
	u.hits++
	if u.fail > 0 {
		u.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if !webhook.ValidateSignature(testSecret, r.Header.Get("X-Line-Signature"), body) ||
		r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		u.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	u.bodies = append(u.bodies, body)
}

func (u *upstream) await(t *testing.T, n int) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		ch := u.wait()
		u.mu.Lock()
		got := len(u.bodies)
		u.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("upstream got %d bodies, want %d", got, n)
		}
	}
}

func newUpstream(t *testing.T, fail int) (*upstream, string) {
	u := &upstream{fail: fail}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return u, srv.URL
}

// rawEvents decodes a webhook body's events keeping their bytes.
func rawEvents(t *testing.T, body []byte) (string, []json.RawMessage) {
	t.Helper()
	var env struct {
		Destination string            `json:"destination"`
		Events      []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	return env.Destination, env.Events
}

func TestWebhookForwardsUnconsumedEvents(t *testing.T) {
	up, url := newUpstream(t, 1) // the first attempt fails: retried
	e := newTestWebhook(t, func(c *Config) { c.ForwardURL = url })
	evs := []linesim.Event{
		linesim.Text(testUser, "hello bot"),           // forwarded
		linesim.Text(testUser, "オペレーター"),              // consumed: starts a chat
		linesim.Follow(testUser),                      // forwarded (chat open, but not relayable)
		linesim.Postback(testUser, "action=menu"),     // forwarded
		linesim.Postback(testUser, "action=handover"), // consumed (chat already open)
	}
	req := e.sim.SignedRequest(testSecret, hookURL, evs...)
	orig, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(orig))
	rec := httptest.NewRecorder()
	e.w.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	up.await(t, 1)
	e.drain(t)
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.bad != 0 || up.hits != 2 || len(up.bodies) != 1 {
		t.Fatalf("upstream: %d bad, %d hits, %d bodies", up.bad, up.hits, len(up.bodies))
	}
	dest, in := rawEvents(t, orig)
	gotDest, out := rawEvents(t, up.bodies[0])
	if gotDest != dest {
		t.Errorf("destination %q, want %q", gotDest, dest)
	}
	want := []json.RawMessage{in[0], in[2], in[3]}
	if len(out) != len(want) {
		t.Fatalf("forwarded %d events, want %d", len(out), len(want))
	}
	for i := range want {
		if !bytes.Equal(out[i], want[i]) {
			t.Errorf("event %d changed:\n got %s\nwant %s", i, out[i], want[i])
		}
	}
	if len(e.fb.opened) != 1 {
		t.Errorf("opened %d chats", len(e.fb.opened))
	}
}

func TestWebhookGroupAndRoomNotRelayed(t *testing.T) {
	up, url := newUpstream(t, 0)
	e := newTestWebhook(t, func(c *Config) { c.ForwardURL = url })
	e.openChat(bridge.StatusEstablished)
	g := linesim.Text(testUser, "in a group").InGroup("Cgroup1")
	r := linesim.Text(testUser, "operator").InRoom("Rroom1")
	s := linesim.Text(testUser, "standby").Standby()
	e.post(t, g, r, s)
	up.await(t, 1)
	e.drain(t)
	if len(e.fb.sent) != 0 || len(e.fb.opened) != 0 {
		t.Errorf("relayed %+v, opened %d", e.fb.sent, len(e.fb.opened))
	}
	var n int
	up.mu.Lock()
	for _, b := range up.bodies {
		_, evs := rawEvents(t, b)
		n += len(evs)
	}
	up.mu.Unlock()
	if n != 3 {
		t.Errorf("forwarded %d events, want 3", n)
	}
}

func TestWebhookDropsWithoutForwardURL(t *testing.T) {
	e := newTestWebhook(t)
	e.post(t, linesim.Follow(testUser), linesim.Text(testUser, "hi"))
	e.drain(t)
	if len(e.fb.sent) != 0 || len(e.fb.opened) != 0 {
		t.Error("event relayed")
	}
	if got, _ := e.st.Recall(t.Context(), testUser); !slices.Equal(got, []string{"user: hi"}) {
		t.Errorf("history %q", got)
	}
}

func TestWebhookAnswersBeforeSlowWork(t *testing.T) {
	e := newTestWebhook(t)
	gate := make(chan struct{})
	e.fb.openGate = gate
	rec := httptest.NewRecorder()
	e.w.ServeHTTP(rec, e.sim.SignedRequest(testSecret, hookURL, linesim.Text(testUser, "operator")))
	// ServeHTTP returned although Open cannot finish before the gate opens.
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	e.fb.await(t, "Open entered", func() bool { return e.fb.entered == 1 })
	e.fb.mu.Lock()
	done := len(e.fb.opened)
	e.fb.mu.Unlock()
	if done != 0 {
		t.Fatal("Open finished before the gate opened")
	}
	close(gate)
	e.fb.await(t, "Open finished", func() bool { return len(e.fb.opened) == 1 })
	if _, err := e.sim.WaitFor(waitCtx(t), func(s linesim.Snapshot) bool { return len(s.Replies) == 1 }); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookCloseDrainsAndRefuses(t *testing.T) {
	e := newTestWebhook(t, func(c *Config) { c.Workers = 2 })
	e.openChat(bridge.StatusEstablished)
	var evs []linesim.Event
	for range 50 {
		evs = append(evs, linesim.Text(testUser, "m"))
	}
	e.post(t, evs...)
	e.drain(t)
	if len(e.fb.sent) != 50 {
		t.Errorf("sent %d of 50 before Close returned", len(e.fb.sent))
	}
	rec := httptest.NewRecorder()
	e.w.ServeHTTP(rec, e.sim.SignedRequest(testSecret, hookURL, linesim.Text(testUser, "late")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d", rec.Code)
	}
}

func TestWebhookCloseGivesUpOnDeadline(t *testing.T) {
	e := newTestWebhook(t)
	e.fb.openGate = make(chan struct{}) // never opens: Open waits for ctx
	e.post(t, linesim.Text(testUser, "operator"))
	e.fb.await(t, "Open entered", func() bool { return e.fb.entered == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := e.w.Close(ctx); err != context.DeadlineExceeded {
		t.Errorf("Close = %v, want deadline exceeded", err)
	}
}

func TestWebhookUnfollowClosesChat(t *testing.T) {
	e := newTestWebhook(t)
	e.openChat(bridge.StatusEstablished)
	e.post(t, linesim.Unfollow(testUser))
	e.drain(t)
	if len(e.fb.closed) != 1 {
		t.Errorf("closed %+v", e.fb.closed)
	}
}

func TestWebhookTextAfterChatEndedGoesToBot(t *testing.T) {
	e := newTestWebhook(t)
	e.openChat(bridge.StatusEnded)
	e.post(t, linesim.Text(testUser, "thanks"))
	e.drain(t)
	if len(e.fb.sent) != 0 {
		t.Error("relayed to an ended chat")
	}
	if got, _ := e.st.Recall(t.Context(), testUser); !slices.Equal(got, []string{"user: thanks"}) {
		t.Errorf("history %q", got)
	}
}

func TestWebhookDedupStoreDownStillProcesses(t *testing.T) {
	e := newTestWebhook(t)
	e.st.onceErr = errBoom
	e.openChat(bridge.StatusEstablished)
	e.post(t, linesim.Text(testUser, "x"))
	e.drain(t)
	if len(e.fb.sent) != 1 {
		t.Errorf("sent %d", len(e.fb.sent))
	}
}

func TestNewWebhookValidation(t *testing.T) {
	if _, err := NewWebhook(Config{}, newFakeBridge(), newFakeStore(), nil); err == nil {
		t.Error("no secret accepted")
	}
	if _, err := NewWebhook(Config{ChannelSecret: "s", HandoverKeywords: []string{"x"}, EndKeywords: []string{"X "}}, newFakeBridge(), newFakeStore(), nil); err == nil {
		t.Error("same keyword for handover and end accepted")
	}
	if _, err := NewWebhook(Config{ChannelSecret: "s", ForwardURL: "ftp://x"}, newFakeBridge(), newFakeStore(), nil); err == nil {
		t.Error("bad forward url accepted")
	}
}
