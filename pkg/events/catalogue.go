package events

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// APIVersion is the version of the event schemas, sent as "api_version" in
// the standard format. Schemas change only additively within a version.
const APIVersion = "2026-01"

// Event types of the catalogue (docs/events.md).
const (
	TypeChatRequested     = "chat.requested"      // the bridge started the desk session (carries the visitor)
	TypeChatQueueUpdated  = "chat.queue_updated"  // routed to the desk's queue, or the position changed
	TypeChatRequestFailed = "chat.request_failed" // no agent could take the chat; chat.ended follows
	TypeChatAgentJoined   = "chat.agent_joined"   // an agent accepted
	TypeChatTransferred   = "chat.transferred"    // another agent took over
	TypeChatAgentLeft     = "chat.agent_left"     // the agent disconnected; the chat stays open
	TypeMessageReceived   = "message.received"    // customer → agent
	TypeMessageAgentSent  = "message.agent_sent"  // agent → customer
	TypeChatEnded         = "chat.ended"          // the chat is over; carries the transcript
	TypeFormSubmitted     = "form.submitted"      // pre-chat data the customer gave
	TypeAgentTyping       = "agent.typing"        // opt-in: the agent started or stopped typing
	TypeWebhookTest       = "webhook.test"        // sent by POST /admin/endpoints/{name}/test
	TypeEndpointDisabled  = "endpoint.disabled"   // another endpoint was disabled (410)
)

// AllTypes lists every event type, in catalogue order.
var AllTypes = []string{
	TypeChatRequested, TypeChatQueueUpdated, TypeChatRequestFailed,
	TypeChatAgentJoined, TypeChatTransferred, TypeChatAgentLeft,
	TypeMessageReceived, TypeMessageAgentSent, TypeChatEnded,
	TypeFormSubmitted, TypeAgentTyping, TypeWebhookTest, TypeEndpointDisabled,
}

// DefaultTypes are the types an endpoint with an empty Events list gets:
// every type but the opt-in agent.typing. (webhook.test is sent only on
// request, to the endpoint under test, whatever its subscription.)
var DefaultTypes = slices.DeleteFunc(slices.Clone(AllTypes), func(t string) bool {
	return t == TypeAgentTyping || t == TypeWebhookTest
})

func knownType(t string) bool { return slices.Contains(AllTypes, t) }

// typesFor maps a core event to the catalogue events it produces, in order.
func typesFor(ev bridge.Event) []string {
	switch ev.Kind {
	case bridge.KindStarted:
		if ev.Visitor != nil && len(ev.Visitor.Fields) > 0 {
			return []string{TypeChatRequested, TypeFormSubmitted}
		}
		return []string{TypeChatRequested}
	case bridge.KindRequested, bridge.KindQueueUpdate:
		return []string{TypeChatQueueUpdated}
	case bridge.KindRequestFailed:
		// request_failed ends the chat: the store drops any later ended
		// event, so chat.ended is produced here.
		return []string{TypeChatRequestFailed, TypeChatEnded}
	case bridge.KindAgentJoined:
		return []string{TypeChatAgentJoined}
	case bridge.KindTransferred:
		return []string{TypeChatTransferred}
	case bridge.KindAgentLeft:
		return []string{TypeChatAgentLeft}
	case bridge.KindCustomerMessage, bridge.KindCustomerNote:
		return []string{TypeMessageReceived}
	case bridge.KindAgentMessage:
		return []string{TypeMessageAgentSent}
	case bridge.KindEnded:
		return []string{TypeChatEnded}
	case bridge.KindAgentTyping, bridge.KindAgentNotTyping:
		return []string{TypeAgentTyping}
	}
	return nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// EventID derives the catalogue event id from the core event it comes from,
// so a redelivered batch yields the same ids: "evt_" + 26 base32 characters
// of SHA-256(customer, chat, core event id, type).
func EventID(c bridge.CustomerID, chat bridge.ChatID, coreID, typ string) string {
	return "evt_" + hashID(string(c), string(chat), coreID, typ)
}

// deliveryID is the id of the delivery of event to endpoint.
func deliveryID(eventID, endpoint string) string {
	return "dlv_" + hashID(eventID, endpoint)
}

func hashID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return strings.ToLower(idEncoding.EncodeToString(h.Sum(nil)[:16]))
}

// record is a catalogue event as stored in Redis, format-neutral. Every body
// format is rendered from it at send time, so a retry or a manual
// redelivery sends the same content.
type record struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Time     time.Time         `json:"time"`
	Customer bridge.CustomerID `json:"customer,omitempty"`
	Chat     *chatInfo         `json:"chat,omitempty"`
	// Event is the core event this one comes from.
	Event *bridge.Event `json:"event,omitempty"`
	// Transcript is every message of the chat (chat.ended only).
	Transcript []bridge.Event `json:"transcript,omitempty"`
	// Endpoint, Reason, StatusCode: webhook.test and endpoint.disabled.
	Endpoint   string `json:"endpoint,omitempty"`
	Reason     string `json:"reason,omitempty"`
	StatusCode int    `json:"status_code,omitempty"`
}

