package liveagent

import "encoding/json"

// Message types (Messages.messages[].type, protocol doc §5).
const (
	TypeChatRequestSuccess   = "ChatRequestSuccess"
	TypeChatRequestFail      = "ChatRequestFail"
	TypeQueueUpdate          = "QueueUpdate"
	TypeChatEstablished      = "ChatEstablished"
	TypeChatMessage          = "ChatMessage"
	TypeAgentTyping          = "AgentTyping"
	TypeAgentNotTyping       = "AgentNotTyping"
	TypeAgentDisconnect      = "AgentDisconnect"
	TypeChatTransferred      = "ChatTransferred"
	TypeChatEnded            = "ChatEnded"
	TypeChasitorSessionData  = "ChasitorSessionData"
	TypeCustomEvent          = "CustomEvent"
	TypeNewVisitorBreadcrumb = "NewVisitorBreadcrumb"
	TypeSensitiveDataRules   = "SensitiveDataRules"
	TypeFileTransfer         = "FileTransfer"
	TypeReconnectSession     = "ReconnectSession"
	TypeAvailability         = "Availability"
	TypeSwitchServer         = "SwitchServer"
)

// ChatRequestSuccess: the chat request was routed to agents (not yet accepted).
// EstimatedWaitTime is in seconds; -1 means unknown.
type ChatRequestSuccess struct {
	QueuePosition         int                 `json:"queuePosition"`
	EstimatedWaitTime     int                 `json:"estimatedWaitTime"`
	GeoLocation           *GeoLocation        `json:"geoLocation,omitempty"`
	URL                   string              `json:"url,omitempty"`
	Oref                  string              `json:"oref,omitempty"`
	PostChatURL           string              `json:"postChatUrl,omitempty"`
	CustomDetails         []json.RawMessage   `json:"customDetails,omitempty"`
	VisitorID             string              `json:"visitorId,omitempty"`
	ConnectionTimeout     int64               `json:"connectionTimeout,omitempty"` // ms, observed 150000
	SensitiveDataRules    []SensitiveDataRule `json:"sensitiveDataRules,omitempty"`
	TranscriptSaveEnabled bool                `json:"transcriptSaveEnabled,omitempty"`
}

// GeoLocation of the visitor, as guessed by Salesforce.
type GeoLocation struct {
	CountryCode  string  `json:"countryCode,omitempty"`
	CountryName  string  `json:"countryName,omitempty"`
	Region       string  `json:"region,omitempty"`
	City         string  `json:"city,omitempty"`
	Organization string  `json:"organization,omitempty"`
	Latitude     float64 `json:"latitude,omitempty"`
	Longitude    float64 `json:"longitude,omitempty"`
}

// ChatRequestFail: no agent took the chat; the session is over. Reasons seen: "Unavailable",
// "NoPost", "InternalFailure", "Blocked".
type ChatRequestFail struct {
	Reason          string            `json:"reason"`
	PostChatURL     string            `json:"postChatUrl,omitempty"`
	AttachedRecords []json.RawMessage `json:"attachedRecords,omitempty"`
}

// QueueUpdate: the visitor's queue position changed (only with receiveQueueUpdates).
type QueueUpdate struct {
	Position          int `json:"position"`
	EstimatedWaitTime int `json:"estimatedWaitTime"`
}

// ChatEstablished: an agent accepted the chat. Visitor messages may be sent from now on.
type ChatEstablished struct {
	Name                string              `json:"name"`
	UserID              string              `json:"userId"`
	SneakPeekEnabled    bool                `json:"sneakPeekEnabled"`
	ChasitorIdleTimeout ChasitorIdleTimeout `json:"chasitorIdleTimeout"`
	Items               []json.RawMessage   `json:"items,omitempty"`
}

// ChasitorIdleTimeout is the visitor idle timeout settings (API v35+). WarningTime and Timeout
// are in seconds and present only when enabled.
type ChasitorIdleTimeout struct {
	IsEnabled   bool `json:"isEnabled"`
	WarningTime int  `json:"warningTime,omitempty"`
	Timeout     int  `json:"timeout,omitempty"`
}

// ChatMessage: a message from the agent.
type ChatMessage struct {
	Name     string    `json:"name"`
	Text     string    `json:"text"`
	AgentID  string    `json:"agentId,omitempty"`
	Schedule *Schedule `json:"schedule,omitempty"`
}

// Schedule is the observed ChatMessage.schedule extra.
type Schedule struct {
	ResponseDelayMilliseconds int `json:"responseDelayMilliseconds"`
}

