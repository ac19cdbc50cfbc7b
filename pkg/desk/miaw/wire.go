package miaw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Event types of the event stream. Others exist (progress indicators, streaming tokens,
// client actions …); clients must ignore the types they do not know.
const (
	EventMessage              = "CONVERSATION_MESSAGE"
	EventParticipantChanged   = "CONVERSATION_PARTICIPANT_CHANGED"
	EventRoutingResult        = "CONVERSATION_ROUTING_RESULT"
	EventTypingStarted        = "CONVERSATION_TYPING_STARTED_INDICATOR"
	EventTypingStopped        = "CONVERSATION_TYPING_STOPPED_INDICATOR"
	EventDeliveryAck          = "CONVERSATION_DELIVERY_ACKNOWLEDGEMENT"
	EventReadAck              = "CONVERSATION_READ_ACKNOWLEDGEMENT"
	EventCloseConversation    = "CONVERSATION_CLOSE_CONVERSATION"
	EventSessionStatusChanged = "CONVERSATION_SESSION_STATUS_CHANGED"
	// EventQueuePosition is reported by community clients, not documented; its payload shape
	// is a guess (queuePosition, estimatedWaitTime).
	EventQueuePosition = "CONVERSATION_QUEUE_POSITION"
	// EventPing is the heartbeat some deployments send (data "0").
	EventPing = "ping"
)

// Entry types (Entry.EntryType).
const (
	EntryMessage              = "Message"
	EntryParticipantChanged   = "ParticipantChanged"
	EntryRoutingResult        = "RoutingResult"
	EntryTypingStarted        = "TypingStartedIndicator"
	EntryTypingStopped        = "TypingStoppedIndicator"
	EntryDeliveryAck          = "DeliveryAcknowledgement"
	EntryReadAck              = "ReadAcknowledgement"
	EntryCloseConversation    = "CloseConversation"
	EntrySessionStatusChanged = "SessionStatusChanged"
	EntryQueuePosition        = "QueuePosition"
)

// Participant roles.
const (
	RoleEndUser    = "EndUser"
	RoleAgent      = "Agent"
	RoleChatbot    = "Chatbot"
	RoleSystem     = "System"
	RoleRouter     = "Router"
	RoleSupervisor = "Supervisor"
)

// Participant is an entry's sender or a participant that changed.
type Participant struct {
	Role             string `json:"role"`
	AppType          string `json:"appType,omitempty"`
	Subject          string `json:"subject,omitempty"`
	ClientIdentifier string `json:"clientIdentifier,omitempty"`
}

// Entry is a conversation entry, from the event stream or the entries list.
type Entry struct {
	Identifier        string      `json:"identifier"`
	EntryType         string      `json:"entryType"`
	SenderDisplayName string      `json:"senderDisplayName,omitempty"`
	Sender            Participant `json:"sender"`
	// Payload is the entry payload as a JSON object. The event stream sends it as a string
	// holding JSON, the entries list (per the official sample) as an object; both are
	// accepted.
	Payload               json.RawMessage `json:"entryPayload,omitempty"`
	TranscriptedTimestamp int64           `json:"transcriptedTimestamp"`
	ClientTimestamp       int64           `json:"clientTimestamp,omitempty"`
	RelatedRecords        json.RawMessage `json:"relatedRecords,omitempty"`
}

// UnmarshalJSON normalises entryPayload to a JSON object.
func (e *Entry) UnmarshalJSON(b []byte) error {
	type plain Entry
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	payload, err := normalisePayload(p.Payload)
	if err != nil {
		return fmt.Errorf("entryPayload: %w", err)
	}
	p.Payload = payload
	*e = Entry(p)
	return nil
}

func normalisePayload(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '"' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if !json.Valid([]byte(s)) {
		return nil, fmt.Errorf("not JSON")
	}
	return json.RawMessage(s), nil
}

// EventData is the data of a conversation event of the stream.
type EventData struct {
	ChannelPlatformKey       string         `json:"channelPlatformKey,omitempty"`
	ChannelType              string         `json:"channelType,omitempty"`
	ChannelAddressIdentifier string         `json:"channelAddressIdentifier,omitempty"`
	ConversationID           ConversationID `json:"conversationId"`
	ConversationEntry        *Entry         `json:"conversationEntry,omitempty"`
}

// MessagePayload is the payload of a Message entry.
type MessagePayload struct {
	EntryType       string          `json:"entryType"`
	ID              string          `json:"id"`
	AbstractMessage AbstractMessage `json:"abstractMessage"`
	MessageReason   string          `json:"messageReason,omitempty"`
}

// AbstractMessage is the message of a Message entry.
type AbstractMessage struct {
	MessageType        string           `json:"messageType"` // StaticContentMessage, ChoicesMessage, ChoicesResponseMessage …
	ID                 string           `json:"id"`
	InReplyToMessageID string           `json:"inReplyToMessageId,omitempty"`
	StaticContent      *StaticContent   `json:"staticContent,omitempty"`
	Choices            *Choices         `json:"choices,omitempty"`
	ChoicesResponse    *ChoicesResponse `json:"choicesResponse,omitempty"`
}

// StaticContent is a text or attachments message.
type StaticContent struct {
	FormatType  string       `json:"formatType"` // Text, Attachments, RichLink …
	Text        string       `json:"text,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a file an agent sent.
type Attachment struct {
	Name     string `json:"name"`
	ID       string `json:"id,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
	URL      string `json:"url,omitempty"`
}

// Choices is a buttons / quick replies / selections message.
type Choices struct {
	FormatType  string       `json:"formatType"`
	Text        string       `json:"text,omitempty"`
	OptionItems []OptionItem `json:"optionItems,omitempty"`
}

// OptionItem is one choice.
type OptionItem struct {
	OptionIdentifier string `json:"optionIdentifier,omitempty"`
	TitleItem        struct {
		Title string `json:"title"`
	} `json:"titleItem"`
}

// ChoicesResponse is the end user's answer to a Choices message.
type ChoicesResponse struct {
	FormatType      string `json:"formatType,omitempty"`
	SelectedOptions []struct {
		Title string `json:"title,omitempty"`
	} `json:"selectedOptions,omitempty"`
}

// ParticipantChangedPayload is the payload of a ParticipantChanged entry.
type ParticipantChangedPayload struct {
	Entries []ParticipantChange `json:"entries"`
}

// ParticipantChange is one participant joining ("add") or leaving ("remove").
type ParticipantChange struct {
	Operation   string      `json:"operation"`
	DisplayName string      `json:"displayName,omitempty"`
	Participant Participant `json:"participant"`
}

// RoutingResultPayload is the payload of a RoutingResult entry.
type RoutingResultPayload struct {
	RoutingType       string           `json:"routingType"` // Initial, Transfer
	FailureType       string           `json:"failureType"` // None, Unknown, SubmissionError, RoutingError
	FailureReason     string           `json:"failureReason,omitempty"`
	EstimatedWaitTime *EstimatedWait   `json:"estimatedWaitTime,omitempty"`
	ErrorMessages     json.RawMessage  `json:"errorMessages,omitempty"`
	RoutingDetails    *json.RawMessage `json:"routingConfigurationDetails,omitempty"`
}

// EstimatedWait is a routing result's estimated wait (-1: unknown).
type EstimatedWait struct {
	Seconds     int  `json:"estimatedWaitTimeInSeconds"`
	IsRequested bool `json:"isEWTRequested,omitempty"`
}

// SessionStatusPayload is the payload of a SessionStatusChanged entry.
type SessionStatusPayload struct {
	SessionStatus      string `json:"sessionStatus"` // Ended, Active, Waiting …
	SessionEndedByRole string `json:"sessionEndedByRole,omitempty"`
}

// QueuePositionPayload is the (undocumented) payload of a queue position event.
type QueuePositionPayload struct {
	QueuePosition     *int            `json:"queuePosition,omitempty"`
	Position          *int            `json:"position,omitempty"`
	EstimatedWaitTime json.RawMessage `json:"estimatedWaitTime,omitempty"`
}

// Text renders a Message payload as plain text: the text, the attachments' names and URLs,
// or a choices message's text and numbered options.
func (p MessagePayload) Text() string {
	m := p.AbstractMessage
	var lines []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			lines = append(lines, s)
		}
	}
	if sc := m.StaticContent; sc != nil {
		add(sc.Text)
		for _, a := range sc.Attachments {
			switch {
			case a.URL != "" && a.Name != "":
				add(a.Name + ": " + a.URL)
			case a.URL != "":
				add(a.URL)
			default:
				add(a.Name)
			}
		}
	}
	if ch := m.Choices; ch != nil {
		add(ch.Text)
		for i, o := range ch.OptionItems {
			add(fmt.Sprintf("%d. %s", i+1, o.TitleItem.Title))
		}
	}
	if cr := m.ChoicesResponse; cr != nil {
		for _, o := range cr.SelectedOptions {
			add(o.Title)
		}
	}
	return strings.Join(lines, "\n")
}
