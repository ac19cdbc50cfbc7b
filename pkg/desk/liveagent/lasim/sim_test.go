package lasim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent/lasim"
)

// visitor is a raw HTTP visitor, independent of package liveagent.
type visitor struct {
	t        *testing.T
	id, key  string
	affinity string
	seq      int
	ack      int64
	timeout  json.Number
}

type env struct {
	t   *testing.T
	sim *lasim.Sim
	srv *httptest.Server
	ctx context.Context
}

func newEnv(t *testing.T, opts lasim.Options) *env {
	t.Helper()
	if opts.HoldTime == 0 {
		opts.HoldTime = 5 * time.Second
	}
	sim := lasim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sim.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, sim: sim, srv: srv, ctx: ctx}
}

func (e *env) do(method, path string, hdr map[string]string, body string) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) newVisitor() *visitor {
	e.t.Helper()
	status, _, b := e.do("GET", "/chat/rest/System/SessionId", map[string]string{lasim.HeaderAPIVersion: "49", lasim.HeaderAffinity: "null"}, "")
	if status != 200 {
		e.t.Fatalf("SessionId: %d %s", status, b)
	}
	var r struct {
		ID, Key, AffinityToken string
		ClientPollTimeout      json.Number
	}
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatal(err)
	}
	return &visitor{t: e.t, id: r.ID, key: r.Key, affinity: r.AffinityToken, ack: -1, timeout: r.ClientPollTimeout}
}

func (v *visitor) hdr(seq bool) map[string]string {
	h := map[string]string{
		lasim.HeaderAPIVersion: "49",
		lasim.HeaderAffinity:   v.affinity,
		lasim.HeaderSessionKey: v.key,
	}
	if seq {
		v.seq++
		h[lasim.HeaderSequence] = itoa(int64(v.seq))
	}
	return h
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }

func (e *env) post(v *visitor, noun, body string) (int, string) {
	e.t.Helper()
	status, _, b := e.do("POST", "/chat/rest/Chasitor/"+noun, v.hdr(true), body)
	return status, string(b)
}

func (e *env) init(v *visitor, name string) {
	e.t.Helper()
	body := `{"organizationId":"00D","deploymentId":"572","buttonId":"573","sessionId":"` + v.id + `","visitorName":"` + name +
		`","isPost":true,"receiveQueueUpdates":true,"prechatDetails":[{"label":"ContactLineId","value":"U1"}],"prechatEntities":null}`
	if status, b := e.post(v, "ChasitorInit", body); status != 200 || b != "OK" {
		e.t.Fatalf("ChasitorInit: %d %s", status, b)
	}
}

type payload struct {
	Messages []struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	} `json:"messages"`
	Sequence int64 `json:"sequence"`
	Offset   int64 `json:"offset"`
}

func (p *payload) types() string {
	var s []string
	for _, m := range p.Messages {
		s = append(s, m.Type)
	}
	return strings.Join(s, ",")
}

// poll does one Messages poll; it returns the status and, on 200, the payload (ack advanced).
func (e *env) poll(v *visitor) (int, *payload) {
	e.t.Helper()
	status, _, b := e.do("GET", "/chat/rest/System/Messages?ack="+jsonInt(v.ack), v.hdr(false), "")
	if status != 200 {
		return status, nil
	}
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		e.t.Fatalf("payload %s: %v", b, err)
	}
	v.ack = p.Sequence
	return status, &p
}

func (e *env) wait(id, what string, cond func(lasim.ChatView) bool) lasim.ChatView {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	v, err := e.sim.WaitChat(ctx, id, cond)
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
	return v
}

