package liveagent

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Messages is one 200 response of System/Messages.
//
// Sequence is a server-side counter of 200 payloads for the session; it may start at 0, so a
// zero Sequence is a valid value, not "unset". The next poll acks it. Offset is the opaque
// position to pass to [Client.ReconnectSession].
type Messages struct {
	Messages []Message `json:"messages"`
	Sequence int64     `json:"sequence"`
	Offset   int64     `json:"offset"`
}

// Message is one event of a Messages payload, undecoded. Use [Message.Decode] for the typed
// payload.
type Message struct {
	Type    string          `json:"type"`
	Message json.RawMessage `json:"message,omitempty"`
}

// DecodeMessages parses a Messages response body (leniently: numbers may be strings, unknown
// fields are ignored).
func DecodeMessages(b []byte) (*Messages, error) {
	var m Messages
	if err := unmarshalLenient(b, &m); err != nil {
		return nil, fmt.Errorf("decode messages: %w", err)
	}
	return &m, nil
}

// Decode returns the typed payload of m as a value: ChatRequestSuccess, ChatRequestFail,
// QueueUpdate, ChatEstablished, ChatMessage, AgentTyping, AgentNotTyping, AgentDisconnect,
// ChatTransferred, ChatEnded, ChasitorSessionData, CustomEvent, NewVisitorBreadcrumb,
// SensitiveDataRules, FileTransfer, ReconnectSession, Availability or SwitchServer.
//
// An unknown type yields Unknown{Type, Raw} and no error. A known type whose payload cannot be
// decoded even leniently yields Unknown and an error. A missing or null payload yields the zero
// value of the type.
func (m Message) Decode() (any, error) {
	switch m.Type {
	case TypeChatRequestSuccess:
		return decodeAs[ChatRequestSuccess](m)
	case TypeChatRequestFail:
		return decodeAs[ChatRequestFail](m)
	case TypeQueueUpdate:
		return decodeAs[QueueUpdate](m)
	case TypeChatEstablished:
		return decodeAs[ChatEstablished](m)
	case TypeChatMessage:
		return decodeAs[ChatMessage](m)
	case TypeAgentTyping:
		return decodeAs[AgentTyping](m)
	case TypeAgentNotTyping:
		return decodeAs[AgentNotTyping](m)
	case TypeAgentDisconnect:
		return decodeAs[AgentDisconnect](m)
	case TypeChatTransferred:
		return decodeAs[ChatTransferred](m)
	case TypeChatEnded:
		return decodeAs[ChatEnded](m)
	case TypeChasitorSessionData:
		return decodeAs[ChasitorSessionData](m)
	case TypeCustomEvent:
		return decodeAs[CustomEvent](m)
	case TypeNewVisitorBreadcrumb:
		return decodeAs[NewVisitorBreadcrumb](m)
	case TypeSensitiveDataRules:
		return decodeAs[SensitiveDataRules](m)
	case TypeFileTransfer:
		return decodeAs[FileTransfer](m)
	case TypeReconnectSession:
		return decodeAs[ReconnectSession](m)
	case TypeAvailability:
		return decodeAs[Availability](m)
	case TypeSwitchServer:
		return decodeAs[SwitchServer](m)
	default:
		return Unknown{Type: m.Type, Raw: m.Message}, nil
	}
}

func decodeAs[T any](m Message) (any, error) {
	var v T
	raw := bytes.TrimSpace(m.Message)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return v, nil
	}
	if raw[0] != '{' {
		// AgentTyping and friends are sometimes sent with a non-object payload (e.g. "").
		if _, ok := any(v).(AgentDisconnect); ok || isEmptyJSON(raw) {
			return v, nil
		}
	}
	if err := unmarshalLenient(raw, &v); err != nil {
		return Unknown{Type: m.Type, Raw: m.Message}, fmt.Errorf("liveagent: decode %s: %w", m.Type, err)
	}
	return v, nil
}

func isEmptyJSON(raw []byte) bool {
	s := string(raw)
	return s == `""` || s == "[]" || s == "{}"
}
