package miawsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// Agent-side actions. Each returns ErrNoConversation for an unknown id and ErrState when the
// conversation's state does not allow the action.

// withConv runs fn on conversation id with s.mu held.
func (s *Sim) withConv(id string, fn func(c *conversation) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoConversation, id)
	}
	if err := fn(c); err != nil {
		return err
	}
	s.notify(EventUpdated, c, "")
	return nil
}

func stateErr(c *conversation, action string) error {
	return fmt.Errorf("%w: cannot %s a conversation in state %s", ErrState, action, c.state)
}

// Accept makes the agent (Options.AgentName) join a queued conversation.
func (s *Sim) Accept(id string) error { return s.AcceptAs(id, "") }

// AcceptAs makes agentName (default Options.AgentName) join: a ParticipantChanged add entry.
func (s *Sim) AcceptAs(id, agentName string) error {
	return s.withConv(id, func(c *conversation) error { return s.accept(c, agentName) })
}

func (s *Sim) accept(c *conversation, agentName string) error {
	if c.state != StateQueued {
		return stateErr(c, "accept")
	}
	if agentName == "" {
		agentName = s.opts.AgentName
	}
	c.state = StateActive
	c.autoAcceptAt = time.Time{}
	c.position = 0
	c.agentName, c.agentSubject = agentName, simkit.NewSFID("005")
	s.participant(c, participantOp{"add", agentName, c.agentSubject})
	s.opts.Logger.Info("agent joined", "conversation", c.id, "agent", agentName)
	return nil
}

type participantOp struct{ op, name, subject string }

func (s *Sim) participant(c *conversation, ops ...participantOp) {
	var list []any
	var text []string
	for _, o := range ops {
		list = append(list, map[string]any{
			"operation": o.op, "displayName": o.name,
			"participant": map[string]string{"role": RoleAgent, "appType": "agent", "subject": o.subject, "clientIdentifier": ""},
		})
		text = append(text, o.name+" "+o.op)
	}
	s.add(c, &entry{Type: "ParticipantChanged", Role: RoleSystem, Name: "Automated Process", Subject: "005000000000001",
		Persistent: true, Payload: map[string]any{"entries": list}, Text: strings.Join(text, ", ")})
}

// AgentSend sends text from the agent: a Message entry.
func (s *Sim) AgentSend(id, text string) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("%w: text required", ErrInvalid)
	}
	return s.withConv(id, func(c *conversation) error {
		if c.state != StateActive {
			return stateErr(c, "send to")
		}
		s.agentSend(c, text)
		return nil
	})
}

func (s *Sim) agentSend(c *conversation, text string) {
	id := simkit.RandomUUID()
	c.agentTyping = false
	c.counters.AgentMessages++
	s.add(c, &entry{ID: id, Type: "Message", Role: RoleAgent, Name: c.agentName, Subject: c.agentSubject, Persistent: true, Text: text,
		Payload: map[string]any{"abstractMessage": map[string]any{
			"messageType": "StaticContentMessage", "id": id, "inReplyToMessageId": nil,
			"staticContent": map[string]any{"formatType": "Text", "text": text},
		}, "messageReason": nil}})
}

// AgentTyping sends a typing started (typing) or stopped indicator from the agent. Typing
// indicators are not kept in the entries.
func (s *Sim) AgentTyping(id string, typing bool) error {
	return s.withConv(id, func(c *conversation) error {
		if c.state != StateActive {
			return stateErr(c, "type in")
		}
		c.agentTyping = typing
		typ := "TypingStoppedIndicator"
		if typing {
			typ = "TypingStartedIndicator"
		}
		s.add(c, &entry{Type: typ, Role: RoleAgent, Name: c.agentName, Subject: c.agentSubject})
		return nil
	})
}

// Transfer hands the conversation to another agent: one ParticipantChanged entry that removes
// the current agent and adds agentName.
func (s *Sim) Transfer(id, agentName string) error {
	if strings.TrimSpace(agentName) == "" {
		return fmt.Errorf("%w: agent name required", ErrInvalid)
	}
	return s.withConv(id, func(c *conversation) error {
		if c.state != StateActive {
			return stateErr(c, "transfer")
		}
		old := participantOp{"remove", c.agentName, c.agentSubject}
		c.agentName, c.agentSubject, c.agentTyping = agentName, simkit.NewSFID("005"), false
		s.participant(c, old, participantOp{"add", agentName, c.agentSubject})
		return nil
	})
}

