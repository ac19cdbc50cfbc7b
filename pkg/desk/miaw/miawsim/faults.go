package miawsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
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

// InjectFault queues f. Faults are matched in the order they were injected.
func (s *Sim) InjectFault(f Fault) error {
	ok := false
	for _, k := range faultKinds {
		if strings.EqualFold(k, f.Kind) {
			f.Kind, ok = k, true
		}
	}
	if !ok {
		return fmt.Errorf("%w: unknown fault kind %q (one of %s)", ErrInvalid, f.Kind, strings.Join(faultKinds, ", "))
	}
	if f.Status < 400 || f.Status > 599 {
		return fmt.Errorf("%w: fault status %d is not 4xx or 5xx", ErrInvalid, f.Status)
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
	return nil
}

// Faults returns the faults still pending.
func (s *Sim) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	return out
}

// ClearFaults drops all pending faults.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// fault serves the first pending fault matching kind and conversation id, if any. Called with
// s.mu held.
func (s *Sim) fault(w http.ResponseWriter, kind, convID string) bool {
	for i, f := range s.faults {
		if f.Kind != "any" && f.Kind != kind {
			continue
		}
		if f.ConversationID != "" && f.ConversationID != convID {
			continue
		}
		f.Count--
		if f.Count <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
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
	return false
}
