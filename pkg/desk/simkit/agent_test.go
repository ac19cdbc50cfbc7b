package simkit

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// recAgent records the agent actions it is asked for.
type recAgent struct{ calls []string }

func (a *recAgent) record(format string, args ...any) error {
	a.calls = append(a.calls, fmt.Sprintf(format, args...))
	return nil
}

func (a *recAgent) AcceptAs(id, name string) error       { return a.record("accept %s %q", id, name) }
func (a *recAgent) AgentSend(id, text string) error      { return a.record("send %s %q", id, text) }
func (a *recAgent) AgentTyping(id string, on bool) error { return a.record("typing %s %t", id, on) }
func (a *recAgent) Transfer(id, name string) error       { return a.record("transfer %s %q", id, name) }
func (a *recAgent) SetQueuePosition(id string, pos, wait int) error {
	return a.record("queue %s %d %d", id, pos, wait)
}

func TestAgentHandlers(t *testing.T) {
	m := items{"a": {ID: "a"}}
	ag := &recAgent{}
	h := NewAgentHandlers(m.resource(), ag)
	tests := []struct {
		name       string
		h          http.HandlerFunc
		id, body   string
		wantStatus int
		wantCall   string // "" = none
	}{
		{"accept default", h.Accept, "a", "", 200, `accept a ""`},
		{"accept as", h.Accept, "a", `{"agentName":"鈴木"}`, 200, `accept a "鈴木"`},
		{"accept unknown", h.Accept, "x", "", 404, `accept x ""`},
		{"send", h.Send, "a", `{"text":"<hi>"}`, 200, `send a "<hi>"`},
		{"send empty text", h.Send, "a", `{"text":""}`, 200, `send a ""`},
		{"send without text", h.Send, "a", `{}`, 400, ""},
		{"send bad body", h.Send, "a", `{"text":1}`, 400, ""},
		{"typing default", h.Typing, "a", "", 200, "typing a true"},
		{"typing off", h.Typing, "a", `{"typing":false}`, 200, "typing a false"},
		{"transfer", h.Transfer, "a", `{"agentName":"高橋"}`, 200, `transfer a "高橋"`},
		{"queue", h.Queue, "a", `{"position":2}`, 200, "queue a 2 -1"},
		{"queue with wait", h.Queue, "a", `{"position":0,"estimatedWaitTime":30}`, 200, "queue a 0 30"},
		{"queue without position", h.Queue, "a", `{"estimatedWaitTime":30}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ag.calls = nil
			rec := serve(tt.h, tt.id, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", rec.Code, rec.Body, tt.wantStatus)
			}
			got := strings.Join(ag.calls, "; ")
			if got != tt.wantCall {
				t.Errorf("calls %q, want %q", got, tt.wantCall)
			}
		})
	}
}
