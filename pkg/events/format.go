package events

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// supports reports whether format has an equivalent for event type typ.
// Formats without one simply do not send it. webhook.test goes to every
// format (in the standard envelope), since an operator asks for it.
func supports(format, typ string) bool {
	if typ == TypeWebhookTest {
		return true
	}
	switch format {
	case FormatStandard:
		return true
	case FormatLiveChatV2:
		return typ == TypeChatRequested || typ == TypeChatEnded
	case FormatChatwoot:
		switch typ {
		case TypeChatRequested, TypeChatAgentJoined, TypeChatTransferred, TypeMessageReceived,
			TypeMessageAgentSent, TypeChatEnded, TypeAgentTyping:
			return true
		}
	case FormatChatDealer:
		switch typ {
		case TypeChatRequested, TypeMessageReceived, TypeMessageAgentSent, TypeChatEnded, TypeFormSubmitted:
			return true
		}
	}
	return false
}

// render builds the request body of rec for endpoint ep. key is ep's HMAC
// key (for the livechat_v2 token).
func render(rec *record, ep *Endpoint, key []byte) ([]byte, error) {
	if rec.Type == TypeWebhookTest {
		return renderStandard(rec, ep)
	}
	switch ep.Format {
	case FormatLiveChatV2:
		return renderLiveChat(rec, ep, key)
	case FormatChatwoot:
		return renderChatwoot(rec, ep)
	case FormatChatDealer:
		return renderChatDealer(rec, ep)
	}
	return renderStandard(rec, ep)
}

// ---- standard ----

type stdEnvelope struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Timestamp  time.Time         `json:"timestamp"`
	APIVersion string            `json:"api_version"`
	Chat       *stdChat          `json:"chat,omitempty"`
	Data       any               `json:"data"`
	Params     map[string]string `json:"params,omitempty"`
}

type stdChat struct {
	ID            bridge.ChatID     `json:"id"`
	LineUserID    bridge.CustomerID `json:"line_user_id"`
	Desk          string            `json:"desk,omitempty"`
	Status        string            `json:"status"`
	StartedAt     *time.Time        `json:"started_at,omitempty"`
	EstablishedAt *time.Time        `json:"established_at,omitempty"`
	EndedAt       *time.Time        `json:"ended_at,omitempty"`
	AgentName     string            `json:"agent_name,omitempty"`
}

type stdVisitor struct {
	LineUserID   bridge.CustomerID `json:"line_user_id"`
	DisplayName  string            `json:"display_name"`
	Language     string            `json:"language,omitempty"`
	CustomFields map[string]string `json:"custom_fields,omitempty"`
}

type stdAgent struct {
	SFUserID string `json:"sf_user_id,omitempty"`
	Name     string `json:"name"`
}

