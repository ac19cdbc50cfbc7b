package bridge

import (
	"encoding/json"
	"log/slog"
	"time"
)

// CustomerID identifies the customer side of a chat: a LINE user id (the
// seed's line_id). All of a customer's state shares its hash tag in the store.
type CustomerID string

// ChatID identifies one chat (one hand-over) of a customer. A customer has at
// most one open chat at a time; each new chat gets a new ChatID.
type ChatID string

// LogValue keeps LINE user ids short in logs: they are personal data.
func (c CustomerID) LogValue() slog.Value {
	s := string(c)
	if len(s) > 9 {
		s = s[:5] + "…" + s[len(s)-4:]
	}
	return slog.StringValue(s)
}

// Status is where a chat is in its life.
type Status string

// Chat statuses. Open statuses are Starting, Requested and Established.
const (
	StatusStarting    Status = "starting"    // desk session being created
	StatusRequested   Status = "requested"   // chat requested, no agent yet (queued)
	StatusEstablished Status = "established" // an agent accepted
	StatusEnded       Status = "ended"       // over, for whatever reason
)

// Open reports whether a chat in this status still needs a desk session.
func (s Status) Open() bool {
	return s == StatusStarting || s == StatusRequested || s == StatusEstablished
}

// Visitor is what the desk is told about the customer when a chat starts.
type Visitor struct {
	CustomerID  CustomerID `json:"customer_id"`
	DisplayName string     `json:"display_name"`
	Language    string     `json:"language,omitempty"`
	// PrechatEntities is passed through verbatim to desks that understand it
	// (Live Agent's prechatEntities); nil means JSON null.
	PrechatEntities json.RawMessage `json:"prechat_entities,omitempty"`
	// Fields are extra pre-chat fields (label → value) shown to the agent.
	Fields map[string]string `json:"fields,omitempty"`
	// History is the customer's recent conversation with the bot, sent to
	// the agent once the chat is established.
	History []string `json:"history,omitempty"`
}

// Chat is the stored state of a customer's current (or last) chat.
type Chat struct {
	Customer  CustomerID `json:"customer"`
	ID        ChatID     `json:"id"`
	Status    Status     `json:"status"`
	Desk      string     `json:"desk"`       // desk kind, e.g. "liveagent"
	DeskState []byte     `json:"desk_state"` // opaque, owned by the desk
	Visitor   Visitor    `json:"visitor"`
	AgentName string     `json:"agent_name,omitempty"`
	// FileRequest is the agent's open request for a file, if any.
	FileRequest *FileRef  `json:"file_request,omitempty"`
	EndReason   EndReason `json:"end_reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	EstablishAt time.Time `json:"established_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// Version increases with every write of the chat record; writers use it
	// to detect that someone else changed the chat in between.
	Version int64 `json:"version"`
}

// EndReason says why a chat ended.
type EndReason string

// End reasons.
const (
	EndByCustomer  EndReason = "customer"       // /close, end keyword or postback
	EndByAgent     EndReason = "agent"          // the agent ended it
	EndRequestFail EndReason = "request_failed" // no agent available, blocked …
	EndExpired     EndReason = "expired"        // the desk session expired (403)
	EndDeskError   EndReason = "desk_error"     // the desk killed it (409, repeated failures)
	EndStartFailed EndReason = "start_failed"   // the desk session could not be created
	EndReplaced    EndReason = "replaced"       // reset by /init without display_name
)
