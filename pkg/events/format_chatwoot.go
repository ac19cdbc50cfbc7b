package events

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Chatwoot / ClickFunnels MessageHub webhooks (seed 001), field for field.
// Chatwoot ids are integers: the bridge derives stable 53-bit ids from its
// string ids; the LINE user id is contact_inbox.source_id, as in Chatwoot's
// own LINE channel. message_type is Chatwoot's string ("incoming",
// "outgoing", "activity"), which is what Chatwoot itself sends.

var (
	cwAccountObj = cwNamed{ID: 1, Name: "line-sf-bridge"}
	cwInboxObj   = cwNamed{ID: 1, Name: "LINE"}
)

type cwNamed struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type cwContact struct {
	ID      int64   `json:"id"`
	Name    string  `json:"name"`
	Avatar  string  `json:"avatar"`
	Type    string  `json:"type"`
	Account cwNamed `json:"account"`
}

type cwUser struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Type  string `json:"type"`
}

type cwBrowser struct {
	DeviceName      string `json:"device_name"`
	BrowserName     string `json:"browser_name"`
	PlatformName    string `json:"platform_name"`
	BrowserVersion  string `json:"browser_version"`
	PlatformVersion string `json:"platform_version"`
}

type cwAdditional struct {
	Browser     cwBrowser `json:"browser"`
	Referer     string    `json:"referer"`
	InitiatedAt struct {
		Timestamp time.Time `json:"timestamp"`
	} `json:"initiated_at"`
}

