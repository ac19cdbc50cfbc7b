package lasim

import (
	"encoding/json"
	"slices"
	"time"
)

// ChatView is a snapshot of one chat as the agent (and a test) sees it.
type ChatView struct {
	ID              string          `json:"id"`
	State           State           `json:"state"`
	VisitorName     string          `json:"visitorName"`
	ButtonID        string          `json:"buttonId,omitempty"`
	Language        string          `json:"language,omitempty"`
	UserAgent       string          `json:"userAgent,omitempty"`
	PrechatDetails  json.RawMessage `json:"prechatDetails,omitempty"`
	PrechatEntities json.RawMessage `json:"prechatEntities,omitempty"`
	// InitBody is the ChasitorInit body as received.
	InitBody      json.RawMessage `json:"initBody,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	EstablishedAt *time.Time      `json:"establishedAt,omitempty"`
	EndedAt       *time.Time      `json:"endedAt,omitempty"`
	// EndedBy is "agent", "visitor" or "system"; EndReason is the ChatEnd/ChatEnded reason,
	// the ChatRequestFail reason, "duplicatePoll", "expired" or "deleted".
	EndedBy       string `json:"endedBy,omitempty"`
	EndReason     string `json:"endReason,omitempty"`
	AgentName     string `json:"agentName,omitempty"`
	AffinityToken string `json:"affinityToken"`
	QueuePosition int    `json:"queuePosition"`
	VisitorTyping bool   `json:"visitorTyping"`
	AgentTyping   bool   `json:"agentTyping"`
	SneakPeek     string `json:"sneakPeek,omitempty"`
	// PollActive is true while a Messages poll of the visitor is holding.
	PollActive bool `json:"pollActive"`
	// ReconnectPending is true after an injected 503 until the visitor calls ReconnectSession.
	ReconnectPending bool      `json:"reconnectPending"`
	LastPollAt       time.Time `json:"lastPollAt"`
	// LastSequence is the sequence of the last 200 Messages payload (FirstSequence-1 if none).
	LastSequence int64 `json:"lastSequence"`
	// LastClientSequence is the last X-LIVEAGENT-SEQUENCE applied.
	LastClientSequence int64 `json:"lastClientSequence"`
	// Pending is the number of events queued for the visitor and not yet delivered.
	Pending      int               `json:"pending"`
	Transcript   []TranscriptEntry `json:"transcript"`
	Files        []FileView        `json:"files"`
	FileRequests []FileRequest     `json:"fileRequests"`
	CustomEvents []CustomEventView `json:"customEvents,omitempty"`
	Counters     Counters          `json:"counters"`
}

// Ended reports whether the chat is over (ended or expired).
func (v ChatView) Ended() bool { return v.State == StateEnded || v.State == StateExpired }

// LastVisitorMessage returns the text of the visitor's latest message, or "".
func (v ChatView) LastVisitorMessage() string {
	for _, e := range slices.Backward(v.Transcript) {
		if e.Type == TranscriptChasitor {
			return e.Content
		}
	}
	return ""
}

// Transcript entry types (as in ChasitorSessionData.chatMessages).
const (
	TranscriptAgent       = "Agent"
	TranscriptChasitor    = "Chasitor"
	TranscriptTransferred = "OperatorTransferred"
)

// TranscriptEntry is one line of the transcript. Timestamp is in epoch milliseconds.
type TranscriptEntry struct {
	Type      string `json:"type"`
	Name      string `json:"name"`
	Content   string `json:"content"`
	Timestamp int64  `json:"timestamp"`
	Sequence  int64  `json:"sequence"`
}

// Counters count what happened in a chat.
type Counters struct {
	Polls            int `json:"polls"`            // Messages requests
	Delivered200     int `json:"delivered200"`     // new 200 payloads
	Redelivered      int `json:"redelivered"`      // un-acked payloads sent again
	Empty204         int `json:"empty204"`         // 204 answers
	EventsDelivered  int `json:"eventsDelivered"`  // events in new payloads
	Conflicts409     int `json:"conflicts409"`     // duplicate concurrent polls
	Posts            int `json:"posts"`            // Chasitor POSTs (and MultiNoun nouns)
	DuplicatePosts   int `json:"duplicatePosts"`   // POSTs ignored by sequence
	Errors500        int `json:"errors500"`        // ChatMessage before ChatEstablished
	Forbidden403     int `json:"forbidden403"`     // requests refused for a bad affinity or an ended session
	FaultsServed     int `json:"faultsServed"`     // injected faults answered
	Reconnects       int `json:"reconnects"`       // ReconnectSession calls
	Resyncs          int `json:"resyncs"`          // ChasitorResyncState calls
	VisitorMessages  int `json:"visitorMessages"`  // ChatMessage applied
	AgentMessages    int `json:"agentMessages"`    // agent texts sent
	ChasitorTypings  int `json:"chasitorTypings"`  // ChasitorTyping applied
	ChasitorNoTyping int `json:"chasitorNoTyping"` // ChasitorNotTyping applied
}

// FileView describes a file the visitor uploaded.
type FileView struct {
	Index       int       `json:"index"`
	FileToken   string    `json:"fileToken"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	UploadedAt  time.Time `json:"uploadedAt"`
}