// Leave makes the agent leave (ParticipantChanged remove); the session stays open and goes
// back to the queue.
func (s *Sim) Leave(id string) error {
	return s.withConv(id, func(c *conversation) error {
		if c.state != StateActive {
			return stateErr(c, "leave")
		}
		s.participant(c, participantOp{"remove", c.agentName, c.agentSubject})
		c.state, c.agentName, c.agentSubject, c.agentTyping = StateQueued, "", "", false
		return nil
	})
}

// EndSession ends the messaging session from the agent side: SessionStatusChanged Ended by
// Agent. The conversation stays open; the end user's next message gets 417 unless it starts a
// new session.
func (s *Sim) EndSession(id string) error {
	return s.withConv(id, func(c *conversation) error {
		if !c.sessionOpen() {
			return stateErr(c, "end the session of")
		}
		role := RoleAgent
		if c.state == StateQueued {
			role = RoleSystem
		}
		s.endSession(c, role)
		s.opts.Logger.Info("session ended", "conversation", c.id, "by", role)
		return nil
	})
}

// FailRouting fails the routing of a queued session: a RoutingResult with failureType
// (default "RoutingError") and reason; the session ends.
func (s *Sim) FailRouting(id, failureType, reason string) error {
	if failureType == "" {
		failureType = "RoutingError"
	}
	if failureType == "None" {
		return fmt.Errorf("%w: failure type None is not a failure", ErrInvalid)
	}
	return s.withConv(id, func(c *conversation) error {
		if c.state != StateQueued {
			return stateErr(c, "fail the routing of")
		}
		s.routingResult(c, failureType, reason)
		c.state, c.endedBy, c.failure = StateInactive, RoleSystem, failureType
		c.autoAcceptAt = time.Time{}
		return nil
	})
}

// SetQueuePosition publishes a queue position event (CONVERSATION_QUEUE_POSITION, not kept in
// the entries) for a queued conversation. estimatedWait < 0: position × 15 seconds.
func (s *Sim) SetQueuePosition(id string, position, estimatedWait int) error {
	if position < 0 {
		return fmt.Errorf("%w: negative queue position", ErrInvalid)
	}
	if estimatedWait < 0 {
		estimatedWait = 15 * position
	}
	return s.withConv(id, func(c *conversation) error {
		if c.state != StateQueued {
			return stateErr(c, "re-queue")
		}
		c.position = position
		s.add(c, &entry{Type: "QueuePosition", Role: RoleSystem, Name: "Automated Process", Subject: "005000000000001",
			Payload: map[string]any{"queuePosition": position, "estimatedWaitTime": map[string]any{"estimatedWaitTimeInSeconds": estimatedWait}}})
		return nil
	})
}

// RawEvent is an arbitrary event for the end user's stream (for testing how clients treat
// event types they do not know).
type RawEvent struct {
	// Type is the event type, e.g. "CONVERSATION_PROGRESS_INDICATOR".
	Type string `json:"type"`
	// EntryType is the conversationEntry's entryType (default "Unknown").
	EntryType string `json:"entryType,omitempty"`
	// Role is the sender's role (default "System"); Payload the entryPayload object.
	Role    string          `json:"role,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// Persistent also keeps the entry in the entries list.
	Persistent bool `json:"persistent,omitempty"`
}

// SendRawEvent publishes ev on the stream of conversation id's end user.
func (s *Sim) SendRawEvent(id string, ev RawEvent) error {
	if ev.Type == "" {
		return fmt.Errorf("%w: event type required", ErrInvalid)
	}
	if ev.EntryType == "" {
		ev.EntryType = "Unknown"
	}
	if ev.Role == "" {
		ev.Role = RoleSystem
	}
	payload := map[string]any{}
	if len(ev.Payload) > 0 {
		if err := json.Unmarshal(ev.Payload, &payload); err != nil {
			return fmt.Errorf("%w: payload must be a JSON object: %v", ErrInvalid, err)
		}
	}
	return s.withConv(id, func(c *conversation) error {
		s.add(c, &entry{Type: ev.EntryType, Role: ev.Role, Name: ev.Role, Payload: payload, RawEventTyp: ev.Type, Persistent: ev.Persistent, Text: "raw " + ev.Type})
		return nil
	})
}
