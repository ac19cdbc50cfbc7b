package miawsim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/miaw/miawsim"
)

const org = "00D000000000001"

type env struct {
	t   *testing.T
	sim *miawsim.Sim
	srv *httptest.Server
}

func newEnv(t *testing.T, o miawsim.Options) *env {
	o.OrgID, o.DeploymentName = org, "Dep"
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 30 * time.Millisecond
	}
	sim := miawsim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { _ = sim.Close(); srv.CloseClientConnections(); srv.Close() })
	return &env{t: t, sim: sim, srv: srv}
}

// call makes a request and decodes a JSON answer into out (if not nil); it returns the status.
func (e *env) call(method, path, token string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode
}

func (e *env) guestToken() string {
	e.t.Helper()
	var tok struct {
		AccessToken string `json:"accessToken"`
		LastEventID string `json:"lastEventId"`
	}
	st := e.call(http.MethodPost, "/iamessage/api/v2/authorization/unauthenticated/access-token", "",
		map[string]string{"orgId": org + "AAA", "esDeveloperName": "Dep", "capabilitiesVersion": "1", "platform": "Web"}, &tok)
	if st != 200 || tok.AccessToken == "" || tok.LastEventID == "" {
		e.t.Fatalf("token: %d %+v", st, tok)
	}
	return tok.AccessToken
}

const conv = "5b6c7d8e-9fa0-4b1c-8d2e-3f405162738a"

func (e *env) create(tok string) {
	e.t.Helper()
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation", tok,
		map[string]any{"conversationId": conv, "esDeveloperName": "Dep", "routingAttributes": map[string]string{"LineUserId": "U1"}}, nil); st != 201 {
		e.t.Fatalf("create: %d", st)
	}
}

func message(id, text string) map[string]any {
	return map[string]any{"esDeveloperName": "Dep", "message": map[string]any{
		"id": id, "messageType": "StaticContentMessage", "staticContent": map[string]string{"formatType": "Text", "text": text}}}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, miawsim.Options{})
	// Token request validation.
	for _, body := range []map[string]string{
		{"esDeveloperName": "Dep", "capabilitiesVersion": "1", "platform": "Web"},
		{"orgId": "00Dother00000001", "esDeveloperName": "Dep", "capabilitiesVersion": "1", "platform": "Web"},
		{"orgId": org, "esDeveloperName": "Other", "capabilitiesVersion": "1", "platform": "Web"},
		{"orgId": org, "esDeveloperName": "Dep", "platform": "Web"},
	} {
		if st := e.call(http.MethodPost, "/iamessage/api/v2/authorization/unauthenticated/access-token", "", body, nil); st != 400 {
			t.Fatalf("token request %v: %d, want 400", body, st)
		}
	}
	// Authenticated tokens need User Verification keys.
	if st := e.call(http.MethodPost, "/iamessage/api/v2/authorization/authenticated/access-token", "",
		map[string]string{"orgId": org, "esDeveloperName": "Dep", "capabilitiesVersion": "1", "platform": "Web", "authorizationType": "JWT", "customerIdentityToken": "x"}, nil); st != 400 {
		t.Fatalf("authenticated without keys: %d", st)
	}
	tok := e.guestToken()
	// Bearer tokens.
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation", "", map[string]any{"conversationId": conv, "esDeveloperName": "Dep"}, nil); st != 401 {
		t.Fatalf("create without a token: %d", st)
	}
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation", "forged.token.sig", map[string]any{"conversationId": conv, "esDeveloperName": "Dep"}, nil); st != 401 {
		t.Fatalf("create with a forged token: %d", st)
	}
	// Conversation ids must be lowercase UUID v4.
	var msg struct{ Message string }
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation", tok, map[string]any{"conversationId": strings.ToUpper(conv), "esDeveloperName": "Dep"}, &msg); st != 400 || !strings.Contains(msg.Message, "lowercase") {
		t.Fatalf("uppercase id: %d %q", st, msg.Message)
	}
	e.create(tok)
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation", tok, map[string]any{"conversationId": conv, "esDeveloperName": "Dep"}, nil); st != 409 {
		t.Fatalf("duplicate create: %d", st)
	}
	// Another end user's token: 403; an unknown conversation: 404.
	other := e.guestToken()
	if st := e.call(http.MethodGet, "/iamessage/api/v2/conversation/"+conv+"/entries", other, nil, nil); st != 403 {
		t.Fatalf("entries of another user: %d", st)
	}
	if st := e.call(http.MethodGet, "/iamessage/api/v2/conversation/6c7d8e9f-a0b1-4c2d-9e3f-405162738a9b/entries", tok, nil, nil); st != 404 {
		t.Fatalf("unknown conversation: %d", st)
	}
	// Token expiry → 401.
	e.sim.ExpireTokens()
	if st := e.call(http.MethodGet, "/iamessage/api/v2/conversation/"+conv+"/entries", tok, nil, nil); st != 401 {
		t.Fatalf("expired token: %d", st)
	}
}