type cwContactInbox struct {
	ID           int64     `json:"id"`
	ContactID    int64     `json:"contact_id"`
	InboxID      int64     `json:"inbox_id"`
	SourceID     string    `json:"source_id"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	HMACVerified bool      `json:"hmac_verified"`
}

type cwMeta struct {
	Sender   cwContact `json:"sender"`
	Assignee *cwUser   `json:"assignee"`
}

type cwConversation struct {
	AdditionalAttributes cwAdditional   `json:"additional_attributes"`
	CanReply             bool           `json:"can_reply"`
	Channel              string         `json:"channel"`
	ID                   int64          `json:"id"`
	InboxID              int64          `json:"inbox_id"`
	ContactInbox         cwContactInbox `json:"contact_inbox"`
	Messages             []cwMessage    `json:"messages"`
	Meta                 cwMeta         `json:"meta"`
	Status               string         `json:"status"`
	UnreadCount          int            `json:"unread_count"`
	AgentLastSeenAt      int64          `json:"agent_last_seen_at"`
	ContactLastSeenAt    int64          `json:"contact_last_seen_at"`
	Timestamp            int64          `json:"timestamp"`
	AccountID            int64          `json:"account_id"`
}

type cwMessage struct {
	ID                int64           `json:"id"`
	Content           string          `json:"content"`
	MessageType       string          `json:"message_type"`
	CreatedAt         int64           `json:"created_at"`
	Private           bool            `json:"private"`
	SourceID          *string         `json:"source_id"`
	ContentType       string          `json:"content_type"`
	ContentAttributes map[string]any  `json:"content_attributes"`
	Sender            any             `json:"sender"`
	Account           *cwNamed        `json:"account,omitempty"`
	Conversation      *cwConversation `json:"conversation,omitempty"`
	Inbox             *cwNamed        `json:"inbox,omitempty"`
}

type cwConversationEvent struct {
	Event             string           `json:"event"`
	ChangedAttributes []map[string]any `json:"changed_attributes,omitempty"`
	cwConversation
}

type cwMessageEvent struct {
	Event string `json:"event"`
	cwMessage
}

type cwTypingEvent struct {
	Event        string         `json:"event"`
	Conversation cwConversation `json:"conversation"`
	User         cwUser         `json:"user"`
	IsPrivate    bool           `json:"is_private"`
}

// cwID derives a stable positive integer id (below 2^53, safe in
// JavaScript) from a string id.
func cwID(kind string, parts ...string) int64 {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	id := int64(binary.BigEndian.Uint64(h.Sum(nil)[:8]) >> 11)
	return max(id, 1)
}

func cwContactOf(rec *record) cwContact {
	return cwContact{ID: cwID("contact", string(rec.Customer)), Name: rec.Chat.Visitor.DisplayName, Type: "contact", Account: cwAccountObj}
}

func cwUserOf(agentID, name string) *cwUser {
	if name == "" && agentID == "" {
		return nil
	}
	key := name // the chat record knows the agent's name, not always the id
	if key == "" {
		key = agentID
	}
	return &cwUser{ID: cwID("user", key), Name: name, Type: "user"}
}

func cwConversationOf(rec *record, status string) cwConversation {
	ci := rec.Chat
	created := ci.CreatedAt
	if created.IsZero() {
		created = rec.Time
	}
	c := cwConversation{
		CanReply: status != "resolved", Channel: "Channel::Line",
		ID: cwID("conversation", string(rec.Customer), string(ci.ID)), InboxID: cwInboxObj.ID,
		ContactInbox: cwContactInbox{
			ID: cwID("contact_inbox", string(rec.Customer)), ContactID: cwID("contact", string(rec.Customer)),
			InboxID: cwInboxObj.ID, SourceID: string(rec.Customer), CreatedAt: created, UpdatedAt: rec.Time,
		},
		Messages:  []cwMessage{},
		Meta:      cwMeta{Sender: cwContactOf(rec)},
		Status:    status,
		Timestamp: rec.Time.Unix(), AccountID: cwAccountObj.ID,
	}
	c.AdditionalAttributes.InitiatedAt.Timestamp = created
	if a := agentAt(rec); a != "" && status != "pending" {
		id := ""
		if rec.Event != nil {
			id = rec.Event.AgentID
		}
		c.Meta.Assignee = cwUserOf(id, a)
	}
	return c
}

// cwMessageOf is a transcript line as a Chatwoot message (without the
// account, conversation and inbox objects).
func cwMessageOf(rec *record, l tline) cwMessage {
	m := cwMessage{
		ID: cwID("message", string(rec.Customer), string(rec.Chat.ID), l.ID), Content: l.Text,
		CreatedAt: l.Time.Unix(), ContentType: "text", ContentAttributes: map[string]any{},
	}
	switch l.Author {
	case authorVisitor:
		m.MessageType, m.Sender = "incoming", cwContactOf(rec)
		if l.SourceID != "" {
			m.SourceID = &l.SourceID
		}
	case authorAgent:
		m.MessageType, m.Sender = "outgoing", cwUserOf(l.AgentID, l.Name)
	default:
		m.MessageType = "activity"
	}
	return m
}

func renderChatwoot(rec *record, ep *Endpoint) ([]byte, error) {
	var v any
	switch rec.Type {
	case TypeChatRequested:
		v = cwConversationEvent{Event: "conversation_created", cwConversation: cwConversationOf(rec, "pending")}
	case TypeChatAgentJoined:
		v = cwConversationEvent{Event: "conversation_status_changed", cwConversation: cwConversationOf(rec, "open")}
	case TypeChatTransferred:
		c := cwConversationOf(rec, "open")
		v = cwConversationEvent{
			Event:             "conversation_updated",
			ChangedAttributes: []map[string]any{{"assignee_id": map[string]any{"current_value": c.Meta.Assignee.idOrNil(), "previous_value": nil}}},
			cwConversation:    c,
		}
	case TypeChatEnded:
		c := cwConversationOf(rec, "resolved")
		for _, l := range transcriptLines(rec) {
			c.Messages = append(c.Messages, cwMessageOf(rec, l))
		}
		v = cwConversationEvent{Event: "conversation_status_changed", cwConversation: c}
	case TypeMessageReceived, TypeMessageAgentSent:
		status := "pending"
		if statusAt(rec) == string(bridge.StatusEstablished) {
			status = "open"
		}
		conv := cwConversationOf(rec, status)
		m := cwMessageOf(rec, lineOf(*rec.Event, rec.Chat.Visitor.DisplayName, agentAt(rec)))
		m.Account, m.Conversation, m.Inbox = &cwAccountObj, &conv, &cwInboxObj
		v = cwMessageEvent{Event: "message_created", cwMessage: m}
	case TypeAgentTyping:
		ev := "conversation_typing_off"
		if rec.Event.Kind == bridge.KindAgentTyping {
			ev = "conversation_typing_on"
		}
		u := cwUserOf(rec.Event.AgentID, agentAt(rec))
		if u == nil {
			u = &cwUser{ID: cwID("user", ""), Type: "user"}
		}
		v = cwTypingEvent{Event: ev, Conversation: cwConversationOf(rec, "open"), User: *u}
	default:
		return nil, nil
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	keys := topLevelKeys(body)
	return appendFields(body, ep.Params, func(k string) bool { return keys[k] })
}

func (u *cwUser) idOrNil() any {
	if u == nil {
		return nil
	}
	return u.ID
}