// File request states.
const (
	FileRequested = "requested"
	FileUploaded  = "uploaded"
	FileCanceled  = "canceled"
)

// FileRequest is a file the agent asked for.
type FileRequest struct {
	FileToken        string `json:"fileToken"`
	Status           string `json:"status"`
	UploadServletURL string `json:"uploadServletUrl"`
	CdmServletURL    string `json:"cdmServletUrl"`
}

// CustomEventView is a CustomEvent sent by the visitor.
type CustomEventView struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

type uploadedFile struct {
	FileView
	data []byte
}

// view snapshots c. Called with s.mu held.
func (s *Sim) view(c *chat) ChatView {
	v := ChatView{
		ID:                 c.id,
		State:              c.state,
		VisitorName:        c.visitorName(),
		CreatedAt:          c.createdAt,
		EndedBy:            c.endedBy,
		EndReason:          c.endReason,
		AgentName:          c.agentName,
		AffinityToken:      c.affinity,
		QueuePosition:      c.queuePosition,
		VisitorTyping:      c.visitorTyping,
		AgentTyping:        c.agentTyping,
		SneakPeek:          c.sneakPeek,
		PollActive:         c.active.live(),
		ReconnectPending:   c.reconnectPending,
		LastPollAt:         c.lastPollAt,
		LastSequence:       c.nextSeq - 1,
		LastClientSequence: c.lastClientSeq,
		Pending:            len(c.pending),
		Transcript:         slices.Clone(c.transcript),
		Files:              make([]FileView, 0, len(c.files)),
		FileRequests:       make([]FileRequest, 0, len(c.fileReqs)),
		CustomEvents:       slices.Clone(c.customEvents),
		Counters:           c.counters,
	}
	if v.Transcript == nil {
		v.Transcript = []TranscriptEntry{}
	}
	if in := c.init; in != nil {
		v.ButtonID = in.ButtonID
		v.Language = in.Language
		v.UserAgent = in.UserAgent
		v.PrechatDetails = in.PrechatDetails
		v.PrechatEntities = in.PrechatEntities
		v.InitBody = in.Body
	}
	if !c.estAt.IsZero() {
		t := c.estAt
		v.EstablishedAt = &t
	}
	if !c.endAt.IsZero() {
		t := c.endAt
		v.EndedAt = &t
	}
	for _, f := range c.files {
		v.Files = append(v.Files, f.FileView)
	}
	for _, fr := range c.fileReqs {
		v.FileRequests = append(v.FileRequests, *fr)
	}
	return v
}
