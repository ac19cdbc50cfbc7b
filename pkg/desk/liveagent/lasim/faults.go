package lasim

import (
	"fmt"
	"net/http"
	"strings"
)

// Fault makes the simulator answer the next Count calls of a kind with Status instead of
// serving them (like a misbehaving proxy).
//
// Kinds are the resource names: sessionId, messages, reconnectSession, deleteSession,
// chasitorInit, chatMessage, chasitorTyping, chasitorNotTyping, chasitorSneakPeek,
// customEvent, chatEnd, chasitorResyncState, chasitorIdleTimeoutWarningEvent, multiNoun,
// availability, upload — or "any" (case-insensitive).
//
// A 503 means "affinity changed": when it hits a live session, every later request of that
// session gets 503 too until the visitor calls ReconnectSession (which issues a new affinity and
// queues ChasitorSessionData). Other statuses have no side effect; in particular an injected
// 409 does not terminate the chat (a real concurrent poll does).
type Fault struct {
	Kind   string `json:"kind"`
	Status int    `json:"status"`
	Count  int    `json:"count"`            // remaining calls; default 1
	ChatID string `json:"chatId,omitempty"` // only calls of this chat; default any
	Body   string `json:"body,omitempty"`   // default: a status-specific text
}

// Fault kinds.
var faultKinds = []string{
	"any", "sessionId", "messages", "reconnectSession", "deleteSession", "chasitorInit",
	"chatMessage", "chasitorTyping", "chasitorNotTyping", "chasitorSneakPeek", "customEvent",
	"chatEnd", "chasitorResyncState", "chasitorIdleTimeoutWarningEvent", "multiNoun",
	"availability", "upload",
}

func canonicalKind(k string) (string, bool) {
	for _, fk := range faultKinds {
		if strings.EqualFold(fk, k) {
			return fk, true
		}
	}
	return "", false
}

// InjectFault queues f. Faults are matched in the order they were injected.
func (s *Sim) InjectFault(f Fault) error {
	k, ok := canonicalKind(f.Kind)
	if !ok {
		return fmt.Errorf("%w: unknown fault kind %q (one of %s)", ErrInvalid, f.Kind, strings.Join(faultKinds, ", "))
	}
	if f.Status < 400 || f.Status > 599 {
		return fmt.Errorf("%w: fault status %d is not 4xx or 5xx", ErrInvalid, f.Status)
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	f.Kind = k
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

// takeFault consumes the first fault matching kind and c and returns the response it makes.
// Called with s.mu held.
func (s *Sim) takeFault(kind string, c *chat) *resp {
	for i, f := range s.faults {
		if f.Kind != "any" && f.Kind != kind {
			continue
		}
		if f.ChatID != "" && (c == nil || c.id != f.ChatID) {
			continue
		}
		f.Count--
		if f.Count <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		if c != nil {
			c.counters.FaultsServed++
			if f.Status == http.StatusServiceUnavailable && !c.closedForVisitor() {
				c.reconnectPending = true
			}
			s.notify(EventChatUpdated, c, "")
		}
		body := f.Body
		if body == "" {
			body = defaultBody(f.Status)
		}
		return plainResp(f.Status, body)
	}
	return nil
}

func defaultBody(status int) string {
	switch status {
	case http.StatusForbidden:
		return sessionInvalidBody
	case http.StatusConflict:
		return dupPollBody
	case http.StatusServiceUnavailable:
		return affinityChangedBody
	default:
		return http.StatusText(status)
	}
}