func TestTokenLifetime(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t, miawsim.Options{Now: clock, TokenLifetime: time.Minute})
	tok := e.guestToken()
	e.create(tok)
	now = now.Add(2 * time.Minute)
	if st := e.call(http.MethodGet, "/iamessage/api/v2/conversation/"+conv+"/entries", tok, nil, nil); st != 401 {
		t.Fatalf("token past its lifetime: %d", st)
	}
}

func TestMessagesSessionsAndEntries(t *testing.T) {
	e := newEnv(t, miawsim.Options{})
	tok := e.guestToken()
	e.create(tok)
	id1 := "0a1b2c3d-0000-4000-8000-000000000001"
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation/"+conv+"/message", tok, message(id1, "before agent"), nil); st != 202 {
		t.Fatalf("message: %d", st)
	}
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation/"+conv+"/message", tok, message(id1, "before agent"), nil); st != 202 {
		t.Fatalf("duplicate message: %d", st)
	}
	_ = e.sim.AcceptAs(conv, "Alice")
	_ = e.sim.AgentSend(conv, "hello")
	v, _ := e.sim.Conversation(conv)
	if v.Counters.Messages != 1 || v.Counters.DuplicateMessages != 1 || v.Counters.MessagesBeforeAgent != 1 || v.AgentName != "Alice" {
		t.Fatalf("view %+v", v)
	}
	var list struct {
		ConversationEntries []struct {
			Identifier            string         `json:"identifier"`
			EntryType             string         `json:"entryType"`
			EntryPayload          map[string]any `json:"entryPayload"`
			TranscriptedTimestamp int64          `json:"transcriptedTimestamp"`
			Sender                struct{ Role string }
		} `json:"conversationEntries"`
	}
	path := "/iamessage/api/v2/conversation/" + conv + "/entries"
	e.call(http.MethodGet, path+"?direction=FromStart&limit=50", tok, nil, &list)
	var types []string
	for i, en := range list.ConversationEntries {
		types = append(types, en.EntryType)
		if i > 0 && en.TranscriptedTimestamp <= list.ConversationEntries[i-1].TranscriptedTimestamp {
			t.Fatal("timestamps not increasing")
		}
	}
	if !slices.Equal(types, []string{"RoutingResult", "Message", "ParticipantChanged", "Message"}) {
		t.Fatalf("entries FromStart = %v", types)
	}
	last := list.ConversationEntries[3]
	e.call(http.MethodGet, path+"?limit=1", tok, nil, &list) // FromEnd by default
	if len(list.ConversationEntries) != 1 || list.ConversationEntries[0].Identifier != last.Identifier {
		t.Fatalf("newest entry %+v", list.ConversationEntries)
	}
	e.call(http.MethodGet, path+"?direction=FromStart&entryTypeFilter=Message&startTimestamp="+jsonNum(last.TranscriptedTimestamp), tok, nil, &list)
	if len(list.ConversationEntries) != 1 || list.ConversationEntries[0].Sender.Role != "Agent" {
		t.Fatalf("filtered %+v", list.ConversationEntries)
	}
	if st := e.call(http.MethodGet, path+"?limit=51", tok, nil, nil); st != 400 {
		t.Fatalf("limit 51: %d", st)
	}
	// The agent ends the session: 417 until a message starts a new one.
	_ = e.sim.EndSession(conv)
	id2 := "0a1b2c3d-0000-4000-8000-000000000002"
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation/"+conv+"/message", tok, message(id2, "hello?"), nil); st != 417 {
		t.Fatalf("message without a session: %d", st)
	}
	m := message(id2, "hello?")
	m["isNewMessagingSession"] = true
	if st := e.call(http.MethodPost, "/iamessage/api/v2/conversation/"+conv+"/message", tok, m, nil); st != 202 {
		t.Fatalf("message with a new session: %d", st)
	}
	v, _ = e.sim.Conversation(conv)
	if v.Sessions != 2 || v.State != miawsim.StateQueued || v.Counters.NoSession417 != 1 {
		t.Fatalf("after new session %+v", v)
	}
	// Close; then the conversation is closed for writes but its entries stay readable.
	if st := e.call(http.MethodDelete, "/iamessage/api/v2/conversation/"+conv+"?esDeveloperName=Dep", tok, nil, nil); st != 204 {
		t.Fatalf("close: %d", st)
	}
	if st := e.call(http.MethodDelete, "/iamessage/api/v2/conversation/"+conv+"?esDeveloperName=Dep", tok, nil, nil); st != 404 {
		t.Fatalf("second close: %d", st)
	}
	if st := e.call(http.MethodGet, path, tok, nil, nil); st != 200 {
		t.Fatalf("entries of a closed conversation: %d", st)
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// sse reads the end user's event stream.
type sse struct {
	res *http.Response
	sc  *bufio.Scanner
}

func (e *env) openSSE(tok, orgHeader string) (*sse, int) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/eventrouter/v1/sse", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if orgHeader != "" {
		req.Header.Set("X-Org-Id", orgHeader)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		return nil, res.StatusCode
	}
	e.t.Cleanup(func() { res.Body.Close() })
	return &sse{res: res, sc: bufio.NewScanner(res.Body)}, 200
}

