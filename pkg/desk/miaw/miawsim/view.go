package miawsim

import (
	"maps"
	"time"
)

// ConversationView is a snapshot of one conversation as the agent (and a test) sees it.
type ConversationView struct {
	ID                string         `json:"id"`
	State             State          `json:"state"`
	EndUserSubject    string         `json:"endUserSubject"`
	RoutingAttributes map[string]any `json:"routingAttributes"`
	AgentName         string         `json:"agentName,omitempty"`
	QueuePosition     int            `json:"queuePosition"`
	AgentTyping       bool           `json:"agentTyping"`
	EndUserTyping     bool           `json:"endUserTyping"`
	// Sessions counts messaging sessions (1 + the new sessions started by messages).
	Sessions int `json:"sessions"`
	// EndedBy is the role that ended the last session ("Agent", "EndUser", "System"), and
	// FailureType the routing failure, if any.
	EndedBy     string     `json:"endedBy,omitempty"`
	FailureType string     `json:"failureType,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	ClosedAt    *time.Time `json:"closedAt,omitempty"`
	// Streams is the number of event streams of the end user connected now.
	Streams    int               `json:"streams"`
	Transcript []TranscriptEntry `json:"transcript"`
	Counters   Counters          `json:"counters"`
}

// EndUserTexts returns the texts the end user sent, in order.
func (v ConversationView) EndUserTexts() []string {
	var out []string
	for _, e := range v.Transcript {
		if e.EntryType == "Message" && e.Role == RoleEndUser {
			out = append(out, e.Text)
		}
	}
	return out
}

// TranscriptEntry is one persistent entry. Timestamp is epoch milliseconds.
type TranscriptEntry struct {
	ID        string `json:"id"`
	EntryType string `json:"entryType"`
	Role      string `json:"role"`
	Name      string `json:"name,omitempty"`
	Text      string `json:"text,omitempty"`
	Timestamp int64  `json:"timestamp"`
}

// Counters count what happened in a conversation.
type Counters struct {
	Messages            int `json:"messages"`            // end-user messages accepted
	DuplicateMessages   int `json:"duplicateMessages"`   // end-user messages with an id already seen (202, not added)
	MessagesBeforeAgent int `json:"messagesBeforeAgent"` // end-user messages while no agent had joined
	AgentMessages       int `json:"agentMessages"`
	Typing              int `json:"typing"`       // end-user typing indicators
	NoSession417        int `json:"noSession417"` // messages or typing refused with 417
	NewSessions         int `json:"newSessions"`  // sessions started by isNewMessagingSession
	EntryLists          int `json:"entryLists"`   // entries list calls (backfills)
	FaultsServed        int `json:"faultsServed"`
}

// Stats are simulator-wide counters.
type Stats struct {
	Conversations         int `json:"conversations"`
	TokensUnauthenticated int `json:"tokensUnauthenticated"`
	TokensAuthenticated   int `json:"tokensAuthenticated"`
	TokensContinuation    int `json:"tokensContinuation"`
	VerificationFailures  int `json:"verificationFailures"` // identity tokens rejected (anonymous token issued)
	Unauthorized          int `json:"unauthorized"`         // 401 answers for bad or expired access tokens
	TokenExpiries         int `json:"tokenExpiries"`        // ExpireTokens calls
	StreamsOpen           int `json:"streamsOpen"`
	StreamConnects        int `json:"streamConnects"`
	StreamDrops           int `json:"streamDrops"` // streams closed by DropStreams
	Replays               int `json:"replays"`     // connections that started with replayed duplicates
	FaultsServed          int `json:"faultsServed"`
}

// view snapshots c. Called with s.mu held.
func (s *Sim) view(c *conversation) ConversationView {
	v := ConversationView{
		ID: c.id, State: c.state, EndUserSubject: c.subject, RoutingAttributes: maps.Clone(c.routing),
		AgentName: c.agentName, QueuePosition: c.position, AgentTyping: c.agentTyping, EndUserTyping: c.userTyping,
		Sessions: c.sessions, EndedBy: c.endedBy, FailureType: c.failure, CreatedAt: c.createdAt,
		Transcript: make([]TranscriptEntry, 0, len(c.entries)), Counters: c.counters,
	}
	if !c.closedAt.IsZero() {
		t := c.closedAt
		v.ClosedAt = &t
	}
	for st := range s.streams {
		if st.subject == c.subject {
			v.Streams++
		}
	}
	for _, e := range c.entries {
		v.Transcript = append(v.Transcript, TranscriptEntry{ID: e.ID, EntryType: e.Type, Role: e.Role, Name: e.Name, Text: e.Text, Timestamp: e.TS})
	}
	return v
}

// Conversations returns snapshots of all conversations, oldest first.
func (s *Sim) Conversations() []ConversationView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewsLocked()
}

// Conversation returns a snapshot of conversation id.
func (s *Sim) Conversation(id string) (ConversationView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return ConversationView{}, ErrNoConversation
	}
	return s.view(c), nil
}

// Stats returns the simulator-wide counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Settings are the runtime-adjustable knobs.
type Settings struct {
	TokenLifetime     time.Duration
	HeartbeatInterval time.Duration
	AutoAccept        time.Duration
	AutoReply         bool
}

// Settings returns the current knobs.
func (s *Sim) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Settings{s.tokenLifetime, s.heartbeat, s.autoAccept, s.autoReply}
}

// UpdateSettings applies the non-zero durations (AutoAccept < 0 turns auto-accept off) and a
// non-nil autoReply. Token lifetime applies to tokens issued afterwards; the heartbeat interval
// to each stream after its next heartbeat.
func (s *Sim) UpdateSettings(tokenLifetime, heartbeat, autoAccept time.Duration, autoReply *bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tokenLifetime > 0 {
		s.tokenLifetime = tokenLifetime
	}
	if heartbeat > 0 {
		s.heartbeat = heartbeat
	}
	switch {
	case autoAccept > 0:
		s.autoAccept = autoAccept
	case autoAccept < 0:
		s.autoAccept = 0
	}
	if autoReply != nil {
		s.autoReply = *autoReply
	}
}
