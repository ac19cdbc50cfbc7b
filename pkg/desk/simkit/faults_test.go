package simkit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type testFault struct {
	Kind   string `json:"kind"`
	Status int    `json:"status"`
	Count  int    `json:"count,omitempty"`
	ChatID string `json:"chatId,omitempty"`
	Note   string `json:"note,omitempty"`
}

func newTestQueue() *FaultQueue[testFault] {
	return NewFaultQueue(testAPI, []string{FaultAny, "messages", "chatMessage"}, func(f *testFault) FaultFields {
		return FaultFields{Kind: &f.Kind, Status: &f.Status, Count: &f.Count, Target: &f.ChatID}
	})
}

func TestFaultQueueAdd(t *testing.T) {
	tests := []struct {
		name      string
		f         testFault
		wantErr   string
		wantKind  string
		wantCount int
	}{
		{name: "canonical", f: testFault{Kind: "CHATMESSAGE", Status: 429, Count: 3}, wantKind: "chatMessage", wantCount: 3},
		{name: "default count", f: testFault{Kind: "messages", Status: 503}, wantKind: "messages", wantCount: 1},
		{name: "negative count", f: testFault{Kind: "Any", Status: 500, Count: -2}, wantKind: "any", wantCount: 1},
		{name: "unknown kind", f: testFault{Kind: "nope", Status: 503}, wantErr: `test: invalid: unknown fault kind "nope" (one of any, messages, chatMessage)`},
		{name: "status 200", f: testFault{Kind: "messages", Status: 200}, wantErr: "test: invalid: fault status 200 is not 4xx or 5xx"},
		{name: "status 600", f: testFault{Kind: "messages", Status: 600}, wantErr: "test: invalid: fault status 600 is not 4xx or 5xx"},
		{name: "status 400", f: testFault{Kind: "messages", Status: 400}, wantKind: "messages", wantCount: 1},
		{name: "status 599", f: testFault{Kind: "messages", Status: 599}, wantKind: "messages", wantCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newTestQueue()
			err := q.Add(tt.f)
			if tt.wantErr != "" {
				if !errors.Is(err, errInvalid) || err.Error() != tt.wantErr || len(q.List()) != 0 {
					t.Fatalf("err %v, want %q; queue %v", err, tt.wantErr, q.List())
				}
				return
			}
			got := q.List()
			if err != nil || len(got) != 1 || got[0].Kind != tt.wantKind || got[0].Count != tt.wantCount {
				t.Fatalf("err %v, queue %+v", err, got)
			}
		})
	}
}

func TestFaultQueueTake(t *testing.T) {
	q := newTestQueue()
	for _, f := range []testFault{
		{Kind: "messages", Status: 503, ChatID: "b", Note: "b only"},
		{Kind: "messages", Status: 429, Count: 2, Note: "twice"},
		{Kind: "any", Status: 500, Note: "any"},
	} {
		if err := q.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		kind, target string
		want         string // Note, "" = none
	}{
		{"messages", "a", "twice"},  // b's fault does not apply to a
		{"messages", "", "twice"},   // nor to calls on no chat; count runs out
		{"chatMessage", "a", "any"}, // any matches every kind
		{"chatMessage", "a", ""},    // nothing left for a
		{"messages", "b", "b only"}, // b's fault
		{"messages", "b", ""},       // empty
	}
	for i, s := range steps {
		f, ok := q.Take(s.kind, s.target)
		if ok != (s.want != "") || f.Note != s.want {
			t.Fatalf("step %d: Take(%s, %q) = %q, %t; want %q", i, s.kind, s.target, f.Note, ok, s.want)
		}
	}
	if n := len(q.List()); n != 0 {
		t.Errorf("%d faults left", n)
	}
}

func TestFaultQueueHandlers(t *testing.T) {
	q := newTestQueue()
	call := func(h http.HandlerFunc, method, body string) (int, string) {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(method, "/control/faults", strings.NewReader(body)))
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	tests := []struct {
		name       string
		h          http.HandlerFunc
		method     string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"empty list", q.HandleList, "GET", "", 200, `{"faults":[]}`},
		{"add", q.HandleAdd, "POST", `{"kind":"MESSAGES","status":503,"chatId":"a"}`, 201, `{"faults":[{"kind":"messages","status":503,"count":1,"chatId":"a"}]}`},
		{"add invalid", q.HandleAdd, "POST", `{"kind":"nope","status":503}`, 400, `{"error":"test: invalid: unknown fault kind \"nope\" (one of any, messages, chatMessage)"}`},
		{"add bad JSON", q.HandleAdd, "POST", `{"kind":`, 400, ""},
		{"list", q.HandleList, "GET", "", 200, `{"faults":[{"kind":"messages","status":503,"count":1,"chatId":"a"}]}`},
		{"clear", q.HandleClear, "DELETE", "", 200, `{"faults":[]}`},
		{"list cleared", q.HandleList, "GET", "", 200, `{"faults":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := call(tt.h, tt.method, tt.body)
			if st != tt.wantStatus || (tt.wantBody != "" && body != tt.wantBody) {
				t.Fatalf("%d %s, want %d %s", st, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
