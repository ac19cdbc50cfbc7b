package lasim

import (
	"fmt"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// Agent-side actions. Each returns ErrNoChat for an unknown id and ErrState when the chat's
// state does not allow the action; each wakes the visitor's holding poll when it queues an
// event.

// withChat runs fn on chat id with s.mu held.
func (s *Sim) withChat(id string, fn func(c *chat) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoChat, id)
	}
	s.checkExpiry(c, s.opts.Now())
	return fn(c)
}

func stateErr(c *chat, action string) error {
	return fmt.Errorf("%w: cannot %s a chat in state %s", ErrState, action, c.state)
}

// Accept makes the agent (Options.AgentName) accept a queued chat: ChatEstablished.
func (s *Sim) Accept(id string) error { return s.AcceptAs(id, "") }

// AcceptAs accepts as agentName (default Options.AgentName).
func (s *Sim) AcceptAs(id, agentName string) error {
	return s.withChat(id, func(c *chat) error { return s.accept(c, agentName) })
}

func (s *Sim) accept(c *chat, agentName string) error {
	if c.state != StateQueued {
		return stateErr(c, "accept")
	}
	if agentName == "" {
		agentName = s.opts.AgentName
	}
	c.state = StateEstablished
	c.everEstablished = true
	c.estAt = s.opts.Now()
	c.autoAcceptAt = time.Time{}
	c.agentName = agentName
	c.agentUserID = simkit.NewSFID("005")
	c.agentUUID = simkit.RandomUUID()
	c.queuePosition = 0
	s.queue(c, "ChatEstablished", chatEstablished{
		Name: agentName, UserID: c.agentUserID, Items: []any{}, SneakPeekEnabled: false,
		ChasitorIdleTimeout: idleTimeout{IsEnabled: false},
	})
	s.opts.Logger.Info("chat accepted", "chat", c.id, "agent", agentName)
	s.notify(EventChatUpdated, c, "")
	return nil
}

// AgentSend sends text from the agent: ChatMessage.
func (s *Sim) AgentSend(id, text string) error {
	return s.withChat(id, func(c *chat) error {
		if c.state != StateEstablished {
			return stateErr(c, "send to")
		}
		s.agentSend(c, text)
		s.notify(EventChatUpdated, c, "")
		return nil
	})
}

func (s *Sim) agentSend(c *chat, text string) {
	c.counters.AgentMessages++
	c.agentTyping = false
	s.addTranscript(c, TranscriptAgent, c.agentName, text)
	s.queue(c, "ChatMessage", agentChatMessage{Text: text, Name: c.agentName, AgentID: c.agentUserID})
}

// AgentTyping sends AgentTyping (typing) or AgentNotTyping.
func (s *Sim) AgentTyping(id string, typing bool) error {
	return s.withChat(id, func(c *chat) error {
		if c.state != StateEstablished {
			return stateErr(c, "type in")
		}
		c.agentTyping = typing
		typ := "AgentNotTyping"
		if typing {
			typ = "AgentTyping"
		}
		s.queue(c, typ, agentTyping{Name: c.agentName, AgentID: c.agentUUID})
		s.notify(EventChatUpdated, c, "")
		return nil
	})
}

// SetQueuePosition moves a queued chat: QueueUpdate (sent only if the visitor asked for
// receiveQueueUpdates). estimatedWaitTime < 0 means position×15 seconds.
func (s *Sim) SetQueuePosition(id string, position, estimatedWaitTime int) error {
	return s.withChat(id, func(c *chat) error {
		if c.state != StateQueued {
			return stateErr(c, "re-queue")
		}
		if position < 0 {
			return fmt.Errorf("%w: negative queue position", ErrInvalid)
		}
		if estimatedWaitTime < 0 {
			estimatedWaitTime = 15 * position
		}
		c.queuePosition = position
		if c.init != nil && c.init.ReceiveQueueUpdates {
			s.queue(c, "QueueUpdate", queueUpdate{EstimatedWaitTime: estimatedWaitTime, Position: position})
		}
		s.notify(EventChatUpdated, c, "")
		return nil
	})
}

// Transfer hands the chat to another agent: ChatTransferred.
func (s *Sim) Transfer(id, agentName string) error {
	if strings.TrimSpace(agentName) == "" {
		return fmt.Errorf("%w: agent name required", ErrInvalid)
	}
	return s.withChat(id, func(c *chat) error {
		if c.state != StateEstablished {
			return stateErr(c, "transfer")
		}
		c.agentName = agentName
		c.agentUserID = simkit.NewSFID("005")
		c.agentUUID = simkit.RandomUUID()
		c.agentTyping = false
		s.addTranscript(c, TranscriptTransferred, agentName, "")
		s.queue(c, "ChatTransferred", chatTransferred{Name: agentName, UserID: c.agentUserID, ChasitorIdleTimeout: idleTimeout{}})
		s.notify(EventChatUpdated, c, "")
		return nil
	})
}

// Disconnect simulates the agent losing the connection: AgentDisconnect. The chat goes back to
// the queue (state queued) and can be accepted again; visitor messages are still accepted.
func (s *Sim) Disconnect(id string) error {
	return s.withChat(id, func(c *chat) error {
		if c.state != StateEstablished {
			return stateErr(c, "disconnect")
		}
		c.state = StateQueued
		c.agentTyping = false
		c.agentName = ""
		s.queue(c, "AgentDisconnect", struct{}{})
		s.notify(EventChatUpdated, c, "")
		return nil
	})
}