// next returns the next event's type and data (skipping pings unless wanted).
func (s *sse) next(t *testing.T, pings bool) (string, string, bool) {
	t.Helper()
	var typ, data string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if data != "" && (pings || typ != "ping") {
				return typ, data, true
			}
			typ, data = "", ""
		case strings.HasPrefix(line, "event: "):
			typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
	return "", "", false
}

func TestEventStream(t *testing.T) {
	e := newEnv(t, miawsim.Options{})
	tok := e.guestToken()
	if _, st := e.openSSE(tok, ""); st != 400 {
		t.Fatalf("without X-Org-Id: %d", st)
	}
	if _, st := e.openSSE("", org); st != 401 {
		t.Fatalf("without a token: %d", st)
	}
	e.create(tok)
	s, _ := e.openSSE(tok, org)
	if typ, _, _ := s.next(t, true); typ != "ping" {
		t.Fatalf("first event %q, want a heartbeat", typ)
	}
	_ = e.sim.Accept(conv)
	_ = e.sim.AgentSend(conv, "hi")
	_ = e.sim.SendRawEvent(conv, miawsim.RawEvent{Type: "CONVERSATION_NEW_THING"})
	var got []string
	for len(got) < 3 {
		typ, data, ok := s.next(t, false)
		if !ok {
			t.Fatal("stream ended")
		}
		var d struct {
			ConversationID    string `json:"conversationId"`
			ConversationEntry struct {
				EntryPayload string `json:"entryPayload"` // a JSON string on the stream
				Sender       struct{ Role string }
			} `json:"conversationEntry"`
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil || d.ConversationID != conv || !json.Valid([]byte(d.ConversationEntry.EntryPayload)) {
			t.Fatalf("event %s data %s: %v", typ, data, err)
		}
		got = append(got, typ)
	}
	if !slices.Equal(got, []string{"CONVERSATION_PARTICIPANT_CHANGED", "CONVERSATION_MESSAGE", "CONVERSATION_NEW_THING"}) {
		t.Fatalf("events %v", got)
	}
	// Replay then drop: the next connection starts with duplicates.
	_ = e.sim.ReplayOnReconnect(conv, 2)
	_ = e.sim.DropStreams(conv)
	if _, _, ok := s.next(t, false); ok {
		t.Fatal("stream not dropped")
	}
	s2, _ := e.openSSE(tok, org)
	typ, _, _ := s2.next(t, false)
	if typ != "CONVERSATION_MESSAGE" {
		t.Fatalf("replayed %q", typ)
	}
	// An expired token ends the stream at the next heartbeat.
	e.sim.ExpireTokens()
	for {
		if _, _, ok := s2.next(t, true); !ok {
			break
		}
	}
	if st := e.sim.Stats(); st.StreamDrops != 1 || st.Replays != 1 || st.StreamConnects != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, miawsim.Options{})
	tok := e.guestToken()
	e.create(tok)
	if err := e.sim.InjectFault(miawsim.Fault{Kind: "nope", Status: 500}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if err := e.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 200}); err == nil {
		t.Fatal("status 200 accepted")
	}
	_ = e.sim.InjectFault(miawsim.Fault{Kind: "message", Status: 429, RetryAfter: 7, ConversationID: conv})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/iamessage/api/v2/conversation/"+conv+"/message", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "7" {
		t.Fatalf("fault answer %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	_ = e.sim.InjectFault(miawsim.Fault{Kind: "any", Status: 503, Count: 2})
	for range 2 {
		if st := e.call(http.MethodGet, "/iamessage/api/v2/conversation/"+conv+"/entries", tok, nil, nil); st != 503 {
			t.Fatalf("any fault: %d", st)
		}
	}
	if st := e.call(http.MethodGet, "/iamessage/api/v2/conversation/"+conv+"/entries", tok, nil, nil); st != 200 {
		t.Fatalf("after faults: %d", st)
	}
	if len(e.sim.Faults()) != 0 || e.sim.Stats().FaultsServed != 3 {
		t.Fatalf("faults %v, stats %+v", e.sim.Faults(), e.sim.Stats())
	}
}

