package liveagent_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
	"github.com/line-sf-bridge/bridge/pkg/desk/liveagent"
)

// seedFiles adds the captured payloads of testdata/ to a fuzzer's corpus.
func seedFiles(f *testing.F, add func([]byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		if !strings.HasSuffix(p, ".golden.json") {
			if b, err := os.ReadFile(p); err == nil {
				add(b)
			}
		}
	}
}

// FuzzDecodeMessages decodes arbitrary Messages bodies and every message in
// them: no panic, and a decoded value is always one of the package's types
// (re-encodable as JSON).
func FuzzDecodeMessages(f *testing.F) {
	seedFiles(f, func(b []byte) { f.Add(b) })
	for _, s := range []string{
		`{"messages":[],"sequence":0,"offset":0}`,
		`{"messages":null}`,
		`{"messages":[{"type":"ChatMessage","message":"text"}]}`,
		`{"messages":[{"type":"ChatMessage","message":{"text":["a"]}}]}`,
		`{"messages":[{"type":"QueueUpdate","message":{"position":"1e400"}}]}`,
		`{"messages":[{"type":"ChatEstablished","message":{"chasitorIdleTimeout":"x"}}]}`,
		`{"messages":[{"type":"AgentDisconnect","message":""}],"sequence":"9223372036854775808"}`,
		`{"messages":{"type":"x"}}`, `[]`, `null`, ``, `{"sequence":1.5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := liveagent.DecodeMessages(b)
		if err != nil {
			return
		}
		for _, msg := range m.Messages {
			v, err := msg.Decode()
			if v == nil {
				t.Fatalf("Decode(%s) returned nil (err %v)", msg.Type, err)
			}
			if _, ok := v.(liveagent.Unknown); !ok && err == nil {
				if _, merr := json.Marshal(v); merr != nil {
					t.Fatalf("decoded %T cannot be re-encoded: %v", v, merr)
				}
			}
		}
	})
}

var messageTypes = []string{
	"ChatRequestSuccess", "ChatRequestFail", "QueueUpdate", "ChatEstablished", "ChatMessage", "AgentTyping",
	"AgentNotTyping", "AgentDisconnect", "ChatTransferred", "ChatEnded", "ChasitorSessionData", "CustomEvent",
	"NewVisitorBreadcrumb", "SensitiveDataRules", "FileTransfer", "ReconnectSession", "Availability", "SwitchServer", "Other",
}

// FuzzMessageDecode decodes arbitrary payloads as every known type.
func FuzzMessageDecode(f *testing.F) {
	for i, p := range []string{
		`{"queuePosition":"3","estimatedWaitTime":-1}`, `{"reason":"Unavailable"}`, `{"position":2,"estimatedWaitTime":"30"}`,
		`{"name":"A","userId":"005","chasitorIdleTimeout":{"isEnabled":"true","warningTime":"60"}}`,
		`{"text":12345,"name":"A"}`, `""`, `[]`, `{}`, `null`, `{"reason":"agent"}`,
		`{"chatMessages":[{"timestamp":"1629334776994","sequence":"x"}]}`, `{"type":"T","data":1}`,
		`{"location":null}`, `{"sensitiveDataRules":[{"pattern":"\\d"}]}`, `{"type":"Requested","fileToken":7}`,
		`{"resetSequence":"true","affinityToken":123}`, `{"results":[{"id":"573","isAvailable":"1","estimatedWaitTime":"1.0"}]}`,
		`{"newUrl":"https://x"}`, `{"deep":[[[[[[[[[[[]]]]]]]]]]]}`,
	} {
		f.Add(messageTypes[i%len(messageTypes)], []byte(p))
	}
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		for _, ty := range []string{typ, messageTypes[len(payload)%len(messageTypes)]} {
			v, err := liveagent.Message{Type: ty, Message: payload}.Decode()
			if v == nil {
				t.Fatalf("Decode(%s, %q) returned nil (err %v)", ty, payload, err)
			}
		}
	})
}

// FuzzSessionUnmarshal decodes arbitrary SessionId bodies; a decoded
// session survives a round trip through its own JSON form.
func FuzzSessionUnmarshal(f *testing.F) {
	seedFiles(f, func(b []byte) { f.Add(b) })
	for _, s := range []string{
		`{"id":"a","key":"k!1!s","affinityToken":"878a1fa0","clientPollTimeout":40}`,
		`{"id":"a","key":"k","affinityToken":null,"clientPollTimeout":"30"}`,
		`{"id":1,"key":true,"clientPollTimeout":""}`,
		`{"clientPollTimeout":-1}`, `{"clientPollTimeout":1e309}`, `{"clientPollTimeout":"NaN"}`,
		`{"clientPollTimeout":86400.0000001}`, `{"clientPollTimeout":0.1234567891}`, `[]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s liveagent.Session
		if err := s.UnmarshalJSON(b); err != nil {
			return
		}
		if s.ClientPollTimeout <= 0 || s.ClientPollTimeout > 24*time.Hour {
			t.Fatalf("ClientPollTimeout %v out of range from %q", s.ClientPollTimeout, b)
		}
		out, err := s.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		var s2 liveagent.Session
		if err := s2.UnmarshalJSON(out); err != nil {
			t.Fatalf("re-decode %s: %v", out, err)
		}
		d := s2.ClientPollTimeout - s.ClientPollTimeout
		if s2.ID != s.ID || s2.Key != s.Key || s2.AffinityToken != s.AffinityToken || math.Abs(float64(d)) > float64(time.Microsecond) {
			t.Fatalf("round trip changed the session: %#v → %s → %#v", s, out, s2)
		}
	})
}

