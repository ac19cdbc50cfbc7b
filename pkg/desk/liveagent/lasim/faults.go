package lasim

import (
	"net/http"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
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

func newFaultQueue() *simkit.FaultQueue[Fault] {
	return simkit.NewFaultQueue(api, faultKinds, func(f *Fault) simkit.FaultFields {
		return simkit.FaultFields{Kind: &f.Kind, Status: &f.Status, Count: &f.Count, Target: &f.ChatID}
	})
}

// InjectFault queues f. Faults are matched in the order they were injected.
func (s *Sim) InjectFault(f Fault) error { return s.faults.Add(f) }

// Faults returns the faults still pending.
func (s *Sim) Faults() []Fault { return s.faults.List() }

// ClearFaults drops all pending faults.
func (s *Sim) ClearFaults() { s.faults.Clear() }

// takeFault consumes the first fault matching kind and c and returns the response it makes.
// Called with s.mu held.
func (s *Sim) takeFault(kind string, c *chat) *resp {
	target := ""
	if c != nil {
		target = c.id
	}
	f, ok := s.faults.Take(kind, target)
	if !ok {
		return nil
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