func TestSessionIdShape(t *testing.T) {
	e := newEnv(t, lasim.Options{ClientPollTimeout: 40 * time.Second})
	v := e.newVisitor()
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(v.id) {
		t.Errorf("id %q is not a UUID", v.id)
	}
	if !regexp.MustCompile(`^` + v.id + `![0-9]{13}![A-Za-z0-9+/]{27}=$`).MatchString(v.key) {
		t.Errorf("key %q is not <id>!<epoch-ms>!<base64sig>", v.key)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(v.affinity) {
		t.Errorf("affinity %q is not 8 hex", v.affinity)
	}
	if v.timeout.String() != "40" {
		t.Errorf("clientPollTimeout = %s, want the JSON number 40", v.timeout)
	}
	_, _, raw := e.do("GET", "/chat/rest/System/SessionId", map[string]string{lasim.HeaderAPIVersion: "49", lasim.HeaderAffinity: "null"}, "")
	if !bytes.Contains(raw, []byte(`"clientPollTimeout":40,`)) {
		t.Errorf("raw SessionId %s", raw)
	}
}

func TestCustomAffinityGenerator(t *testing.T) {
	var mu sync.Mutex
	n := 0
	e := newEnv(t, lasim.Options{NewAffinityToken: func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return []string{"aaaa0000", "bbbb1111", "cccc2222"}[(n-1)%3]
	}})
	v := e.newVisitor()
	if v.affinity != "aaaa0000" {
		t.Fatalf("affinity %q", v.affinity)
	}
	status, _, b := e.do("GET", "/chat/rest/System/ReconnectSession?ReconnectSession.offset=1", map[string]string{
		lasim.HeaderAPIVersion: "49", lasim.HeaderAffinity: "null", lasim.HeaderSessionKey: v.key,
	}, "")
	if status != 200 || string(b) != `{"messages":[{"type":"ReconnectSession","message":{"resetSequence":true,"affinityToken":"bbbb1111"}}]}` {
		t.Fatalf("reconnect: %d %s", status, b)
	}
}

func TestEventOrderAndQueueUpdates(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	v := e.newVisitor()
	e.init(v, "Taro")
	_, p := e.poll(v)
	if p.types() != "ChatRequestSuccess" || p.Sequence != 0 {
		t.Fatalf("first payload %s seq %d", p.types(), p.Sequence)
	}
	var crs map[string]any
	_ = json.Unmarshal(p.Messages[0].Message, &crs)
	for _, k := range []string{"queuePosition", "estimatedWaitTime", "connectionTimeout", "sensitiveDataRules", "transcriptSaveEnabled", "visitorId", "geoLocation", "customDetails"} {
		if _, ok := crs[k]; !ok {
			t.Errorf("ChatRequestSuccess lacks %s: %v", k, crs)
		}
	}
	if err := e.sim.SetQueuePosition(v.id, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Accept(v.id); err != nil {
		t.Fatal(err)
	}
	_, p = e.poll(v)
	if p.types() != "QueueUpdate,ChatEstablished" || p.Sequence != 1 {
		t.Fatalf("second payload %s seq %d", p.types(), p.Sequence)
	}
	if got := string(p.Messages[0].Message); got != `{"estimatedWaitTime":0,"position":0}` {
		t.Errorf("QueueUpdate %s", got)
	}
	var est map[string]any
	_ = json.Unmarshal(p.Messages[1].Message, &est)
	if est["name"] != "Agent Smith" || !strings.HasPrefix(est["userId"].(string), "005") || len(est["userId"].(string)) != 15 ||
		est["sneakPeekEnabled"] != false || est["items"] == nil {
		t.Errorf("ChatEstablished %v", est)
	}
	if ci, _ := est["chasitorIdleTimeout"].(map[string]any); ci["isEnabled"] != false {
		t.Errorf("chasitorIdleTimeout %v", est["chasitorIdleTimeout"])
	}
	if err := e.sim.Accept(v.id); !errors.Is(err, lasim.ErrState) {
		t.Errorf("second accept: %v", err)
	}
	if err := e.sim.Fail(v.id, ""); !errors.Is(err, lasim.ErrState) {
		t.Errorf("fail after accept: %v", err)
	}
	if err := e.sim.End("nope"); !errors.Is(err, lasim.ErrNoChat) {
		t.Errorf("unknown chat: %v", err)
	}
}

func TestQueueUpdateOnlyWhenRequested(t *testing.T) {
	e := newEnv(t, lasim.Options{HoldTime: 30 * time.Millisecond})
	v := e.newVisitor()
	body := `{"organizationId":"00D","deploymentId":"572","buttonId":"573","sessionId":"` + v.id + `","visitorName":"x","receiveQueueUpdates":"false"}`
	if status, b := e.post(v, "ChasitorInit", body); status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	e.poll(v)
	if err := e.sim.SetQueuePosition(v.id, 4, -1); err != nil {
		t.Fatal(err)
	}
	if status, p := e.poll(v); status != 204 {
		t.Fatalf("QueueUpdate sent without receiveQueueUpdates: %d %v", status, p)
	}
	if c, _ := e.sim.Chat(v.id); c.QueuePosition != 4 {
		t.Errorf("queue position %d", c.QueuePosition)
	}
}

func TestLazyExpiryWithFakeClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newEnv(t, lasim.Options{Now: clock, ClientPollTimeout: 40 * time.Second, HoldTime: 10 * time.Millisecond})
	v := e.newVisitor()
	e.init(v, "x")
	advance(39 * time.Second)
	if status, _ := e.poll(v); status != 200 {
		t.Fatalf("poll within the timeout: %d", status)
	}
	advance(39 * time.Second) // measured from the last poll
	if status, _ := e.poll(v); status != 204 {
		t.Fatalf("poll within the timeout after the last poll: %d", status)
	}
	advance(41 * time.Second)
	status, _, b := e.do("GET", "/chat/rest/System/Messages?ack=0", v.hdr(false), "")
	if status != 403 || string(b) != "Session required but was invalid or not found" {
		t.Fatalf("poll after the timeout: %d %q", status, b)
	}
	c, _ := e.sim.Chat(v.id)
	if c.State != lasim.StateExpired || c.EndReason != "expired" || c.EndedAt == nil || !c.EndedAt.Equal(now) {
		t.Errorf("chat %s %s %v", c.State, c.EndReason, c.EndedAt)
	}
}