// fakeLA answers every Chat REST call with the response under test.
type fakeLA struct {
	mu     sync.Mutex
	status int
	ctype  string
	body   []byte
}

func (f *fakeLA) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	status, ctype, body := f.status, f.ctype, f.body
	f.mu.Unlock()
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// FuzzClientResponses feeds arbitrary statuses and bodies to the client and
// the desk adapter through real HTTP: SessionId, Messages (Desk.Receive),
// ReconnectSession (through an affinity change), Availability, ChatMessage.
// Nothing may panic, and every error must map to one of the core's
// categories or be retryable.
func FuzzClientResponses(f *testing.F) {
	seedFiles(f, func(b []byte) { f.Add(uint16(200), b) })
	for _, st := range []uint16{200, 204, 400, 403, 404, 405, 409, 429, 500, 502, 503, 504, 302, 999} {
		f.Add(st, []byte(`{"messages":[{"type":"ChatMessage","message":{"text":"hi"}}],"sequence":3,"offset":9}`))
	}
	f.Add(uint16(200), []byte(`{"messages":[{"type":"ReconnectSession","message":{"affinityToken":""}}]}`))
	f.Add(uint16(200), []byte(`{"id":"","key":""}`))
	la := &fakeLA{}
	srv := httptest.NewServer(la)
	f.Cleanup(srv.Close)
	client := liveagent.NewClient(liveagent.Config{Host: srv.URL, OrgID: "00D", DeploymentID: "572", ButtonID: "573", RequestTimeout: 2 * time.Second}, srv.Client())
	desk := liveagent.NewDesk(client, liveagent.DeskOptions{})
	state := []byte(`{"id":"i","key":"k!1!s","affinity":"a","poll_timeout_ms":1000,"ack":2,"offset":9}`)
	sess := liveagent.Session{ID: "i", Key: "k!1!s", AffinityToken: "a", ClientPollTimeout: time.Second}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		st := int(status)
		if st < 200 || st > 599 || (st >= 300 && st < 400) || st == 101 {
			st = 200
		}
		la.mu.Lock()
		la.status, la.ctype, la.body = st, "application/json", body
		if st == http.StatusNoContent {
			la.body = nil
		}
		la.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		if s, err := client.SessionID(ctx); err == nil && (s.ID == "" || s.Key == "") {
			t.Fatalf("SessionID accepted a session without id or key: %q", body)
		}
		b, err := desk.Receive(ctx, state)
		switch {
		case err == nil:
			for _, ev := range b.Events {
				if ev.Kind == "" {
					t.Fatalf("event without kind from %q", body)
				}
			}
		case st == http.StatusForbidden && !errors.Is(err, bridge.ErrSessionGone):
			t.Fatalf("403 on Messages: %v, want ErrSessionGone", err)
		case st == http.StatusConflict && !errors.Is(err, bridge.ErrChatTerminated):
			t.Fatalf("409 on Messages: %v, want ErrChatTerminated", err)
		}
		_, _ = client.ReconnectSession(ctx, sess, 9)
		_, _ = client.Availability(ctx)
		_ = desk.Send(ctx, state, 3, "hi")
		_ = desk.End(ctx, state, 4)
	})
}