// chatInfo is the part of the chat record that payloads carry.
type chatInfo struct {
	ID            bridge.ChatID    `json:"id"`
	Desk          string           `json:"desk,omitempty"`
	Status        bridge.Status    `json:"status,omitempty"`
	Visitor       bridge.Visitor   `json:"visitor"`
	AgentName     string           `json:"agent_name,omitempty"`
	EndReason     bridge.EndReason `json:"end_reason,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	EstablishedAt time.Time        `json:"established_at,omitzero"`
	EndedAt       time.Time        `json:"ended_at,omitzero"`
}

// lane is the ordering unit: one delivery in flight per lane. Chat events
// share the lane of their (endpoint, chat); operational events get a lane of
// their own.
func (r *record) lane(endpoint string) string {
	if r.Chat != nil && r.Chat.ID != "" {
		return endpoint + "|" + string(r.Customer) + "/" + string(r.Chat.ID)
	}
	return endpoint + "|~" + r.ID
}

// buildRecords turns a delivery's core events into catalogue records.
// transcript returns the log's events of a chat, for chat.ended.
func buildRecords(d bridge.Delivery, transcript func(bridge.ChatID) ([]bridge.Event, error)) ([]*record, error) {
	var out []*record
	for i := range d.Events {
		ev := d.Events[i]
		ev.ReadToken = "" // a LINE token, of no use to a receiver
		ev.File = nil
		for _, typ := range typesFor(ev) {
			r := &record{
				ID:       EventID(d.Customer, ev.Chat, ev.ID, typ),
				Type:     typ,
				Time:     ev.Time.UTC(),
				Customer: d.Customer,
				Chat:     chatInfoOf(d.Chat, ev),
				Event:    &ev,
			}
			if typ == TypeChatEnded {
				tr, err := transcript(ev.Chat)
				if err != nil {
					return nil, err
				}
				r.Transcript = transcriptFor(tr, ev)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func chatInfoOf(ch bridge.Chat, ev bridge.Event) *chatInfo {
	ci := &chatInfo{
		ID: ev.Chat, Desk: ch.Desk, Status: ch.Status, Visitor: ch.Visitor,
		AgentName: ch.AgentName, EndReason: ch.EndReason,
		CreatedAt: ch.CreatedAt.UTC(), EstablishedAt: ch.EstablishAt.UTC(), EndedAt: ch.EndedAt.UTC(),
	}
	if ch.ID != ev.Chat { // the customer's current chat is a later one
		ci = &chatInfo{ID: ev.Chat}
	}
	if ev.Visitor != nil {
		ci.Visitor = *ev.Visitor
	}
	ci.Visitor.History = nil
	ci.Visitor.PrechatEntities = nil
	if ci.Visitor.CustomerID == "" {
		ci.Visitor.CustomerID = ch.Customer
	}
	if ev.Kind == bridge.KindStarted && ci.CreatedAt.IsZero() {
		ci.CreatedAt = ev.Time.UTC()
	}
	if ev.Ends() {
		if ci.EndedAt.IsZero() {
			ci.EndedAt = ev.Time.UTC()
		}
		if ci.EndReason == "" {
			ci.EndReason = ev.EndReason
		}
		if ci.EndReason == "" && ev.Kind == bridge.KindRequestFailed {
			ci.EndReason = bridge.EndRequestFail
		}
	}
	return ci
}

// transcriptFor keeps the transcript events that belong to the ended chat,
// adds the ending event if the log did not have it yet, and drops fields a
// receiver has no use for.
func transcriptFor(evs []bridge.Event, end bridge.Event) []bridge.Event {
	var out []bridge.Event
	seen := false
	for _, e := range evs {
		if e.Chat != end.Chat || !inTranscript(e.Kind) {
			continue
		}
		seen = seen || e.ID == end.ID
		e.ReadToken, e.File, e.Visitor, e.Cursor = "", nil, nil, ""
		out = append(out, e)
	}
	if !seen {
		out = append(out, end)
	}
	return out
}

func inTranscript(k bridge.Kind) bool {
	switch k {
	case bridge.KindCustomerMessage, bridge.KindCustomerNote, bridge.KindAgentMessage,
		bridge.KindAgentJoined, bridge.KindTransferred, bridge.KindAgentLeft,
		bridge.KindRequestFailed, bridge.KindEnded:
		return true
	}
	return false
}
