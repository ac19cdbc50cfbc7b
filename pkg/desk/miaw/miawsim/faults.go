package miawsim

import (
	"net/http"
	"strconv"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// Fault makes the simulator answer the next Count calls of a kind with Status instead of
// serving them.
//
// Kinds: token (the three token resources), conversation (create), message, entry (typing),
// entries, close, session (end session), sse (event stream connections), or any.
// ConversationID limits a fault to the calls on one conversation (create, token and sse calls
// have none). A 429 carries RetryAfter (seconds) as Retry-After.
type Fault struct {
	Kind           string `json:"kind"`
	Status         int    `json:"status"`
	Count          int    `json:"count,omitempty"` // default 1
	ConversationID string `json:"conversationId,omitempty"`
	RetryAfter     int    `json:"retryAfter,omitempty"`
	Message        string `json:"message,omitempty"`
}

var faultKinds = []string{"any", "token", "conversation", "message", "entry", "entries", "close", "session", "sse"}

func newFaultQueue() *simkit.FaultQueue[Fault] {
	return simkit.NewFaultQueue(api, faultKinds, func(f *Fault) simkit.FaultFields {
		return simkit.FaultFields{Kind: &f.Kind, Status: &f.Status, Count: &f.Count, Target: &f.ConversationID}
	})
}

// InjectFault queues f. Faults are matched in the order they were injected.
func (s *Sim) InjectFault(f Fault) error { return s.faults.Add(f) }

// Faults returns the faults still pending.
func (s *Sim) Faults() []Fault { return s.faults.List() }

// ClearFaults drops all pending faults.
func (s *Sim) ClearFaults() { s.faults.Clear() }

// fault serves the first pending fault matching kind and conversation id, if any. Called with
// s.mu held.
func (s *Sim) fault(w http.ResponseWriter, kind, convID string) bool {
	f, ok := s.faults.Take(kind, convID)
	if !ok {
		return false
	}
	s.stats.FaultsServed++
	if c := s.convs[convID]; c != nil {
		c.counters.FaultsServed++
	}
	s.notifyStats()
	if f.Status == http.StatusTooManyRequests && f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	msg := f.Message
	if msg == "" {
		msg = "injected fault: " + http.StatusText(f.Status)
	}
	apiError(w, f.Status, msg)
	return true
}