func TestHoldingPollReleasedByClose(t *testing.T) {
	sim := lasim.New(lasim.Options{HoldTime: time.Hour})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	e := &env{t: t, sim: sim, srv: srv, ctx: context.Background()}
	v := e.newVisitor()
	e.init(v, "x")
	e.poll(v)
	done := make(chan int, 1)
	go func() {
		st, _ := e.poll(v)
		done <- st
	}()
	e.wait(v.id, "holding poll", func(c lasim.ChatView) bool { return c.PollActive })
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-done:
		if st != 204 {
			t.Errorf("poll released with %d", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the holding poll")
	}
	_ = sim.Close() // idempotent
	if st, _, _ := e.do("GET", "/chat/rest/System/SessionId", map[string]string{lasim.HeaderAPIVersion: "49"}, ""); st != 503 {
		t.Errorf("after Close: %d", st)
	}
	if _, err := sim.WaitChat(context.Background(), v.id, func(lasim.ChatView) bool { return false }); !errors.Is(err, lasim.ErrClosed) {
		t.Errorf("WaitChat after Close: %v", err)
	}
}

func TestMultiNoun(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	v := e.newVisitor()
	e.init(v, "x")
	e.poll(v)
	if err := e.sim.Accept(v.id); err != nil {
		t.Fatal(err)
	}
	status, _, b := e.do("POST", "/chat/rest/System/MultiNoun", v.hdr(true),
		`{"nouns":[{"prefix":"Chasitor","noun":"ChatMessage","object":{"text":"Goodbye"}},{"prefix":"Chasitor","noun":"ChatEnd","object":{}}]}`)
	if status != 200 {
		t.Fatalf("MultiNoun: %d %s", status, b)
	}
	c := e.wait(v.id, "end", func(c lasim.ChatView) bool { return c.Ended() })
	if c.LastVisitorMessage() != "Goodbye" || c.EndReason != "client" || c.EndedBy != lasim.EndedByVisitor {
		t.Errorf("chat %+v", c)
	}
}

func TestAutoAcceptAndAutoReply(t *testing.T) {
	e := newEnv(t, lasim.Options{AutoAccept: 20 * time.Millisecond, AutoReply: true, AgentName: "Bot Agent"})
	v := e.newVisitor()
	e.init(v, "x")
	c := e.wait(v.id, "auto accept", func(c lasim.ChatView) bool { return c.State == lasim.StateEstablished })
	if c.AgentName != "Bot Agent" {
		t.Errorf("agent %q", c.AgentName)
	}
	if _, p := e.poll(v); p.types() != "ChatRequestSuccess,ChatEstablished" {
		t.Fatalf("payload %s", p.types())
	}
	if status, b := e.post(v, "ChatMessage", `{"text":"ping"}`); status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	_, p := e.poll(v)
	if p.types() != "ChatMessage" || !strings.Contains(string(p.Messages[0].Message), `"text":"Echo: ping"`) {
		t.Fatalf("echo payload %s %s", p.types(), p.Messages[0].Message)
	}
}

func TestPruneEndedChats(t *testing.T) {
	e := newEnv(t, lasim.Options{MaxEndedChats: 2})
	var ids []string
	for range 4 {
		v := e.newVisitor()
		e.init(v, "x")
		if err := e.sim.Fail(v.id, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.id)
	}
	live := e.newVisitor()
	chats := e.sim.Chats()
	if len(chats) != 3 || chats[0].ID != ids[2] || chats[1].ID != ids[3] || chats[2].ID != live.id {
		var got []string
		for _, c := range chats {
			got = append(got, c.ID)
		}
		t.Fatalf("chats %v, want [%s %s %s]", got, ids[2], ids[3], live.id)
	}
}

// TestControlAPI drives a chat through the HTTP control API.
func TestControlAPI(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	v := e.newVisitor()
	e.init(v, "花子")
	e.poll(v)
	ctl := func(method, path, body string, want int) []byte {
		t.Helper()
		st, hdr, b := e.do(method, "/control"+path, map[string]string{"Content-Type": "application/json"}, body)
		if st != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, st, b, want)
		}
		if ct := hdr.Get("Content-Type"); want < 300 && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(path, "/chats/"+v.id+"/files/") {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		return b
	}
	var list struct{ Chats []lasim.ChatView }
	if err := json.Unmarshal(ctl("GET", "/chats", "", 200), &list); err != nil || len(list.Chats) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	got := list.Chats[0]
	if got.ID != v.id || got.State != lasim.StateQueued || got.VisitorName != "花子" ||
		!strings.Contains(string(got.PrechatDetails), "ContactLineId") || got.Counters.Polls != 1 || got.CreatedAt.IsZero() {
		t.Errorf("chat %+v", got)
	}
	ctl("GET", "/chats?state=ended", "", 200)
	ctl("GET", "/chats/nope", "", 404)
	ctl("POST", "/chats/"+v.id+"/messages", `{"text":"too early"}`, 409)
	ctl("POST", "/chats/"+v.id+"/queue", `{"position":2}`, 200)
	ctl("POST", "/chats/"+v.id+"/accept", `{"agentName":"鈴木"}`, 200)
	ctl("POST", "/chats/"+v.id+"/typing", `{"typing":true}`, 200)
	ctl("POST", "/chats/"+v.id+"/messages", `{"text":"いらっしゃいませ"}`, 200)
	ctl("POST", "/chats/"+v.id+"/messages", `{}`, 400)
	ctl("POST", "/chats/"+v.id+"/typing", `{"typing":false}`, 200)
	ctl("POST", "/chats/"+v.id+"/custom-events", `{"type":"T","data":"D"}`, 200)
	ctl("POST", "/chats/"+v.id+"/transfer", `{"agentName":"高橋"}`, 200)
	ctl("POST", "/chats/"+v.id+"/transfer", `{}`, 400)
	var fr lasim.FileRequest
	if err := json.Unmarshal(ctl("POST", "/chats/"+v.id+"/file-requests", "", 201), &fr); err != nil || fr.FileToken == "" {
		t.Fatalf("file request %v %v", fr, err)
	}
	ctl("DELETE", "/chats/"+v.id+"/file-requests/"+fr.FileToken, "", 200)
	ctl("DELETE", "/chats/"+v.id+"/file-requests/"+fr.FileToken, "", 409)
	if err := json.Unmarshal(ctl("POST", "/chats/"+v.id+"/file-requests", "", 201), &fr); err != nil {
		t.Fatal(err)
	}
	_, p := e.poll(v)
	want := "QueueUpdate,ChatEstablished,AgentTyping,ChatMessage,AgentNotTyping,CustomEvent,ChatTransferred,FileTransfer,FileTransfer,FileTransfer"
	if p.types() != want {
		t.Fatalf("visitor got %s\nwant %s", p.types(), want)
	}
	if !strings.Contains(string(p.Messages[8].Message), `"type":"Canceled"`) {
		t.Errorf("cancel %s", p.Messages[8].Message)
	}

	// Upload (raw multipart), then download through the control API.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "receipt.pdf")
	_, _ = fw.Write([]byte("%PDF-1.4 fake"))
	_ = mw.WriteField("filename", "receipt.pdf")
	_ = mw.Close()
	q := "?orgId=00D&chatKey=" + v.id + "&fileToken=" + fr.FileToken + "&encoding=UTF-8"
	if !strings.HasPrefix(fr.UploadServletURL, e.srv.URL+"/services/liveagent/file") {
		t.Errorf("upload URL %s", fr.UploadServletURL)
	}
	for _, bad := range []string{
		"?orgId=00X&chatKey=" + v.id + "&fileToken=" + fr.FileToken,
		"?orgId=00D&chatKey=other&fileToken=" + fr.FileToken,
		"?orgId=00D&chatKey=" + v.id,
	} {
		if st, _, _ := e.do("POST", "/services/liveagent/file"+bad, map[string]string{"Content-Type": mw.FormDataContentType()}, body.String()); st != 403 && st != 400 {
			t.Errorf("bad upload %s accepted: %d", bad, st)
		}
	}
	st, _, b := e.do("POST", "/services/liveagent/file"+q, map[string]string{"Content-Type": mw.FormDataContentType()}, body.String())
	if st != 200 {
		t.Fatalf("upload %d %s", st, b)
	}
	if b := ctl("GET", "/chats/"+v.id+"/files/0", "", 200); string(b) != "%PDF-1.4 fake" {
		t.Errorf("download %q", b)
	}
	ctl("GET", "/chats/"+v.id+"/files/7", "", 404)

	var c lasim.ChatView
	if err := json.Unmarshal(ctl("GET", "/chats/"+v.id, "", 200), &c); err != nil {
		t.Fatal(err)
	}
	if c.AgentName != "高橋" || len(c.Files) != 1 || c.Files[0].Name != "receipt.pdf" || c.Files[0].Size != 13 ||
		len(c.FileRequests) != 2 || c.FileRequests[0].Status != lasim.FileCanceled || c.FileRequests[1].Status != lasim.FileUploaded {
		t.Errorf("chat view %+v", c)
	}
	if len(c.Transcript) != 2 || c.Transcript[0].Content != "いらっしゃいませ" || c.Transcript[1].Type != lasim.TranscriptTransferred {
		t.Errorf("transcript %+v", c.Transcript)
	}

	ctl("POST", "/chats/"+v.id+"/disconnect", "", 200)
	ctl("POST", "/chats/"+v.id+"/accept", "", 200)
	ctl("POST", "/chats/"+v.id+"/end", "", 200)
	ctl("POST", "/chats/"+v.id+"/end", "", 409)
	ctl("POST", "/chats/"+v.id+"/fail", `{"reason":"x"}`, 409)
	ctl("POST", "/chats/"+v.id+"/expire", "", 409)

	// Faults, settings, availability, requests.
	ctl("POST", "/faults", `{"kind":"nope","status":503}`, 400)
	ctl("POST", "/faults", `{"kind":"messages","status":200}`, 400)
	ctl("POST", "/faults", `{"kind":"ChatMessage","status":429,"count":3}`, 201)
	var faults struct{ Faults []lasim.Fault }
	_ = json.Unmarshal(ctl("GET", "/faults", "", 200), &faults)
	if len(faults.Faults) != 1 || faults.Faults[0].Kind != "chatMessage" || faults.Faults[0].Count != 3 {
		t.Errorf("faults %+v", faults)
	}
	ctl("DELETE", "/faults", "", 200)
	if len(e.sim.Faults()) != 0 {
		t.Error("faults not cleared")
	}
	var set map[string]any
	_ = json.Unmarshal(ctl("PATCH", "/settings", `{"holdTime":"250ms","clientPollTimeout":90000,"autoReply":true}`, 200), &set)
	if set["holdTime"] != "250ms" || set["clientPollTimeout"] != "1m30s" || set["autoReply"] != true {
		t.Errorf("settings %v", set)
	}
	if s := e.sim.Settings(); s.HoldTime != 250*time.Millisecond || s.ClientPollTimeout != 90*time.Second {
		t.Errorf("settings %+v", s)
	}
	ctl("PATCH", "/settings", `{"holdTime":"soon"}`, 400)
	ctl("PUT", "/availability", `{"buttonId":"573x","online":false}`, 200)
	ctl("PUT", "/availability", `{}`, 400)
	var av struct {
		Online  bool
		Buttons map[string]bool
	}
	_ = json.Unmarshal(ctl("GET", "/availability", "", 200), &av)
	if !av.Online || av.Buttons["573x"] {
		t.Errorf("availability %+v", av)
	}
	var reqs struct{ Requests []lasim.RequestRecord }
	_ = json.Unmarshal(ctl("GET", "/requests?limit=2", "", 200), &reqs)
	if len(reqs.Requests) != 2 || reqs.Requests[1].Kind != "upload" || reqs.Requests[1].Status != 200 || reqs.Requests[1].ChatID != v.id {
		t.Errorf("requests %+v", reqs.Requests)
	}
	ctl("POST", "/chats", "", 405)
}