type stdMessage struct {
	ID            string    `json:"id"`
	AuthorType    string    `json:"author_type"` // visitor, agent, system
	AuthorName    string    `json:"author_name,omitempty"`
	Kind          string    `json:"kind"` // text, note, or the system event's kind
	Text          string    `json:"text"`
	Source        string    `json:"source,omitempty"`
	LineMessageID string    `json:"line_message_id,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

type stdFormField struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Value string `json:"value"`
}

func renderStandard(rec *record, ep *Endpoint) ([]byte, error) {
	env := stdEnvelope{
		Type: rec.Type, ID: rec.ID, Timestamp: rec.Time, APIVersion: APIVersion,
		Data: standardData(rec), Params: ep.Params,
	}
	if ci := rec.Chat; ci != nil {
		sc := &stdChat{ID: ci.ID, LineUserID: rec.Customer, Desk: ci.Desk, Status: statusAt(rec), AgentName: agentAt(rec)}
		sc.StartedAt = timePtr(ci.CreatedAt)
		if !ci.EstablishedAt.IsZero() && !ci.EstablishedAt.After(rec.Time) {
			sc.EstablishedAt = timePtr(ci.EstablishedAt)
		}
		if rec.Type == TypeChatEnded {
			sc.EndedAt = timePtr(ci.EndedAt)
		}
		env.Chat = sc
	}
	return json.Marshal(env)
}

func standardData(rec *record) any {
	ev := rec.Event
	switch rec.Type {
	case TypeWebhookTest:
		return map[string]any{"endpoint": rec.Endpoint, "message": "This is a test event from line-sf-bridge."}
	case TypeEndpointDisabled:
		return map[string]any{"endpoint": rec.Endpoint, "reason": rec.Reason, "status_code": rec.StatusCode}
	case TypeChatRequested:
		return map[string]any{"visitor": visitorOf(rec)}
	case TypeFormSubmitted:
		return map[string]any{"visitor": visitorOf(rec), "form": map[string]any{"form_type": "prechat", "fields": formFields(rec)}}
	case TypeChatQueueUpdated:
		return map[string]any{"routed": ev.Kind == bridge.KindRequested, "position": ev.Position, "wait_seconds": ev.Wait}
	case TypeChatRequestFailed:
		return map[string]any{"reason": ev.Reason}
	case TypeChatAgentJoined, TypeChatTransferred, TypeChatAgentLeft:
		return map[string]any{"agent": stdAgent{SFUserID: ev.AgentID, Name: ev.AgentName}}
	case TypeAgentTyping:
		return map[string]any{"typing": ev.Kind == bridge.KindAgentTyping, "agent": stdAgent{SFUserID: ev.AgentID, Name: agentAt(rec)}}
	case TypeMessageReceived, TypeMessageAgentSent:
		l := lineOf(*ev, rec.Chat.Visitor.DisplayName, agentAt(rec))
		return map[string]any{"message": l.std()}
	case TypeChatEnded:
		msgs := []stdMessage{}
		for _, l := range transcriptLines(rec) {
			msgs = append(msgs, l.std())
		}
		return map[string]any{"reason": rec.Chat.EndReason, "detail": ev.Reason, "transcript": msgs}
	}
	return map[string]any{}
}

func visitorOf(rec *record) stdVisitor {
	v := rec.Chat.Visitor
	return stdVisitor{LineUserID: rec.Customer, DisplayName: v.DisplayName, Language: v.Language, CustomFields: v.Fields}
}

// formFields are the visitor's pre-chat fields, sorted by label.
func formFields(rec *record) []stdFormField {
	out := []stdFormField{}
	for _, k := range slices.Sorted(maps.Keys(rec.Chat.Visitor.Fields)) {
		out = append(out, stdFormField{Name: k, Label: k, Value: rec.Chat.Visitor.Fields[k]})
	}
	return out
}

// statusAt is the chat's status right after the event.
func statusAt(rec *record) string {
	switch rec.Type {
	case TypeChatEnded, TypeChatRequestFailed:
		return string(bridge.StatusEnded)
	case TypeChatRequested, TypeChatQueueUpdated, TypeFormSubmitted:
		return string(bridge.StatusRequested)
	case TypeChatAgentJoined, TypeChatTransferred:
		return string(bridge.StatusEstablished)
	}
	if e := rec.Chat.EstablishedAt; !e.IsZero() && !e.After(rec.Time) {
		return string(bridge.StatusEstablished)
	}
	return string(bridge.StatusRequested)
}

// agentAt is the agent's name as of the event.
func agentAt(rec *record) string {
	if rec.Event != nil && rec.Event.AgentName != "" {
		return rec.Event.AgentName
	}
	return rec.Chat.AgentName
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// appendFields adds extra string fields to the JSON object body, sorted by
// key, skipping the keys that skip reports true for.
func appendFields(body []byte, extra map[string]string, skip func(string) bool) ([]byte, error) {
	var add bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if skip(k) {
			continue
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(extra[k])
		add.WriteByte(',')
		add.Write(kb)
		add.WriteByte(':')
		add.Write(vb)
	}
	if add.Len() == 0 {
		return body, nil
	}
	body = bytes.TrimRight(body, " \n")
	if len(body) < 2 || body[len(body)-1] != '}' {
		return body, nil
	}
	out := append(slices.Clip(body[:len(body)-1]), add.Bytes()...)
	if len(body) == 2 { // "{}": no leading comma
		out = append([]byte{'{'}, add.Bytes()[1:]...)
	}
	return append(out, '}'), nil
}

// topLevelKeys lists the keys of the JSON object body.
func topLevelKeys(body []byte) map[string]bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	keys := make(map[string]bool, len(m))
	for k := range m {
		keys[k] = true
	}
	return keys
}