// The control API over HTTP, as a web console would use it.
func TestControlAPI(t *testing.T) {
	e := newEnv(t, miawsim.Options{})
	// Follow the changes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/control/events", nil)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	events := &sse{res: res, sc: bufio.NewScanner(res.Body)}
	if typ, _, _ := events.next(t, false); typ != miawsim.EventSnapshot {
		t.Fatalf("first control event %q", typ)
	}
	tok := e.guestToken()
	e.create(tok)
	var list struct{ Conversations []miawsim.ConversationView }
	e.call(http.MethodGet, "/control/conversations?state=queued", "", nil, &list)
	if len(list.Conversations) != 1 || list.Conversations[0].RoutingAttributes["LineUserId"] != "U1" {
		t.Fatalf("list %+v", list)
	}
	base := "/control/conversations/" + conv
	steps := []struct {
		path   string
		body   any
		status int
	}{
		{"/queue", map[string]int{"position": 2}, 200},
		{"/accept", map[string]string{"agentName": "Alice"}, 200},
		{"/accept", nil, 409},
		{"/messages", map[string]string{"text": "hello"}, 200},
		{"/messages", map[string]string{}, 400},
		{"/typing", map[string]bool{"typing": true}, 200},
		{"/transfer", map[string]string{"agentName": "Bob"}, 200},
		{"/raw-events", map[string]string{"type": "CONVERSATION_X"}, 200},
		{"/replay", map[string]any{"count": 3, "drop": true}, 200},
		{"/drop-streams", nil, 200},
		{"/leave", nil, 200},
		{"/end", nil, 200},
		{"/fail", nil, 409},
	}
	for _, s := range steps {
		var v miawsim.ConversationView
		if st := e.call(http.MethodPost, base+s.path, "", s.body, &v); st != s.status {
			t.Fatalf("POST %s: %d, want %d", s.path, st, s.status)
		}
	}
	var v miawsim.ConversationView
	e.call(http.MethodGet, base, "", nil, &v)
	if v.State != miawsim.StateInactive || v.EndedBy != "System" || v.Counters.AgentMessages != 1 {
		t.Fatalf("view %+v", v)
	}
	if st := e.call(http.MethodGet, "/control/conversations/nope", "", nil, nil); st != 404 {
		t.Fatalf("unknown conversation: %d", st)
	}
	if st := e.call(http.MethodPost, "/control/faults", "", map[string]any{"kind": "sse", "status": 500}, nil); st != 201 {
		t.Fatalf("inject fault: %d", st)
	}
	var faults struct{ Faults []miawsim.Fault }
	e.call(http.MethodGet, "/control/faults", "", nil, &faults)
	if len(faults.Faults) != 1 {
		t.Fatalf("faults %+v", faults)
	}
	e.call(http.MethodDelete, "/control/faults", "", nil, nil)
	var settings map[string]any
	if st := e.call(http.MethodPatch, "/control/settings", "", map[string]any{"heartbeatInterval": "1s", "tokenLifetime": 60000, "autoReply": true}, &settings); st != 200 {
		t.Fatalf("settings: %d", st)
	}
	if settings["heartbeatInterval"] != "1s" || settings["tokenLifetime"] != "1m0s" || settings["autoReply"] != true {
		t.Fatalf("settings %v", settings)
	}
	var stats miawsim.Stats
	e.call(http.MethodPost, "/control/tokens/expire", "", nil, &stats)
	if stats.TokenExpiries != 1 {
		t.Fatalf("stats %+v", stats)
	}
	// The control stream saw the conversation change.
	seen := map[string]bool{}
	for !seen[miawsim.EventCreated] || !seen[miawsim.EventUpdated] {
		typ, _, ok := events.next(t, false)
		if !ok {
			t.Fatal("control stream ended")
		}
		seen[typ] = true
	}
}

func TestAutoAcceptAndReply(t *testing.T) {
	e := newEnv(t, miawsim.Options{AutoAccept: 10 * time.Millisecond, AutoReply: true})
	tok := e.guestToken()
	e.create(tok)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.sim.WaitConversation(ctx, conv, func(v miawsim.ConversationView) bool { return v.State == miawsim.StateActive }); err != nil {
		t.Fatal(err)
	}
	e.call(http.MethodPost, "/iamessage/api/v2/conversation/"+conv+"/message", tok, message("0a1b2c3d-0000-4000-8000-000000000009", "ping"), nil)
	v, err := e.sim.WaitConversation(ctx, conv, func(v miawsim.ConversationView) bool { return v.Counters.AgentMessages == 1 })
	if err != nil || v.Transcript[len(v.Transcript)-1].Text != "Echo: ping" {
		t.Fatalf("auto reply: %v %+v", err, v.Transcript)
	}
}