// AgentTyping: the agent started typing. Name and AgentID (a UUID, not the 005 user id) are
// observed extras; the doc says the payload is empty.
type AgentTyping struct {
	Name    string `json:"name,omitempty"`
	AgentID string `json:"agentId,omitempty"`
}

// AgentNotTyping: the agent stopped typing.
type AgentNotTyping struct {
	Name    string `json:"name,omitempty"`
	AgentID string `json:"agentId,omitempty"`
}

// AgentDisconnect: the agent lost the connection. The chat stays open; another agent may pick
// it up.
type AgentDisconnect struct{}

// ChatTransferred: the chat moved to another agent.
type ChatTransferred struct {
	Name                string              `json:"name"`
	UserID              string              `json:"userId"`
	SneakPeekEnabled    bool                `json:"sneakPeekEnabled"`
	ChasitorIdleTimeout ChasitorIdleTimeout `json:"chasitorIdleTimeout"`
}

// ChatEnded: the chat is over. Reason "agent" when the agent ended it.
type ChatEnded struct {
	Reason          string            `json:"reason"`
	AttachedRecords []json.RawMessage `json:"attachedRecords,omitempty"`
}

// ChasitorSessionData is the first message after a ReconnectSession: the state of the chat.
type ChasitorSessionData struct {
	QueuePosition    int               `json:"queuePosition"`
	GeoLocation      *GeoLocation      `json:"geoLocation,omitempty"`
	URL              string            `json:"url,omitempty"`
	Oref             string            `json:"oref,omitempty"`
	PostChatURL      string            `json:"postChatUrl,omitempty"`
	SneakPeekEnabled bool              `json:"sneakPeekEnabled"`
	ChatMessages     []TranscriptEntry `json:"chatMessages,omitempty"`
}

// TranscriptEntry is one line of ChasitorSessionData.chatMessages. Type is "Agent", "Chasitor"
// or "OperatorTransferred"; Timestamp is in epoch milliseconds.
type TranscriptEntry struct {
	Type      string `json:"type"`
	Name      string `json:"name"`
	Content   string `json:"content"`
	Timestamp int64  `json:"timestamp"`
	Sequence  int64  `json:"sequence"`
}

// CustomEvent sent by the agent's console.
type CustomEvent struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

// NewVisitorBreadcrumb: the visitor's page changed.
type NewVisitorBreadcrumb struct {
	Location string `json:"location"`
}

// SensitiveDataRules lists the masking rules of the deployment.
type SensitiveDataRules struct {
	SensitiveDataRules []SensitiveDataRule `json:"sensitiveDataRules"`
}

// SensitiveDataRule is one masking rule; ActionType is "Replace".
type SensitiveDataRule struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	Pattern     string `json:"pattern,omitempty"`
	Replacement string `json:"replacement,omitempty"`
	ActionType  string `json:"actionType,omitempty"`
}

// File transfer states (FileTransfer.Type).
const (
	FileTransferRequested = "Requested"
	FileTransferCanceled  = "Canceled"
	FileTransferSuccess   = "Success"
	FileTransferFailure   = "Failure"
)

// FileTransfer: the agent asked for a file (Type "Requested") or the transfer changed state.
// A Requested transfer is answered with [Client.UploadFile].
type FileTransfer struct {
	Type             string `json:"type"`
	FileToken        string `json:"fileToken,omitempty"`
	UploadServletURL string `json:"uploadServletUrl,omitempty"`
	CdmServletURL    string `json:"cdmServletUrl,omitempty"`
}

// ReconnectSession is the payload of the ReconnectSession response.
type ReconnectSession struct {
	ResetSequence *bool  `json:"resetSequence,omitempty"`
	AffinityToken string `json:"affinityToken"`
}

// Availability is the payload of a Visitor/Availability response.
type Availability struct {
	Results []AvailabilityResult `json:"results"`
}

// AvailabilityResult tells whether a button (or agent) can take chats. An absent isAvailable
// means false. EstimatedWaitTime is in seconds (0 when not reported).
type AvailabilityResult struct {
	ID                string `json:"id"`
	IsAvailable       bool   `json:"isAvailable"`
	EstimatedWaitTime int    `json:"estimatedWaitTime,omitempty"`
}

// SwitchServer: the org lives on another instance; NewURL is its chat endpoint.
type SwitchServer struct {
	NewURL string `json:"newUrl"`
}

// Unknown is a message whose type this package does not know. Raw is the payload as received.
type Unknown struct {
	Type string
	Raw  json.RawMessage
}