// TestEventStream reads /control/events while a chat happens.
func TestEventStream(t *testing.T) {
	e := newEnv(t, lasim.Options{})
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/control/events", nil)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan lasim.Event, 100)
	names := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name != lasim.EventSnapshot:
				var ev lasim.Event
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) == nil {
					names <- name
					events <- ev
				}
			case strings.HasPrefix(line, "data: "):
				names <- name
			}
		}
		close(names)
	}()
	next := func(want string) lasim.Event {
		t.Helper()
		for {
			select {
			case n, ok := <-names:
				if !ok {
					t.Fatalf("stream closed waiting for %s", want)
				}
				if n == lasim.EventSnapshot {
					if want == lasim.EventSnapshot {
						return lasim.Event{}
					}
					continue
				}
				ev := <-events
				if n != ev.Type {
					t.Fatalf("SSE event %q carries type %q", n, ev.Type)
				}
				if n == want {
					return ev
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no %s event", want)
			}
		}
	}
	next(lasim.EventSnapshot)
	v := e.newVisitor()
	if ev := next(lasim.EventChatCreated); ev.ChatID != v.id || ev.Chat.State != lasim.StateCreated {
		t.Errorf("created %+v", ev)
	}
	e.init(v, "x")
	if ev := next(lasim.EventChatUpdated); ev.Chat.State != lasim.StateQueued {
		t.Errorf("updated %+v", ev.Chat.State)
	}
	e.poll(v)
	if err := e.sim.Accept(v.id); err != nil {
		t.Fatal(err)
	}
	e.poll(v)
	e.post(v, "ChatMessage", `{"text":"hello agent"}`)
	if ev := next(lasim.EventVisitorMessage); ev.Text != "hello agent" || ev.Chat.LastVisitorMessage() != "hello agent" {
		t.Errorf("visitor message %+v", ev)
	}
	if err := e.sim.End(v.id); err != nil {
		t.Fatal(err)
	}
	if ev := next(lasim.EventChatEnded); ev.Chat.EndedBy != lasim.EndedByAgent {
		t.Errorf("ended %+v", ev.Chat)
	}
}

// TestExpiredPollsKnob: with ExpiredPolls, a poll holding when the session expires and the next
// one answer 204; then 403.
func TestExpiredPollsKnob(t *testing.T) {
	e := newEnv(t, lasim.Options{ExpiredPolls: 2, HoldTime: time.Second})
	v := e.newVisitor()
	e.init(v, "x")
	e.poll(v)
	done := make(chan int, 1)
	go func() {
		st, _ := e.poll(v)
		done <- st
	}()
	e.wait(v.id, "holding poll", func(c lasim.ChatView) bool { return c.PollActive })
	if err := e.sim.Expire(v.id); err != nil {
		t.Fatal(err)
	}
	if st := <-done; st != 204 {
		t.Fatalf("holding poll at expiry: %d, want 204", st)
	}
	if st, _ := e.poll(v); st != 204 {
		t.Fatalf("second poll after expiry: %d, want 204", st)
	}
	if st, _ := e.poll(v); st != 403 {
		t.Fatalf("third poll after expiry: %d, want 403", st)
	}
}