// End ends the chat from the agent side: ChatEnded{reason:"agent"}. The visitor's next poll
// gets it; later calls answer 403.
func (s *Sim) End(id string) error {
	return s.withChat(id, func(c *chat) error {
		if c.closedForVisitor() {
			return stateErr(c, "end")
		}
		s.queue(c, "ChatEnded", chatEnded{AttachedRecords: []any{}, Reason: "agent"})
		s.end(c, StateEnded, EndedByAgent, "agent", true)
		return nil
	})
}

// Fail refuses a chat request that no agent has accepted yet: ChatRequestFail{reason}
// (default "Unavailable"). The session ends.
func (s *Sim) Fail(id, reason string) error {
	if reason == "" {
		reason = "Unavailable"
	}
	return s.withChat(id, func(c *chat) error {
		if c.state != StateQueued || c.everEstablished {
			return stateErr(c, "fail")
		}
		s.queue(c, "ChatRequestFail", chatRequestFail{Reason: reason, AttachedRecords: []any{}})
		s.end(c, StateEnded, EndedByAgent, reason, true)
		return nil
	})
}

// SendCustomEvent sends a CustomEvent from the agent's console.
func (s *Sim) SendCustomEvent(id, typ, data string) error {
	if typ == "" {
		return fmt.Errorf("%w: custom event type required", ErrInvalid)
	}
	return s.withChat(id, func(c *chat) error {
		if c.state != StateEstablished {
			return stateErr(c, "send a custom event to")
		}
		s.queue(c, "CustomEvent", customEvent{Type: typ, Data: data})
		s.notify(EventChatUpdated, c, "")
		return nil
	})
}

// Expire expires the session now, as if the visitor had stopped polling. A holding poll
// answers 403 (or 204 with Options.ExpiredPolls).
func (s *Sim) Expire(id string) error {
	return s.withChat(id, func(c *chat) error {
		if c.closedForVisitor() {
			return stateErr(c, "expire")
		}
		s.expire(c)
		return nil
	})
}

// Chats returns snapshots of all chats, oldest first.
func (s *Sim) Chats() []ChatView {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	out := make([]ChatView, 0, len(s.order))
	for _, id := range s.order {
		c := s.chats[id]
		s.checkExpiry(c, now)
		out = append(out, s.view(c))
	}
	return out
}

// Chat returns a snapshot of chat id.
func (s *Sim) Chat(id string) (ChatView, error) {
	var v ChatView
	err := s.withChat(id, func(c *chat) error {
		v = s.view(c)
		return nil
	})
	return v, err
}

// ChatByKey returns the chat of a session key (as sent in X-LIVEAGENT-SESSION-KEY).
func (s *Sim) ChatByKey(key string) (ChatView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byKey[key]
	if !ok || key == "" {
		return ChatView{}, ErrNoChat
	}
	return s.view(c), nil
}

// SetHoldTime changes how long later polls hold before 204.
func (s *Sim) SetHoldTime(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: hold time must be positive", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdTime = d
	return nil
}

// SetClientPollTimeout changes the poll timeout sent to new sessions and the expiry of all.
func (s *Sim) SetClientPollTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: client poll timeout must be positive", ErrInvalid)
	}
	s.mu.Lock()
	s.pollTimeout = d
	s.mu.Unlock()
	s.life.Wake()
	return nil
}

// Settings are the runtime-adjustable knobs.
type Settings struct {
	HoldTime          time.Duration
	ClientPollTimeout time.Duration
	AutoAccept        time.Duration
	AutoReply         bool
	ExpiredPolls      int
}

// Settings returns the current knobs.
func (s *Sim) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Settings{s.holdTime, s.pollTimeout, s.opts.AutoAccept, s.opts.AutoReply, s.opts.ExpiredPolls}
}

// UpdateSettings applies the given knobs (zero durations and nil pointers are left unchanged;
// AutoAccept < 0 turns auto-accept off).
func (s *Sim) UpdateSettings(hold, pollTimeout, autoAccept time.Duration, autoReply *bool, expiredPolls *int) {
	s.mu.Lock()
	if hold > 0 {
		s.holdTime = hold
	}
	if pollTimeout > 0 {
		s.pollTimeout = pollTimeout
	}
	switch {
	case autoAccept > 0:
		s.opts.AutoAccept = autoAccept
	case autoAccept < 0:
		s.opts.AutoAccept = 0
	}
	if autoReply != nil {
		s.opts.AutoReply = *autoReply
	}
	if expiredPolls != nil && *expiredPolls >= 0 {
		s.opts.ExpiredPolls = *expiredPolls
	}
	s.mu.Unlock()
	s.life.Wake()
}

// SetAvailability sets whether agents are online for buttonID ("" = every button without its
// own setting). ChasitorInit on an offline button gets ChatRequestFail{reason:"Unavailable"}.
func (s *Sim) SetAvailability(buttonID string, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.online[buttonID] = online
}

// Availability returns the per-button settings; key "" is the default.
func (s *Sim) Availability() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.online))
	for k, v := range s.online {
		out[k] = v
	}
	return out
}
