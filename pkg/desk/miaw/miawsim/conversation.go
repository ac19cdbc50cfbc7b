package miawsim

import (
	"encoding/json"
	"regexp"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// State is the state of a simulated conversation.
type State string

// Conversation states.
const (
	StateQueued   State = "queued"   // a messaging session waits for an agent (routing)
	StateActive   State = "active"   // an agent is in the conversation
	StateInactive State = "inactive" // no messaging session (ended by the agent, or routing failed)
	StateClosed   State = "closed"   // the end user closed the conversation
)

// Roles of participants.
const (
	RoleEndUser = "EndUser"
	RoleAgent   = "Agent"
	RoleSystem  = "System"
)

// conversation is the server-side state of one conversation. Guarded by Sim.mu.
type conversation struct {
	id           string
	subject      string // end user
	routing      map[string]any
	state        State
	createdAt    time.Time
	closedAt     time.Time
	agentName    string
	agentSubject string
	agentTyping  bool
	userTyping   bool
	position     int
	sessions     int
	endedBy      string // role that ended the last session
	failure      string
	entries      []*entry
	lastTS       int64
	msgIDs       map[string]bool
	autoAcceptAt time.Time
	counters     Counters
}

// entry is one conversation entry.
type entry struct {
	ID          string
	Type        string // Message, ParticipantChanged …
	Role        string
	Name        string
	Subject     string
	Payload     map[string]any
	TS          int64
	ClientTS    int64
	Text        string // for the transcript view
	Persistent  bool
	RawEventTyp string // for raw events: the SSE event type
}

// eventTypes maps entry types to event stream types.
var eventTypes = map[string]string{
	"Message":                 "CONVERSATION_MESSAGE",
	"ParticipantChanged":      "CONVERSATION_PARTICIPANT_CHANGED",
	"RoutingResult":           "CONVERSATION_ROUTING_RESULT",
	"TypingStartedIndicator":  "CONVERSATION_TYPING_STARTED_INDICATOR",
	"TypingStoppedIndicator":  "CONVERSATION_TYPING_STOPPED_INDICATOR",
	"SessionStatusChanged":    "CONVERSATION_SESSION_STATUS_CHANGED",
	"CloseConversation":       "CONVERSATION_CLOSE_CONVERSATION",
	"QueuePosition":           "CONVERSATION_QUEUE_POSITION",
	"DeliveryAcknowledgement": "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT",
	"ReadAcknowledgement":     "CONVERSATION_READ_ACKNOWLEDGEMENT",
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
var uuidAny = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (c *conversation) sessionOpen() bool { return c.state == StateQueued || c.state == StateActive }

// add records an entry of c (persisted if e.Persistent) and publishes it on the end user's
// event streams. Called with s.mu held.
func (s *Sim) add(c *conversation, e *entry) {
	if e.ID == "" {
		e.ID = simkit.RandomUUID()
	}
	ts := s.opts.Now().UnixMilli()
	if ts <= c.lastTS {
		ts = c.lastTS + 1
	}
	c.lastTS = ts
	e.TS = ts
	if e.ClientTS == 0 {
		e.ClientTS = ts
	}
	if e.Persistent {
		c.entries = append(c.entries, e)
	}
	typ := e.RawEventTyp
	if typ == "" {
		typ = eventTypes[e.Type]
	}
	s.publish(c, typ, e)
}

// wire returns the conversationEntry form of e; the payload as a JSON string when asString.
func (e *entry) wire(asString bool) map[string]any {
	payload := map[string]any{"entryType": e.Type, "id": e.ID}
	for k, v := range e.Payload {
		payload[k] = v
	}
	var p any = payload
	if asString {
		b, _ := json.Marshal(payload)
		p = string(b)
	}
	appType := map[string]string{RoleEndUser: "iamessage", RoleAgent: "agent", RoleSystem: "conversation"}[e.Role]
	return map[string]any{
		"senderDisplayName":     e.Name,
		"identifier":            e.ID,
		"entryType":             e.Type,
		"entryPayload":          p,
		"sender":                map[string]string{"role": e.Role, "appType": appType, "subject": e.Subject, "clientIdentifier": ""},
		"transcriptedTimestamp": e.TS,
		"clientTimestamp":       e.ClientTS,
		"relatedRecords":        []string{},
	}
}

// routingResult records a routing result of a new session. Called with s.mu held.
func (s *Sim) routingResult(c *conversation, failureType, reason string) {
	s.add(c, &entry{Type: "RoutingResult", Role: RoleSystem, Name: "Automated Process", Subject: "005000000000001", Persistent: true,
		Payload: map[string]any{
			"routingType": "Initial", "failureType": failureType, "failureReason": reason, "errorMessages": []string{},
			"estimatedWaitTime": map[string]any{"estimatedWaitTimeInSeconds": -1, "isEWTRequested": false},
			"recordId":          simkit.NewSFID("0Mw"),
		}, Text: "routing: " + failureType})
}

// startSession starts a messaging session (routing). Called with s.mu held.
func (s *Sim) startSession(c *conversation) {
	c.state = StateQueued
	c.sessions++
	c.endedBy, c.failure = "", ""
	c.agentName, c.agentSubject = "", ""
	s.routingResult(c, "None", "")
	if s.autoAccept > 0 {
		c.autoAcceptAt = s.opts.Now().Add(s.autoAccept)
		s.life.Wake()
	}
}

// endSession ends the messaging session. Called with s.mu held.
func (s *Sim) endSession(c *conversation, role string) {
	c.state = StateInactive
	c.endedBy = role
	c.agentTyping, c.userTyping = false, false
	c.autoAcceptAt = time.Time{}
	name := map[string]string{RoleEndUser: "Guest", RoleAgent: c.agentName}[role]
	s.add(c, &entry{Type: "SessionStatusChanged", Role: role, Name: name, Subject: c.subject, Persistent: true,
		Payload: map[string]any{"sessionStatus": "Ended", "sessionEndedByRole": role}, Text: "session ended by " + role})
	c.agentName, c.agentSubject = "", ""
}

// pruneClosed drops the oldest closed conversations beyond MaxClosedConversations.
func (s *Sim) pruneClosed() {
	n := 0
	for _, id := range s.order {
		if s.convs[id].state == StateClosed {
			n++
		}
	}
	for i := 0; n > s.opts.MaxClosedConversations && i < len(s.order); {
		c := s.convs[s.order[i]]
		if c.state != StateClosed {
			i++
			continue
		}
		delete(s.convs, c.id)
		s.order = append(s.order[:i], s.order[i+1:]...)
		n--
	}
}
