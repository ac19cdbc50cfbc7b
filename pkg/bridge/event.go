package bridge

import "time"

// Kind is the type of a chat event.
type Kind string

// Event kinds. Desk-originated kinds come from the agent side; the others are
// written by the bridge itself.
const (
	KindRequested      Kind = "requested"      // chat request routed (Live Agent ChatRequestSuccess)
	KindQueueUpdate    Kind = "queue_update"   // position / estimated wait changed
	KindRequestFailed  Kind = "request_failed" // no agent (ChatRequestFail); ends the chat
	KindAgentJoined    Kind = "agent_joined"   // an agent accepted (ChatEstablished)
	KindTransferred    Kind = "transferred"    // another agent took over
	KindAgentLeft      Kind = "agent_left"     // agent disconnected; chat stays open
	KindAgentMessage   Kind = "agent_message"  // text from the agent
	KindAgentTyping    Kind = "agent_typing"   // typing started
	KindAgentNotTyping Kind = "agent_not_typing"
	KindFileRequested  Kind = "file_requested" // the agent asks the customer for a file
	KindFileResult     Kind = "file_result"    // a file transfer finished (canceled, success, failure)
	KindEnded          Kind = "ended"          // the chat is over (see Event.Reason)

	KindCustomerMessage Kind = "customer_message" // text from the customer, relayed to the agent
	KindCustomerNote    Kind = "customer_note"    // non-text customer content shown as a note
	KindStarted         Kind = "started"          // the bridge created the desk session (pre-chat data in Visitor)
)

// Event is one entry of a chat's event log. Events are appended in order and
// never changed; consumers keep a cursor each.
type Event struct {
	// ID is stable across redeliveries: a desk event gets an id derived from
	// the desk's own sequence, so storing a redelivered batch again is a no-op.
	ID   string `json:"id"`
	Chat ChatID `json:"chat"`
	// Batch tags the events stored together (one desk batch, one customer
	// message): a sink delivery never spans batches, so a retried delivery
	// groups the same events whatever was appended since.
	Batch string    `json:"batch,omitempty"`
	Kind  Kind      `json:"kind"`
	Time  time.Time `json:"time"`

	Text      string    `json:"text,omitempty"`
	AgentName string    `json:"agent_name,omitempty"`
	AgentID   string    `json:"agent_id,omitempty"`
	Position  *int      `json:"position,omitempty"`     // queue position
	Wait      *int      `json:"wait_seconds,omitempty"` // estimated wait, seconds
	Reason    string    `json:"reason,omitempty"`       // request_failed / ended / file_result
	EndReason EndReason `json:"end_reason,omitempty"`   // ended
	File      *FileRef  `json:"file,omitempty"`         // file_requested
	Visitor   *Visitor  `json:"visitor,omitempty"`      // started
	Source    string    `json:"source,omitempty"`       // customer_*: "line", "api"
	SourceID  string    `json:"source_id,omitempty"`    // e.g. LINE message id
	ReadToken string    `json:"read_token,omitempty"`   // LINE markAsReadToken
	Cursor    string    `json:"-"`                      // log position, set by the store on read
}

// FileRef carries what a desk needs to accept an upload for a file request.
// It is opaque to the core.
type FileRef struct {
	Token string `json:"token"`
	Data  []byte `json:"data,omitempty"`
}

// FromDesk reports whether the event came from the agent side.
func (e Event) FromDesk() bool {
	switch e.Kind {
	case KindCustomerMessage, KindCustomerNote, KindStarted:
		return false
	case KindEnded:
		return e.EndReason != EndByCustomer && e.EndReason != EndReplaced
	}
	return true
}

// Ends reports whether the event ends the chat.
func (e Event) Ends() bool { return e.Kind == KindEnded || e.Kind == KindRequestFailed }
